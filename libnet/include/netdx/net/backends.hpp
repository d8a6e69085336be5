#pragma once
/// The readiness backends by name, made and probed at run time (after seastar): a backend
/// this kernel or sandbox cannot run (io_uring disabled by sysctl, seccomp, an old kernel)
/// is reported unavailable with the reason, never a failure.

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <netdx/net/poller.hpp>

namespace netdx {

enum class Backend { select, poll, epoll, epoll_et, epoll_oneshot, uring_oneshot, uring_multishot };

inline constexpr std::array kAllBackends{
    Backend::select,        Backend::poll,          Backend::epoll,          Backend::epoll_et,
    Backend::epoll_oneshot, Backend::uring_oneshot, Backend::uring_multishot};

/// "select", "poll", "epoll", "epoll-et", "epoll-oneshot", "uring-oneshot", "uring-multishot"
[[nodiscard]] std::string_view backend_name(Backend b);
[[nodiscard]] std::optional<Backend> backend_from_name(std::string_view name);

struct BackendProbe {
    bool available = false;
    std::string reason; ///< why not, or a detail ("multishot poll since 5.13")
};

/// Tries the backend (sets up and tears down its kernel object); never throws.
[[nodiscard]] BackendProbe probe_backend(Backend b);

/// Makes one; throws std::system_error when the kernel refuses (probe first).
[[nodiscard]] std::unique_ptr<Poller> make_poller(Backend b);

} // namespace netdx
