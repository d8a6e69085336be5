#include <algorithm>

#include <netdx/capture/connection.hpp>

namespace netdx::capture {

std::string_view closer_name(Closer c) {
    switch (c) {
    case Closer::none:
        return "none";
    case Closer::orig:
        return "orig";
    case Closer::resp:
        return "resp";
    case Closer::both:
        return "simultaneous";
    }
    return "none";
}

std::string_view close_kind_name(CloseKind k) {
    switch (k) {
    case CloseKind::open:
        return "open";
    case CloseKind::fin:
        return "fin";
    case CloseKind::half:
        return "half";
    case CloseKind::rst:
        return "rst";
    case CloseKind::fin_rst:
        return "fin+rst";
    }
    return "open";
}

std::string_view end_reason_name(EndReason r) {
    switch (r) {
    case EndReason::closed:
        return "closed";
    case EndReason::reused:
        return "reused";
    case EndReason::capture_end:
        return "capture_end";
    }
    return "closed";
}

std::uint32_t encode_span(Nanos d) {
    if (d <= 0) return 0;
    if (d < (Nanos{1} << 31)) return static_cast<std::uint32_t>(d);
    const Nanos us = std::min<Nanos>(d / kNanosPerMicro, 0x7fffffff);
    return 0x80000000u | static_cast<std::uint32_t>(us);
}

Nanos decode_span(std::uint32_t v) {
    return (v & 0x80000000u) ? Nanos{v & 0x7fffffffu} * kNanosPerMicro : Nanos{v};
}

Nanos Connection::syn_first_ts() const {
    return syns ? first_ts + decode_span(syn_first_off) : 0;
}

Nanos Connection::syn_last_ts() const {
    return syns ? syn_first_ts() + decode_span(syn_last_off) : 0;
}

Nanos Connection::synack_first_ts() const {
    if (!synacks) return 0;
    const Nanos base = has(synack_before_syn) ? first_ts : syn_last_ts();
    return base + decode_span(synack_first_off);
}

Nanos Connection::synack_last_ts() const {
    return synacks ? synack_first_ts() + decode_span(synack_last_off) : 0;
}

Nanos Connection::handshake_ack_ts() const {
    return has(handshake_acked) ? synack_last_ts() + decode_span(ack_off) : 0;
}

Nanos Connection::fin_ts(Side s) const {
    return of(s).has(SideState::fin) ? first_ts + decode_span(of(s).fin_off) : 0;
}

Nanos Connection::rst_ts(Side s) const {
    return of(s).has(SideState::rst) ? first_ts + decode_span(of(s).rst_off) : 0;
}

Nanos Connection::first_rst_ts() const {
    const Nanos o = rst_ts(Side::orig), r = rst_ts(Side::resp);
    return o == 0 ? r : r == 0 ? o : std::min(o, r);
}

IpAddress Connection::address(Side s) const {
    const auto& a = addr[static_cast<std::size_t>(s)];
    if (v6) return IpAddress::v6(a);
    return IpAddress::v4(std::uint32_t{a[0]} << 24 | std::uint32_t{a[1]} << 16 |
                         std::uint32_t{a[2]} << 8 | a[3]);
}

ConnState Connection::state() const {
    const auto& o = side[0];
    const auto& r = side[1];
    return derive_conn_state(o.zeek, r.zeek, o.bytes > 0 || r.bytes > 0, history());
}

Closer Connection::closer() const {
    const bool of = side[0].has(SideState::fin), rf = side[1].has(SideState::fin);
    if (!of && !rf) return Closer::none;
    if (has(simultaneous)) return Closer::both;
    if (of && rf) return has(resp_closed_first) ? Closer::resp : Closer::orig;
    return of ? Closer::orig : Closer::resp;
}

Closer Connection::time_wait_side() const {
    if (side[0].has(SideState::rst) || side[1].has(SideState::rst)) return Closer::none;
    // TIME_WAIT follows the closer's FIN only once the other side's FIN arrived.
    if (!side[0].has(SideState::fin) || !side[1].has(SideState::fin)) return Closer::none;
    return closer();
}

Closer Connection::rst_by() const {
    const bool o = side[0].has(SideState::rst), r = side[1].has(SideState::rst);
    return o && r ? Closer::both : o ? Closer::orig : r ? Closer::resp : Closer::none;
}

CloseKind Connection::close_kind() const {
    const bool any_rst = side[0].has(SideState::rst) || side[1].has(SideState::rst);
    const bool any_fin = side[0].has(SideState::fin) || side[1].has(SideState::fin);
    const bool both_fin = side[0].has(SideState::fin) && side[1].has(SideState::fin);
    if (any_rst) return any_fin ? CloseKind::fin_rst : CloseKind::rst;
    if (both_fin) return CloseKind::fin;
    if (any_fin) return CloseKind::half;
    return CloseKind::open;
}

Nanos Connection::half_close_ns() const {
    const auto c = closer();
    if (c != Closer::orig && c != Closer::resp) return 0;
    const Side cs = c == Closer::orig ? Side::orig : Side::resp;
    if (!of(other(cs)).has(SideState::data_after_peer_fin)) return 0;
    Nanos end = last_ts;
    if (of(other(cs)).has(SideState::fin)) end = fin_ts(other(cs));
    if (const Nanos rst = first_rst_ts(); rst != 0) end = std::min(end, rst);
    const Nanos start = fin_ts(cs);
    return end > start ? end - start : 0;
}

Connection::RetransmitGaps Connection::retransmit_gaps(Side s) const {
    RetransmitGaps g;
    g.retransmits = s == Side::orig ? syn_retransmits() : synack_retransmits();
    if (g.retransmits == 0) return g;
    g.first = Nanos{of(s).first_gap_us} * kNanosPerMicro;
    g.total =
        s == Side::orig ? syn_last_ts() - syn_first_ts() : synack_last_ts() - synack_first_ts();
    return g;
}

Nanos Connection::syn_to_synack(bool from_last_syn) const {
    if (!syns || !synacks || has(synack_before_syn)) return 0;
    return synack_first_ts() - (from_last_syn ? syn_last_ts() : syn_first_ts());
}

Nanos Connection::synack_to_ack() const {
    return has(handshake_acked) ? decode_span(ack_off) : 0;
}

Nanos Connection::handshake_ns(bool from_last_syn) const {
    if (!syns || !has(handshake_acked) || has(synack_before_syn)) return 0;
    return handshake_ack_ts() - (from_last_syn ? syn_last_ts() : syn_first_ts());
}

} // namespace netdx::capture
