#pragma once
/// Whether io_uring works here, found by trying (a seccomp filter, kernel.io_uring_disabled or
/// a container runtime can forbid it on a kernel that has it).

#include <string>

namespace netdx {

struct UringSupport {
    bool available = false;
    std::string detail;    ///< "IORING_OP_POLL_ADD supported" or why not ("io_uring_setup: …")
    bool poll_add = false; ///< IORING_OP_POLL_ADD
    bool multishot_poll = false; ///< IORING_POLL_ADD_MULTI (kernel 5.13+)
    /// The completion path netdx-echo serves TCP with: a buffer ring registers (5.19) and
    /// the kernel has multishot accept (5.19) and multishot receive (6.0).
    bool completions = false;
    std::string completions_detail; ///< why not, when completions is false
};

/// Sets up and tears down a tiny ring; never throws.
[[nodiscard]] UringSupport probe_io_uring();

} // namespace netdx
