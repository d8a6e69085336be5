#pragma once
/// SIGINT/SIGTERM handling for tools (the library never touches signals). The handler only
/// sets a flag and writes to an eventfd, so an event loop can wake on interrupt_fd() and the
/// tool can print its partial report before exiting 130.

namespace netdx::cli {

/// Installs the handlers once (later calls do nothing). Also ignores SIGPIPE: writes to a
/// closed socket or pipe must come back as EPIPE, not kill the process.
void install_interrupt_handlers();

/// True once SIGINT or SIGTERM arrived.
[[nodiscard]] bool interrupted();

/// Also counts SIGUSR1 ("print your statistics now"); the same eventfd becomes readable.
void install_usr1_handler();
/// True once per SIGUSR1 received since the last call.
[[nodiscard]] bool take_usr1();

/// Drains the eventfd (call after waking on it).
void drain_interrupt_fd();

/// In a forked child: a fresh eventfd and cleared flags, so parent and child stop sharing
/// their wake-ups (an inherited eventfd is one object for both processes).
void reset_after_fork();

/// The signal that arrived (0 when none).
[[nodiscard]] int interrupt_signal();

/// Readable once a signal arrived (an eventfd); -1 before install_interrupt_handlers().
[[nodiscard]] int interrupt_fd();

} // namespace netdx::cli
