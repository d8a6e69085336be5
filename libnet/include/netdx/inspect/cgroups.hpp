#pragma once
/// Which cgroup a socket belongs to: sock_diag reports the cgroup v2 id of full sockets
/// (INET_DIAG_CGROUP_ID), which is the inode number of the cgroup's directory in the cgroup2
/// file system. The path is found by walking that tree, once, for the ids asked for only.
///
/// The cgroup2 mount is found in /proc/self/mountinfo (/sys/fs/cgroup on a unified system,
/// /sys/fs/cgroup/unified on a hybrid one). Reads below a SysfsReader root, so tests replay a
/// fixture tree.

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <netdx/sys/sysctl.hpp>

namespace netdx {

/// Where cgroup2 is mounted ("/sys/fs/cgroup"), or nullopt when it is not.
[[nodiscard]] std::optional<std::string> cgroup2_mount(const SysfsReader& fs = SysfsReader{});

/// id -> path relative to the cgroup2 root ("/", "/system.slice/nginx.service"). Ids not
/// found (a cgroup removed since, or cgroup2 not mounted) are absent.
[[nodiscard]] std::unordered_map<std::uint64_t, std::string>
cgroup_paths(const std::unordered_set<std::uint64_t>& ids, const SysfsReader& fs = SysfsReader{});

} // namespace netdx
