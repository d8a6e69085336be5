#pragma once
/// TCP states as the kernel numbers them (include/net/tcp_states.h), their names, and the
/// bitmask sock_diag filters on. Here in net/ because two layers speak of them: inspect/
/// (sockets the kernel reports) and capture/ (connections seen on the wire).
///
///   client                                server
///   SYN-SENT ──SYN──────────────────────> SYN-RECV      (LISTEN on the server's port)
///   ESTABLISHED <────────────SYN/ACK───── SYN-RECV
///   ESTABLISHED ──ACK───────────────────> ESTABLISHED
///   FIN-WAIT-1 ───FIN───────────────────> CLOSE-WAIT    (until the application close()s)
///   FIN-WAIT-2 <──────────────────ACK─── CLOSE-WAIT
///   TIME-WAIT  <──────────────────FIN─── LAST-ACK
///   (2 MSL: 60 s on Linux) ───────ACK───> CLOSED
///
/// Thread safety: pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace netdx {

enum class TcpState : std::uint8_t {
    established = 1,
    syn_sent = 2,
    syn_recv = 3,
    fin_wait1 = 4,
    fin_wait2 = 5,
    time_wait = 6,
    closed = 7,
    close_wait = 8,
    last_ack = 9,
    listen = 10,
    closing = 11,
    new_syn_recv = 12, ///< a request socket (SYN received, no full socket yet)
};

inline constexpr int kTcpStateCount = 13; ///< array size for per-state tables (0 unused)

/// "time-wait", "close-wait" … (ss's spelling); "unknown" for numbers outside the table.
[[nodiscard]] std::string_view state_name(TcpState s);
/// The state for a name (state_name's spelling, upper case and underscores accepted too).
[[nodiscard]] std::optional<TcpState> state_from_name(std::string_view name);
/// A name in state_name's spelling: lower case, '-' for '_', "fin-wait1" as "fin-wait-1".
[[nodiscard]] std::string normalise_state_name(std::string_view name);

/// One bit per state, bit n for state n: the layout of inet_diag_req_v2.idiag_states.
using StateMask = std::uint32_t;
[[nodiscard]] constexpr StateMask state_bit(TcpState s) {
    return StateMask{1} << static_cast<unsigned>(s);
}
inline constexpr StateMask kAllStates = 0x1ffe; ///< states 1-12

} // namespace netdx
