// netdx-trace: every TCP connection in a capture (or live), how it opened and closed, who
// closed first, what was reset — Zeek's conn_state and history, plus handshake timing,
// retransmissions and the closer, streamed as each connection ends.
#include <algorithm>
#include <array>
#include <bitset>
#include <cerrno>
#include <cstring>
#include <grp.h>
#include <iostream>
#include <map>
#include <pwd.h>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <netdx/capture/connection_tracker.hpp>
#include <netdx/capture/packet_decoder.hpp>
#include <netdx/capture/packet_source.hpp>
#include <netdx/report/result.hpp>
#include <netdx/report/units.hpp>
#include <netdx/sys/parse_error.hpp>
#include <netdx/sys/text.hpp>
#include <netdx/version.hpp>

#include "cli.hpp"
#include "demo.hpp"
#include "interrupt.hpp"
#include "ladder.hpp"
#include "summary.hpp"
#include "tool_registry.hpp"
#include "writer.hpp"

namespace {

using namespace netdx;
using namespace netdx::trace;
using netdx::capture::Connection;

const cli::ToolInfo kInfo{
    .name = "netdx-trace",
    .summary = std::string(registry::tool("netdx-trace").summary),
    .metrics = trace_metrics(),
    .ndjson = true,
    .csv = true,
    .subcommands = {},
    .delegate_prefix = {},
    .fail_if_example = "rst>0",
};

struct Options {
    cli::CommonOptions common;
    std::string read_file;
    std::string interface;
    std::vector<std::string> filter;
    std::uint64_t count = 0;
    Nanos duration = 0;
    std::string write_file;
    std::string user;
    bool zeek = false;
    std::uint64_t top = 20;
    bool ladder_given = false;
    std::string ladder;
    std::uint64_t ladder_max = 10;
    std::uint64_t ladder_packets = 200;
    Nanos linger = kNanosPerSecond;
    std::uint64_t snaplen = 256;
    bool promiscuous = false;
    bool demo = false;
    std::string states;
};

void setup(CLI::App& app, Options& o) {
    cli::add_common_options(app, o.common, kInfo);
    cli::mark_file(app.add_option("-r,--read", o.read_file,
                                  "Read packets from a capture file (pcap or pcapng; - for stdin)")
                       ->type_name("FILE"));
    app.add_option("-i,--interface", o.interface, "Capture live on this interface (lo, eth0, any)")
        ->type_name("IFACE");
    cli::add_count(app, "-c,--count", o.count, "Stop after this many packets");
    cli::add_duration(app, "-d,--duration", o.duration,
                      "Stop after this long (live: wall clock; file: capture time)");
    cli::mark_file(
        app.add_option("-w,--write", o.write_file, "Also write the packets read to this pcap file")
            ->type_name("FILE"));
    app.add_option("-Z,--user", o.user,
                   "After opening the interface, drop root privileges to this user")
        ->type_name("USER");
    app.add_option("--state", o.states,
                   "List and stream only connections in these states (REJ,RSTR; !SF: all but "
                   "SF); the summary still counts every one")
        ->type_name("STATES");
    app.add_flag("--zeek", o.zeek, "Zeek conn.log (TSV), one line per connection as it ends");
    cli::add_count(app, "--top", o.top,
                   "Connections listed in the table (0: all; default 20; JSON, NDJSON, CSV "
                   "and --zeek list every one)");
    app.add_option("--ladder", o.ladder,
                   "Draw the packets of chosen connections as a ladder. FILTER (comma-"
                   "separated): #N, PORT, ADDR, ADDR:PORT, a state (REJ), rst, retransmission; "
                   "one kind's terms are alternatives, kinds must all match; none: all. "
                   "Write --ladder=FILTER")
        ->expected(0, 1)
        ->type_name("[FILTER]");
    cli::add_count(app, "--ladder-max", o.ladder_max,
                   "Ladders drawn at most (0: no limit; default 10)");
    cli::add_count(app, "--ladder-packets", o.ladder_packets,
                   "Packets drawn per ladder; the rest are counted (default 200)");
    cli::add_duration(app, "--linger", o.linger,
                      "Keep a closed connection this long for late packets before reporting "
                      "it (default 1s)");
    cli::add_count(app, "-s,--snaplen", o.snaplen,
                   "Live: bytes captured per packet (default 256: headers only)");
    app.add_flag("-p,--promiscuous", o.promiscuous, "Live: promiscuous mode");
    app.add_flag("--demo", o.demo,
                 "Capture on lo while making four connections that end four ways (the "
                 "client closes, the server closes, refused, reset), and draw them");
    app.add_option("filter", o.filter,
                   "BPF filter expression, as for tcpdump (port 8080 and host ::1)")
        ->type_name("EXPRESSION");
}

void drop_privileges(const std::string& user) {
    errno = 0;
    const passwd* pw = ::getpwnam(user.c_str());
    if (!pw)
        throw ParseError(errno ? fmt::format("-Z {}: {}", user, std::strerror(errno))
                               : fmt::format("unknown user '{}' in -Z {}", user, user));
    if (::initgroups(pw->pw_name, pw->pw_gid) != 0 || ::setgid(pw->pw_gid) != 0 ||
        ::setuid(pw->pw_uid) != 0)
        throw std::system_error(errno, std::generic_category(), "drop privileges to user " + user);
}

std::uint64_t peak_rss_bytes() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return static_cast<std::uint64_t>(ru.ru_maxrss) * 1024;
}

/// The exit a capture error stands for, with the missing capability named.
[[noreturn]] void capture_failure(const capture::CaptureError& e, const Options& o) {
    using K = capture::CaptureError::Kind;
    std::string msg = e.what();
    if (e.kind() == K::permission)
        msg += fmt::format("; capturing on {} needs CAP_NET_RAW{} (run as root, or grant it: "
                           "setcap cap_net_raw{}=eip $(command -v netdx-trace))",
                           o.interface, o.promiscuous ? " and CAP_NET_ADMIN" : "",
                           o.promiscuous ? ",cap_net_admin" : "");
    ExitCode code = ExitCode::system;
    switch (e.kind()) {
    case K::permission:
        code = ExitCode::no_permission;
        break;
    case K::no_such_device:
        code = ExitCode::unavailable;
        break;
    case K::bad_input:
        code = ExitCode::usage;
        break;
    case K::output:
        code = ExitCode::output;
        break;
    case K::other:
        break;
    }
    throw cli::ToolFailure(code, msg);
}

/// What reading the input came to.
struct ReadStats {
    std::uint64_t frames = 0, tcp = 0;
    std::uint64_t timed = 0; ///< frames with a usable timestamp
    std::array<std::uint64_t, capture::kSkipReasons> skipped{};
    /// The first frame's time (what start times are relative to, as tshark's
    /// frame.time_relative is), and the earliest and latest (the span: out-of-order
    /// timestamps widen it, they never wrap it).
    Nanos first_ts = 0, min_ts = 0, max_ts = 0, wall = 0;
    std::string error; ///< why reading stopped early ("" at the end of the input)

    [[nodiscard]] std::uint64_t skipped_total() const {
        std::uint64_t n = 0;
        for (auto k : skipped)
            n += k;
        return n;
    }
};

/// Reads frames into the tracker until the input ends, --count or --duration is reached,
/// the demo is over, or Ctrl-C.
ReadStats read_all(const Options& o, capture::PacketSource& src,
                   capture::ConnectionTracker& tracker, RecordWriter& writer, const Demo* demo) {
    ReadStats st;
    const int dlt = src.link_type();
    const Nanos wall_start = monotonic_ns();
    Nanos demo_done = 0;
    capture::Frame frame;
    for (;;) {
        if (cli::interrupted()) break;
        if (o.duration > 0 && src.live() && monotonic_ns() - wall_start >= o.duration) break;
        if (demo && demo->finished()) {
            // Done once the last connection has lingered: every record is out.
            if (demo_done == 0) demo_done = monotonic_ns();
            if (monotonic_ns() - demo_done > o.linger + 200 * kNanosPerMilli) break;
        }
        const auto r = src.next(frame);
        if (r == capture::PacketSource::Next::end) break;
        if (r == capture::PacketSource::Next::error) {
            st.error = src.error();
            break;
        }
        if (r == capture::PacketSource::Next::timeout) {
            tracker.expire(realtime_ns()); // live timestamps are wall-clock time
            writer.flush();
            continue;
        }
        if (!frame.timestamp_ok) { // not a time this program can compute with: say so, skip
            ++st.frames;
            ++st.skipped[static_cast<std::size_t>(capture::Skip::bad_timestamp)];
            if (o.count > 0 && st.frames >= o.count) break;
            continue;
        }
        if (st.timed == 0) {
            st.first_ts = st.min_ts = st.max_ts = frame.timestamp;
            writer.start(frame.timestamp);
        }
        if (o.duration > 0 && !src.live() && frame.timestamp - st.first_ts >= o.duration) break;
        ++st.frames;
        ++st.timed;
        st.min_ts = std::min(st.min_ts, frame.timestamp);
        st.max_ts = std::max(st.max_ts, frame.timestamp);
        const auto d = capture::decode_frame(dlt, frame.data);
        if (d.skip != capture::Skip::none) {
            ++st.skipped[static_cast<std::size_t>(d.skip)];
        } else {
            ++st.tcp;
            tracker.add(frame.timestamp, d.tcp);
        }
        if (o.count > 0 && st.frames >= o.count) break;
    }
    st.wall = monotonic_ns() - wall_start;
    return st;
}

/// The capture section, the skipped frames, and the notes and metrics they give.
void add_capture(Report& report, std::map<std::string, double>& metrics, const Options& o,
                 const capture::PacketSource& src, const ReadStats& st,
                 const capture::TrackerStats& ts) {
    auto& cap = report.section("capture", "Capture", Section::Kind::record);
    cap.add({"source", "source", Unit::none},
            Cell(o.read_file.empty() ? "live on " + o.interface : o.read_file));
    cap.add({"link_type", "link type", Unit::none}, Cell(src.link_type_name()));
    const Nanos res = src.resolution_ns();
    cap.add({"timestamps", "timestamps", Unit::none},
            Cell(res == 1                ? std::string("ns")
                 : res == kNanosPerMicro ? std::string("us")
                                         : format_duration(static_cast<double>(res))));
    cap.add({"timestamp_resolution_ns", "", Unit::ns, false, true}, Cell(res));
    cap.add({"first_ts_ns", "", Unit::ns, false, true},
            st.timed ? Cell(st.first_ts) : Cell(Value{}));
    cap.add({"frames", "frames read", Unit::count}, Cell(st.frames));
    cap.add({"tcp_packets", "TCP packets", Unit::count}, Cell(st.tcp));
    cap.add({"skipped", "skipped", Unit::count}, Cell(st.skipped_total()));
    cap.add({"span_ns", "capture span", Unit::ns}, Cell(st.max_ts - st.min_ts));
    cap.add({"elapsed_ns", "read in", Unit::ns}, Cell(static_cast<std::uint64_t>(st.wall)));
    cap.add({"packets_per_s", "rate", Unit::per_second},
            Cell(st.wall > 0 ? static_cast<double>(st.frames) * 1e9 / static_cast<double>(st.wall)
                             : 0.0));
    cap.add({"open_peak", "most open at once", Unit::count}, Cell(ts.peak_open));
    cap.add({"tracker_bytes", "tracker memory (peak)", Unit::bytes},
            Cell(static_cast<std::uint64_t>(ts.peak_memory_bytes)));
    cap.add({"peak_rss_bytes", "peak RSS", Unit::bytes}, Cell(peak_rss_bytes()));
    metrics["dropped"] = 0;
    if (src.live()) {
        const auto k = src.stats();
        cap.add({"kernel_received", "kernel received", Unit::count}, Cell(k.received));
        cap.add({"kernel_dropped", "kernel dropped", Unit::count}, Cell(k.dropped));
        cap.add({"if_dropped", "interface dropped", Unit::count}, Cell(k.if_dropped));
        metrics["dropped"] = static_cast<double>(k.dropped + k.if_dropped);
        if (k.dropped + k.if_dropped > 0)
            report.notes.push_back(fmt::format(
                "the kernel dropped {} packets: counts may be short (a bigger buffer or a "
                "narrower filter helps)",
                format_count(k.dropped + k.if_dropped)));
    }
    metrics["skipped"] = static_cast<double>(st.skipped_total());
    if (st.skipped_total() > 0) {
        auto& sk = report.section("skipped", "Frames skipped", Section::Kind::table);
        sk.fields = {{"reason", "reason", Unit::none, false, true},
                     {"what", "reason", Unit::none},
                     {"count", "count", Unit::count}};
        for (std::size_t i = 1; i < st.skipped.size(); ++i) {
            const auto why = static_cast<capture::Skip>(i);
            if (st.skipped[i] > 0)
                sk.add_row({Cell(std::string(capture::skip_key(why))),
                            Cell(std::string(capture::skip_name(why))), Cell(st.skipped[i])});
        }
    }
    if (!st.error.empty())
        report.notes.push_back(
            fmt::format("reading stopped after {} frames: {}", format_count(st.frames), st.error));
    if (const auto bad = st.skipped[static_cast<std::size_t>(capture::Skip::bad_timestamp)])
        report.notes.push_back(
            fmt::format("{} frames were skipped: their time is before 1970 or after 2262 (a pcapng "
                        "if_tsoffset or a damaged record?), which 64-bit nanoseconds cannot hold",
                        format_count(bad)));
    if (ts.out_of_order_time > 0)
        report.notes.push_back(fmt::format("{} packets had a timestamp before the previous one",
                                           format_count(ts.out_of_order_time)));
}

/// --state: which conn_states to list ("REJ,RSTO", or "!SF,S1" for all but those).
std::bitset<capture::kConnStates> parse_states(std::string_view text) {
    std::bitset<capture::kConnStates> set;
    const bool invert = !text.empty() && text.front() == '!';
    if (invert) text.remove_prefix(1);
    for (const auto name : split_list(text)) {
        capture::ConnState st{};
        if (!capture::conn_state_from_name(name, st))
            throw ParseError(fmt::format("unknown state '{}' in --state (states: S0, S1, SF, REJ, "
                                         "S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH)",
                                         name));
        set.set(static_cast<std::size_t>(st));
    }
    return invert ? ~set : set;
}

Output output_of(const Options& o) {
    if (o.zeek) return Output::zeek;
    switch (o.common.format) {
    case Format::json:
        return Output::json;
    case Format::ndjson:
        return Output::ndjson;
    case Format::csv:
        return Output::csv;
    case Format::table:
        break;
    }
    return Output::table;
}

int run(const Options& given) {
    cli::install_interrupt_handlers();
    Options o = given;
    std::optional<Demo> demo;
    if (o.demo) {
        if (!o.read_file.empty() || !o.interface.empty() || !o.filter.empty())
            throw ParseError("--demo makes its own traffic: drop -r, -i and the filter");
        demo.emplace();
        o.interface = "lo";
        o.filter = {demo->filter()};
        if (o.common.format == Format::table && !o.zeek) o.ladder_given = true;
    }
    if (o.read_file.empty() == o.interface.empty())
        throw ParseError(o.read_file.empty() ? "give -r FILE (a capture) or -i IFACE (live)"
                                             : "-r and -i cannot be used together");
    if (!o.user.empty() && o.interface.empty()) throw ParseError("-Z only applies with -i");
    if (o.zeek && o.common.format != Format::table)
        throw ParseError("--zeek is its own format: drop --json, --ndjson or --csv");
    const Output output = output_of(o);
    const bool ladder = o.ladder_given;
    if (ladder && (output == Output::csv || output == Output::zeek))
        throw ParseError("--ladder goes with the table, --json or --ndjson, not with --csv or "
                         "--zeek");
    const auto ladder_filter = ladder ? LadderFilter::parse(o.ladder) : LadderFilter{};
    const auto listed_states =
        o.states.empty() ? std::bitset<capture::kConnStates>().set() : parse_states(o.states);
    std::string filter;
    for (const auto& w : o.filter)
        filter += (filter.empty() ? "" : " ") + w;

    std::optional<capture::PacketSource> src;
    try {
        if (!o.read_file.empty()) {
            src.emplace(capture::PacketSource::open_file(o.read_file));
        } else {
            capture::LiveOptions lo;
            lo.interface = o.interface;
            lo.snaplen = static_cast<int>(std::clamp<std::uint64_t>(o.snaplen, 64, 262144));
            lo.promiscuous = o.promiscuous;
            src.emplace(capture::PacketSource::open_live(lo));
        }
        if (!filter.empty()) src->set_filter(filter);
        if (!o.write_file.empty()) src->dump_to(o.write_file);
    } catch (const capture::CaptureError& e) {
        capture_failure(e, o);
    }
    if (!o.user.empty()) drop_privileges(o.user);
    if (!capture::link_type_supported(src->link_type()))
        throw cli::ToolFailure(
            ExitCode::usage,
            fmt::format("link type {} ({}) is not supported (supported: EN10MB, LINUX_SLL, "
                        "LINUX_SLL2, NULL, LOOP, RAW, IPV4, IPV6)",
                        src->link_type_name(), src->link_type()));

    RecordWriter writer(output, o.top, src->live());
    Summary summary;
    LadderRecorder ladders(ladder_filter, o.ladder_max, o.ladder_packets);
    capture::TrackerOptions topt;
    topt.linger = o.linger;
    capture::ConnectionTracker tracker(
        [&](const Connection& c) {
            summary.add(c);
            if (!listed_states.test(static_cast<std::size_t>(c.state()))) {
                if (ladder) ladders.forget(c);
                return;
            }
            if (!ladder) {
                writer.add(c);
            } else if (output == Output::table) {
                writer.add_text(ladders.on_end(c));
                writer.add(c);
            } else {
                writer.add(c, ladders.on_end_json(c)); // the steps inside the record
            }
        },
        topt);
    if (ladder)
        tracker.set_observer(
            [&](const Connection& c, const capture::TcpPacket& p, Nanos ts,
                const capture::PacketEvent& ev) { ladders.on_packet(c, p, ts, ev); });

    std::jthread demo_thread; // joins however this function is left
    if (demo) demo_thread = std::jthread([&] { demo->run(); });
    const auto st = read_all(o, *src, tracker, writer, demo ? &*demo : nullptr);
    if (demo_thread.joinable()) demo_thread.join();
    tracker.finish();

    Report report;
    report.tool = kInfo.name;
    report.version = kVersion;
    report.interrupted = cli::interrupted();
    report.primary = "connections";
    std::map<std::string, double> metrics;
    writer.fill(report);
    summary.to_report(report, metrics, o.common.checks);
    add_capture(report, metrics, o, *src, st, tracker.stats());
    if (ladder && ladders.drawn() == 0) report.notes.push_back("no connection matched --ladder");
    report.checks = evaluate(o.common.checks, metrics);

    // A capture that cannot be read to its end is bad input: report what was read, then
    // say so in the exit status too (a cut-short file in CI must not pass as complete).
    if (!st.error.empty())
        report.failure = Failure{ExitCode::usage, fmt::format("the capture could not be read "
                                                              "to its end: {}",
                                                              st.error)};
    if (output == Output::table) {
        writer.flush();
        return cli::emit(report, o.common);
    }
    cli::stamp_run(report);
    writer.finish(report);
    // CSV and Zeek carry only connections: notes and failed checks go to stderr.
    if (output == Output::csv || output == Output::zeek) {
        for (const auto& n : report.notes)
            cli::warn(o.common, kInfo.name, n);
        for (const auto& c : report.checks)
            if (c.failed) std::cerr << "netdx-trace: check failed: " << c.threshold.text << '\n';
    }
    if (report.failure) std::cerr << "netdx-trace: " << report.failure->message << '\n';
    return to_int(report.exit_code());
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    return cli::run_main(
        argc, argv, kInfo,
        [&](CLI::App& app) {
            setup(app, o);
            app.callback([&] { o.ladder_given = app.count("--ladder") > 0; });
        },
        [&] { return run(o); });
}
