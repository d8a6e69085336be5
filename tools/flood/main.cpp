// netdx-flood: open exactly N TCP connections at a controlled rate, hold them, close them,
// and say what stopped the ramp when it stops short.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <iostream>
#include <map>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <random>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <netdx/inspect/port_users.hpp>
#include <netdx/net/address_list.hpp>
#include <netdx/net/host_port.hpp>
#include <netdx/net/resolver.hpp>
#include <netdx/net/socket.hpp>
#include <netdx/report/result.hpp>
#include <netdx/report/units.hpp>
#include <netdx/service/echo_fleet.hpp>
#include <netdx/service/echo_server.hpp>
#include <netdx/sys/fd.hpp>
#include <netdx/sys/limits.hpp>
#include <netdx/sys/net_counters.hpp>
#include <netdx/sys/parse_error.hpp>
#include <netdx/sys/system_error.hpp>
#include <netdx/sys/system_info.hpp>
#include <netdx/sys/worker_processes.hpp>
#include <netdx/version.hpp>

#include "cli.hpp"
#include "engine.hpp"
#include "histogram_columns.hpp"
#include "interrupt.hpp"
#include "metrics.hpp"
#include "plan.hpp"
#include "tool_registry.hpp"
#include "verify.hpp"

namespace {

using namespace netdx;
namespace plan = netdx::flood::plan;

const cli::ToolInfo kInfo{
    .name = "netdx-flood",
    .summary = std::string(registry::tool("netdx-flood").summary),
    .metrics = netdx::flood::kMetrics,
    .ndjson = true,
    .csv = false,
    .subcommands = {},
    .delegate_prefix = {},
    .fail_if_example = "established<10000",
};

struct Options {
    cli::CommonOptions common;
    std::vector<std::string> targets;
    std::uint64_t connections = 1000;
    std::string rate = "max";
    std::uint64_t max_inflight = 1000;
    std::string hold = "1s";
    std::string close = "fin";
    std::string close_order = "opened";
    std::string sources;
    std::string processes = "auto";
    Nanos connect_timeout = 3 * kNanosPerSecond;
    std::uint64_t send_size = 0;
    Nanos every = kNanosPerSecond;
    std::string first_message;
    bool churn = false;
    Nanos lifetime = 0;
    Nanos interval = 0;
    std::string verify = "auto";
    std::string backend;
    cli::DistributionOptions distribution;
    std::uint64_t run_connections =
        0; ///< the whole run's N (-n); connections is this agent's share
};

void setup(CLI::App& app, Options& o) {
    cli::add_common_options(app, o.common, kInfo);
    app.add_option("targets", o.targets,
                   "Where to connect: HOST:PORT, repeated, or a port range HOST:LO-HI; none: an "
                   "embedded sink on loopback")
        ->type_name("HOST:PORT");
    cli::add_count(app, "-n,--connections", o.connections,
                   "Connections to open, exactly (default 1000)");
    app.add_option("-r,--rate", o.rate,
                   "New connections per second (e.g. 5k/s), or max: as fast as the machine "
                   "allows within --max-inflight (default max)")
        ->type_name("RATE|max");
    cli::add_count(app, "--max-inflight", o.max_inflight,
                   "Most connects under way at once (default 1000)");
    app.add_option("--hold", o.hold,
                   "Hold the connections this long once the ramp ends, or forever (until "
                   "Ctrl-C) (default 1s)")
        ->type_name("DURATION|forever");
    cli::add_choice(app, "--close", o.close, {"fin", "rst"},
                    "Close with FIN (we keep TIME_WAIT) or RST (default fin)");
    cli::add_choice(app, "--close-order", o.close_order, {"opened", "random"},
                    "Close in the order opened or in random order (default opened)");
    app.add_option("-s,--source", o.sources,
                   "Source addresses: list, range or CIDR (127.0.0.2-127.0.0.9); bound with "
                   "IP_BIND_ADDRESS_NO_PORT")
        ->type_name("ADDRS");
    app.add_option("--processes", o.processes,
                   "Worker processes: auto (enough for RLIMIT_NOFILE) or a number")
        ->type_name("auto|K");
    cli::add_duration(app, "--connect-timeout", o.connect_timeout,
                      "Give up a connect after this long (default 3s)");
    cli::add_size(app, "--send", o.send_size,
                  "Each held connection sends this many bytes every --every and checks the echo");
    cli::add_duration(app, "--every", o.every, "Interval between --send messages (default 1s)");
    app.add_option("--first-message", o.first_message,
                   "Send this text once on every new connection")
        ->type_name("TEXT");
    app.add_flag("--churn", o.churn,
                 "Close each connection after --lifetime and open a new one (connection rate "
                 "tests); the run lasts --hold");
    cli::add_duration(app, "--lifetime", o.lifetime,
                      "With --churn: how long each connection lives");
    cli::add_duration(app, "--interval", o.interval, "Print a progress line this often");
    cli::add_backend(app, o.backend, {"epoll-et", "epoll", "poll", "uring", "uring-multishot"});
    cli::add_distribution_options(app, o.distribution, "-n and --rate");
    cli::add_choice(app, "--verify", o.verify, {"auto", "server", "keepalive", "none"},
                    "Which connections the server really holds: server (count its sockets "
                    "through sock_diag: a target on this machine or in one of its network "
                    "namespaces), keepalive (TCP keepalive probes on every held connection, "
                    "any target; needs a hold of 4s or more), none; auto: server where it can "
                    "(default)");
}

double parse_rate_or_max(const std::string& text) {
    if (text == "max") return 0;
    return parse_rate(text);
}

Nanos parse_hold(const std::string& text) {
    if (text == "forever" || text == "inf") return -1;
    const auto ns = parse_duration_ns(text);
    if (ns < 0) throw ParseError(fmt::format("--hold: bad duration '{}'", text));
    return ns;
}

std::vector<Endpoint> resolve_targets(const std::vector<std::string>& texts) {
    std::vector<Endpoint> out;
    for (const auto& t : texts) {
        for (const auto& hp : parse_host_port_range(t, "127.0.0.1")) {
            const auto r = resolve(hp);
            if (!r.ok())
                throw cli::ToolFailure(ExitCode::unavailable,
                                       fmt::format("target '{}': {}", t, r.error));
            out.push_back(r.endpoints.front());
        }
    }
    return out;
}

/// Refuses --source addresses no connection can come from, before anything runs: of the
/// targets' other family, multicast, broadcast or unspecified, or not an address of this
/// machine (binding to it fails with EADDRNOTAVAIL; 127.0.0.0/8 is all this machine's).
void check_sources(const std::vector<IpAddress>& sources, const std::vector<Endpoint>& targets) {
    for (const auto& s : sources) {
        const auto text = s.to_string();
        if (s.is_unspecified())
            throw ParseError(
                fmt::format("--source {}: the unspecified address is not a source", text));
        const bool multicast = s.is_v4() ? (s.v4_host_order() >> 28) == 0xe : s.bytes()[0] == 0xff;
        if (multicast || (s.is_v4() && s.v4_host_order() == 0xffffffffu))
            throw ParseError(fmt::format("--source {}: a {} address cannot open a TCP "
                                         "connection",
                                         text, multicast ? "multicast" : "broadcast"));
        if (targets.empty() && !s.is_v4())
            throw ParseError(fmt::format("--source {}: the embedded sink listens on 127.0.0.1 "
                                         "(IPv4); give an IPv6 target for IPv6 sources",
                                         text));
        const Endpoint local(s, 0);
        Fd fd = open_socket(local.family(), Protocol::tcp, false);
        const int one = 1;
        ::setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (::bind(fd.get(), local.sockaddr_ptr(), local.sockaddr_len()) != 0) {
            const int err = errno;
            if (err == EADDRNOTAVAIL)
                throw ParseError(fmt::format("--source {}: not an address of this machine "
                                             "(bind: {})",
                                             text, std::strerror(err)));
            throw system_error(err, "bind --source " + text);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The embedded sink: EchoServers on loopback in processes of their own.

struct Sink {
    std::optional<EchoFleet> fleet;
    std::vector<Endpoint> endpoints;
    EchoStats stats;
};

EchoConfig sink_config(const Endpoint& listen) {
    EchoConfig c;
    c.listen = listen;
    c.udp = false;
    c.threads = 1;
    c.spin = 0; // a sink mostly holds idle connections
    c.backlog = 65535;
    return c;
}

/// The sink's listeners on `ports` consecutive free ports below the ephemeral range, so one
/// port range names the sink's side and never one of the clients' ports (the server-side
/// check filters on a range in the kernel, not a chain of tests per port). The block is
/// picked at random and checked after binding: the listeners use SO_REUSEPORT (threads and
/// sink processes share them), which would let a second netdx-flood of the same user bind
/// the same ports and take half the connections. The kernel's choice where no block is free.
std::vector<std::unique_ptr<EchoServer>> bind_sink(int ports) {
    const auto range = ephemeral_port_range();
    const int low = range ? static_cast<int>(range->low) : 32768;
    std::mt19937 rng(static_cast<unsigned>(::getpid()) ^ static_cast<unsigned>(monotonic_ns()));
    const auto ours = [](const std::vector<PortUser>& users) {
        return std::all_of(users.begin(), users.end(),
                           [](const PortUser& u) { return u.pid == ::getpid(); });
    };
    for (int attempt = 0; attempt < 16 && low - ports > 2048; ++attempt) {
        std::uniform_int_distribution<int> pick(2048, low - ports);
        const int base = pick(rng);
        std::vector<std::unique_ptr<EchoServer>> out;
        bool free = true;
        for (int i = 0; i < ports && free; ++i) {
            const auto port = static_cast<std::uint16_t>(base + i);
            if (!find_port_users(IpAddress::loopback_v4(), port, true, false).empty()) {
                free = false;
                break;
            }
            try {
                out.push_back(std::make_unique<EchoServer>(
                    sink_config(Endpoint(IpAddress::loopback_v4(), port))));
            } catch (const std::system_error& e) {
                if (e.code() != std::errc::address_in_use) throw;
                free = false;
            }
        }
        for (int i = 0; free && i < ports; ++i)
            free = ours(find_port_users(IpAddress::loopback_v4(),
                                        static_cast<std::uint16_t>(base + i), true, false));
        if (free) return out;
    }
    std::vector<std::unique_ptr<EchoServer>> out;
    for (int i = 0; i < ports; ++i)
        out.push_back(
            std::make_unique<EchoServer>(sink_config(Endpoint(IpAddress::loopback_v4(), 0))));
    return out;
}

void start_sink(Sink& sink, int ports, int processes) {
    // Bind in the parent to learn the ports; the workers join them (SO_REUSEPORT) and the
    // parent's own listeners close once the workers are ready, so none is left unserved.
    auto reserve = bind_sink(ports);
    std::vector<EchoConfig> servers;
    for (const auto& server : reserve) {
        sink.endpoints.push_back(server->local_endpoint());
        servers.push_back(sink_config(server->local_endpoint()));
    }
    sink.fleet.emplace(EchoFleet::Options{.name = "embedded sink",
                                          .servers = std::move(servers),
                                          .processes = processes,
                                          .report_every = 100 * kNanosPerMilli,
                                          .in_worker = [&] {
                                              cli::reset_after_fork();
                                              reserve.clear();
                                          }});
    sink.fleet->wait_ready(10 * kNanosPerSecond);
}

/// Stops the sink once it has accepted `established` connections (or after 2 s: on a busy
/// machine the last ones may still sit in its accept queue when the flood ends). Returns how
/// its workers failed, if they did.
std::vector<std::string> stop_sink(Sink& sink, std::uint64_t established) {
    const Nanos deadline = monotonic_ns() + 2 * kNanosPerSecond;
    do {
        sink.fleet->poll();
        if (sink.fleet->stats().connections_total >= established) break;
        ::usleep(10'000);
    } while (monotonic_ns() < deadline);
    std::vector<std::string> failures; // a worker's own error is in its outcome
    for (const auto& outcome : sink.fleet->stop(10 * kNanosPerSecond))
        if (!outcome.ok()) failures.push_back("embedded sink: " + outcome.describe());
    sink.stats = sink.fleet->stats();
    return failures;
}

// ---------------------------------------------------------------------------------------
// Reporting.

/// When the k-th connection was established, k = ceil(percent% of asked), in integers end
/// to end (N=1001: the 50% mark is the 501st, not a rank that a double round trip gives).
/// None when fewer than k came, or fewer than k are held by the server (`held`).
std::optional<Nanos> time_to(const flood::Result& r, std::uint64_t asked, std::uint64_t percent,
                             std::uint64_t held) {
    const std::uint64_t k = plan::rank_of(asked, percent);
    if (k == 0 || k > r.established_at.count() || k > held) return std::nullopt;
    return static_cast<Nanos>(r.established_at.value_at_rank(k));
}

/// Connections established per second from the start of the ramp to the last one. Only the
/// end counts: a late first connection (a slow start, a busy CPU) is caught up by the open-
/// loop schedule and does not inflate the figure, as a first-to-last span would.
double achieved_rate(const flood::Result& r) {
    const auto& h = r.established_at;
    if (h.count() == 0 || h.max() == 0) return 0;
    return static_cast<double>(h.count()) * 1e9 / static_cast<double>(h.max());
}

std::uint64_t failures_of(const flood::Progress& p, std::string_view suffix) {
    std::uint64_t n = 0;
    for (const auto& [k, v] : p.failures)
        if (k.ends_with(suffix)) n += v;
    return n;
}

Section interval_section(const flood::Progress& now, const flood::Progress& before, Nanos elapsed,
                         Nanos span, std::uint64_t asked) {
    Section s;
    s.name = "interval";
    s.kind = Section::Kind::record;
    const auto fresh = now.established - before.established;
    s.add({"elapsed_ns", "elapsed", Unit::ns}, Cell(elapsed));
    s.add({"open", "open", Unit::count}, Cell(now.open));
    s.add({"asked", "of", Unit::count}, Cell(asked));
    s.add({"new", "new", Unit::count}, Cell(fresh));
    s.add({"rate_per_s", "rate", Unit::per_second},
          Cell(span > 0 ? static_cast<double>(fresh) * 1e9 / static_cast<double>(span) : 0.0));
    s.add({"failed", "failed", Unit::count}, Cell(now.failed - before.failed));
    std::string by;
    for (const auto& [k, v] : now.failures) {
        const auto it = before.failures.find(k);
        const auto d = v - (it == before.failures.end() ? 0 : it->second);
        if (d > 0) by += fmt::format("{}{} {}", by.empty() ? "" : ", ", k, d);
    }
    s.add({"failures", "by errno", Unit::none}, Cell(by));
    return s;
}

/// What stopped the ramp, from the failures and the kernel's counters: one line each, with
/// the numbers, in order of likelihood.
std::vector<std::string> diagnose(const flood::Progress& p, const plan::Plan& plan,
                                  const NetCounters& before, const NetCounters& after,
                                  std::uint64_t conntrack_peak, const SysfsReader& fs) {
    std::vector<std::string> out;
    const auto overflows = after.delta(before, "TcpExt.ListenOverflows");
    const auto cookies = after.delta(before, "TcpExt.SyncookiesSent");
    if (const auto n = failures_of(p, " EMFILE"))
        out.push_back(fmt::format(
            "{} attempts hit EMFILE: a process reached its descriptor limit ({} usable of "
            "RLIMIT_NOFILE); use more --processes",
            format_count(n), format_count(plan.fds_per_process)));
    if (const auto n = failures_of(p, " ENFILE"))
        out.push_back(fmt::format("{} attempts hit ENFILE: the system-wide file table is full "
                                  "(sysctl fs.file-max)",
                                  format_count(n)));
    if (const auto n = failures_of(p, " EADDRNOTAVAIL"))
        out.push_back(fmt::format(
            "{} attempts hit EADDRNOTAVAIL: no free ephemeral port for a (source, destination) "
            "pair ({} pairs x {} ports; TIME_WAIT of earlier runs holds ports too); add "
            "--source addresses, destinations, or widen net.ipv4.ip_local_port_range",
            format_count(n), plan.pairs, format_count(plan.ports_per_pair)));
    if (const auto n = failures_of(p, " EADDRINUSE"))
        out.push_back(
            fmt::format("{} attempts hit EADDRINUSE binding a source address", format_count(n)));
    if (const auto n = failures_of(p, " ECONNREFUSED"))
        out.push_back(fmt::format("{} attempts were refused (RST to the SYN): nothing listens "
                                  "there, or the listener's queue overflowed with "
                                  "tcp_abort_on_overflow set",
                                  format_count(n)));
    if (p.timed_out > 0) {
        if (overflows > 0)
            out.push_back(fmt::format(
                "{} connects timed out and the kernel counted {} listen-queue overflows: the "
                "server accepts too slowly or its backlog is too small (net.core.somaxconn={})",
                format_count(p.timed_out), format_count(static_cast<std::uint64_t>(overflows)),
                fs.sysctl_int("net.core.somaxconn").value_or(-1)));
        else
            out.push_back(fmt::format(
                "{} connects timed out with no listen-queue overflow here: SYNs were dropped on "
                "the way (a firewall, a lost peer) or the server is on another machine",
                format_count(p.timed_out)));
    } else if (overflows > 0) {
        out.push_back(fmt::format("the kernel counted {} listen-queue overflows (the server's "
                                  "accept queue was full at times)",
                                  format_count(static_cast<std::uint64_t>(overflows))));
    }
    if (cookies > 0)
        out.push_back(fmt::format("{} SYN cookies were sent: the SYN queue was full",
                                  format_count(static_cast<std::uint64_t>(cookies))));
    const auto ct_max = fs.sysctl_int("net.netfilter.nf_conntrack_max");
    if (ct_max && *ct_max > 0 && conntrack_peak * 100 >= static_cast<std::uint64_t>(*ct_max) * 95)
        out.push_back(fmt::format("nf_conntrack was full ({} of {}): new connections are "
                                  "dropped; raise net.netfilter.nf_conntrack_max",
                                  format_count(conntrack_peak),
                                  format_count(static_cast<std::uint64_t>(*ct_max))));
    if (const auto n = failures_of(p, " ENOBUFS") + failures_of(p, " ENOMEM"))
        out.push_back(fmt::format("{} attempts hit ENOBUFS/ENOMEM: socket memory is exhausted "
                                  "(net.ipv4.tcp_mem)",
                                  format_count(n)));
    if (p.closed_by_peer + p.reset_by_peer > 0)
        out.push_back(fmt::format("the peer closed {} and reset {} held connections (an idle "
                                  "timeout or a connection limit on the server?)",
                                  format_count(p.closed_by_peer), format_count(p.reset_by_peer)));
    return out;
}

const char* errno_meaning(std::string_view key) {
    static const std::map<std::string_view, const char*> kMeaning{
        {"ECONNREFUSED", "nothing listening, or refused"},
        {"ETIMEDOUT", "no handshake within --connect-timeout"},
        {"EADDRNOTAVAIL", "no free local port for the 4-tuple"},
        {"EADDRINUSE", "source address/port in use"},
        {"EMFILE", "process descriptor limit"},
        {"ENFILE", "system file table full"},
        {"ENOBUFS", "out of socket buffers"},
        {"ENOMEM", "out of memory"},
        {"ECONNRESET", "reset during the handshake"},
        {"EHOSTUNREACH", "no route to host"},
        {"ENETUNREACH", "network unreachable"},
        {"EACCES", "blocked by a firewall rule"},
        {"EPERM", "blocked by a firewall rule"},
    };
    const auto sp = key.find(' ');
    const auto it = kMeaning.find(key.substr(sp == std::string_view::npos ? 0 : sp + 1));
    return it == kMeaning.end() ? "" : it->second;
}

/// How the run learnt which connections the server holds, and what it found.
struct Verification {
    std::string method = "none"; ///< "sock_diag", "keepalive", "none"
    std::string where;           ///< "this machine", "network namespace blue"
    std::string note;            ///< why there was no server-side check, or what went wrong
    std::optional<flood::ServerCount> first, last; ///< after the ramp; before closing
    [[nodiscard]] bool by_server() const { return last.has_value(); }
};

/// The connections the server holds, as far as this run could tell: the server-side count,
/// or what the keepalive probes left, or (no check) the client's handshakes.
std::uint64_t held_by_server(const Options& o, const flood::Progress& p, const Verification& v) {
    if (o.churn) return p.established;
    if (v.by_server()) return v.last->accepted;
    if (v.method == "keepalive") {
        const auto lost = p.keepalive_dead + p.closed_by_peer + p.reset_by_peer;
        return p.established > lost ? p.established - lost : 0;
    }
    return p.established;
}

int emit_report(const Options& o, const plan::Plan& plan, const plan::Inputs& in,
                const std::vector<Endpoint>& targets, const flood::Result& r,
                const NetCounters& before, const NetCounters& after, std::uint64_t conntrack_peak,
                const EchoStats& sink, std::vector<std::string> errors, double rate, Nanos hold,
                bool interrupted, const Verification& check, cli::IntervalStream& intervals) {
    const SysfsReader fs;
    const auto& p = r.progress;
    Report report;
    report.tool = kInfo.name;
    report.version = kVersion;
    report.interrupted = interrupted;

    auto& setup = report.section("flood", "netdx-flood", Section::Kind::record);
    std::string dests;
    for (std::size_t i = 0; i < targets.size() && i < 8; ++i)
        dests += (i ? " " : "") + targets[i].to_string();
    if (targets.size() > 8) dests += fmt::format(" … ({} in all)", targets.size());
    setup.add({"targets", in.targets.empty() ? "embedded sink" : "targets", Unit::none},
              Cell(dests));
    std::string srcs = "(kernel's choice)";
    if (!in.sources.empty())
        srcs = in.sources.size() == 1
                   ? in.sources.front().to_string()
                   : fmt::format("{} … {} ({})", in.sources.front().to_string(),
                                 in.sources.back().to_string(), in.sources.size());
    setup.add({"sources", "sources", Unit::none}, Cell(srcs));
    setup.add({"connections_asked", "connections asked", Unit::count}, Cell(o.connections));
    if (const auto& shard = cli::current_run().shard) {
        setup.add(
            {"shard", "shard", Unit::none, false, false, true},
            Cell(fmt::format("{} of {} (the run asks {} connections at {})", shard->index,
                             shard->count, format_count(o.run_connections),
                             rate > 0 ? format_rate(rate * shard->count) : std::string("max"))));
    }
    setup.add({"run_connections_asked", "", Unit::count, false, true}, Cell(o.run_connections));
    // Words for people, numbers of one type for machines (null: no limit, until stopped).
    setup.add({"rate_asked", "rate asked", Unit::none, false, false, true},
              Cell(rate > 0 ? format_rate(rate) : std::string("max")));
    setup.add({"rate_asked_per_s", "", Unit::per_second, false, true},
              rate > 0 ? Cell(rate) : Cell(Value{}));
    setup.add({"max_inflight", "max in flight", Unit::count}, Cell(o.max_inflight));
    setup.add(
        {"hold", "hold", Unit::none, false, false, true},
        Cell(hold < 0 ? std::string("until stopped") : format_duration(static_cast<double>(hold))));
    setup.add({"hold_ns", "", Unit::ns, false, true}, hold < 0 ? Cell(Value{}) : Cell(hold));
    setup.add({"close", "close", Unit::none}, Cell(fmt::format("{}, {}", o.close, o.close_order)));
    setup.add({"processes", "worker processes", Unit::count},
              Cell(static_cast<std::uint64_t>(plan.processes)));
    if (plan.sink_processes > 0)
        setup.add({"sink_processes", "sink processes", Unit::count},
                  Cell(static_cast<std::uint64_t>(plan.sink_processes)));
    setup.add({"capacity", "4-tuple capacity", Unit::count}, Cell(plan.capacity));

    auto& res = report.section("result", "Result", Section::Kind::record);
    const std::uint64_t held = held_by_server(o, p, check);
    const bool short_of = !interrupted && !o.churn && held < o.connections;
    res.add({"established", check.by_server() ? "established (the server holds)" : "established",
             Unit::count},
            Cell(held, short_of ? Style::bad : Style::good));
    res.add({"handshakes", "handshakes completed (client side)", Unit::count}, Cell(p.established));
    res.add({"verified_by", "checked by", Unit::none},
            Cell(check.method == "none" ? std::string("nothing (client-side handshakes only)")
                 : check.method == "keepalive"
                     ? std::string("TCP keepalive probes on the held connections")
                     : "sock_diag on the server side (" + check.where + ")"));
    res.add({"verification", "", Unit::none, false, true}, Cell(check.method));
    if (check.by_server()) {
        const auto& l = *check.last;
        const auto bad = [](std::uint64_t n) { return n ? Style::bad : Style::plain; };
        res.add({"server_queued", "in the server's accept queue, not accepted", Unit::count},
                Cell(l.queued, bad(l.queued)));
        res.add({"server_half_open", "server has only a SYN-RECV (our ACK dropped)", Unit::count},
                Cell(l.half_open, bad(l.half_open)));
        res.add({"server_closing", "the server closed them", Unit::count}, Cell(l.closing));
        res.add({"server_missing", "not on the server at all", Unit::count},
                Cell(l.missing, bad(l.missing)));
        res.add({"established_after_ramp", "held by the server after the ramp", Unit::count},
                Cell(check.first ? check.first->accepted : l.accepted));
        res.add({"check_ns", "server-side check took", Unit::ns}, Cell(l.took));
    }
    if (check.method == "keepalive")
        res.add({"keepalive_dead", "found dead by keepalive", Unit::count},
                Cell(p.keepalive_dead, p.keepalive_dead ? Style::bad : Style::plain));
    res.add({"failed", "failed", Unit::count},
            Cell(p.failed, p.failed ? Style::warn : Style::plain));
    res.add({"timed_out", "timed out", Unit::count}, Cell(p.timed_out));
    res.add({"aborted", "still connecting at the end", Unit::count}, Cell(p.aborted));
    res.add({"attempted", "attempts", Unit::count}, Cell(p.attempted));
    res.add({"open_peak", "most open at once", Unit::count}, Cell(p.peak_open));
    res.add({"closed_by_peer", "closed by peer", Unit::count}, Cell(p.closed_by_peer));
    res.add({"reset_by_peer", "reset by peer", Unit::count}, Cell(p.reset_by_peer));
    res.add({"closed", "closed by us", Unit::count}, Cell(p.closed));
    std::map<std::string, double> metrics{
        {"established", static_cast<double>(held)},
        {"handshakes", static_cast<double>(p.established)},
        {"unconfirmed", static_cast<double>(p.established > held ? p.established - held : 0)},
        {"unanswered", static_cast<double>(p.unanswered)},
        {"failed", static_cast<double>(p.failed)},
        {"timed_out", static_cast<double>(p.timed_out)},
        {"refused", static_cast<double>(failures_of(p, " ECONNREFUSED"))},
        {"closed_by_peer", static_cast<double>(p.closed_by_peer + p.reset_by_peer)},
        {"open_peak", static_cast<double>(p.peak_open)},
        {"corrupt_echoes", static_cast<double>(p.corrupt_echoes)},
    };
    for (const auto& [key, percent] : {std::pair<const char*, std::uint64_t>{"time_to_50", 50},
                                       {"time_to_90", 90},
                                       {"time_to_100", 100}}) {
        const auto t = time_to(r, o.connections, percent, o.churn ? p.established : held);
        res.add({std::string(key) + "_ns", fmt::format("time to {}%", percent), Unit::ns},
                t ? Cell(*t) : Cell(Value{}));
        if (t) metrics[key] = static_cast<double>(*t);
    }
    const double achieved = achieved_rate(r);
    res.add({"rate_per_s", "connect rate", Unit::per_second}, Cell(achieved));
    if (achieved > 0) metrics["rate"] = achieved;
    const cli::HistogramColumns connect{
        "connect_",
        "connect ",
        "connect_",
        {cli::HistogramStat::min(), cli::HistogramStat::percentile(50),
         cli::HistogramStat::percentile(90), cli::HistogramStat::percentile(99),
         cli::HistogramStat::percentile(99.9), cli::HistogramStat::max()}};
    connect.add_to(res, r.connect_latency);
    connect.add_metrics(metrics, r.connect_latency, o.common.checks);
    if (p.peak_open > 0) {
        const double per = static_cast<double>(r.rss_growth) / static_cast<double>(p.peak_open);
        res.add({"memory_per_conn_bytes", "user memory per connection", Unit::bytes},
                Cell(static_cast<std::uint64_t>(per)));
        metrics["memory_per_conn"] = per;
    }
    // The raw counters `netdx merge` adds up (memory per connection = Σ growth / Σ peaks).
    res.add({"rss_growth_bytes", "", Unit::bytes, false, true}, Cell(r.rss_growth));
    res.add({"fds_peak", "", Unit::count, false, true}, Cell(p.fds_peak));
    res.add({"close_ns", "time to close all", Unit::ns}, Cell(r.close_duration));
    if (o.send_size > 0) {
        res.add({"messages_sent", "messages sent", Unit::count}, Cell(p.messages_sent));
        res.add({"echoes", "echoes checked", Unit::count}, Cell(p.echoes));
        res.add({"unanswered", "messages not echoed back", Unit::count},
                Cell(p.unanswered, p.unanswered ? Style::warn : Style::plain));
        res.add({"corrupt_echoes", "corrupt echoes", Unit::count},
                Cell(p.corrupt_echoes, p.corrupt_echoes ? Style::bad : Style::plain));
        const cli::HistogramColumns echo{
            "echo_",
            "echo RTT ",
            "echo_",
            {cli::HistogramStat::percentile(50), cli::HistogramStat::percentile(99)}};
        echo.add_to(res, r.echo_rtt);
        echo.add_metrics(metrics, r.echo_rtt, o.common.checks);
    }
    if (plan.sink_processes > 0)
        res.add({"sink_accepted", "sink accepted", Unit::count}, Cell(sink.connections_total));

    auto& fail = report.section("failures", "Failures by call and errno", Section::Kind::table);
    fail.fields = {{"call", "call", Unit::none},
                   {"errno", "errno", Unit::none},
                   {"count", "count", Unit::count},
                   {"meaning", "meaning", Unit::none}};
    for (const auto& [key, count] : p.failures) {
        const auto sp = key.find(' ');
        fail.add_row({Cell(key.substr(0, sp)),
                      Cell(sp == std::string::npos ? "" : key.substr(sp + 1)), Cell(count),
                      Cell(std::string(errno_meaning(key)))});
    }

    auto& lim = report.section("limits", "Limits in play", Section::Kind::table);
    lim.fields = {{"limit", "limit", Unit::none},
                  {"used", "used", Unit::count},
                  {"capacity", "capacity", Unit::count},
                  {"percent", "used %", Unit::percent}};
    auto limit_row = [&](std::string name, std::uint64_t used, std::optional<std::uint64_t> cap) {
        const double pct =
            cap && *cap ? 100.0 * static_cast<double>(used) / static_cast<double>(*cap) : 0;
        lim.add_row({Cell(std::move(name)), Cell(used), cap ? Cell(*cap) : Cell(Value{}),
                     cap ? Cell(pct, pct >= 90 ? Style::warn : Style::plain) : Cell(Value{})});
    };
    limit_row("descriptors in one worker process (peak)", p.fds_peak,
              plan.fds_per_process + plan::kReservedFds);
    std::uint64_t pair_max = 0;
    std::string pair_name;
    for (const auto& [k, v] : r.pair_peak)
        if (v > pair_max) {
            pair_max = v;
            pair_name = k;
        }
    limit_row(
        fmt::format("ports per (source, destination){}", pair_name.empty() ? "" : ": " + pair_name),
        pair_max, plan.ports_per_pair);
    if (const auto ct_max = fs.sysctl_int("net.netfilter.nf_conntrack_max"))
        limit_row("nf_conntrack entries (peak)", conntrack_peak,
                  static_cast<std::uint64_t>(*ct_max));
    for (const auto& [key, title] :
         {std::pair{"TcpExt.ListenOverflows", "listen-queue overflows (during the run)"},
          {"TcpExt.ListenDrops", "listen drops (during the run)"},
          {"TcpExt.SyncookiesSent", "SYN cookies sent (during the run)"},
          {"TcpExt.TCPReqQFullDrop", "SYN-queue full drops (during the run)"},
          {"TcpExt.TCPTimeWaitOverflow", "TIME_WAIT bucket overflows (during the run)"}})
        if (after.get(key))
            limit_row(
                title,
                static_cast<std::uint64_t>(std::max<std::int64_t>(after.delta(before, key), 0)),
                std::nullopt);

    for (auto& line : diagnose(p, plan, before, after, conntrack_peak, fs))
        report.notes.push_back(std::move(line));
    if (check.by_server() && p.established > held) {
        const auto& l = *check.last;
        report.notes.push_back(fmt::format(
            "{} connections completed the handshake here but the server does not hold them: "
            "{} wait in its accept queue, {} are only a SYN-RECV there (the listener's queue "
            "was full when our ACK came), {} the server closed, {} it has no trace of (a SYN "
            "cookie whose ACK was dropped). Clients see these as open until they send.",
            format_count(p.established - held), format_count(l.queued), format_count(l.half_open),
            format_count(l.closing), format_count(l.missing)));
    }
    if (!check.note.empty()) report.notes.push_back(check.note);
    if (p.peer_spoke > 0)
        report.notes.push_back(fmt::format(
            "the server sent data unasked on {} connections{}", format_count(p.peer_spoke),
            r.peer_said.empty() ? std::string()
                                : fmt::format("; the first said: \"{}\"", r.peer_said)));
    if (o.send_size > 0 && p.unanswered > 0)
        report.notes.push_back(fmt::format(
            "{} of {} messages got no echo before the next was due or the connection closed{}",
            format_count(p.unanswered), format_count(p.messages_sent),
            p.echoes == 0 ? ": the server does not echo what it is sent" : ""));
    for (auto& e : errors)
        report.notes.push_back("worker: " + e);

    nlohmann::json hist;
    hist["connect_latency"] = r.connect_latency.to_json();
    hist["established_at"] = r.established_at.to_json();
    if (o.send_size > 0) hist["echo_rtt"] = r.echo_rtt.to_json();
    report.extra["histograms"] = hist;
    // The targets and sources as structured fields, beside the text of the "flood" record.
    nlohmann::json endpoints = nlohmann::json::array();
    for (const auto& t : targets)
        endpoints.push_back({{"address", t.ip().to_string()}, {"port", t.port()}});
    report.extra["target_endpoints"] = std::move(endpoints);
    nlohmann::json sources = nlohmann::json::array();
    for (const auto& a : in.sources)
        sources.push_back(a.to_string());
    report.extra["source_addresses"] = std::move(sources);
    report.checks = evaluate(o.common.checks, metrics);
    intervals.into(report);

    // What the exit code says, in order: the tool itself failed, nothing connected, fewer
    // than asked are held, the echo that was asked for never came.
    if (!errors.empty()) {
        report.failure = Failure{ExitCode::system, errors.front()};
    } else if (p.established == 0 && p.failed > 0) {
        report.failure = Failure{ExitCode::unavailable, "no connection could be established"};
    } else if (short_of) {
        report.failure = Failure{
            ExitCode::check_failed,
            p.established > held
                ? fmt::format("established {} of {}: the server holds {}, {} more completed "
                              "the handshake on this side only",
                              format_count(held), format_count(o.connections), format_count(held),
                              format_count(p.established - held))
                : fmt::format("established {} of {}", format_count(held),
                              format_count(o.connections))};
    } else if (o.send_size > 0 && p.messages_sent > 0 && p.echoes == 0 && !interrupted) {
        report.failure =
            Failure{ExitCode::check_failed,
                    fmt::format("--send: none of {} messages was echoed back (the server does "
                                "not echo)",
                                format_count(p.messages_sent))};
    }
    return cli::emit(report, o.common);
}

/// A private folder for the workers' endpoint files, removed with everything in it.
struct TempDir {
    std::string path;
    TempDir() {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/netdx-flood-XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr) throw_errno("create a folder in " + tmpl);
        path = tmpl;
    }
    ~TempDir() {
        if (DIR* d = ::opendir(path.c_str())) {
            while (const dirent* e = ::readdir(d))
                if (e->d_name[0] != '.') ::unlink((path + "/" + e->d_name).c_str());
            ::closedir(d);
        }
        ::rmdir(path.c_str());
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

int run(const Options& given) {
    cli::install_interrupt_handlers();
    if (given.connections == 0) throw ParseError("--connections must be at least 1");
    // A shard floods its exact share of N, on its slots of the one schedule.
    const auto distribution = cli::Distribution::from(given.distribution);
    Options o = given;
    o.run_connections = given.connections;
    o.connections = distribution.share_of(given.connections);
    if (o.connections == 0)
        throw ParseError(fmt::format("--shard {}: -n {} leaves this shard no connection (N must be "
                                     "at least the number of shards)",
                                     distribution.shard_text(), given.connections));
    const Stripe agent_slots = distribution.stripe_of(given.connections);
    if (o.max_inflight == 0) throw ParseError("--max-inflight must be at least 1");
    if (o.churn && o.lifetime <= 0) throw ParseError("--churn needs --lifetime (e.g. 1s)");
    if (!o.churn && o.lifetime > 0) throw ParseError("--lifetime only applies with --churn");
    if (o.send_size > 64 * 1024 * 1024) throw ParseError("--send: at most 64MiB");
    if (o.send_size > 0 && o.every <= 0) throw ParseError("--every must be above zero");
    const double run_rate = parse_rate_or_max(o.rate); // the whole run's
    const double rate = distribution.shard ? run_rate / distribution.shard->count : run_rate;
    const Nanos hold = parse_hold(o.hold);
    if (o.verify == "keepalive" && hold >= 0 && hold < 4 * kNanosPerSecond)
        throw ParseError("--verify keepalive needs --hold 4s or more (1 s idle, then 3 probes "
                         "1 s apart)");
    plan::Inputs in;
    in.connections = o.connections;
    in.targets = resolve_targets(o.targets);
    if (!o.sources.empty()) in.sources = parse_address_list(o.sources);
    check_sources(in.sources, in.targets);
    in.processes = o.processes;
    in.fd_limit = raise_nofile_to_hard();
    in.ports = ephemeral_port_range();
    const auto plan = plan::make(in); // throws ParseError when N cannot fit, with the fix

    Sink sink;
    std::vector<Endpoint> targets = in.targets;
    if (targets.empty()) {
        start_sink(sink, plan.sink_ports, plan.sink_processes);
        targets = sink.endpoints;
    }

    // Which connections will the server hold? Look for its side before starting.
    const Backend backend = cli::loop_backend(o.backend);
    Verification verification;
    std::optional<flood::ServerCheck> check;
    std::optional<TempDir> endpoint_dir;
    if (o.verify == "keepalive") {
        verification.method = "keepalive";
    } else if (o.verify != "none" && o.churn) {
        verification.note = "with --churn the server's side is not checked: established counts "
                            "every handshake";
    } else if (o.verify != "none") {
        auto view = flood::locate_server(targets);
        if (view.found) {
            verification.method = "sock_diag";
            verification.where = view.where;
            check.emplace(std::move(view), targets);
            endpoint_dir.emplace();
        } else if (o.verify == "server") {
            throw ParseError("--verify server: " + view.why_not);
        } else {
            verification.note = fmt::format(
                "established counts client-side handshakes only: {} (a server whose accept "
                "queue overflows drops completed handshakes unseen); --verify keepalive probes "
                "every held connection instead",
                view.why_not);
        }
    }
    const auto counters0 = NetCounters::read();
    const SysfsReader fs;

    // Workers: each gets an exact share of N and of the rate, and a slice of the pairs.
    WorkerProcesses workers;
    // The common start leaves each worker ~5 ms to fork and allocate; one that is later
    // starts at once, and its lateness counts in the times to N (they run from `start`).
    // With --start-at the set-up is over here: refuse if that was too late, and let every
    // worker wait for the instant on the wall clock.
    distribution.check_not_late();
    const Nanos start = distribution.start_at
                            ? distribution.start_at_monotonic()
                            : monotonic_ns() + std::min<Nanos>(5 * kNanosPerMilli * plan.processes,
                                                               100 * kNanosPerMilli);
    const auto k = static_cast<std::uint64_t>(plan.processes);
    std::vector<std::string> endpoint_files;
    for (std::uint64_t i = 0; i < k; ++i) {
        flood::Config c;
        c.targets = targets;
        c.sources = in.sources;
        // Its slots of the whole schedule: this agent's stripe, split over the workers.
        const Stripe slots = agent_slots.part(static_cast<unsigned>(i), static_cast<unsigned>(k));
        c.connections = slots.count;
        c.rate = run_rate;
        c.slot_first = slots.first;
        c.slot_stride = slots.stride;
        c.start_wall = distribution.start_at;
        c.max_inflight = std::max<std::uint64_t>(1, o.max_inflight / k);
        c.connect_timeout = o.connect_timeout;
        c.hold = hold;
        c.close_rst = o.close == "rst";
        c.close_random = o.close_order == "random";
        c.send_size = o.send_size;
        c.every = o.every;
        c.first_message = o.first_message;
        c.churn = o.churn;
        c.lifetime = o.lifetime;
        c.start = start;
        c.first_pair = i;
        c.pair_stride = k;
        c.seed = i + 1;
        c.keepalive = verification.method == "keepalive";
        c.backend = backend;
        if (endpoint_dir) {
            c.endpoints_path = fmt::format("{}/worker-{}.ep", endpoint_dir->path, i);
            endpoint_files.push_back(c.endpoints_path);
        }
        workers.spawn([&, c = std::move(c)](WorkerChannel& ch) mutable {
            cli::reset_after_fork();
            if (sink.fleet) sink.fleet->processes().forget();
            flood::Worker w(std::move(c));
            auto r = w.run(
                ch.control_fd(), 100 * kNanosPerMilli,
                [&](const flood::Progress& p) { ch.progress(p.to_json().dump()); },
                [&](std::string_view line) { ch.event(line); });
            ch.result(dump_json(r.to_json()));
            return 0;
        });
    }

    // Merge the workers' counters live; print progress; run the server-side checks; pass
    // Ctrl-C on as a stop.
    std::vector<flood::Progress> latest(k);
    std::vector<std::optional<flood::Result>> results(k);
    std::vector<bool> held(k, false), hold_over(k, false);
    std::vector<std::string> errors;
    // A worker's error needs nothing here: its outcome carries it (below).
    auto on_line = [&](const WorkerMessage& m) {
        const auto i = m.worker;
        if (m.kind == WorkerMessageKind::error) {
            held[i] = hold_over[i] = true; // it is done
            return;
        }
        const auto j = nlohmann::json::parse(m.payload, nullptr, false);
        if (j.is_discarded()) return;
        if (m.kind == WorkerMessageKind::progress) {
            latest[i] = flood::Progress::from_json(j);
        } else if (m.kind == WorkerMessageKind::result) {
            results[i] = flood::Result::from_json(j);
            latest[i] = results[i]->progress;
            held[i] = hold_over[i] = true; // it is done either way
        } else if (j.value("type", "") == "held") {
            held[i] = true;
        } else if (j.value("type", "") == "hold_over") {
            hold_over[i] = true;
        }
    };
    auto merged = [&] {
        flood::Progress p;
        for (const auto& l : latest)
            p.add(l);
        return p;
    };
    auto all = [](const std::vector<bool>& v) {
        return std::all_of(v.begin(), v.end(), [](bool b) { return b; });
    };
    bool loaded = false;
    auto server_check = [&]() -> std::optional<flood::ServerCount> {
        if (!check) return std::nullopt;
        try {
            if (!loaded) {
                check->load(endpoint_files);
                loaded = true;
            }
            // A server that is accepting empties its queue in moments: let it, for up to a
            // second, so "queued" is what it cannot take (a stopped or saturated server),
            // not what it had no time for yet.
            auto c = check->count();
            const Nanos until = monotonic_ns() + kNanosPerSecond;
            Nanos changed = monotonic_ns();
            while (c.queued > 0 && monotonic_ns() < until &&
                   monotonic_ns() - changed < 200 * kNanosPerMilli) {
                ::usleep(20'000);
                auto again = check->count();
                if (again.queued != c.queued || again.accepted != c.accepted)
                    changed = monotonic_ns();
                c = again;
            }
            return c;
        } catch (const std::exception& e) {
            verification.note = e.what();
            check.reset();
            return std::nullopt;
        }
    };
    const bool tty = !o.common.quiet && ::isatty(STDERR_FILENO) == 1;
    cli::IntervalStream intervals(o.common, "intervals");
    flood::Progress last_interval;
    Nanos next_interval = o.interval > 0 ? start + o.interval : -1;
    Nanos next_status = start;
    bool stop_sent = false;
    std::uint64_t conntrack_peak = 0;
    // Read every turn only where conntrack is loaded (the file is absent otherwise).
    const bool conntrack = fs.exists(sysctl_path("net.netfilter.nf_conntrack_count"));
    auto release = [&] { // the last check, then the workers close what they hold
        if (stop_sent) return;
        if (check && all(held))
            if (auto c = server_check()) verification.last = c;
        workers.request_stop();
        stop_sent = true;
    };
    for (;;) {
        auto fds = workers.report_fds();
        if (fds.empty()) break;
        std::vector<pollfd> pfds;
        for (int fd : fds)
            pfds.push_back({fd, POLLIN, 0});
        pfds.push_back({cli::interrupt_fd(), POLLIN, 0});
        ::poll(pfds.data(), pfds.size(), 50);
        workers.drain(on_line);
        if (check && !verification.first && all(held))
            if (auto c = server_check()) verification.first = verification.last = c;
        // With the server-side check the workers wait for the stop once their hold is over.
        if ((cli::interrupted() || (check && all(hold_over))) && !stop_sent) release();
        const Nanos now = monotonic_ns();
        if (auto ct = conntrack ? fs.sysctl_int("net.netfilter.nf_conntrack_count") : std::nullopt)
            conntrack_peak =
                std::max<std::uint64_t>(conntrack_peak, static_cast<std::uint64_t>(*ct));
        if (next_interval > 0 && now >= next_interval) {
            const auto p = merged();
            auto sec = interval_section(p, last_interval, now - start, o.interval, o.connections);
            if (check && verification.first && all(held) && !stop_sent)
                if (auto c = server_check()) verification.last = c;
            sec.add({"server_holds", "server holds", Unit::count},
                    verification.last ? Cell(verification.last->accepted) : Cell(Value{}));
            if (tty) std::cerr << "\r\x1b[K";
            intervals.write(sec);
            last_interval = p;
            next_interval += o.interval;
        }
        if (tty && now >= next_status) {
            const auto p = merged();
            std::cerr << fmt::format(
                             "\r\x1b[Kflood: {} / {} open, {} in flight, {} failed, {}",
                             format_count(p.open), format_count(o.connections),
                             format_count(p.inflight), format_count(p.failed),
                             format_duration(static_cast<double>(std::max<Nanos>(now - start, 0))))
                      << std::flush;
            next_status = now + 200 * kNanosPerMilli;
        }
    }
    if (tty) std::cerr << "\r\x1b[K";
    const auto outcomes = workers.wait_all(5 * kNanosPerSecond, on_line);
    const auto counters1 = NetCounters::read();

    // A failed worker's own words; how the others ended.
    for (const auto& outcome : outcomes)
        if (!outcome.ok())
            errors.push_back(outcome.how == WorkerOutcome::How::failed ? outcome.error
                                                                       : outcome.describe());
    if (cli::interrupted() && check && !verification.last)
        verification.note = "interrupted before the ramp was over: the server's side was not "
                            "checked, established counts client-side handshakes";

    flood::Result total;
    for (std::size_t i = 0; i < k; ++i) {
        if (results[i])
            total.merge(*results[i]);
        else
            total.progress.add(latest[i]); // it died: keep what it last reported
    }
    if (!sink.endpoints.empty())
        for (auto& failure : stop_sink(sink, total.progress.established))
            errors.push_back(std::move(failure));
    if (check && !verification.last && verification.method == "sock_diag")
        verification.method = "none";
    if (distribution.start_at) cli::current_run().start_lateness_ns = total.start_lateness;
    return emit_report(o, plan, in, targets, total, counters0, counters1, conntrack_peak,
                       sink.stats, std::move(errors), rate, hold, cli::interrupted(), verification,
                       intervals);
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    return cli::run_main(
        argc, argv, kInfo, [&](CLI::App& app) { setup(app, o); }, [&] { return run(o); });
}
