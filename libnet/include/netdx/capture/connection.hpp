#pragma once
/// One TCP connection as netdx-trace sees it on the wire: who opened it, how the handshake
/// went (timed to the nanosecond, retransmissions counted), how it closed and who closed
/// first, in Zeek's conn_state/history vocabulary plus what Zeek lacks.
///
/// The record is compact (the tracker holds one per open connection; see sizeof in the
/// tests) and everything derived (conn_state, closer, handshake times) is computed from it
/// on demand. Times are capture timestamps in ns since the epoch; 0 means "not seen".
///
///   originator (side 0)                      responder (side 1)
///   SYN ------------------------------------>      syn_first .. syn_last (retransmissions)
///       <------------------------------ SYN/ACK    synack_first .. synack_last
///   ACK ------------------------------------>      handshake ack
///   ...data both ways...                           bytes, packets, retransmits, gaps
///   FIN ------------------------------------>      fin_ts(closer)
///       <---------------------------------- FIN    simultaneous when this FIN does not
///   ACK ------------------------------------>      acknowledge the first one

#include <array>
#include <cstdint>
#include <string_view>

#include <netdx/capture/conn_state.hpp>
#include <netdx/net/ip_address.hpp>
#include <netdx/net/tcp_state.hpp>
#include <netdx/sys/clock.hpp>

namespace netdx::capture {

/// Which side: the originator (sent the first SYN, or the first packet seen midstream) or
/// the responder.
enum class Side : std::uint8_t { orig = 0, resp = 1 };
[[nodiscard]] inline Side other(Side s) {
    return s == Side::orig ? Side::resp : Side::orig;
}

/// Who closed first: sent the first FIN. `both` when the FINs crossed (the second FIN does
/// not acknowledge the first: each side closed before hearing from the other).
enum class Closer : std::uint8_t { none, orig, resp, both };
[[nodiscard]] std::string_view closer_name(Closer c); ///< "none", "orig", "resp", "simultaneous"

/// How it ended: FINs both ways, a RST (after a FIN or not), one FIN only, or not at all.
enum class CloseKind : std::uint8_t { open, fin, half, rst, fin_rst };
[[nodiscard]] std::string_view
close_kind_name(CloseKind k); ///< "open", "fin", "half", "rst", "fin+rst"

/// Why the tracker handed the record out.
enum class EndReason : std::uint8_t {
    closed,     ///< FINs acknowledged both ways, or a RST (after a short linger)
    reused,     ///< a new SYN on the same 4-tuple started a new connection
    capture_end ///< still open when the capture ended
};
[[nodiscard]] std::string_view end_reason_name(EndReason r); ///< "closed", "reused", "capture_end"

/// Zeek's history letters, one bit each (per side): which have been logged once.
/// (The scaled letters t, g, w need no bit: their counters say when to log.)
namespace history_bit {
inline constexpr std::uint8_t syn = 1, synack = 2, ack = 4, data = 8, fin = 16, rst = 32,
                              fin_rst = 64, multi_flag = 128;
} // namespace history_bit

/// A span of time in 32 bits: exact nanoseconds below 2^31 ns (2.1 s), microseconds above
/// (up to 35 minutes, then saturating). A handshake keeps its nanoseconds; a SYN retried
/// seconds later loses digits nobody reads. Half the size of a timestamp, which keeps a
/// record within its memory budget.
[[nodiscard]] std::uint32_t encode_span(Nanos d);
[[nodiscard]] Nanos decode_span(std::uint32_t v);

struct SideState {
    std::uint64_t bytes = 0;    ///< data bytes in sequence space: a retransmission counts once
    std::uint64_t ip_bytes = 0; ///< IP lengths summed (Zeek's *_ip_bytes)
    std::uint32_t packets = 0;
    std::uint32_t isn = 0;     ///< the SYN's sequence number (the first seen, midstream)
    std::uint32_t seq_end = 0; ///< the highest sequence number sent + 1
    std::uint32_t fin_seq = 0; ///< sequence number of the FIN
    std::uint32_t last_rst_seq = 0;
    std::uint32_t retransmits = 0;  ///< data packets whose bytes had all been seen
    std::uint32_t fin_off = 0;      ///< its first FIN, after the first packet (encode_span)
    std::uint32_t rst_off = 0;      ///< its first RST, after the first packet (encode_span)
    std::uint32_t first_gap_us = 0; ///< its SYN (or SYN/ACK) sent again: after how long, µs
    std::uint16_t zero_windows = 0, gaps = 0;
    std::uint16_t mss = 0;      ///< from its SYN; 0 when none
    std::uint8_t wscale = 0xff; ///< from its SYN; 0xff when none
    std::uint8_t bits = 0;      ///< the flags below
    ZeekEndpoint zeek = ZeekEndpoint::inactive;
    TcpState tcp = TcpState::closed; ///< the textbook state inferred from the packets
    std::uint8_t history_seen = 0;   ///< history_bit: letters already logged

    static constexpr std::uint8_t seq_known = 1, syn = 2, fin = 4, fin_acked = 8, rst = 16,
                                  sack = 32, timestamps = 64, data_after_peer_fin = 128;
    [[nodiscard]] bool has(std::uint8_t b) const { return (bits & b) != 0; }
};

struct Connection {
    static constexpr std::size_t kHistoryMax = 12;

    std::array<std::array<std::uint8_t, 16>, 2> addr{}; ///< network order; v4 in bytes 0..3
    std::array<std::uint16_t, 2> port{};
    bool v6 = false;
    std::uint8_t flags = 0; ///< the flags below
    std::uint8_t history_len = 0;
    EndReason ended = EndReason::capture_end;
    char letters[kHistoryMax]{}; ///< Zeek's history letters (upper case: originator)
    std::uint32_t id = 0;        ///< 1, 2, … in order of each connection's first packet
    Nanos first_ts = 0, last_ts = 0;
    // The handshake, each time relative to the one before it (encode_span), so the short
    // spans people read keep their nanoseconds: see the *_ts() accessors.
    std::uint32_t syn_first_off = 0; ///< first SYN, after the first packet
    std::uint32_t syn_last_off = 0;  ///< last SYN before the SYN/ACK, after the first SYN
    std::uint32_t synack_first_off =
        0;                             ///< first SYN/ACK, after the last SYN (no SYN: first packet)
    std::uint32_t synack_last_off = 0; ///< last SYN/ACK before the ACK, after the first one
    std::uint32_t ack_off = 0;         ///< the originator's ACK of the SYN/ACK, after the last one
    std::uint16_t syns = 0, synacks = 0; ///< SYNs and SYN/ACKs sent, retransmissions included
    std::array<SideState, 2> side;

    static constexpr std::uint8_t midstream = 1, flipped = 2, history_truncated = 4, done = 8,
                                  resp_closed_first = 16, simultaneous = 32, handshake_acked = 64,
                                  synack_before_syn = 128;
    [[nodiscard]] bool has(std::uint8_t f) const { return (flags & f) != 0; }

    /// Absolute times (ns since the epoch); 0 when not seen.
    [[nodiscard]] Nanos syn_first_ts() const;
    [[nodiscard]] Nanos syn_last_ts() const;
    [[nodiscard]] Nanos synack_first_ts() const;
    [[nodiscard]] Nanos synack_last_ts() const;
    [[nodiscard]] Nanos handshake_ack_ts() const;
    [[nodiscard]] Nanos fin_ts(Side s) const;
    [[nodiscard]] Nanos rst_ts(Side s) const;
    /// The first RST from either side; 0 when none.
    [[nodiscard]] Nanos first_rst_ts() const;

    [[nodiscard]] IpAddress address(Side s) const;
    [[nodiscard]] std::uint16_t port_of(Side s) const { return port[static_cast<std::size_t>(s)]; }
    [[nodiscard]] const SideState& of(Side s) const { return side[static_cast<std::size_t>(s)]; }
    [[nodiscard]] SideState& of(Side s) { return side[static_cast<std::size_t>(s)]; }

    [[nodiscard]] std::string_view history() const { return {letters, history_len}; }
    [[nodiscard]] ConnState state() const;
    [[nodiscard]] Closer closer() const;
    /// Who ends in TIME_WAIT: the closer (both when simultaneous); none after a RST.
    [[nodiscard]] Closer time_wait_side() const;
    [[nodiscard]] CloseKind close_kind() const;
    /// Which sides sent a RST (orig, resp, both) and none.
    [[nodiscard]] Closer rst_by() const;
    /// One side closed, the other then went on sending data: from the first FIN until the
    /// second FIN, a RST, or the last packet. 0 when it was not a half-close.
    [[nodiscard]] Nanos half_close_ns() const;
    [[nodiscard]] Nanos duration_ns() const { return last_ts - first_ts; }

    /// Handshake timing. `from_last_syn`: measured from the last SYN before the SYN/ACK
    /// (the attempt that was answered) instead of the first. 0 when not seen.
    [[nodiscard]] Nanos syn_to_synack(bool from_last_syn) const;
    [[nodiscard]] Nanos synack_to_ack() const;
    [[nodiscard]] Nanos handshake_ns(bool from_last_syn) const;
    [[nodiscard]] bool handshake_complete() const { return has(handshake_acked); }
    [[nodiscard]] unsigned syn_retransmits() const { return syns > 1 ? syns - 1u : 0u; }

    /// The intervals between the originator's SYNs (Side::orig) or the responder's SYN/ACKs
    /// (Side::resp) before they were answered: the first one and the span from the first
    /// to the last. That is every interval up to two retransmissions; past that, the first
    /// and the total (the kernel doubles each one: 1 s, 2 s, 4 s …).
    struct RetransmitGaps {
        unsigned retransmits = 0;
        Nanos first = 0, total = 0;
    };
    [[nodiscard]] RetransmitGaps retransmit_gaps(Side s) const;
    [[nodiscard]] unsigned synack_retransmits() const { return synacks > 1 ? synacks - 1u : 0u; }
};

} // namespace netdx::capture
