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

IpAddress Connection::address(Side s) const {
    const auto& a = addr[static_cast<int>(s)];
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
    const auto& closer_side = of(c == Closer::orig ? Side::orig : Side::resp);
    const auto& other_side = of(c == Closer::orig ? Side::resp : Side::orig);
    if (!other_side.has(SideState::data_after_peer_fin)) return 0;
    Nanos end = last_ts;
    if (other_side.has(SideState::fin)) end = other_side.fin_ts;
    for (const auto& s : side)
        if (s.has(SideState::rst) && s.rst_ts < end) end = s.rst_ts;
    return end > closer_side.fin_ts ? end - closer_side.fin_ts : 0;
}

Nanos Connection::syn_to_synack(bool from_last_syn) const {
    const Nanos syn = from_last_syn ? syn_last : syn_first;
    if (syn == 0 || synack_first == 0 || synack_first < syn) return 0;
    return synack_first - syn;
}

Nanos Connection::synack_to_ack() const {
    if (synack_last == 0 || handshake_ack == 0 || handshake_ack < synack_last) return 0;
    return handshake_ack - synack_last;
}

Nanos Connection::handshake_ns(bool from_last_syn) const {
    const Nanos syn = from_last_syn ? syn_last : syn_first;
    if (syn == 0 || handshake_ack == 0 || handshake_ack < syn) return 0;
    return handshake_ack - syn;
}

} // namespace netdx::capture
