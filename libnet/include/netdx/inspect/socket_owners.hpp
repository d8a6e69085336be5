#pragma once
/// Which process holds a socket: socket inode -> pid, found by reading /proc/<pid>/fd links
/// ("socket:[4242]"). Lazy and targeted: only the inodes asked for are looked up, and a scan
/// stops as soon as every one is found. TIME-WAIT and orphaned sockets have inode 0 and no
/// owner, so a result without owned sockets costs nothing.
///
/// Without privilege only this user's processes are readable; the count of processes that
/// could not be read is returned so a tool can say "owners of N sockets unknown (run as
/// root)". Reads below a SysfsReader root, so tests replay a recorded /proc.

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <netdx/sys/sysctl.hpp>

namespace netdx {

struct ProcessInfo {
    int pid = 0;
    std::string comm;      ///< /proc/<pid>/comm
    std::string cmdline;   ///< arguments joined by spaces (truncated to 200 characters)
    std::uint64_t fds = 0; ///< descriptors open now
    std::optional<std::uint64_t> nofile; ///< its RLIMIT_NOFILE soft limit ("Max open files")
};

struct OwnerMap {
    std::unordered_map<std::uint64_t, int> pid_of;  ///< inode -> pid (first holder found)
    std::unordered_map<int, ProcessInfo> processes; ///< pid -> details, for the owners only
    std::uint64_t unreadable = 0;                   ///< processes whose fd table could not be read
};

/// Finds the owners of `inodes` (0 is ignored).
[[nodiscard]] OwnerMap find_owners(const std::unordered_set<std::uint64_t>& inodes,
                                   const SysfsReader& fs = SysfsReader{});

} // namespace netdx
