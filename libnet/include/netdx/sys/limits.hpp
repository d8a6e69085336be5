#pragma once
/// Process and system limits that decide how far a network test can go.

#include <cstdint>
#include <optional>

#include <netdx/sys/sysctl.hpp>

namespace netdx {

struct FdLimit {
    std::uint64_t soft = 0;
    std::uint64_t hard = 0; ///< RLIM_INFINITY is reported as UINT64_MAX
};

/// RLIMIT_NOFILE of this process.
[[nodiscard]] FdLimit nofile_limit();

/// Raises the RLIMIT_NOFILE soft limit to the hard limit (always allowed without privilege).
/// Returns the limit in force afterwards. Throws std::system_error on an unexpected failure.
FdLimit raise_nofile_to_hard();

/// Number of descriptors this process has open now (counts /proc/self/fd).
[[nodiscard]] std::optional<std::uint64_t> open_fd_count();

struct PortRange {
    std::uint32_t low = 0;
    std::uint32_t high = 0;
    /// Ports available to connect() per (source address, destination address, destination port).
    [[nodiscard]] std::uint32_t size() const { return high >= low ? high - low + 1 : 0; }
    [[nodiscard]] bool contains(std::uint32_t port) const { return port >= low && port <= high; }
};

/// net.ipv4.ip_local_port_range, or nullopt when it cannot be read.
[[nodiscard]] std::optional<PortRange> ephemeral_port_range(const SysfsReader& fs = SysfsReader{});

} // namespace netdx
