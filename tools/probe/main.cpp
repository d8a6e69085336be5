// netdx-probe: round-trip latency to any RFC 862 echo server, TCP or UDP: ping-pong, paced
// (open loop, coordinated-omission corrected) and connect-latency modes.
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <netdx/net/host_port.hpp>
#include <netdx/net/resolver.hpp>
#include <netdx/report/result.hpp>
#include <netdx/report/units.hpp>
#include <netdx/service/echo_server.hpp>
#include <netdx/sys/fd.hpp>
#include <netdx/sys/limits.hpp>
#include <netdx/sys/parse_error.hpp>
#include <netdx/sys/system_error.hpp>
#include <netdx/sys/system_info.hpp>
#include <netdx/sys/text.hpp>
#include <netdx/version.hpp>

#include "cli.hpp"
#include "engine.hpp"
#include "histogram_columns.hpp"
#include "interrupt.hpp"
#include "metrics.hpp"
#include "tool_registry.hpp"

namespace {

using namespace netdx;

/// The RTT, as every column and metric of the results (the -p list in between).
cli::HistogramColumns rtt_columns(const std::vector<double>& percentiles) {
    cli::HistogramColumns c;
    c.stats = {cli::HistogramStat::min(), cli::HistogramStat::mean(), cli::HistogramStat::stddev()};
    for (double p : percentiles)
        c.stats.push_back(cli::HistogramStat::percentile(p));
    c.stats.push_back(cli::HistogramStat::max());
    return c;
}
/// One --interval row's RTT.
const cli::HistogramColumns kIntervalRtt{"",
                                         "",
                                         "",
                                         {cli::HistogramStat::percentile(50),
                                          cli::HistogramStat::percentile(99),
                                          cli::HistogramStat::max()}};
/// Paced runs: the RTT from the actual send time, and how late the sends were.
const cli::HistogramColumns kUncorrected{"uncorrected_",
                                         "uncorrected ",
                                         "uncorrected_",
                                         {cli::HistogramStat::percentile(50),
                                          cli::HistogramStat::percentile(99),
                                          cli::HistogramStat::max()}};
const cli::HistogramColumns kLag{"lag_",
                                 "send lag ",
                                 "lag_",
                                 {cli::HistogramStat::percentile(50),
                                  cli::HistogramStat::percentile(99), cli::HistogramStat::max()}};

const cli::ToolInfo kInfo{
    .name = "netdx-probe",
    .summary = std::string(registry::tool("netdx-probe").summary),
    .metrics = netdx::probe::kMetrics,
    .ndjson = true,
    .csv = true,
    .subcommands = {},
    .delegate_prefix = {},
    .fail_if_example = "p99>2ms",
};

struct Options {
    cli::CommonOptions common;
    std::string target;
    bool udp = false;
    bool tcp = false;
    bool ipv4 = false;
    bool ipv6 = false;
    std::string sizes = "64";
    Nanos duration = 10 * kNanosPerSecond;
    bool duration_given = false;
    std::uint64_t count = 0;
    Nanos warmup = 500 * kNanosPerMilli;
    int connections = 1;
    int threads = 0;
    int inflight = 0; ///< 0: not given (ping-pong 1, paced: no cap)
    double rate = 0;
    bool poisson = false;
    bool connect_mode = false;
    std::string close = "fin";
    Nanos timeout = -1;
    std::string percentiles = "50,90,99,99.9,99.99";
    Nanos interval = 0;
    std::string hdr_log;
    bool half_rtt = false;
    bool busy_poll = false;
    std::string backend;
    std::string cpus;
    cli::DistributionOptions distribution;
};

void setup(CLI::App& app, Options& o) {
    cli::add_common_options(app, o.common, kInfo);
    app.add_option(
           "target", o.target,
           "Echo server HOST:PORT ([v6]:port, or a name); none: an embedded server on loopback")
        ->type_name("HOST:PORT");
    auto* tcp = app.add_flag("--tcp", o.tcp, "TCP (the default)");
    auto* udp = app.add_flag("-u,--udp", o.udp, "UDP: sequence-numbered datagrams, loss counted");
    tcp->excludes(udp);
    auto* v4 = app.add_flag("-4", o.ipv4, "Resolve the target to IPv4 only");
    auto* v6 = app.add_flag("-6", o.ipv6, "Resolve the target to IPv6 only");
    v4->excludes(v6);
    app.add_option("-s,--size", o.sizes,
                   "Message size in bytes; a list (16,64,1KiB) or a range of powers of two "
                   "(64-64KiB) sweeps")
        ->type_name("SIZES");
    cli::add_duration(app, "-d,--duration", o.duration,
                      "How long to measure (default 10s), after --warmup")
        ->each([&o](const std::string&) { o.duration_given = true; });
    cli::add_count(app, "-n,--count", o.count,
                   "Stop after this many samples (and --duration, if also given)");
    cli::add_duration(app, "--warmup", o.warmup, "Run this long before measuring (default 500ms)");
    app.add_option("-c,--connections", o.connections, "Connections (default 1)")
        ->check(CLI::Range(1, 100000));
    app.add_option("-t,--threads", o.threads,
                   "Threads the connections are spread over (default: min(connections, CPUs))")
        ->check(CLI::Range(1, 1024));
    app.add_option("--inflight", o.inflight,
                   "Ping-pong: messages outstanding per connection (default 1). Paced: the most "
                   "outstanding "
                   "per connection, later sends waiting for room (default: no cap, pure open loop)")
        ->check(CLI::Range(1, 4096));
    cli::add_rate(app, "-r,--rate", o.rate,
                  "Paced mode: send at this rate (e.g. 10k/s), open loop; latency from the "
                  "intended send time");
    app.add_flag("--poisson", o.poisson,
                 "Paced mode: Poisson arrivals instead of constant spacing");
    app.add_flag(
        "--connect", o.connect_mode,
        "Connect mode: TCP handshake latency, one new connection per sample (default rate 200/s)");
    cli::add_choice(app, "--close", o.close, {"fin", "rst"},
                    "Connect mode: close with FIN (default; leaves TIME_WAIT) or RST");
    cli::add_duration(app, "--timeout", o.timeout,
                      "Per request (UDP: then counted lost; TCP: then an error) and per connect; "
                      "default 1s UDP, 5s TCP");
    app.add_option("-p,--percentiles", o.percentiles,
                   "Percentiles to report (default 50,90,99,99.9,99.99)")
        ->type_name("LIST");
    cli::add_duration(app, "-i,--interval", o.interval, "Also print a line every interval");
    cli::mark_file(
        app.add_option("--hdr-log", o.hdr_log,
                       "Write the RTT distribution in HdrHistogram's percentile text format (us)"));
    app.add_flag("--half-rtt", o.half_rtt,
                 "Also report RTT/2 as a one-way estimate (labelled as such)");
    cli::add_backend(app, o.backend, {"epoll", "poll", "uring"});
    cli::add_distribution_options(app, o.distribution, "--count and --rate");
    app.add_flag("--busy-poll", o.busy_poll,
                 "Spin on non-blocking reads (and SO_BUSY_POLL where allowed)");
    app.add_option("--cpu", o.cpus, "Pin probe threads to these CPUs (e.g. 1 or 0,1)")
        ->type_name("LIST");
}

/// "a,b,c" -> {"a","b","c"}; an empty item is a usage error naming the option.
std::vector<std::string> split_list(const std::string& text, const char* option) {
    std::vector<std::string> items;
    for (const auto item : netdx::split_list(text)) {
        if (item.empty()) throw ParseError(fmt::format("{}: empty item in '{}'", option, text));
        items.emplace_back(item);
    }
    return items;
}

std::vector<std::size_t> parse_sizes(const std::string& text) {
    std::vector<std::size_t> out;
    for (const auto& item : split_list(text, "--size")) {
        if (const auto dash = item.find('-'); dash != std::string::npos && dash > 0) {
            const auto lo = parse_size(item.substr(0, dash));
            const auto hi = parse_size(item.substr(dash + 1));
            if (lo == 0 || lo > hi) throw ParseError(fmt::format("--size: bad range '{}'", item));
            for (std::uint64_t s = lo; s < hi; s *= 2)
                out.push_back(s);
            out.push_back(hi);
        } else {
            out.push_back(parse_size(item));
        }
    }
    for (auto s : out)
        if (s == 0 || s > 64 * 1024 * 1024)
            throw ParseError(fmt::format("--size: {} is out of range (1 to 64MiB)", s));
    return out;
}

std::vector<double> parse_percentiles(const std::string& text) {
    std::vector<double> out;
    for (const auto& item : split_list(text, "--percentiles")) {
        double p = 0;
        auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), p);
        // !(p > 0): NaN compares false with everything, so "nan" must fail this way round.
        if (item.empty() || ec != std::errc{} || end != item.data() + item.size() || !(p > 0) ||
            p > 100)
            throw ParseError(
                fmt::format("--percentiles: bad percentile '{}' (0 < p <= 100)", item));
        out.push_back(p);
    }
    return out;
}

std::vector<int> parse_cpus(const std::string& text) {
    std::vector<int> out;
    if (text.empty()) return out;
    for (const auto& item : split_list(text, "--cpu")) {
        int cpu = -1;
        auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), cpu);
        if (ec != std::errc{} || end != item.data() + item.size() || cpu < 0 || cpu >= CPU_SETSIZE)
            throw ParseError(fmt::format("--cpu: bad CPU '{}'", item));
        out.push_back(cpu);
    }
    return out;
}

struct SizeRun {
    std::size_t size = 0;
    probe::Result result;
};

std::map<std::string, double> metrics_of(const SizeRun& r, bool udp,
                                         const std::vector<Threshold>& checks) {
    const auto& h = r.result.rtt;
    std::map<std::string, double> m;
    // The default -p list's statistics, whatever -p says (checks do not depend on it).
    rtt_columns({50, 90, 99, 99.9, 99.99}).add_metrics(m, h, checks);
    if (!h.empty()) { // the earlier spellings of p99.9 and p99.99
        m["p999"] = double(h.percentile(99.9));
        m["p9999"] = double(h.percentile(99.99));
    }
    m["count"] = double(h.count());
    if (udp) {
        m["loss"] = r.result.loss_percent();
        m["lost"] = double(r.result.lost);
        m["late"] = double(r.result.late);
        m["duplicates"] = double(r.result.duplicates);
        m["reordered"] = double(r.result.reordered);
    }
    m["errors"] = double(r.result.error_count());
    if (udp) m["truncated"] = double(r.result.truncated);
    m["skipped"] = double(r.result.skipped);
    kUncorrected.add_metrics(m, r.result.rtt_actual, checks);
    kLag.add_metrics(m, r.result.lag, checks);
    return m;
}

std::string hdr_path(const std::string& base, std::size_t size, bool sweep) {
    if (!sweep) return base;
    const auto dot = base.rfind('.');
    const auto slash = base.rfind('/');
    if (dot == std::string::npos || (slash != std::string::npos && dot < slash))
        return fmt::format("{}.{}", base, size);
    return fmt::format("{}.{}{}", base.substr(0, dot), size, base.substr(dot));
}

/// The largest UDP payload: 65,535 less the IP and UDP headers (IPv6 has no header checksum
/// and a 40-byte header, but its payload length counts only what follows it).
std::size_t max_udp_payload(const Endpoint& target) {
    return target.family() == AF_INET6 ? 65535 - 8 : 65535 - 20 - 8;
}

/// Refuses, before anything runs, a connection count this process cannot hold: each
/// connection is a descriptor, two with the embedded server in the same process.
void check_descriptors(const probe::Config& cfg, bool embedded) {
    const auto limit = raise_nofile_to_hard();
    const std::uint64_t per = embedded && cfg.protocol == Protocol::tcp ? 2 : 1;
    const std::uint64_t reserve = 64 + (embedded ? 4 * static_cast<std::uint64_t>(cfg.threads) : 0);
    const std::uint64_t needed = per * static_cast<std::uint64_t>(cfg.connections) + reserve;
    if (needed <= limit.soft) return;
    const std::uint64_t fit = limit.soft > reserve ? (limit.soft - reserve) / per : 0;
    throw ParseError(fmt::format(
        "-c {}: needs {} descriptors{} and RLIMIT_NOFILE allows {} (hard limit {}): at most "
        "-c {} fits in one process",
        format_count(static_cast<std::uint64_t>(cfg.connections)), format_count(needed),
        per == 2 ? " (the embedded server holds the other end of each)" : "",
        format_count(limit.soft), format_count(limit.hard), format_count(fit)));
}

/// One size's run on the runner thread, with the main thread sleeping until it ends, a
/// signal comes or an interval is due. The runner is joined however this is left (an
/// interval line that cannot be written throws here).
probe::Result run_size(const probe::Config& cfg, probe::Shared& shared,
                       probe::Connections& connections, bool progress,
                       const std::function<void(std::uint64_t)>& emit_interval, Nanos start) {
    probe::Result result;
    std::exception_ptr error;
    // The run's times are set here, before the threads exist: they only read them.
    shared.begin(cfg, start);
    Fd done_event(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!done_event) throw_errno("eventfd for the probe run");
    std::atomic<bool> done{false};
    std::jthread runner([&] {
        try {
            result = probe::run(cfg, shared, connections);
        } catch (...) {
            error = std::current_exception();
        }
        done = true;
        const std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(done_event.get(), &one, sizeof one);
    });
    struct StopOnExit { // an exception below must not leave the runner running
        probe::Shared& s;
        ~StopOnExit() { s.stop = true; }
    } stop_on_exit{shared};
    const std::uint64_t last = shared.last_interval(cfg);
    std::uint64_t next = 0;
    auto due = [&](std::uint64_t k) {
        return shared.measure_from + static_cast<Nanos>(k + 1) * cfg.interval;
    };
    while (!done) {
        int wait_ms = progress ? 100 : -1;
        if (cfg.interval > 0 && next <= last) {
            const Nanos left = due(next) - monotonic_ns();
            const int ms = static_cast<int>(std::clamp<Nanos>(left / kNanosPerMilli, 0, 100)) + 1;
            wait_ms = wait_ms < 0 ? ms : std::min(wait_ms, ms);
        }
        pollfd fds[2] = {{cli::interrupt_fd(), POLLIN, 0}, {done_event.get(), POLLIN, 0}};
        ::poll(fds, 2, wait_ms);
        cli::drain_interrupt_fd();
        if (cli::interrupted()) shared.stop = true;
        const Nanos now = monotonic_ns();
        // An interval is printed once every thread is past it: nothing can land in it later.
        while (cfg.interval > 0 && next <= last && now >= due(next) &&
               shared.intervals.complete(next))
            emit_interval(next++);
        if (progress) {
            std::cerr << fmt::format(
                "\r\x1b[Kprobing {} {} bytes: {}{}", cfg.target.to_string(), cfg.size,
                format_duration(static_cast<double>(now - shared.start)),
                cfg.duration > 0 ? " / " + format_duration(double(cfg.duration + cfg.warmup)) : "");
        }
    }
    runner.join();
    if (progress) std::cerr << "\r\x1b[K";
    if (error) std::rethrow_exception(error);
    // The rest: up to the run's end for a duration run (a stalled last second still gets its
    // line), up to the last interval anything landed in otherwise.
    if (cfg.interval > 0) {
        std::uint64_t end = shared.intervals.end();
        const Nanos measured = monotonic_ns() - shared.measure_from;
        if (cfg.duration > 0 && !shared.stop)
            end = last + 1;    // ran to its end: every interval of the duration
        else if (measured > 0) // stopped early: up to the one it stopped in
            end = std::max(end,
                           std::min(last, static_cast<std::uint64_t>(measured / cfg.interval)) + 1);
        while (next < end)
            emit_interval(next++);
    }
    return result;
}

int run(const Options& o) {
    cli::install_interrupt_handlers();
    auto sizes = parse_sizes(o.sizes);
    const auto percentiles = parse_percentiles(o.percentiles);
    const auto info = read_system_info();

    probe::Config cfg;
    cfg.protocol = o.udp ? Protocol::udp : Protocol::tcp;
    cfg.mode = o.connect_mode ? probe::Mode::connect
               : o.rate > 0   ? probe::Mode::paced
                              : probe::Mode::pingpong;
    if (o.connect_mode && o.udp)
        throw ParseError("--connect measures the TCP handshake: it cannot be combined with --udp");
    if (o.connect_mode && o.inflight > 1)
        throw ParseError("--inflight applies to ping-pong, not --connect");
    if (o.poisson && o.rate <= 0) throw ParseError("--poisson needs --rate");
    if (cfg.protocol == Protocol::udp)
        for (auto s : sizes) {
            if (s < probe::kUdpHeader)
                throw ParseError(fmt::format(
                    "--size {}: UDP probes carry a {}-byte header (sequence, time), so at "
                    "least {} bytes",
                    s, probe::kUdpHeader, probe::kUdpHeader));
            if (s > 65536)
                throw ParseError(fmt::format(
                    "--size {}: the largest UDP datagram is 65,507 bytes (IPv4) or 65,527 (IPv6)",
                    s));
        }
    // A shard sends its share of --count and takes its slots of --rate's schedule.
    const auto distribution = cli::Distribution::from(o.distribution);
    cfg.duration = o.count > 0 && !o.duration_given ? 0 : o.duration;
    cfg.count = distribution.share_of(o.count);
    if (o.count > 0 && cfg.count == 0)
        throw ParseError(fmt::format("--shard {}: --count {} leaves this shard no sample (the "
                                     "count must be at least the number of shards)",
                                     distribution.shard_text(), o.count));
    cfg.slots = distribution.stripe_of(Stripe::kUnbounded);
    if (distribution.shard) cfg.seed_salt = 0x632BE59BD9B4E019ULL * (distribution.shard->index + 1);
    cfg.warmup = o.warmup;
    cfg.connections = o.connections;
    cfg.threads =
        std::min(o.connections, o.threads > 0 ? o.threads : std::max(1, info.usable_cpus));
    if (cfg.mode == probe::Mode::connect) cfg.threads = o.threads > 0 ? o.threads : 1;
    cfg.inflight = o.inflight > 0 ? o.inflight : (cfg.mode == probe::Mode::paced ? 0 : 1);
    cfg.rate = cfg.mode == probe::Mode::connect ? (o.rate > 0 ? o.rate : 200.0) : o.rate;
    cfg.poisson = o.poisson;
    cfg.timeout = o.timeout >= 0 ? o.timeout : (o.udp ? kNanosPerSecond : 5 * kNanosPerSecond);
    if (cfg.timeout == 0) throw ParseError("--timeout must be above zero");
    cfg.busy_poll = o.busy_poll;
    cfg.backend = cli::loop_backend(o.backend);
    cfg.cpus = parse_cpus(o.cpus);
    cfg.interval = o.interval;
    cfg.close_rst = o.close == "rst";
    if (cfg.mode != probe::Mode::connect) check_descriptors(cfg, o.target.empty());

    // The target, or an embedded echo server on loopback.
    std::unique_ptr<EchoServer> embedded;
    if (o.target.empty()) {
        EchoConfig ec;
        ec.listen = Endpoint(o.ipv6 ? IpAddress::parse("::1") : IpAddress::loopback_v4(), 0);
        ec.threads = std::max(1, std::min(cfg.threads, info.usable_cpus));
        embedded = std::make_unique<EchoServer>(ec);
        embedded->start();
        cfg.target = embedded->local_endpoint();
    } else {
        const auto hp = parse_target(o.target, "127.0.0.1");
        const auto r = resolve(hp, o.ipv4   ? AddressFamily::v4
                                   : o.ipv6 ? AddressFamily::v6
                                            : AddressFamily::any);
        if (!r.ok()) throw cli::ToolFailure(ExitCode::unavailable, r.error);
        cfg.target = r.endpoints.front();
    }
    // 64KiB over UDP means the largest datagram there is (the README's own sweep).
    std::vector<std::string> size_notes;
    if (cfg.protocol == Protocol::udp)
        for (auto& s : sizes)
            if (s > max_udp_payload(cfg.target)) {
                size_notes.push_back(fmt::format(
                    "--size {}: above the largest UDP datagram to {}; probed {} bytes instead",
                    format_count(s), cfg.target.to_string(),
                    format_count(max_udp_payload(cfg.target))));
                s = max_udp_payload(cfg.target);
            }

    // Set up; now wait for the shared start (a Ctrl-C meanwhile reports nothing measured).
    const auto waited = distribution.wait();
    const Nanos first_start = waited.value_or(monotonic_ns());

    const bool progress = !o.common.quiet && ::isatty(STDERR_FILENO) == 1;
    cli::IntervalStream intervals(o.common, "intervals");
    std::vector<SizeRun> runs;
    probe::Failure failure = probe::Failure::none;
    std::string failure_text;
    probe::Connections connections; // kept across the sizes of a sweep

    for (std::size_t si = 0; si < sizes.size() && !cli::interrupted(); ++si) {
        cfg.size = sizes[si];
        probe::Shared shared;
        auto emit_interval = [&](std::uint64_t k) {
            auto slot = shared.intervals.take(k);
            Section sec;
            sec.name = "interval";
            sec.kind = Section::Kind::record;
            const Nanos t = static_cast<Nanos>(k + 1) * cfg.interval;
            sec.add({"t_ns", "t", Unit::ns}, Cell(t));
            sec.add({"size_bytes", "size", Unit::bytes},
                    Cell(static_cast<std::uint64_t>(cfg.size)));
            sec.add({"count", "count", Unit::count}, Cell(slot.rtt.count()));
            kIntervalRtt.add_to(sec, slot.rtt);
            if (cfg.protocol == Protocol::udp)
                sec.add({"lost", "lost", Unit::count}, Cell(slot.lost));
            intervals.write(sec);
        };
        // The first size starts at --start-at (waited for above), the others when ready.
        const Nanos start = si == 0 ? first_start : monotonic_ns();
        auto result = run_size(cfg, shared, connections, progress, emit_interval, start);
        runs.push_back({cfg.size, std::move(result)});
        if (shared.failure != probe::Failure::none) {
            failure = shared.failure;
            failure_text = shared.failure_text;
            break;
        }
        // A UDP peer that answered nothing: no echo server there (or a firewall).
        const auto& r = runs.back().result;
        if (cfg.protocol == Protocol::udp && r.received + r.truncated == 0 && r.lost > 0) {
            failure = probe::Failure::unavailable;
            failure_text = fmt::format(
                "no reply from {}: {} datagram{} of {} bytes, none answered within {} (no UDP "
                "echo there, or something drops it)",
                cfg.target.to_string(), format_count(r.lost), r.lost == 1 ? "" : "s", cfg.size,
                format_duration(static_cast<double>(cfg.timeout)));
            break;
        }
    }

    // ------------------------------------------------------------------ the report
    Report report;
    report.tool = kInfo.name;
    report.version = kVersion;
    report.interrupted = cli::interrupted();
    report.primary = "results";
    const bool udp = cfg.protocol == Protocol::udp;
    const bool paced = cfg.mode == probe::Mode::paced;
    const bool connect = cfg.mode == probe::Mode::connect;
    const char* mode_name = connect ? "connect" : paced ? "paced" : "ping-pong";

    auto& target = report.section("target", "", Section::Kind::record);
    target.add({"target", "target", Unit::none},
               Cell(cfg.target.to_string() + (embedded ? " (embedded netdx echo server)" : "")));
    target.add({"target_address", "", Unit::none, false, true}, Cell(cfg.target.ip().to_string()));
    target.add({"target_port", "", Unit::count, false, true},
               Cell(std::uint64_t{cfg.target.port()}));
    target.add({"embedded_server", "embedded server", Unit::none, false, true},
               Cell(embedded != nullptr));
    target.add({"protocol", "protocol", Unit::none}, Cell(std::string(udp ? "udp" : "tcp")));
    target.add({"mode", "mode", Unit::none}, Cell(std::string(mode_name)));
    target.add({"connections", "connections", Unit::count},
               Cell(static_cast<std::uint64_t>(cfg.connections)));
    target.add({"threads", "threads", Unit::count}, Cell(static_cast<std::uint64_t>(cfg.threads)));
    if (!connect) { // people read words, machines one type: a count, or null for no cap
        const std::string title =
            paced ? "in-flight cap per connection" : "in flight per connection";
        target.add({"inflight_text", title, Unit::none, false, false, true},
                   Cell(cfg.inflight > 0 ? format_count(static_cast<std::uint64_t>(cfg.inflight))
                                         : std::string("none (open loop)")));
        target.add({"inflight", title, Unit::count, false, true},
                   cfg.inflight > 0 ? Cell(static_cast<std::uint64_t>(cfg.inflight))
                                    : Cell(Value{}));
    }
    // A shard's own part of the rate; the run's in run_rate_per_s.
    const double shards = static_cast<double>(cfg.slots.stride);
    if (paced || connect) {
        target.add({"rate_per_s", "rate asked", Unit::per_second}, Cell(cfg.rate / shards));
        target.add({"run_rate_per_s", "", Unit::per_second, false, true}, Cell(cfg.rate));
    }
    if (const auto& shard = cli::current_run().shard)
        target.add({"shard", "shard", Unit::none, false, false, true},
                   Cell(fmt::format("{} of {}{}", shard->index, shard->count,
                                    cfg.count > 0 ? fmt::format(" (the run asks {} samples)",
                                                                format_count(o.count))
                                                  : std::string())));
    target.add({"run_count", "", Unit::count, false, true}, Cell(o.count));
    target.add({"warmup_ns", "warm-up (excluded)", Unit::ns}, Cell(cfg.warmup));

    auto& results =
        report.section("results",
                       fmt::format("{} {} round trips (RTT){}", udp ? "UDP" : "TCP", mode_name,
                                   connect ? ": connect() until writable" : ""),
                       Section::Kind::table);
    results.transpose = true;
    results.fields.push_back({"size_bytes", connect ? "" : "size", Unit::bytes});
    if (connect) results.fields.back().machine_only = true;
    results.fields.push_back({"count", "count", Unit::count});
    const auto rtt = rtt_columns(percentiles);
    rtt.add_fields(results.fields);
    if (paced) {
        kUncorrected.add_fields(results.fields);
        kLag.add_fields(results.fields);
        results.fields.push_back({"achieved_rate_per_s", "rate achieved", Unit::per_second});
    }
    if (o.half_rtt)
        results.fields.push_back({"half_rtt_p50_ns", "RTT/2 p50 (one-way estimate)", Unit::ns});
    results.fields.push_back({"sent", "sent", Unit::count});
    if (udp) {
        for (auto [k, t] : {std::pair{"lost", "lost"},
                            {"loss_percent", "loss"},
                            {"truncated", "truncated replies"},
                            {"late", "late"},
                            {"duplicates", "duplicates"},
                            {"reordered", "reordered"},
                            {"foreign", "not ours"}})
            results.fields.push_back(
                {k, t, std::string(k) == "loss_percent" ? Unit::percent : Unit::count});
    }
    // sent = count + lost + truncated + unfinished (+ errors in connect mode): every send
    // is accounted for, and what was still in flight at the end is shown, not lost.
    results.fields.push_back({"unfinished", "in flight at the end", Unit::count});
    if (paced || connect)
        results.fields.push_back({"skipped", "sends skipped (fell behind)", Unit::count});
    if (connect) {
        results.fields.push_back({"refused", "refused", Unit::count});
        results.fields.push_back({"timeouts", "timed out", Unit::count});
    }
    results.fields.push_back({"errors", "errors", Unit::count});

    nlohmann::json histograms = nlohmann::json::array();
    nlohmann::json raw = nlohmann::json::array();
    const bool sweep = sizes.size() > 1;
    for (const auto& r : runs) {
        const auto& h = r.result.rtt;
        Row row;
        row.emplace_back(static_cast<std::uint64_t>(r.size));
        row.emplace_back(h.count());
        rtt.add_cells(row, h);
        if (paced) {
            kUncorrected.add_cells(row, r.result.rtt_actual);
            kLag.add_cells(row, r.result.lag);
            const double secs = static_cast<double>(r.result.measured_ns) / 1e9;
            row.push_back(secs > 0 ? Cell(static_cast<double>(h.count() + r.result.lost) / secs)
                                   : Cell(Value{}));
        }
        if (o.half_rtt) row.push_back(h.empty() ? Cell(Value{}) : Cell(h.percentile(50) / 2));
        row.emplace_back(r.result.sent);
        if (udp) {
            const double loss = r.result.loss_percent();
            row.emplace_back(r.result.lost, r.result.lost ? Style::warn : Style::plain);
            row.emplace_back(loss, loss > 0 ? Style::warn : Style::plain);
            row.emplace_back(r.result.truncated, r.result.truncated ? Style::bad : Style::plain);
            row.emplace_back(r.result.late);
            row.emplace_back(r.result.duplicates);
            row.emplace_back(r.result.reordered);
            row.emplace_back(r.result.foreign, r.result.foreign ? Style::warn : Style::plain);
        }
        row.emplace_back(r.result.unfinished);
        if (paced || connect)
            row.emplace_back(r.result.skipped, r.result.skipped ? Style::bad : Style::plain);
        if (connect) {
            row.emplace_back(r.result.refused, r.result.refused ? Style::bad : Style::plain);
            row.emplace_back(r.result.timeouts, r.result.timeouts ? Style::bad : Style::plain);
        }
        row.emplace_back(r.result.error_count(),
                         r.result.error_count() ? Style::bad : Style::plain);
        results.add_row(std::move(row));

        nlohmann::json hj = {{"size_bytes", r.size}, {"rtt", h.to_json()}};
        if (paced) {
            hj["rtt_uncorrected"] = r.result.rtt_actual.to_json();
            hj["send_lag"] = r.result.lag.to_json();
        }
        histograms.push_back(std::move(hj));
        // The raw counters `netdx merge` needs beside the rows: measured time, errors by kind.
        raw.push_back({{"size_bytes", r.size},
                       {"measured_ns", r.result.measured_ns},
                       {"errors", r.result.errors}});
        for (double p : percentiles) {
            if (!h.empty() && h.count() < Histogram::samples_needed(p))
                report.notes.push_back(fmt::format(
                    "{} bytes: {} needs at least {} samples, {} were measured: it is "
                    "the maximum, not a percentile",
                    r.size, percentile_title(p), format_count(Histogram::samples_needed(p)),
                    format_count(h.count())));
        }
        for (const auto& [what, n] : r.result.errors)
            report.notes.push_back(fmt::format("{} bytes: {} x {}", r.size, format_count(n), what));
        if (r.result.truncated > 0)
            report.notes.push_back(fmt::format(
                "{} bytes: the peer truncated {} of its replies to at most {} bytes (sent {}): "
                "it is not an echo of this size, so no RTT is reported for them",
                r.size, format_count(r.result.truncated), format_count(r.result.truncated_to),
                format_count(std::max<std::size_t>(r.size, probe::kUdpHeader))));
        if (r.result.foreign > 0)
            report.notes.push_back(fmt::format("{} bytes: {} datagrams from the peer were not "
                                               "replies to this probe (ignored)",
                                               r.size, format_count(r.result.foreign)));
        if (r.result.skipped > 0) {
            const double asked = static_cast<double>(r.result.sent + r.result.skipped);
            report.notes.push_back(fmt::format(
                "{} bytes: the probe could not keep up with --rate {}: {} sends ({:.1f}%) fell "
                "more than {} behind their schedule and were skipped; it sent {}",
                r.size, format_rate(cfg.rate / shards), format_count(r.result.skipped),
                100.0 * static_cast<double>(r.result.skipped) / asked,
                format_duration(static_cast<double>(probe::kMaxSendLag)),
                format_count(r.result.sent)));
        }
        if (!o.hdr_log.empty()) {
            const auto path = hdr_path(o.hdr_log, r.size, sweep);
            std::ofstream out(path);
            out << h.percentile_distribution(1000.0);
            out.flush();
            if (!out)
                throw cli::OutputError(
                    fmt::format("cannot write --hdr-log {}: {}", path, std::strerror(errno)),
                    errno);
        }
    }
    report.extra["histograms"] = std::move(histograms);
    report.extra["raw"] = std::move(raw);
    intervals.into(report);
    if (o.half_rtt)
        report.notes.push_back(
            "RTT/2 is an estimate of one-way latency that assumes a symmetric path");

    auto& env = report.section("environment", "Environment", Section::Kind::record);
    env.add({"kernel", "kernel", Unit::none}, Cell(info.kernel));
    env.add({"cpu_model", "CPU", Unit::none}, Cell(info.cpu_model));
    env.add({"clock_source", "clock source", Unit::none}, Cell(info.clock_source));
    env.add({"clock_read_ns", "clock read cost", Unit::ns}, Cell(measure_clock_read_cost_ns()));
    std::string socket_options;
    std::vector<int> probe_cpus;
    for (const auto& r : runs) {
        if (socket_options.empty()) socket_options = r.result.socket_options;
        probe_cpus.insert(probe_cpus.end(), r.result.cpus.begin(), r.result.cpus.end());
    }
    std::sort(probe_cpus.begin(), probe_cpus.end());
    probe_cpus.erase(std::unique(probe_cpus.begin(), probe_cpus.end()), probe_cpus.end());
    env.add({"socket_options", "socket options", Unit::none}, Cell(socket_options));
    env.add({"busy_poll", "busy poll", Unit::none}, Cell(cfg.busy_poll));
    env.add({"backend", "event loop", Unit::none}, Cell(std::string(backend_name(cfg.backend))));
    env.add({"probe_cpus", "probe ran on CPUs", Unit::none}, Cell(format_cpu_list(probe_cpus)));
    env.add({"server_cpus", "server ran on CPUs", Unit::none},
            Cell(embedded ? format_cpu_list(embedded->worker_cpus())
                          : std::string("unknown (external server)")));

    // Checks: every size must pass.
    for (const auto& r : runs) {
        auto checks = evaluate(o.common.checks, metrics_of(r, udp, o.common.checks));
        if (sweep)
            for (auto& c : checks)
                c.threshold.text = fmt::format("{} (size {})", c.threshold.text, r.size);
        report.checks.insert(report.checks.end(), checks.begin(), checks.end());
    }
    if (runs.empty() && !o.common.checks.empty()) report.checks = evaluate(o.common.checks, {});
    // Connect mode: when not one handshake succeeded, the target is unavailable.
    if (connect && failure == probe::Failure::none && !runs.empty() &&
        runs.back().result.rtt.empty() && runs.back().result.error_count() > 0) {
        failure = probe::Failure::unavailable;
        failure_text = fmt::format("connect {}: every attempt failed", cfg.target.to_string());
    }
    for (auto& n : size_notes)
        report.notes.push_back(std::move(n));
    switch (failure) {
    case probe::Failure::unavailable:
        report.failure = Failure{ExitCode::unavailable, failure_text};
        break;
    case probe::Failure::corrupt:
        report.failure = Failure{ExitCode::check_failed, failure_text};
        break;
    case probe::Failure::system:
        report.failure = Failure{ExitCode::system, failure_text};
        break;
    case probe::Failure::none: {
        // A peer that truncates is a finding about it, not about this run's ability to
        // measure: every size is still probed, and the run fails at the end.
        std::uint64_t truncated = 0;
        for (const auto& r : runs)
            truncated += r.result.truncated;
        if (truncated > 0)
            report.failure = Failure{
                ExitCode::check_failed,
                fmt::format("{} truncates UDP replies: {} of them came back shorter than sent",
                            cfg.target.to_string(), format_count(truncated))};
        break;
    }
    }
    if (failure != probe::Failure::none) report.notes.push_back("stopped: " + failure_text);
    if (embedded) embedded->stop();

    const int code = cli::emit(report, o.common);
    if (o.common.format == Format::table && report.interrupted)
        std::cerr << "netdx-probe: interrupted\n";
    return code;
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    return cli::run_main(
        argc, argv, kInfo, [&](CLI::App& app) { setup(app, o); }, [&] { return run(o); });
}
