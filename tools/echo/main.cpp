// netdx-echo: RFC 862 echo over TCP and UDP on one port.
#include <csignal>
#include <fcntl.h>
#include <iostream>
#include <map>
#include <optional>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <netdx/inspect/port_users.hpp>
#include <netdx/net/host_port.hpp>
#include <netdx/net/resolver.hpp>
#include <netdx/net/uring_probe.hpp>
#include <netdx/report/result.hpp>
#include <netdx/report/units.hpp>
#include <netdx/service/echo_fleet.hpp>
#include <netdx/service/echo_server.hpp>
#include <netdx/sys/fd.hpp>
#include <netdx/sys/limits.hpp>
#include <netdx/sys/parse_error.hpp>
#include <netdx/sys/system_error.hpp>
#include <netdx/sys/system_info.hpp>
#include <netdx/sys/worker_processes.hpp>
#include <netdx/version.hpp>

#include "cli.hpp"
#include "interrupt.hpp"
#include "tool_registry.hpp"

namespace {

using namespace netdx;

const cli::ToolInfo kInfo{
    .name = "netdx-echo",
    .summary = std::string(registry::tool("netdx-echo").summary),
    .metrics = {{"connections_refused", Unit::count, "connections refused (limit or descriptors)"},
                {"connections_reset", Unit::count, "connections ended by an error"},
                {"udp_rate_limited", Unit::count,
                 "datagrams not echoed because of --udp-rate-limit"}},
    .ndjson = true,
    .csv = false,
    .subcommands = {},
    .delegate_prefix = {},
    .fail_if_example = "connections_reset>0",
};

struct Options {
    cli::CommonOptions common;
    std::string listen = "127.0.0.1:7007";
    bool tcp_only = false;
    bool udp_only = false;
    int threads = 0; ///< 0: one per usable CPU
    int processes = 1;
    Nanos idle_timeout = 0;
    std::uint64_t max_connections = 0;
    double udp_rate_limit = 0;
    std::uint64_t write_buffer = 256 * 1024;
    Nanos stats_interval = 0;
    Nanos duration = 0;
    Nanos spin = EchoConfig{}.spin;
    bool busy_poll = false;
    std::string backend;
};

void setup(CLI::App& app, Options& o) {
    cli::add_common_options(app, o.common, kInfo);
    app.add_option(
           "-l,--listen", o.listen,
           "Address to listen on (default 127.0.0.1:7007; a bare port listens on 127.0.0.1; "
           "other addresses only when given)")
        ->type_name("ADDR");
    auto* t = app.add_flag("--tcp-only", o.tcp_only, "Serve TCP only");
    auto* u = app.add_flag("--udp-only", o.udp_only, "Serve UDP only");
    t->excludes(u);
    app.add_option("-t,--threads", o.threads,
                   "Event-loop threads per process (default: one per CPU)")
        ->check(CLI::Range(1, 1024));
    app.add_option("--processes", o.processes,
                   "Processes sharing the port (SO_REUSEPORT), to pass one process's RLIMIT_NOFILE")
        ->check(CLI::Range(1, 256));
    cli::add_duration(app, "--idle-timeout", o.idle_timeout,
                      "Close connections idle this long (e.g. 30s)");
    cli::add_count(app, "--max-connections", o.max_connections,
                   "Refuse (close at once) past this many connections");
    cli::add_rate(app, "--udp-rate-limit", o.udp_rate_limit,
                  "Most UDP replies per source address per second");
    cli::add_size(
        app, "--write-buffer", o.write_buffer,
        "Unsent echo bytes kept per connection before it stops being read (default 256KiB)");
    cli::add_duration(
        app, "--spin", o.spin,
        "Poll without sleeping this long after traffic while it is dense (lower "
        "RTT for ping-pong peers, costs CPU only during such traffic; default 50us; 0: off)");
    app.add_flag("--busy-poll", o.busy_poll,
                 "Never sleep: poll the backend without a timeout, a CPU per thread all the time "
                 "(for latency runs against netdx-probe --busy-poll)");
    cli::add_backend(app, o.backend, {"epoll", "poll", "uring", "uring-oneshot"},
                     "io_uring completions for TCP: multishot accept and receive into "
                     "provided buffers, batched sends; uring-oneshot is io_uring poll "
                     "readiness");
    cli::add_duration(app, "--stats-interval", o.stats_interval, "Print statistics this often");
    cli::add_duration(app, "--duration", o.duration,
                      "Stop after this long (default: until SIGINT/SIGTERM)");
}

Endpoint resolve_listen(const std::string& text) {
    const auto hp = parse_host_port(text, "127.0.0.1", 7007);
    const auto r = resolve(hp);
    if (!r.ok())
        throw cli::ToolFailure(ExitCode::unavailable, fmt::format("--listen: {}", r.error));
    return r.endpoints.front();
}

/// Binds the server, or says who holds the port: a port in use is 69 (the address asked for
/// is unavailable) and names the holder; a privileged port without the capability is 77.
/// Listeners are looked for first because SO_REUSEPORT lets a second netdx-echo of the same
/// user bind the port silently and split its connections with the first.
std::unique_ptr<EchoServer> bind_server(const EchoConfig& cfg, const std::string& text) {
    const auto taken = [&](const std::vector<PortUser>& users) {
        return cli::ToolFailure(ExitCode::unavailable,
                                fmt::format("--listen {}: port {} is in use{}{}", text,
                                            cfg.listen.port(), users.empty() ? "" : " by ",
                                            describe_port_users(users)));
    };
    if (cfg.listen.port() != 0)
        if (auto users = find_port_users(cfg.listen.ip(), cfg.listen.port(), cfg.tcp, cfg.udp);
            !users.empty())
            throw taken(users);
    try {
        return std::make_unique<EchoServer>(cfg);
    } catch (const std::system_error& e) {
        if (e.code() == std::errc::address_in_use)
            throw taken(find_port_users(cfg.listen.ip(), cfg.listen.port(), cfg.tcp, cfg.udp));
        if (e.code() == std::errc::permission_denied)
            throw cli::ToolFailure(
                ExitCode::no_permission,
                fmt::format("--listen {}: {}; ports below net.ipv4.ip_unprivileged_port_start "
                            "need CAP_NET_BIND_SERVICE (run as root, or setcap "
                            "cap_net_bind_service=ep $(command -v netdx-echo))",
                            text, e.what()));
        throw;
    }
}

Section stats_section(const EchoStats& s, Nanos elapsed) {
    Section sec;
    sec.name = "stats";
    sec.kind = Section::Kind::record;
    sec.add({"elapsed_ns", "elapsed", Unit::ns}, Cell(elapsed));
    sec.add({"connections_current", "connections now", Unit::count}, Cell(s.connections_current));
    sec.add({"connections_total", "connections total", Unit::count}, Cell(s.connections_total));
    sec.add({"connections_refused", "refused", Unit::count},
            Cell(s.connections_refused, s.connections_refused ? Style::warn : Style::plain));
    sec.add({"connections_idle_closed", "idle-closed", Unit::count},
            Cell(s.connections_idle_closed));
    sec.add({"connections_reset", "reset", Unit::count}, Cell(s.connections_reset));
    sec.add({"tcp_bytes", "TCP bytes", Unit::bytes}, Cell(s.tcp_bytes));
    sec.add({"tcp_reads", "TCP messages", Unit::count}, Cell(s.tcp_reads));
    sec.add({"udp_datagrams", "UDP datagrams", Unit::count}, Cell(s.udp_datagrams));
    sec.add({"udp_replies", "UDP replies", Unit::count}, Cell(s.udp_replies));
    sec.add({"udp_bytes", "UDP bytes", Unit::bytes}, Cell(s.udp_bytes));
    sec.add({"udp_rate_limited", "UDP rate-limited", Unit::count}, Cell(s.udp_rate_limited));
    sec.add({"udp_send_errors", "UDP send errors", Unit::count}, Cell(s.udp_send_errors));
    return sec;
}

int run(const Options& o) {
    cli::install_interrupt_handlers();
    cli::install_usr1_handler();
    const auto info = read_system_info();
    EchoConfig cfg;
    cfg.listen = resolve_listen(o.listen);
    cfg.tcp = !o.udp_only;
    cfg.udp = !o.tcp_only;
    cfg.threads = o.threads > 0 ? o.threads : std::max(1, info.usable_cpus);
    cfg.idle_timeout = o.idle_timeout;
    cfg.spin = o.spin;
    cfg.busy_poll = o.busy_poll;
    if (o.backend == "uring") {
        // The completion path: the loop still runs one-shot polls (the UDP socket's).
        const auto u = probe_io_uring();
        if (!u.available || !u.completions)
            throw cli::ToolFailure(ExitCode::unavailable,
                                   fmt::format("--backend uring: not available here: {}",
                                               u.available ? u.completions_detail : u.detail));
        cfg.backend = Backend::uring_oneshot;
        cfg.tcp_completions = !o.udp_only;
    } else {
        cfg.backend = cli::loop_backend(o.backend);
    }
    cfg.max_connections = o.max_connections;
    cfg.udp_rate_limit = o.udp_rate_limit;
    cfg.write_buffer = static_cast<std::size_t>(std::max<std::uint64_t>(o.write_buffer, 1));
    const auto limit = raise_nofile_to_hard();

    auto server = bind_server(cfg, o.listen);
    cfg.listen = server->local_endpoint(); // children join the port actually bound
    // The other processes serve the same port (SO_REUSEPORT), each binding its own sockets.
    std::optional<EchoFleet> fleet;
    if (o.processes > 1)
        fleet.emplace(EchoFleet::Options{.servers = {cfg},
                                         .processes = o.processes - 1,
                                         .report_every = 200 * kNanosPerMilli,
                                         .in_worker = [&] {
                                             cli::reset_after_fork();
                                             server.reset(); // the parent's sockets
                                         }});
    server->start();

    const auto protocols = std::string(cfg.tcp && cfg.udp ? "tcp+udp" : cfg.tcp ? "tcp" : "udp");
    if (!o.common.quiet)
        std::cerr << fmt::format(
            "netdx-echo: listening on {} ({}), {} thread{} x {} process{}, {}, fd limit {}\n",
            server->local_endpoint().to_string(), protocols, cfg.threads,
            cfg.threads == 1 ? "" : "s", o.processes, o.processes == 1 ? "" : "es",
            echo_backend_name(cfg), format_count(limit.soft));
    if (o.common.format == Format::ndjson) {
        cli::write_stdout(cli::run_line_once() +
                          nlohmann::json{{"type", "listening"},
                                         {"address", server->local_endpoint().to_string()},
                                         {"port", server->local_endpoint().port()},
                                         {"protocols", protocols},
                                         {"backend", echo_backend_name(cfg)}}
                              .dump() +
                          "\n");
    }

    cli::IntervalStream intervals(o.common, "intervals");
    const Nanos start = monotonic_ns();
    Nanos next_stats = o.stats_interval > 0 ? start + o.stats_interval : -1;
    auto total_stats = [&] {
        EchoStats s = server->stats();
        if (fleet) {
            fleet->poll();
            s.add(fleet->stats());
        }
        return s;
    };
    auto print_interval = [&](Nanos now) {
        intervals.write(stats_section(total_stats(), now - start),
                        fmt::format("[{}] ", format_duration(static_cast<double>(now - start))));
    };
    std::string failure;
    while (!cli::interrupted()) {
        const Nanos now = monotonic_ns();
        if (o.duration > 0 && now - start >= o.duration) break;
        if ((failure = server->worker_error()).size()) break;
        if (fleet && (fleet->poll(), !fleet->failure().empty())) break;
        if (next_stats > 0 && now >= next_stats) {
            print_interval(now);
            next_stats += o.stats_interval;
        }
        if (cli::take_usr1()) print_interval(now);
        Nanos wait = 200 * kNanosPerMilli;
        if (next_stats > 0) wait = std::min(wait, next_stats - now);
        if (o.duration > 0) wait = std::min(wait, start + o.duration - now);
        pollfd p{cli::interrupt_fd(), POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(std::max<Nanos>(wait, 0) / kNanosPerMilli) + 1);
        cli::drain_interrupt_fd();
    }
    // Stop accepting and close cleanly, here and in the worker processes.
    server->stop();
    if (fleet) {
        fleet->stop(5 * kNanosPerSecond);
        if (failure.empty()) failure = fleet->failure();
    }

    Report report;
    report.tool = kInfo.name;
    report.version = kVersion;
    auto& setup_sec = report.section("server", "netdx-echo", Section::Kind::record);
    setup_sec.add({"listen", "listening on", Unit::none},
                  Cell(server->local_endpoint().to_string()));
    setup_sec.add({"listen_address", "", Unit::none, false, true},
                  Cell(server->local_endpoint().ip().to_string()));
    setup_sec.add({"listen_port", "", Unit::count, false, true},
                  Cell(std::uint64_t{server->local_endpoint().port()}));
    setup_sec.add({"protocols", "protocols", Unit::none}, Cell(protocols));
    setup_sec.add({"threads", "threads per process", Unit::count},
                  Cell(static_cast<std::uint64_t>(cfg.threads)));
    setup_sec.add({"processes", "processes", Unit::count},
                  Cell(static_cast<std::uint64_t>(o.processes)));
    setup_sec.add({"worker_cpus", "worker CPUs (last seen)", Unit::none},
                  Cell(format_cpu_list(server->worker_cpus())));
    setup_sec.add({"kernel", "kernel", Unit::none}, Cell(info.kernel));
    const auto final_stats = total_stats();
    auto sec = stats_section(final_stats, monotonic_ns() - start);
    sec.title = "Statistics";
    report.sections.push_back(std::move(sec));
    if (!failure.empty())
        report.failure = Failure{ExitCode::system, "stopped by an error: " + failure};
    intervals.into(report);
    std::map<std::string, double> metrics;
    for (const auto& c : EchoStats::kCounters)
        metrics[c.name] = static_cast<double>(final_stats.*c.member);
    report.checks = evaluate(o.common.checks, metrics);
    // SIGINT/SIGTERM is how a server is meant to stop: exit 0 after the final statistics.
    return cli::emit(report, o.common);
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    return cli::run_main(
        argc, argv, kInfo, [&](CLI::App& app) { setup(app, o); }, [&] { return run(o); });
}
