#include "record.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <iterator>

#include <fmt/format.h>

#include <netdx/report/reporter.hpp>
#include <netdx/report/units.hpp>

namespace netdx::trace {

using capture::Connection;
using capture::Side;
using capture::SideState;

namespace {

Cell ns_or_null(Nanos v) {
    return v > 0 ? Cell(static_cast<std::uint64_t>(v)) : Cell(Value{});
}

Cell u16_or_null(std::uint16_t v) {
    return v > 0 ? Cell(std::uint64_t{v}) : Cell(Value{});
}

Cell wscale_or_null(std::uint8_t v) {
    return v != 0xff ? Cell(std::uint64_t{v}) : Cell(Value{});
}

/// A side's handshake retransmissions as two numbers: the wait before the first one (µs
/// resolution: kept as such in the record) and the span from the first SYN (or SYN/ACK) to
/// the last; both null without a retransmission.
std::pair<Cell, Cell> retransmit_gaps(const Connection& c, Side s) {
    const auto g = c.retransmit_gaps(s);
    if (g.retransmits == 0) return {Cell(Value{}), Cell(Value{})};
    return {Cell(static_cast<std::uint64_t>(g.first)), Cell(static_cast<std::uint64_t>(g.total))};
}

/// Seconds with six decimals, as Zeek logs time and interval, rounded to the nearest µs in
/// integers (a double holds about 16 digits: an epoch time in µs is already 16).
std::string zeek_seconds(Nanos ns) {
    const Nanos us = (ns + kNanosPerMicro / 2) / kNanosPerMicro;
    return fmt::format("{}.{:06}", us / 1'000'000, us % 1'000'000);
}

std::string zeek_date(Nanos ts) {
    const std::time_t t = ts / kNanosPerSecond;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d-%H-%M-%S", &tm);
    return buf;
}

} // namespace

std::string endpoint_text(const Connection& c, Side s) {
    const auto a = c.address(s).to_string();
    return c.v6 ? fmt::format("[{}]:{}", a, c.port_of(s)) : fmt::format("{}:{}", a, c.port_of(s));
}

const std::vector<Field>& connection_fields() {
    // Human table: the columns people scan; the rest is in JSON and CSV.
    static const std::vector<Field> fields = [] {
        auto m = [](std::string key, Unit unit) { return Field{key, key, unit, false, true}; };
        return std::vector<Field>{
            {"id", "#", Unit::count},
            m("ts", Unit::none),
            m("ts_ns", Unit::ns),
            {"start_ns", "start", Unit::ns},
            {"orig", "originator", Unit::none},
            {"resp", "responder", Unit::none},
            // The same addresses as structured fields (Zeek's id.orig_h … id.resp_p).
            m("orig_h", Unit::none),
            m("orig_p", Unit::count),
            m("resp_h", Unit::none),
            m("resp_p", Unit::count),
            {"state", "state", Unit::none},
            {"history", "history", Unit::none},
            {"closer", "closer", Unit::none},
            m("time_wait", Unit::none),
            m("close", Unit::none),
            m("rst_by", Unit::none),
            m("rst_ns", Unit::ns),
            {"handshake_ns", "handshake", Unit::ns},
            m("syn_synack_ns", Unit::ns),
            m("synack_ack_ns", Unit::ns),
            m("handshake_first_syn_ns", Unit::ns),
            m("syn_synack_first_syn_ns", Unit::ns),
            {"syn_retransmissions", "syn rtx", Unit::count},
            m("syn_retransmission_gap_ns", Unit::ns),
            m("syn_retransmission_span_ns", Unit::ns),
            m("synack_retransmissions", Unit::count),
            m("synack_retransmission_gap_ns", Unit::ns),
            m("synack_retransmission_span_ns", Unit::ns),
            {"duration_ns", "duration", Unit::ns},
            {"orig_pkts", "o pkts", Unit::count},
            {"orig_bytes", "o bytes", Unit::bytes},
            m("orig_ip_bytes", Unit::bytes),
            m("orig_retransmissions", Unit::count),
            {"resp_pkts", "r pkts", Unit::count},
            {"resp_bytes", "r bytes", Unit::bytes},
            m("resp_ip_bytes", Unit::bytes),
            m("resp_retransmissions", Unit::count),
            m("half_close_ns", Unit::ns),
            m("orig_mss", Unit::count),
            m("resp_mss", Unit::count),
            m("orig_wscale", Unit::count),
            m("resp_wscale", Unit::count),
            m("sack", Unit::none),
            m("timestamps", Unit::none),
            m("midstream", Unit::none),
            m("ended", Unit::none),
        };
    }();
    return fields;
}

Row connection_row(const Connection& c, Nanos origin) {
    const auto& o = c.of(Side::orig);
    const auto& r = c.of(Side::resp);
    const Nanos rst = c.first_rst_ts();
    const Nanos first_syn = c.handshake_ns(false);
    const bool both = o.has(SideState::syn) && r.has(SideState::syn);
    const auto syn_gaps = retransmit_gaps(c, Side::orig);
    const auto synack_gaps = retransmit_gaps(c, Side::resp);
    return Row{
        Cell(std::uint64_t{c.id}),
        Cell(static_cast<double>(c.first_ts) / 1e9),
        Cell(c.first_ts),
        Cell(c.first_ts - origin), // negative when the capture's clock stepped back
        Cell(endpoint_text(c, Side::orig)),
        Cell(endpoint_text(c, Side::resp)),
        Cell(c.address(Side::orig).to_string()),
        Cell(std::uint64_t{c.port_of(Side::orig)}),
        Cell(c.address(Side::resp).to_string()),
        Cell(std::uint64_t{c.port_of(Side::resp)}),
        Cell(std::string(conn_state_name(c.state()))),
        Cell(std::string(c.history())),
        Cell(std::string(closer_name(c.closer()))),
        Cell(std::string(closer_name(c.time_wait_side()))),
        Cell(std::string(close_kind_name(c.close_kind()))),
        Cell(std::string(closer_name(c.rst_by()))),
        rst > 0 ? Cell(static_cast<std::uint64_t>(rst - c.first_ts)) : Cell(Value{}),
        ns_or_null(c.handshake_ns(true)),
        ns_or_null(c.syn_to_synack(true)),
        ns_or_null(c.synack_to_ack()),
        first_syn != c.handshake_ns(true) ? ns_or_null(first_syn) : Cell(Value{}),
        c.syn_retransmits() > 0 ? ns_or_null(c.syn_to_synack(false)) : Cell(Value{}),
        Cell(std::uint64_t{c.syn_retransmits()}),
        syn_gaps.first,
        syn_gaps.second,
        Cell(std::uint64_t{c.synack_retransmits()}),
        synack_gaps.first,
        synack_gaps.second,
        Cell(static_cast<std::uint64_t>(c.duration_ns())),
        Cell(std::uint64_t{o.packets}),
        Cell(o.bytes),
        Cell(o.ip_bytes),
        Cell(std::uint64_t{o.retransmits}),
        Cell(std::uint64_t{r.packets}),
        Cell(r.bytes),
        Cell(r.ip_bytes),
        Cell(std::uint64_t{r.retransmits}),
        ns_or_null(c.half_close_ns()),
        u16_or_null(o.mss),
        u16_or_null(r.mss),
        wscale_or_null(o.wscale),
        wscale_or_null(r.wscale),
        Cell(both && o.has(SideState::sack) && r.has(SideState::sack)),
        Cell(both && o.has(SideState::timestamps) && r.has(SideState::timestamps)),
        Cell(c.has(Connection::midstream)),
        Cell(std::string(end_reason_name(c.ended))),
    };
}

std::string zeek_header(Nanos open_ts) {
    return "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
           "#path\tconn\n#open\t" +
           zeek_date(open_ts) +
           "\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\t"
           "duration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\t"
           "history\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n"
           "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\t"
           "string\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n";
}

std::string zeek_line(const Connection& c) {
    const auto& o = c.of(Side::orig);
    const auto& r = c.of(Side::resp);
    const bool one_packet = o.packets + r.packets <= 1;
    return fmt::format(
        "{}\tC{:017x}\t{}\t{}\t{}\t{}\ttcp\t-\t{}\t{}\t{}\t{}\t-\t-\t-\t{}\t{}\t{}\t{}\t{}\t-\n",
        zeek_seconds(c.first_ts), c.id, c.address(Side::orig).to_string(), c.port_of(Side::orig),
        c.address(Side::resp).to_string(), c.port_of(Side::resp),
        one_packet ? "-" : zeek_seconds(c.duration_ns()),
        one_packet ? "-" : std::to_string(o.bytes), one_packet ? "-" : std::to_string(r.bytes),
        conn_state_name(c.state()), c.history().empty() ? "-" : std::string(c.history()), o.packets,
        o.ip_bytes, r.packets, r.ip_bytes);
}

std::string zeek_footer(Nanos close_ts) {
    return "#close\t" + zeek_date(close_ts) + "\n";
}

} // namespace netdx::trace
