#pragma once
/// Before a flood starts: how many worker processes (each has its own RLIMIT_NOFILE), how
/// many ports and processes the embedded sink needs, and whether N fits at all in the
/// 4-tuples the sources, destinations and ephemeral port range can give. A flood that
/// cannot fit is refused up front with the numbers and the fix, not discovered at
/// connection 28,232.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <netdx/net/endpoint.hpp>
#include <netdx/net/ip_address.hpp>
#include <netdx/sys/limits.hpp>

namespace netdx::flood::plan {

/// Descriptors a process keeps for itself (stdio, epoll, pipes, /proc reads).
inline constexpr std::uint64_t kReservedFds = 64;
/// Ports the embedded sink listens on at most (each is a listener in every sink process).
inline constexpr int kMaxSinkPorts = 1024;

struct Inputs {
    std::uint64_t connections = 0;
    std::vector<Endpoint> targets;  ///< empty: the embedded sink
    std::vector<IpAddress> sources; ///< empty: no bind
    std::string processes = "auto"; ///< "auto" or a number
    FdLimit fd_limit;
    std::optional<PortRange> ports; ///< nullopt: unknown (assume Linux's default 32768-60999)
};

struct Plan {
    int processes = 1;
    std::uint64_t fds_per_process = 0; ///< descriptors one process may use for connections
    int sink_ports = 0;                ///< embedded sink only
    int sink_processes = 0;
    std::uint64_t pairs = 0;          ///< (source, destination) pairs
    std::uint64_t ports_per_pair = 0; ///< the ephemeral range
    std::uint64_t capacity = 0;       ///< pairs × ports_per_pair
};

/// Throws ParseError with the numbers and the fix when the flood cannot fit.
[[nodiscard]] Plan make(const Inputs& in);

/// Which connection "percent% of asked" is: the ceil, in integers (N = 1001: the 50% mark
/// is the 501st).
[[nodiscard]] constexpr std::uint64_t rank_of(std::uint64_t asked, std::uint64_t percent) {
    return (asked * percent + 99) / 100;
}

} // namespace netdx::flood::plan
