#pragma once
/// Zeek's vocabulary for how a TCP connection went: the per-endpoint analyzer states and the
/// conn.log `conn_state` derived from them, with Zeek's own rules, so a netdx-trace record
/// reads the same as a Zeek conn.log line for the same packets.
///
/// Endpoint states (what one side has been seen to send), as in Zeek's TCP analyzer:
///
///   inactive --SYN--> syn_sent --peer SYN/ACK--> established --FIN--> closed
///      |--SYN/ACK--> syn_ack_sent (an originator sending SYN/ACK)
///      +--data/ACK, no SYN--> partial (midstream) ----------FIN---------> closed
///   any state --RST--> reset
///
/// Thread safety: pure functions.

#include <cstdint>
#include <string_view>

namespace netdx::capture {

enum class ZeekEndpoint : std::uint8_t {
    inactive,
    syn_sent,
    syn_ack_sent,
    partial,
    established,
    closed,
    reset
};

/// Zeek conn.log conn_state.
enum class ConnState : std::uint8_t {
    S0,
    S1,
    SF,
    REJ,
    S2,
    S3,
    RSTO,
    RSTR,
    RSTOS0,
    RSTRH,
    SH,
    SHR,
    OTH
};
inline constexpr std::size_t kConnStates = 13;

[[nodiscard]] std::string_view conn_state_name(ConnState s);
/// Zeek's one-line meaning ("connection attempt rejected").
[[nodiscard]] std::string_view conn_state_meaning(ConnState s);
/// The state for a name ("REJ", any case); false when `name` is none.
[[nodiscard]] bool conn_state_from_name(std::string_view name, ConnState& out);

/// Zeek's conn_state(): from both endpoints' states, whether either side sent data
/// (`any_bytes`), and the history string (RSTOS0 is recognised by it).
[[nodiscard]] ConnState derive_conn_state(ZeekEndpoint orig, ZeekEndpoint resp, bool any_bytes,
                                          std::string_view history);

} // namespace netdx::capture
