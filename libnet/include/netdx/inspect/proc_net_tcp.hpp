#pragma once
/// The fallback when sock_diag netlink is unavailable: /proc/net/tcp and /proc/net/tcp6,
/// parsed into the same TcpSocket records (no tcp_info idle times, no cookie).
///
///   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
///    0: 0100007F:1B5F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242
///    ...
///
/// Addresses are the kernel's words printed in host order (%08X of a __be32): on a
/// little-endian machine 127.0.0.1 reads "0100007F". Timers are in clock ticks (USER_HZ).

#include <cstdint>
#include <string>
#include <string_view>

#include <netdx/inspect/sock_diag.hpp>
#include <netdx/sys/sysctl.hpp>

namespace netdx {

struct ProcParseResult {
    std::uint64_t records = 0;
    std::uint64_t malformed = 0;
    std::string first_malformed; ///< the first bad line and why, for a note
};

/// Parses a whole file's text; `states` filters as the kernel would. Bad lines are counted,
/// never fatal.
ProcParseResult parse_proc_net_tcp(std::string_view text, StateMask states, const SocketSink& sink,
                                   long ticks_per_second = 100);

/// Reads /proc/net/tcp and /proc/net/tcp6 below fs's root (either may be missing).
ProcParseResult read_proc_net_tcp(const SysfsReader& fs, StateMask states, const SocketSink& sink);

} // namespace netdx
