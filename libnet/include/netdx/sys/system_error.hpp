#pragma once
/// Errors from system calls.
///
/// Unexpected failures throw std::system_error whose what() says what was being done, e.g.
/// "bind 127.0.0.1:7007: Address already in use". Expected outcomes (EAGAIN, ECONNREFUSED,
/// EMFILE, EADDRNOTAVAIL …) are returned as values by the wrappers that expect them.

#include <cerrno>
#include <string>
#include <string_view>
#include <system_error>

namespace netdx {

/// Builds the exception for errno `err` while doing `context`.
[[nodiscard]] std::system_error system_error(int err, std::string_view context);

/// Throws system_error(errno, context). Call right after the failing syscall.
[[noreturn]] void throw_errno(std::string_view context);

/// Runs `fn` until it does not fail with EINTR; returns its result.
template <typename Fn>
auto retry_eintr(Fn&& fn) {
    for (;;) {
        auto r = fn();
        if (!(r == -1 && errno == EINTR)) return r;
    }
}

/// Runs a syscall-like `fn` (returns -1 and sets errno on failure), retrying EINTR; throws with
/// `context` on failure, otherwise returns the result.
template <typename Fn>
auto check_syscall(std::string_view context, Fn&& fn) {
    auto r = retry_eintr(fn);
    if (r == -1) throw_errno(context);
    return r;
}

/// Symbolic name of an errno value ("ECONNREFUSED"), or "E<number>" for unknown ones.
[[nodiscard]] std::string errno_name(int err);

} // namespace netdx
