#include "summary.hpp"

#include <fmt/format.h>

#include <netdx/sys/text.hpp>

#include "histogram_columns.hpp"

namespace netdx::trace {

using capture::Closer;
using capture::Connection;
using capture::ConnState;

void Summary::add(const Connection& c) {
    ++connections;
    ++by_state[static_cast<std::size_t>(c.state())];
    ++by_closer[static_cast<std::size_t>(c.closer())];
    ++time_wait[static_cast<std::size_t>(c.time_wait_side())];
    if (c.syn_retransmits() > 0) ++syn_retransmitted;
    syn_retransmissions += c.syn_retransmits();
    synack_retransmissions += c.synack_retransmits();
    data_retransmissions += c.side[0].retransmits + c.side[1].retransmits;
    const auto rst = c.rst_by();
    if (rst != Closer::none) ++reset;
    if (rst == Closer::orig || rst == Closer::both) ++rst_by_orig;
    if (rst == Closer::resp || rst == Closer::both) ++rst_by_resp;
    if (c.ended == capture::EndReason::capture_end) ++open_at_end;
    if (c.ended == capture::EndReason::reused) ++reused;
    if (c.has(Connection::midstream)) ++midstream;
    if (c.half_close_ns() > 0) ++half_closed;
    if (const auto h = c.handshake_ns(true); h > 0) {
        handshake.record(static_cast<std::uint64_t>(h));
        handshake_first.record(static_cast<std::uint64_t>(c.handshake_ns(false)));
    }
    if (const auto h = c.syn_to_synack(true); h > 0)
        syn_synack.record(static_cast<std::uint64_t>(h));
    if (const auto h = c.synack_to_ack(); h > 0) synack_ack.record(static_cast<std::uint64_t>(h));
}

std::vector<MetricInfo> trace_metrics() {
    std::vector<MetricInfo> m{
        {"connections", Unit::count, "connections seen"},
        {"rst", Unit::count, "connections with a RST from either side"},
        {"refused", Unit::count, "connection attempts rejected (conn_state REJ)"},
        {"open", Unit::count, "connections still open when the capture ended"},
        {"syn_retransmissions", Unit::count, "SYNs sent again"},
        {"synack_retransmissions", Unit::count, "SYN/ACKs sent again"},
        {"data_retransmissions", Unit::count, "data packets sent again"},
        {"half_closed", Unit::count, "connections where data flowed after one side's FIN"},
        {"simultaneous", Unit::count, "connections whose FINs crossed"},
        {"handshake_p50", Unit::ns, "median handshake, last SYN to ACK"},
        {"handshake_p90", Unit::ns, "90th percentile handshake"},
        {"handshake_p99", Unit::ns, "99th percentile handshake"},
        {"handshake_max", Unit::ns, "longest handshake"},
        {"handshake_p", Unit::ns, "any percentile of the handshake: handshake_p99.9", true},
        {"skipped", Unit::count, "frames that were not TCP or could not be decoded"},
        {"dropped", Unit::count, "packets the kernel dropped (live capture)"},
    };
    for (std::size_t i = 0; i < capture::kConnStates; ++i) {
        const auto s = static_cast<ConnState>(i);
        m.push_back(
            {to_lower(conn_state_name(s)), Unit::count,
             fmt::format("connections in {} ({})", conn_state_name(s), conn_state_meaning(s))});
    }
    return m;
}

void Summary::to_report(Report& report, std::map<std::string, double>& metrics,
                        const std::vector<Threshold>& checks) const {
    auto& states =
        report.section("states", "Connections by state (Zeek conn_state)", Section::Kind::table);
    states.fields = {{"state", "state", Unit::none},
                     {"count", "count", Unit::count},
                     {"meaning", "meaning", Unit::none}};
    for (std::size_t i = 0; i < capture::kConnStates; ++i) {
        const auto s = static_cast<ConnState>(i);
        metrics[to_lower(conn_state_name(s))] = static_cast<double>(by_state[i]);
        if (by_state[i] == 0) continue;
        const bool bad = s == ConnState::REJ || s == ConnState::RSTO || s == ConnState::RSTR ||
                         s == ConnState::RSTOS0 || s == ConnState::RSTRH;
        states.add_row({Cell(std::string(conn_state_name(s)), bad ? Style::warn : Style::plain),
                        Cell(by_state[i]), Cell(std::string(conn_state_meaning(s)))});
    }
    states.add_row({Cell(std::string("total")), Cell(connections), Cell(std::string())});

    auto& closers = report.section("closers", "Who closed first", Section::Kind::table);
    closers.fields = {{"closer", "closer", Unit::none},
                      {"count", "count", Unit::count},
                      {"time_wait", "holds TIME_WAIT", Unit::count}};
    for (const auto c : {Closer::orig, Closer::resp, Closer::both, Closer::none}) {
        const auto i = static_cast<std::size_t>(c);
        if (by_closer[i] == 0 && c != Closer::none) continue;
        closers.add_row({Cell(std::string(closer_name(c))), Cell(by_closer[i]),
                         c == Closer::none ? Cell(Value{}) : Cell(time_wait[i])});
    }

    auto& hs = report.section("handshake", "Handshake (last SYN to ACK)", Section::Kind::record);
    hs.add({"count", "handshakes", Unit::count}, Cell(handshake.count()));
    using cli::HistogramStat;
    const cli::HistogramColumns last_syn{"",
                                         "",
                                         "handshake_",
                                         {HistogramStat::percentile(50),
                                          HistogramStat::percentile(90),
                                          HistogramStat::percentile(99), HistogramStat::max()}};
    last_syn.add_to(hs, handshake);
    last_syn.add_metrics(metrics, handshake, checks);
    const std::vector median{HistogramStat::percentile(50)};
    cli::HistogramColumns{"syn_synack_", "SYN to SYN/ACK ", "", median}.add_to(hs, syn_synack);
    cli::HistogramColumns{"synack_ack_", "SYN/ACK to ACK ", "", median}.add_to(hs, synack_ack);
    if (syn_retransmitted > 0)
        cli::HistogramColumns{"first_syn_",
                              "from the first SYN ",
                              "",
                              {HistogramStat::percentile(50), HistogramStat::max()}}
            .add_to(hs, handshake_first);

    auto& ev =
        report.section("events", "Retransmissions, resets, leftovers", Section::Kind::record);
    ev.add({"syn_retransmissions", "SYN retransmissions", Unit::count}, Cell(syn_retransmissions));
    ev.add(
        {"connections_with_syn_retransmissions", "connections with a SYN sent again", Unit::count},
        Cell(syn_retransmitted));
    ev.add({"synack_retransmissions", "SYN/ACK retransmissions", Unit::count},
           Cell(synack_retransmissions));
    ev.add({"data_retransmissions", "data retransmissions", Unit::count},
           Cell(data_retransmissions));
    ev.add({"refused", "refused (REJ)", Unit::count},
           Cell(by_state[static_cast<int>(ConnState::REJ)]));
    ev.add({"reset", "reset (any RST)", Unit::count}, Cell(reset));
    ev.add({"rst_by_orig", "RST from the originator", Unit::count}, Cell(rst_by_orig));
    ev.add({"rst_by_resp", "RST from the responder", Unit::count}, Cell(rst_by_resp));
    ev.add({"half_closed", "half-closed (data after a FIN)", Unit::count}, Cell(half_closed));
    ev.add({"open_at_end", "still open at the end", Unit::count}, Cell(open_at_end));
    ev.add({"reused", "4-tuples reused by a new SYN", Unit::count}, Cell(reused));
    ev.add({"midstream", "joined midstream (no SYN seen)", Unit::count}, Cell(midstream));

    metrics["connections"] = static_cast<double>(connections);
    metrics["rst"] = static_cast<double>(reset);
    metrics["refused"] = static_cast<double>(by_state[static_cast<int>(ConnState::REJ)]);
    metrics["open"] = static_cast<double>(open_at_end);
    metrics["syn_retransmissions"] = static_cast<double>(syn_retransmissions);
    metrics["synack_retransmissions"] = static_cast<double>(synack_retransmissions);
    metrics["data_retransmissions"] = static_cast<double>(data_retransmissions);
    metrics["half_closed"] = static_cast<double>(half_closed);
    metrics["simultaneous"] = static_cast<double>(by_closer[static_cast<int>(Closer::both)]);
}

} // namespace netdx::trace
