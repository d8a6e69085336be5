// netdx-states: TCP sockets by state from sock_diag, grouped without awk, with the
// diagnosis of TIME-WAIT pressure and CLOSE-WAIT leaks.
#include <algorithm>
#include <deque>
#include <iostream>
#include <map>
#include <poll.h>
#include <set>
#include <sstream>
#include <unistd.h>
#include <unordered_set>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <netdx/inspect/cgroups.hpp>
#include <netdx/inspect/netns.hpp>
#include <netdx/inspect/sock_diag.hpp>
#include <netdx/inspect/socket_owners.hpp>
#include <netdx/inspect/state_selection.hpp>
#include <netdx/report/result.hpp>
#include <netdx/report/units.hpp>
#include <netdx/sys/capabilities.hpp>
#include <netdx/sys/net_counters.hpp>
#include <netdx/sys/parse_error.hpp>
#include <netdx/sys/system_error.hpp>
#include <netdx/version.hpp>

#include "cli.hpp"
#include "collect.hpp"
#include "diagnose.hpp"
#include "group.hpp"
#include "interrupt.hpp"
#include "tool_registry.hpp"

namespace {

using namespace netdx;
using namespace netdx::states;

std::vector<MetricInfo> metrics_catalog() {
    std::vector<MetricInfo> m{{"total", Unit::count, "sockets in the result"},
                              {"orphans", Unit::count, "sockets no process owns (not TIME-WAIT)"},
                              {"problems", Unit::count, "findings of severity problem"}};
    for (int i = 1; i < kTcpStateCount; ++i) {
        const auto name = std::string(state_name(static_cast<TcpState>(i)));
        m.push_back({name, Unit::count, "sockets in " + name});
    }
    return m;
}

const cli::ToolInfo kInfo{
    .name = "netdx-states",
    .summary = std::string(registry::tool("netdx-states").summary),
    .metrics = metrics_catalog(),
    .ndjson = true,
    .csv = true,
    .subcommands = {},
    .delegate_prefix = {},
    .fail_if_example = "close-wait>100",
};

struct Options {
    cli::CommonOptions common;
    std::string state = "all";
    bool v4 = false, v6 = false;
    std::string sport, dport, src, dst;
    std::vector<int> pids;
    std::string process;
    std::string group_by;
    std::uint64_t top = 20;
    bool list = false;
    bool owners = false;
    bool explain = false;
    Nanos watch = 0;
    std::uint64_t ticks = 0;
    bool kill = false;
    bool dry_run = false;
    std::string netns;
    bool proc = false;
    std::string proc_root = "/";
};

void setup(CLI::App& app, Options& o) {
    cli::add_common_options(app, o.common, kInfo);
    std::vector<std::string> states;
    for (auto n : state_selection_names())
        states.emplace_back(n);
    app.add_option("-s,--state", o.state,
                   "States (comma-separated): time-wait, close-wait, … or all, connected, "
                   "synchronized, teardown, orphan (default all)")
        ->type_name("STATES");
    app.add_flag("-4,--ipv4", o.v4, "IPv4 sockets only");
    app.add_flag("-6,--ipv6", o.v6, "IPv6 sockets only");
    app.add_option("--sport", o.sport, "Local port or range (8000-8100)")->type_name("PORT");
    app.add_option("--dport", o.dport, "Remote port or range")->type_name("PORT");
    app.add_option("--src", o.src, "Local address or CIDR block")->type_name("CIDR");
    app.add_option("--dst", o.dst, "Remote address or CIDR block")->type_name("CIDR");
    app.add_option("--pid", o.pids, "Sockets of this process (repeatable)")->type_name("PID");
    app.add_option("--process", o.process, "Sockets of processes with this name (comm)")
        ->type_name("NAME");
    app.add_option("-g,--group-by", o.group_by,
                   "Count by keys: state, lport, rport, laddr, raddr, rnet/N, lnet/N, tuple, "
                   "process, uid, cgroup (combinable: state,process)")
        ->type_name("KEYS");
    cli::add_count(app, "--top", o.top, "Groups shown (the rest in one row; 0: all; default 20)");
    app.add_flag("-l,--list", o.list, "One row per socket");
    app.add_flag("-p,--owners", o.owners, "Find the owning process of every socket listed");
    app.add_flag("-e,--explain", o.explain,
                 "Diagnose: CLOSE-WAIT leaks, TIME-WAIT pressure, orphans, full accept queues "
                 "(exit 1 when a problem is found)");
    cli::add_duration(app, "-w,--watch", o.watch,
                      "Refresh this often: counts, change since the last tick and since start");
    cli::add_count(app, "--ticks", o.ticks, "With --watch: stop after this many refreshes");
    app.add_flag("--kill", o.kill,
                 "Destroy the matching sockets (SOCK_DESTROY; needs CAP_NET_ADMIN)");
    app.add_flag("--dry-run", o.dry_run, "With --kill: list what would be destroyed");
    app.add_option("--netns", o.netns, "Inspect network namespace NAME (/run/netns), PID's, or all")
        ->type_name("NAME|PID|all");
    app.add_flag("--proc", o.proc, "Read /proc/net/tcp and tcp6 instead of sock_diag netlink");
    app.add_option("--proc-root", o.proc_root, "Read /proc below this directory")
        ->group("") // hidden: a test seam for replaying recorded /proc files
        ->check(CLI::ExistingDirectory);
}

struct Snapshot {
    Tally tally;
    std::optional<Grouper> grouper; ///< counting by --group-by as the dump streams
    /// Every socket of the result when `all` (listing, killing, owner filters and keys need
    /// them); otherwise only the CLOSE-WAIT and LISTEN sockets the findings name one by one.
    std::vector<TcpSocket> sockets;
    bool all = false;
    std::vector<std::uint16_t> ns_of;   ///< per stored socket, an index into ns_labels
    std::vector<std::string> ns_labels; ///< with --netns all
    /// Each namespace's ephemeral range, by ns index: it tells outbound TIME-WAIT from
    /// inbound when stored sockets are tallied after every namespace was read.
    std::vector<std::optional<PortRange>> ns_ephemeral;
    /// Each namespace's listeners (a deque: the tally points at the one being read).
    std::deque<Listeners> ns_listeners;
    std::string source;
    std::vector<std::string> notes;
    Nanos duration = 0;
};

/// Whether every socket must be stored: to list or kill them, or to know their owners
/// before filtering or grouping.
bool keep_all(const Options& o, const std::vector<GroupKey>& keys) {
    return o.list || o.kill || !o.pids.empty() || !o.process.empty() || needs_owners(keys);
}

/// `group`: count by `keys` (streaming, unless every socket is kept: then finish() does).
Snapshot take_snapshot(const Options& o, const Filters& f, const std::vector<GroupKey>& keys,
                       bool group) {
    Snapshot snap;
    snap.all = keep_all(o, keys);
    if (group && !snap.all) snap.grouper.emplace(keys);
    std::vector<NetnsTarget> targets;
    if (o.netns.empty())
        targets.push_back({"", ""});
    else if (o.netns == "all")
        targets = all_named_netns();
    else
        targets.push_back(resolve_netns(o.netns));
    for (const auto& t : targets) {
        const auto ns = static_cast<std::uint16_t>(snap.ns_labels.size());
        auto sink = [&](const TcpSocket& s) {
            if (!snap.all) {
                snap.tally.add(s, ns);
                if (snap.grouper) snap.grouper->add(s);
                if (s.state != TcpState::close_wait && s.state != TcpState::listen) return;
            }
            snap.sockets.push_back(s);
            if (o.netns == "all") snap.ns_of.push_back(ns);
        };
        Collected c;
        auto& listeners = snap.ns_listeners.emplace_back();
        const auto err = in_netns(t, [&] {
            // The listeners and the ephemeral range are per namespace: they tell the server
            // side of a socket (inbound TIME-WAIT, a leaking server's CLOSE-WAIT) from the
            // client side.
            listeners = collect_listeners(f);
            snap.tally.listeners = &listeners;
            snap.tally.ephemeral = ephemeral_port_range(SysfsReader(o.proc_root));
            if (snap.all) snap.sockets.reserve(snap.sockets.size() + expected_sockets(o.proc_root));
            c = collect(f, sink);
        });
        if (!err.empty()) {
            snap.ns_listeners.pop_back();
            snap.tally.listeners = nullptr;
            // Entering another namespace is a privilege (CAP_SYS_ADMIN): 77 when it is missing.
            if (targets.size() == 1)
                throw cli::ToolFailure(err.find("CAP_SYS_ADMIN") != std::string::npos
                                           ? ExitCode::no_permission
                                           : ExitCode::system,
                                       err);
            snap.notes.push_back(err);
            continue;
        }
        snap.ns_labels.push_back(t.label);
        snap.ns_ephemeral.push_back(snap.tally.ephemeral);
        snap.source = c.source;
        snap.duration += c.duration;
        if (!c.note.empty()) snap.notes.push_back(c.note);
    }
    return snap;
}

/// Owners for the inodes that need them: every owned socket when asked (or when filtering
/// by process), otherwise only CLOSE-WAIT ones, which the diagnosis attributes.
OwnerMap owners_for(const Options& o, const std::vector<TcpSocket>& sockets, bool all) {
    std::unordered_set<std::uint64_t> inodes;
    for (const auto& s : sockets)
        if (s.inode != 0 && (all || s.state == TcpState::close_wait)) inodes.insert(s.inode);
    return find_owners(inodes, SysfsReader(o.proc_root));
}

/// The sockets of --pid / --process only.
void filter_by_process(const Options& o, Snapshot& snap, const OwnerMap& owners) {
    if (o.pids.empty() && o.process.empty()) return;
    std::vector<TcpSocket> kept;
    std::vector<std::uint16_t> kept_ns;
    for (std::size_t i = 0; i < snap.sockets.size(); ++i) {
        const auto& s = snap.sockets[i];
        const auto it = owners.pid_of.find(s.inode);
        if (it == owners.pid_of.end()) continue;
        bool match =
            o.pids.empty() || std::find(o.pids.begin(), o.pids.end(), it->second) != o.pids.end();
        if (match && !o.process.empty()) {
            const auto p = owners.processes.find(it->second);
            match = p != owners.processes.end() && p->second.comm == o.process;
        }
        if (!match) continue;
        kept.push_back(s);
        if (!snap.ns_of.empty()) kept_ns.push_back(snap.ns_of[i]);
    }
    snap.sockets = std::move(kept);
    snap.ns_of = std::move(kept_ns);
}

/// Owners (into `owners`, which must outlive the snapshot's grouper), the process filter,
/// and, when every socket was kept, the counting the dump did not do.
void finish(const Options& o, Snapshot& snap, const std::vector<GroupKey>& keys, bool group,
            bool all_owners, OwnerMap& owners) {
    owners = owners_for(o, snap.sockets, all_owners);
    if (!snap.all) return;
    filter_by_process(o, snap, owners);
    if (group) snap.grouper.emplace(keys, &owners);
    for (std::size_t i = 0; i < snap.sockets.size(); ++i) {
        const std::uint16_t ns = snap.ns_of.empty() ? 0 : snap.ns_of[i];
        if (ns < snap.ns_ephemeral.size()) snap.tally.ephemeral = snap.ns_ephemeral[ns];
        if (ns < snap.ns_listeners.size()) snap.tally.listeners = &snap.ns_listeners[ns];
        snap.tally.add(snap.sockets[i], ns);
        if (snap.grouper) snap.grouper->add(snap.sockets[i]);
    }
}

/// For each stored socket, whether it is the server side of its connection, by its own
/// namespace's listeners and ephemeral range.
std::vector<bool> server_sides(const Snapshot& snap) {
    std::vector<bool> out(snap.sockets.size(), false);
    static const Listeners kNone;
    for (std::size_t i = 0; i < snap.sockets.size(); ++i) {
        const std::size_t ns = snap.ns_of.empty() ? 0 : snap.ns_of[i];
        const auto& listeners = ns < snap.ns_listeners.size() ? snap.ns_listeners[ns] : kNone;
        const auto& eph = ns < snap.ns_ephemeral.size() ? snap.ns_ephemeral[ns] : std::nullopt;
        out[i] = listeners.side_of(snap.sockets[i], eph) == Listeners::Side::server;
    }
    return out;
}

Grouped group_result(const Options& o, const Snapshot& snap, const OwnerMap& owners,
                     std::size_t top) {
    const auto cgroups = cgroup_paths(snap.grouper->cgroup_ids(), SysfsReader(o.proc_root));
    return snap.grouper->result(top, KeyContext{&owners, &cgroups});
}

std::string idle_text(const TcpSocket& s) {
    if (!s.idle) return "";
    return format_age_ms(std::min(s.idle->last_data_recv_ms, s.idle->last_ack_recv_ms));
}

std::string timer_text(const TcpSocket& s) {
    switch (s.timer) {
    case SocketTimer::none:
        return "";
    case SocketTimer::retransmit:
        return "rto " + format_age_ms(s.timer_ms);
    case SocketTimer::keepalive:
        return "keepalive " + format_age_ms(s.timer_ms);
    case SocketTimer::time_wait:
        return "tw " + format_age_ms(s.timer_ms);
    case SocketTimer::zero_window_probe:
        return "probe " + format_age_ms(s.timer_ms);
    }
    return "";
}

/// Sockets by state (rows of states only), then the totals as a record of their own.
std::vector<Section> summary_sections(const Tally& t, std::map<std::string, double>& metrics) {
    Section sec;
    sec.name = "summary";
    sec.title = "Sockets by state";
    sec.fields = {{"state", "state", Unit::none}, {"count", "count", Unit::count}};
    for (int i = 1; i < kTcpStateCount; ++i) {
        const auto name = std::string(state_name(static_cast<TcpState>(i)));
        const auto n = t.by_state[static_cast<std::size_t>(i)];
        metrics[name] = static_cast<double>(n);
        if (n > 0) sec.add_row({Cell(name), Cell(n)});
    }
    Section totals;
    totals.name = "totals";
    totals.title = "Totals";
    totals.kind = Section::Kind::record;
    totals.add({"total", "total", Unit::count}, Cell(t.total));
    totals.add({"orphans", "of which orphaned", Unit::count}, Cell(t.orphans));
    metrics["total"] = static_cast<double>(t.total);
    metrics["orphans"] = static_cast<double>(t.orphans);
    return {std::move(sec), std::move(totals)};
}

/// TIME-WAIT by age (60 s minus the kernel's timer), in 10 s buckets: a flat histogram is
/// a steady rate, a pile in the youngest bucket a burst now.
Section ages_section(const TimeWaitTally& tw) {
    Section sec;
    sec.name = "time_wait_ages";
    sec.title = "TIME-WAIT by age";
    sec.fields = {{"age", "age", Unit::none},
                  {"expires_in", "expires in", Unit::none},
                  {"count", "count", Unit::count},
                  {"per_s", "created per s", Unit::per_second}};
    const auto width = kAgeBucketMs / 1000;
    for (std::size_t i = 0; i < tw.by_age.size(); ++i) {
        const auto lo = static_cast<std::uint32_t>(i) * width;
        const auto left = kTimeWaitMs / 1000 - lo;
        sec.add_row({Cell(fmt::format("{}-{}s", lo, lo + width)),
                     Cell(fmt::format("{}-{}s", left - width, left)), Cell(tw.by_age[i]),
                     Cell(static_cast<double>(tw.by_age[i]) / width)});
    }
    return sec;
}

Section group_section(const Grouped& g, const std::vector<GroupKey>& keys) {
    Section sec;
    sec.name = "groups";
    sec.title = fmt::format(
        "Grouped by {} ({} groups)",
        [&] {
            std::string t;
            for (const auto& k : keys)
                t += (t.empty() ? "" : ",") + k.name;
            return t;
        }(),
        format_count(g.groups));
    for (const auto& k : keys)
        sec.fields.push_back({k.name, k.name, Unit::none});
    sec.fields.push_back({"count", "count", Unit::count});
    for (const auto& r : g.rows) {
        Row row;
        for (const auto& k : r.keys)
            row.push_back(Cell(k));
        row.push_back(Cell(r.count));
        sec.add_row(std::move(row));
    }
    return sec;
}

Section list_section(const Snapshot& snap, const OwnerMap* owners) {
    Section sec;
    sec.name = "sockets";
    sec.title = "Sockets";
    sec.fields = {{"state", "state", Unit::none},    {"local", "local", Unit::none},
                  {"remote", "remote", Unit::none},  {"recv_q", "recv-q", Unit::count},
                  {"send_q", "send-q", Unit::count}, {"timer", "timer", Unit::none},
                  {"idle", "idle", Unit::none},      {"inode", "inode", Unit::count}};
    const bool ns = !snap.ns_of.empty();
    if (owners) sec.fields.push_back({"process", "process", Unit::none});
    if (ns) sec.fields.push_back({"netns", "netns", Unit::none});
    const GroupKey proc{GroupKey::Kind::process, 0, "process"};
    const KeyContext ctx{owners, nullptr};
    for (std::size_t i = 0; i < snap.sockets.size(); ++i) {
        const auto& s = snap.sockets[i];
        Row row{Cell(std::string(state_name(s.state))),
                Cell(s.local.to_string()),
                Cell(s.remote.to_string()),
                Cell(s.recv_q),
                Cell(s.send_q),
                Cell(timer_text(s)),
                Cell(idle_text(s)),
                Cell(s.inode)};
        if (owners) row.push_back(Cell(key_text(proc, s, ctx)));
        if (ns) row.push_back(Cell(snap.ns_labels[snap.ns_of[i]]));
        sec.add_row(std::move(row));
    }
    return sec;
}

Section findings_section(const std::vector<Finding>& findings) {
    Section sec;
    sec.name = "findings";
    sec.title = "Findings";
    auto m = [](const char* key, Unit u = Unit::none) { return Field{key, key, u, false, true}; };
    sec.fields = {{"severity", "", Unit::none},
                  {"topic", "topic", Unit::none},
                  {"finding", "finding", Unit::none},
                  {"advice", "what to do", Unit::none, true},
                  m("count", Unit::count),
                  m("pid", Unit::count),
                  m("process"),
                  m("local"),
                  m("remote"),
                  m("side"),
                  m("recv_q")};
    auto text = [](const std::string& t) { return t.empty() ? Cell(Value{}) : Cell(t); };
    for (const auto& f : findings) {
        const char* sev = f.severity == Finding::Severity::problem ? "problem"
                          : f.severity == Finding::Severity::warn  ? "warn"
                                                                   : "info";
        const Style st = f.severity == Finding::Severity::problem ? Style::bad
                         : f.severity == Finding::Severity::warn  ? Style::warn
                                                                  : Style::plain;
        sec.add_row({Cell(std::string(sev), st), Cell(f.topic), Cell(f.text), Cell(f.advice),
                     Cell(f.count), f.pid ? Cell(std::int64_t{f.pid}) : Cell(Value{}),
                     text(f.process), text(f.local), text(f.remote), text(f.side), text(f.recv_q)});
    }
    return sec;
}

int run_kill(const Options& o, Snapshot& snap) {
    const auto caps = read_capabilities();
    if (!o.dry_run && !(caps && caps->has(Capability::net_admin)))
        throw cli::ToolFailure(ExitCode::no_permission,
                               "--kill needs CAP_NET_ADMIN (run as root, or --dry-run)");
    Report report;
    report.tool = kInfo.name;
    report.version = kVersion;
    std::map<std::string, std::uint64_t> outcome;
    auto& sec =
        report.section("killed", o.dry_run ? "Would destroy" : "Destroyed", Section::Kind::table);
    sec.fields = {{"state", "state", Unit::none},
                  {"local", "local", Unit::none},
                  {"remote", "remote", Unit::none},
                  {"result", "result", Unit::none}};
    for (const auto& s : snap.sockets) {
        std::string result = "dry run";
        if (!o.dry_run) {
            const int err = s.state == TcpState::time_wait ? EOPNOTSUPP : destroy_tcp_socket(s);
            result = err == 0 ? "destroyed" : errno_name(err);
        }
        ++outcome[result];
        sec.add_row({Cell(std::string(state_name(s.state))), Cell(s.local.to_string()),
                     Cell(s.remote.to_string()), Cell(result)});
    }
    for (const auto& [k, v] : outcome)
        report.notes.push_back(fmt::format("{}: {}", k, format_count(v)));
    report.notes.push_back("Killing a CLOSE-WAIT socket sends the peer an RST and frees the "
                           "kernel's side, but the process still holds its descriptor: the "
                           "leak goes on until the code closes it.");
    if (outcome.count("EOPNOTSUPP"))
        report.notes.push_back("EOPNOTSUPP: TIME-WAIT sockets cannot be destroyed, or this "
                               "kernel lacks CONFIG_INET_DIAG_DESTROY");
    return cli::emit(report, o.common);
}

int run_watch(const Options& o, const Filters& f, const std::vector<GroupKey>& keys) {
    const bool tty = ::isatty(STDOUT_FILENO) == 1 && o.common.format == Format::table;
    std::map<std::vector<std::string>, std::uint64_t> first, last;
    // A terminal gets a refreshing table; a pipe a stream of NDJSON lines (or CSV); --json
    // one document at the end (--ticks reached, or Ctrl-C) holding every tick.
    const auto reporter = make_reporter(Format::table, {o.common.stdout_color(), true});
    cli::CommonOptions stream_options = o.common;
    if (stream_options.format == Format::table) stream_options.format = Format::ndjson;
    cli::IntervalStream ticks(stream_options, "ticks");
    auto finish_watch = [&](bool interrupted) {
        if (o.common.format != Format::json)
            return to_int(interrupted ? ExitCode::interrupted : ExitCode::ok);
        Report r;
        r.tool = kInfo.name;
        r.version = kVersion;
        r.interrupted = interrupted;
        ticks.into(r);
        return cli::emit(r, o.common);
    };
    const Nanos start = monotonic_ns();
    Nanos prev = start;
    for (std::uint64_t tick = 1;; ++tick) {
        auto snap = take_snapshot(o, f, keys, true);
        OwnerMap owners;
        finish(o, snap, keys, true, snap.all, owners);
        const auto g = group_result(o, snap, owners, 0);
        std::map<std::vector<std::string>, std::uint64_t> now_counts;
        for (const auto& r : g.rows)
            now_counts[r.keys] = r.count;
        if (tick == 1) first = now_counts;
        const Nanos now = monotonic_ns();
        const double span = static_cast<double>(now - prev) / 1e9;
        const double since = static_cast<double>(now - start) / 1e9;
        std::set<std::vector<std::string>> all_keys;
        for (const auto* m : {&first, &last, &now_counts})
            for (const auto& [k, v] : *m)
                all_keys.insert(k);
        Section sec;
        sec.name = "tick";
        for (const auto& k : keys)
            sec.fields.push_back({k.name, k.name, Unit::none});
        sec.fields.push_back({"count", "count", Unit::count});
        sec.fields.push_back({"delta", "Δ tick", Unit::delta});
        sec.fields.push_back({"rate_per_s", "per s", Unit::per_second});
        sec.fields.push_back({"since_start", "Δ start", Unit::delta});
        sec.fields.push_back({"elapsed_ns", "", Unit::ns, false, true});
        auto value = [](const auto& m, const auto& k) {
            const auto it = m.find(k);
            return it == m.end() ? std::int64_t{0} : static_cast<std::int64_t>(it->second);
        };
        for (const auto& k : all_keys) {
            const auto n = value(now_counts, k);
            const auto d = tick == 1 ? 0 : n - value(last, k);
            const auto ds = n - value(first, k);
            Row row;
            for (const auto& part : k)
                row.push_back(Cell(part));
            row.push_back(Cell(static_cast<std::uint64_t>(n)));
            row.push_back(Cell(d));
            row.push_back(Cell(tick == 1 || span <= 0 ? 0.0 : static_cast<double>(d) / span));
            row.push_back(Cell(ds));
            row.push_back(Cell(now - start));
            sec.add_row(std::move(row));
        }
        if (tty) {
            std::ostringstream out;
            out << "\x1b[H\x1b[2J"
                << fmt::format("netdx-states: {} sockets, tick {}, {:.1f}s (Ctrl-C to stop)\n",
                               format_count(snap.tally.total), tick, since);
            Report r;
            r.sections.push_back(sec);
            reporter->write(r, out);
            cli::write_stdout(out.str());
        } else {
            ticks.write(sec);
        }
        last = now_counts;
        prev = now;
        if (o.ticks > 0 && tick >= o.ticks) return finish_watch(false);
        pollfd p{cli::interrupt_fd(), POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(o.watch / kNanosPerMilli));
        if (cli::interrupted()) return finish_watch(true);
    }
}

int run(const Options& o) {
    cli::install_interrupt_handlers();
    Filters f;
    f.states = parse_state_selection(o.state);
    if (o.v4 || o.v6) {
        f.v4 = o.v4;
        f.v6 = o.v6;
    }
    if (!o.sport.empty()) f.where.sport = parse_port_filter(o.sport, "--sport");
    if (!o.dport.empty()) f.where.dport = parse_port_filter(o.dport, "--dport");
    if (!o.src.empty()) f.where.src = Cidr::parse(o.src);
    if (!o.dst.empty()) f.where.dst = Cidr::parse(o.dst);
    f.force_proc = o.proc || o.proc_root != "/";
    f.proc_root = o.proc_root;
    if (o.dry_run && !o.kill) throw ParseError("--dry-run only applies with --kill");
    if (o.ticks > 0 && o.watch == 0) throw ParseError("--ticks only applies with --watch");
    const auto keys = parse_group_keys(o.group_by.empty() ? "state" : o.group_by);
    if (o.watch > 0) return run_watch(o, f, keys);

    const bool group = !o.group_by.empty();
    auto snap = take_snapshot(o, f, keys, group);
    const bool all_owners = o.owners || needs_owners(keys) || !o.pids.empty() || !o.process.empty();
    OwnerMap owners;
    finish(o, snap, keys, group, all_owners, owners);
    if (o.kill) return run_kill(o, snap);

    Report report;
    report.tool = kInfo.name;
    report.version = kVersion;
    std::map<std::string, double> metrics;
    for (auto& sec : summary_sections(snap.tally, metrics))
        report.sections.push_back(std::move(sec));
    if (group) report.sections.push_back(group_section(group_result(o, snap, owners, o.top), keys));
    if (o.list) report.sections.push_back(list_section(snap, all_owners ? &owners : nullptr));
    if (o.explain && snap.tally.time_wait.total > 0)
        report.sections.push_back(ages_section(snap.tally.time_wait));

    const auto findings =
        diagnose(snap.tally, snap.sockets, server_sides(snap), owners, SysfsReader(o.proc_root),
                 NetCounters::read(SysfsReader(o.proc_root)));
    std::uint64_t problems = 0;
    std::vector<Finding> shown;
    for (const auto& fd : findings) {
        if (fd.severity == Finding::Severity::problem) ++problems;
        // The default summary shows what needs attention; --explain shows everything.
        if (o.explain || fd.severity != Finding::Severity::info) shown.push_back(fd);
    }
    if (!shown.empty()) report.sections.push_back(findings_section(shown));
    metrics["problems"] = static_cast<double>(problems);
    report.primary = o.group_by.empty() ? (o.list ? "sockets" : "summary") : "groups";

    auto& src = report.section("source", "", Section::Kind::record);
    src.add({"source", "read from", Unit::none}, Cell(snap.source));
    src.add({"elapsed_ns", "enumeration took", Unit::ns}, Cell(snap.duration));
    if (owners.unreadable > 0 && (all_owners || problems > 0))
        report.notes.push_back(fmt::format("{} processes could not be read: owners may be "
                                           "missing (run as root)",
                                           format_count(owners.unreadable)));
    for (const auto& n : snap.notes)
        report.notes.push_back(n);
    report.checks = evaluate(o.common.checks, metrics);
    const int code = cli::emit(report, o.common);
    if (code == 0 && o.explain && problems > 0) return to_int(ExitCode::check_failed);
    return code;
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    return cli::run_main(
        argc, argv, kInfo, [&](CLI::App& app) { setup(app, o); }, [&] { return run(o); });
}
