// netdx-mux: select, poll, epoll (LT, ET, one-shot) and io_uring poll compared on the same
// descriptors, per call, with medians, percentiles and confidence intervals.
#include <algorithm>
#include <fstream>
#include <map>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <netdx/net/backends.hpp>
#include <netdx/report/result.hpp>
#include <netdx/report/units.hpp>
#include <netdx/sys/limits.hpp>
#include <netdx/sys/parse_error.hpp>
#include <netdx/sys/system_info.hpp>
#include <netdx/sys/text.hpp>
#include <netdx/sys/worker_processes.hpp>
#include <netdx/version.hpp>

#include "chart.hpp"
#include "cli.hpp"
#include "interrupt.hpp"
#include "runner.hpp"
#include "stats.hpp"
#include "tool_registry.hpp"

namespace {

using namespace netdx;
using namespace netdx::mux;

std::vector<MetricInfo> metrics_catalog() {
    std::vector<MetricInfo> m{
        {"errors", Unit::count, "events missed, duplicated or spurious (should be 0)"},
        {"ci_max_pct", Unit::none, "widest 95% CI of a median, in ± percent"}};
    for (const auto b : kAllBackends)
        m.push_back(
            {fmt::format("{}_ns", backend_name(b)), Unit::ns,
             fmt::format("{}: ready-mode median at the largest N, smallest K", backend_name(b))});
    return m;
}

const cli::ToolInfo kInfo{
    .name = "netdx-mux",
    .summary = std::string(registry::tool("netdx-mux").summary),
    .metrics = metrics_catalog(),
    .ndjson = false,
    .csv = true,
    .subcommands = {},
    .delegate_prefix = {},
    .fail_if_example = "errors>0",
};

struct Options {
    cli::CommonOptions common;
    std::string backends = "all";
    std::string fds, active, modes;
    std::string fd_kind = "eventfd";
    std::string placement = "spread";
    bool churn = false;
    bool quick = false;
    std::uint64_t rounds = 0, warmup = 0, processes = 0;
    int cpu = -2; ///< -2: automatic
    bool no_pin = false;
    Nanos throughput_time = 0;
    std::string plot;
    std::uint64_t seed = 1;
};

void setup(CLI::App& app, Options& o) {
    cli::add_common_options(app, o.common, kInfo);
    std::string names;
    for (const auto b : kAllBackends)
        names += (names.empty() ? "" : ", ") + std::string(backend_name(b));
    app.add_option("-b,--backends", o.backends, "Backends (comma-separated): all, " + names)
        ->type_name("LIST");
    app.add_option("-n,--fds", o.fds,
                   "Watched descriptors N, a list (default 100,1000,10000; --quick 100,1000)")
        ->type_name("LIST");
    app.add_option("-k,--active", o.active,
                   "Ready per round K: counts or percentages of N (default 1,10,100; --quick 1)")
        ->type_name("LIST");
    app.add_option("-m,--mode", o.modes,
                   "Modes: ready, wakeup, ctl, throughput (default all; --quick ready,wakeup,ctl)")
        ->type_name("LIST");
    cli::add_choice(app, "--fd-kind", o.fd_kind, {"eventfd", "pipe", "socketpair", "tcp"},
                    "What is watched (default eventfd: one descriptor each; the others take two)");
    cli::add_choice(app, "--placement", o.placement, {"spread", "high"},
                    "spread: the numbers the kernel hands out; high: the top of RLIMIT_NOFILE");
    app.add_flag("--churn", o.churn, "Re-register the ready fds every round, inside the timing");
    app.add_flag("--quick", o.quick, "A run of seconds: fewer points, rounds and processes");
    cli::add_count(app, "--rounds", o.rounds, "Timed rounds per point and process (default 1000)");
    cli::add_count(app, "--warmup", o.warmup, "Untimed rounds first (default 100)");
    cli::add_count(app, "--processes", o.processes,
                   "Run the points in this many processes, one after another, each in its own "
                   "shuffled order (default 3; --quick 1)");
    app.add_option("--cpu", o.cpu,
                   "Pin the measuring thread to this CPU (default 0 when there "
                   "are two or more; the wakeup producer gets the next)")
        ->type_name("CPU");
    app.add_flag("--no-pin", o.no_pin, "Do not pin threads to CPUs");
    cli::add_duration(app, "--throughput-time", o.throughput_time,
                      "How long each throughput point runs (default 200ms)");
    auto* plot = app.add_option("--plot", o.plot, "Also write the chart as an SVG file")
                     ->type_name("FILE.svg");
    cli::mark_file(plot);
    app.add_option("--seed", o.seed, "Seed for the choice of ready fds and the order (default 1)")
        ->type_name("N");
}

Plan make_plan(const Options& o) {
    Plan p;
    for (const auto& name : split_list(o.backends)) {
        if (name == "all") {
            p.backends.assign(kAllBackends.begin(), kAllBackends.end());
            continue;
        }
        const auto b = backend_from_name(name);
        if (!b) throw ParseError(fmt::format("--backends: unknown backend '{}'", name));
        if (std::find(p.backends.begin(), p.backends.end(), *b) == p.backends.end())
            p.backends.push_back(*b);
    }
    const std::string fds = !o.fds.empty() ? o.fds : o.quick ? "100,1000" : "100,1000,10000";
    for (const auto& t : split_list(fds)) {
        std::uint64_t n = 0;
        try {
            n = parse_count(t);
        } catch (const ParseError&) {
            throw ParseError(fmt::format("--fds: bad count '{}'", t));
        }
        if (n == 0) throw ParseError(fmt::format("--fds: '{}' must be at least 1", t));
        p.fds.push_back(static_cast<std::size_t>(n));
    }
    std::sort(p.fds.begin(), p.fds.end());
    p.fds.erase(std::unique(p.fds.begin(), p.fds.end()), p.fds.end());
    const std::string active = !o.active.empty() ? o.active : o.quick ? "1" : "1,10,100";
    for (const auto& t : split_list(active)) {
        ActiveSpec a;
        try {
            if (!t.empty() && t.back() == '%') {
                a.fraction = parse_percent(t) / 100;
                if (!(a.fraction > 0) || a.fraction > 1) throw ParseError("range");
            } else {
                a.count = static_cast<std::size_t>(parse_count(t));
                if (a.count == 0) throw ParseError("zero");
            }
        } catch (const ParseError&) {
            throw ParseError(fmt::format("--active: bad value '{}' (a count from 1, or a "
                                         "percentage of N such as 10%)",
                                         t));
        }
        p.active.push_back(a);
    }
    const std::string modes = !o.modes.empty() ? o.modes
                              : o.quick        ? "ready,wakeup,ctl"
                                               : "ready,wakeup,ctl,throughput";
    for (const auto& t : split_list(modes)) {
        const auto mode = mode_from_name(t);
        if (!mode)
            throw ParseError(fmt::format("--mode: unknown mode '{}' (ready, wakeup, ctl, "
                                         "throughput)",
                                         t));
        if (std::find(p.modes.begin(), p.modes.end(), *mode) == p.modes.end())
            p.modes.push_back(*mode);
    }
    p.kind = *fd_kind_from_name(o.fd_kind);
    p.placement = o.placement == "high" ? Placement::high : Placement::spread;
    p.churn = o.churn;
    p.rounds = o.rounds ? o.rounds : o.quick ? 300 : 1000;
    p.warmup = o.warmup ? o.warmup : o.quick ? 30 : 100;
    p.throughput_time = o.throughput_time > 0 ? o.throughput_time
                        : o.quick             ? 50 * kNanosPerMilli
                                              : 200 * kNanosPerMilli;
    p.seed = o.seed;
    const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (!o.no_pin) {
        p.cpu = o.cpu >= 0 ? o.cpu : (o.cpu == -2 && cpus >= 2 ? 0 : -1);
        if (p.cpu >= 0 && cpus >= 2) p.producer_cpu = static_cast<int>((p.cpu + 1) % cpus);
    }
    return p;
}

/// Raises RLIMIT_NOFILE and refuses an N that does not fit, naming the largest one that does.
/// Returns the limit in effect.
FdLimit check_descriptors(const Plan& p) {
    const auto limit = raise_nofile_to_hard();
    const std::uint64_t open = open_fd_count().value_or(16);
    const std::uint64_t reserve = 32; // epoll/io_uring fds, the report's output
    const std::uint64_t free = limit.soft > open + reserve ? limit.soft - open - reserve : 0;
    const auto fit = max_sources(p.kind, free);
    const auto largest = p.fds.back();
    if (largest <= fit) return limit;
    throw ParseError(fmt::format(
        "--fds {}: needs {} descriptors with --fd-kind {} ({} each), and RLIMIT_NOFILE "
        "allows {} here ({} in use): the largest N that fits is {}{}",
        format_count(largest), format_count(largest * fds_per_source(p.kind)), fd_kind_name(p.kind),
        fds_per_source(p.kind), format_count(limit.soft), format_count(open), format_count(fit),
        p.kind == FdKind::eventfd ? ""
                                  : fmt::format(" (--fd-kind eventfd takes one each: {} fit)",
                                                format_count(max_sources(FdKind::eventfd, free)))));
}

nlohmann::json to_json(const PointResult& r) {
    return {{"mode", mode_name(r.key.mode)},
            {"backend", backend_name(r.key.backend)},
            {"fds", r.key.fds},
            {"active", r.key.active},
            {"op", r.key.op},
            {"samples", r.samples},
            {"dispatch", r.dispatch},
            {"missed", r.missed},
            {"duplicates", r.duplicates},
            {"spurious", r.spurious},
            {"events", r.events},
            {"seconds", r.seconds}};
}

PointResult from_json(const nlohmann::json& j) {
    PointResult r;
    r.key.mode = *mode_from_name(j.at("mode").get<std::string>());
    r.key.backend = *backend_from_name(j.at("backend").get<std::string>());
    r.key.fds = j.at("fds").get<std::size_t>();
    r.key.active = j.at("active").get<std::size_t>();
    r.key.op = j.at("op").get<std::string>();
    r.samples = j.at("samples").get<std::vector<double>>();
    r.dispatch = j.at("dispatch").get<std::vector<double>>();
    r.missed = j.at("missed").get<std::uint64_t>();
    r.duplicates = j.at("duplicates").get<std::uint64_t>();
    r.spurious = j.at("spurious").get<std::uint64_t>();
    r.events = j.at("events").get<std::uint64_t>();
    r.seconds = j.at("seconds").get<double>();
    return r;
}

void merge(std::map<PointKey, PointResult>& all, PointResult&& r) {
    auto [it, fresh] = all.try_emplace(r.key, r);
    if (fresh) return;
    auto& a = it->second;
    a.samples.insert(a.samples.end(), r.samples.begin(), r.samples.end());
    a.dispatch.insert(a.dispatch.end(), r.dispatch.begin(), r.dispatch.end());
    a.missed += r.missed;
    a.duplicates += r.duplicates;
    a.spurious += r.spurious;
    a.events += r.events;
    a.seconds += r.seconds;
}

/// Every process runs every point; their samples are pooled per point.
std::map<PointKey, PointResult> measure(const Plan& plan, std::uint64_t processes, double clock,
                                        std::vector<std::string>& notes) {
    std::map<PointKey, PointResult> all;
    const std::function<bool()> stop = [] { return cli::interrupted(); };
    if (processes <= 1) {
        run_points(
            plan, clock, 1, [&](PointResult&& r) { merge(all, std::move(r)); }, stop);
        return all;
    }
    for (std::uint64_t p = 0; p < processes && !cli::interrupted(); ++p) {
        WorkerProcesses group;
        group.spawn([&](WorkerChannel& ch) {
            cli::reset_after_fork();
            run_points(
                plan, clock, p + 1, [&](PointResult&& r) { ch.result(to_json(r).dump()); },
                [&] { return ch.stop_requested(); });
            return 0;
        });
        // A child runs for minutes at most; the grace only bounds a hung one. Ctrl-C: the
        // child stops within its current point (the runner asks every 64 rounds).
        const auto outcomes = group.wait_all(
            3600 * kNanosPerSecond,
            [&](const WorkerMessage& m) {
                if (m.kind == WorkerMessageKind::result)
                    merge(all, from_json(nlohmann::json::parse(m.payload)));
            },
            stop);
        if (const auto& o = outcomes.at(0); !o.ok())
            throw std::runtime_error(o.how == WorkerOutcome::How::failed ? o.error : o.describe());
    }
    if (cli::interrupted()) notes.push_back("interrupted: the points measured so far are shown");
    return all;
}

Field ns_field(const char* key, const char* title) {
    return {key, title, Unit::ns};
}

int run(const Options& o) {
    cli::install_interrupt_handlers();
    const Plan requested = make_plan(o);
    const auto nofile = check_descriptors(requested);
    const std::uint64_t processes = o.processes ? o.processes : o.quick ? 1 : 3;

    Report report;
    report.tool = kInfo.name;
    report.version = kVersion;
    // Which backends work here: the others are reported as skipped, never a failure.
    Plan plan = requested;
    plan.backends.clear();
    auto& backends = report.section("backends", "Backends", Section::Kind::table);
    backends.fields = {{"backend", "backend", Unit::none},
                       {"status", "status", Unit::none},
                       {"measured", "ready mode times", Unit::none},
                       {"detail", "detail", Unit::none}};
    for (const auto b : requested.backends) {
        const auto probe = probe_backend(b);
        if (probe.available) plan.backends.push_back(b);
        backends.add_row({Cell(std::string(backend_name(b))),
                          Cell(std::string(probe.available ? "measured" : "skipped"),
                               probe.available ? Style::plain : Style::warn),
                          Cell(std::string(measured_call(b))), Cell(probe.reason)});
    }
    if (plan.backends.empty()) throw ParseError("--backends: none of them is available here");

    const auto base = measure_baselines(20'000);
    std::vector<std::string> notes;
    auto results = measure(plan, processes, base.clock, notes);

    // Environment: so numbers can be compared across machines.
    const auto info = read_system_info();
    auto& env = report.section("environment", "Environment", Section::Kind::record);
    env.add({"kernel", "kernel", Unit::none}, Cell(info.kernel));
    env.add({"cpu", "CPU", Unit::none}, Cell(info.cpu_model));
    env.add({"cpus", "CPUs online", Unit::count},
            Cell(static_cast<std::uint64_t>(info.online_cpus)));
    env.add({"virtualization", "virtualisation", Unit::none}, Cell(info.virtualization));
    env.add({"mitigations", "mitigations", Unit::none}, Cell(cpu_mitigations()));
    env.add({"nofile", "RLIMIT_NOFILE", Unit::count}, Cell(nofile.soft));
    env.add({"fd_kind", "fd kind", Unit::none}, Cell(std::string(fd_kind_name(plan.kind))));
    env.add({"placement", "placement", Unit::none},
            Cell(std::string(plan.placement == Placement::high ? "high" : "spread")));
    env.add({"churn", "churn", Unit::none}, Cell(plan.churn));
    env.add({"pinned_cpu", "pinned to CPU", Unit::none},
            Cell(plan.cpu >= 0 ? std::to_string(plan.cpu) : std::string("no")));
    env.add({"processes", "processes", Unit::count}, Cell(processes));
    env.add({"rounds", "rounds per point and process", Unit::count},
            Cell(static_cast<std::uint64_t>(plan.rounds)));

    auto& bl = report.section("baselines", "Baselines (median per call)", Section::Kind::record);
    bl.add(ns_field("clock_ns", "clock_gettime (subtracted)"), Cell(base.clock));
    bl.add(ns_field("clock_resolution_ns", "clock resolution"), Cell(base.clock_resolution));
    bl.add(ns_field("null_syscall_ns", "null syscall (getppid)"), Cell(base.null_syscall));
    bl.add(ns_field("empty_poll_ns", "ppoll, no fds, timeout 0"), Cell(base.empty_poll));
    bl.add(ns_field("empty_epoll_ns", "epoll_wait, empty set, timeout 0"), Cell(base.empty_epoll));

    // Summaries, and the best median per (mode, N, K, op) for the ratios.
    std::map<PointKey, Summary> sums, dispatch_sums;
    std::map<std::tuple<Mode, std::size_t, std::size_t, std::string>, double> best;
    std::map<std::string, double> metrics;
    std::uint64_t errors = 0;
    double ci_max = 0;
    nlohmann::json raw = nlohmann::json::array();
    for (auto& [key, r] : results) {
        errors += r.errors();
        raw.push_back(to_json(r));
        auto s = summarize(r.samples); // sorts the samples: after they went to JSON
        // Below the clock's step a median is not a measurement: it is shown as the step (an
        // upper bound) and said so, never as 0 (which would make every ratio 0x).
        if (!r.samples.empty() && s.median < base.clock_resolution) {
            s.median = std::max(s.median, base.clock_resolution);
            notes.push_back(fmt::format("{} {} N={} K={}: below the clock's resolution ({}): "
                                        "shown as {}, an upper bound",
                                        mode_name(key.mode), backend_name(key.backend), key.fds,
                                        key.active, format_duration(base.clock_resolution),
                                        format_duration(base.clock_resolution)));
        }
        ci_max = std::max(ci_max, s.ci_relative());
        const auto slot = std::make_tuple(key.mode, key.fds, key.active, key.op);
        const double v = key.mode == Mode::throughput ? r.ns_per_event() : s.median;
        if (v > 0 && (!best.count(slot) || v < best[slot])) best[slot] = v;
        sums[key] = s;
        dispatch_sums[key] = summarize(r.dispatch);
    }
    report.extra["samples"] = std::move(raw);
    metrics["errors"] = static_cast<double>(errors);
    metrics["ci_max_pct"] = ci_max * 100;

    // Built here and added to the report at the end (the report's vector would move them).
    std::map<Mode, Section> mode_sections;
    auto table = [&](Mode mode, const char* title) -> Section* {
        if (std::find(plan.modes.begin(), plan.modes.end(), mode) == plan.modes.end())
            return nullptr;
        auto& sec = mode_sections[mode];
        sec.name = std::string(mode_name(mode));
        sec.title = title;
        sec.fields = {{"backend", "backend", Unit::none}, {"fds", "N", Unit::count}};
        if (mode == Mode::ready || mode == Mode::throughput)
            sec.fields.push_back({"active", "K", Unit::count});
        if (mode == Mode::ctl) sec.fields.push_back({"op", "op", Unit::none});
        return &sec;
    };
    Section* ready = table(Mode::ready, "ready: one kernel call (timeout 0) with K of N fds ready");
    Section* wakeup = table(Mode::wakeup, "wakeup: write on another CPU to return from a "
                                          "blocking wait");
    Section* ctl = table(Mode::ctl, "ctl: one registration change among N");
    Section* tput = table(Mode::throughput, "throughput: rounds of K events, everything "
                                            "included");
    for (Section* sec : {ready, wakeup, ctl}) {
        if (!sec) continue;
        sec->fields.push_back(ns_field("median_ns", "median"));
        sec->fields.push_back(ns_field("p99_ns", "p99"));
        sec->fields.push_back({"ci_pct", "95% CI ±", Unit::percent});
        if (sec == ready) {
            sec->fields.push_back(ns_field("per_event_ns", "per event"));
            sec->fields.push_back(ns_field("dispatch_ns", "+ dispatch"));
        }
        sec->fields.push_back({"vs_best", "vs best", Unit::ratio});
        sec->fields.push_back({"samples", "samples", Unit::count});
        if (sec != ctl) sec->fields.push_back({"errors", "errors", Unit::count});
    }
    if (tput) {
        tput->fields.push_back({"events_per_s", "events/s", Unit::per_second});
        tput->fields.push_back(ns_field("per_event_ns", "per event"));
        tput->fields.push_back({"vs_best", "vs best", Unit::ratio});
        tput->fields.push_back({"errors", "errors", Unit::count});
    }
    auto ratio = [](double v, double b) { return b > 0 ? Cell(v / b) : Cell(Value{}); };
    std::map<Backend, std::vector<ModelPoint>> model_points;
    std::map<Backend, Series> chart;
    const std::size_t k_min = [&] {
        std::size_t k = SIZE_MAX;
        for (const auto& [key, r] : results)
            if (key.mode == Mode::ready) k = std::min(k, key.active);
        return k;
    }();
    for (const auto& [key, r] : results) {
        const auto& s = sums[key];
        const auto slot = std::make_tuple(key.mode, key.fds, key.active, key.op);
        const auto name = std::string(backend_name(key.backend));
        const std::uint64_t errs = r.errors();
        Row row{Cell(name), Cell(static_cast<std::uint64_t>(key.fds))};
        if (key.mode == Mode::ready || key.mode == Mode::throughput)
            row.push_back(Cell(static_cast<std::uint64_t>(key.active)));
        if (key.mode == Mode::ctl) row.push_back(Cell(key.op));
        if (key.mode == Mode::throughput) {
            const double per = r.ns_per_event();
            row.push_back(Cell(r.seconds > 0 ? static_cast<double>(r.events) / r.seconds : 0.0));
            row.push_back(Cell(per));
            row.push_back(ratio(per, best[slot]));
            row.push_back(Cell(errs, errs ? Style::bad : Style::plain));
            tput->add_row(std::move(row));
            continue;
        }
        const Style ci_style = s.ci_relative() > 0.05 ? Style::warn : Style::plain;
        row.push_back(Cell(s.median));
        row.push_back(Cell(s.p99));
        row.push_back(Cell(s.ci_relative() * 100, ci_style));
        if (key.mode == Mode::ready) {
            row.push_back(
                Cell(s.median / static_cast<double>(std::max<std::size_t>(key.active, 1))));
            row.push_back(Cell(dispatch_sums[key].median));
        }
        row.push_back(ratio(s.median, best[slot]));
        row.push_back(Cell(static_cast<std::uint64_t>(s.n)));
        if (key.mode != Mode::ctl) row.push_back(Cell(errs, errs ? Style::bad : Style::plain));
        Section* sec = key.mode == Mode::ready ? ready : key.mode == Mode::wakeup ? wakeup : ctl;
        sec->add_row(std::move(row));
        if (key.mode == Mode::ready) {
            model_points[key.backend].push_back(
                {static_cast<double>(key.fds), static_cast<double>(key.active), s.median});
            if (key.active == k_min) {
                auto& series = chart[key.backend];
                series.name = name;
                series.xy.emplace_back(static_cast<double>(key.fds), s.median);
                metrics[name + "_ns"] = s.median; // the last (largest) N wins: keys are sorted
            }
        }
    }
    const bool have_ready = ready != nullptr;
    for (auto& [mode, sec] : mode_sections) // std::map: ready, wakeup, ctl, throughput
        report.sections.push_back(std::move(sec));
    if (have_ready) report.primary = "ready";

    // The model t = a + b·N + c·K per backend, and where the lines cross.
    std::map<Backend, Model> models;
    if (have_ready) {
        auto& m = report.section("model", "Model: t = a + b·N + c·K (ready mode, least squares)",
                                 Section::Kind::table);
        m.fields = {{"backend", "backend", Unit::none},
                    ns_field("a_ns", "a (fixed)"),
                    {"ns_per_fd", "b: ns per watched fd", Unit::none},
                    {"ns_per_ready", "c: ns per ready fd", Unit::none},
                    {"r2", "R²", Unit::none}};
        for (const auto& [b, pts] : model_points)
            if (const auto fit = fit_model(pts)) {
                models[b] = *fit;
                m.add_row({Cell(std::string(backend_name(b))), Cell(fit->a),
                           Cell(fmt::format("{:.2f}", fit->b)), Cell(fmt::format("{:.1f}", fit->c)),
                           Cell(fmt::format("{:.3f}", fit->r2))});
            }
        if (m.rows.empty()) report.sections.pop_back();
        for (const auto scan : {Backend::select, Backend::poll})
            if (models.count(scan) && models.count(Backend::epoll)) {
                const auto& x = models[scan];
                const auto& e = models[Backend::epoll];
                if (const auto n = crossover(x, e, static_cast<double>(k_min)); n && x.b > e.b)
                    notes.push_back(fmt::format(
                        "{} beats epoll below N≈{} (K={}), from the fitted lines: {:.1f} ns per "
                        "watched fd against {:.2f}",
                        backend_name(scan), format_count(static_cast<std::uint64_t>(*n)), k_min,
                        x.b, e.b));
                else if (x.b > e.b)
                    notes.push_back(fmt::format("epoll is cheaper than {} at every N measured "
                                                "(K={})",
                                                backend_name(scan), k_min));
            }
    }
    if (ci_max > 0.05)
        notes.push_back(fmt::format("the widest 95% CI of a median is ±{:.1f}%: the machine was "
                                    "busy, or the points need more --rounds or --processes",
                                    ci_max * 100));
    if (errors > 0)
        notes.push_back(fmt::format("{} events were missed, duplicated or spurious: see the "
                                    "errors columns",
                                    format_count(errors)));
    for (auto& n : notes)
        report.notes.push_back(std::move(n));
    report.checks = evaluate(o.common.checks, metrics);
    report.interrupted = cli::interrupted();

    std::vector<Series> series;
    for (auto& [b, s] : chart)
        series.push_back(std::move(s));
    if (!o.plot.empty()) {
        std::ofstream out(o.plot);
        out << svg_chart(series, fmt::format("ready mode, K={}: time per wait vs watched fds "
                                             "(netdx-mux, {})",
                                             k_min, info.kernel));
        if (!out) throw std::system_error(errno, std::generic_category(), "write " + o.plot);
        report.notes.push_back("chart written to " + o.plot);
    }
    int code = cli::emit(report, o.common);
    if (o.common.format == Format::table && !series.empty())
        cli::write_stdout("\n" + text_chart(series, fmt::format("ready mode, K={}: median per "
                                                                "wait",
                                                                k_min)));
    if (code == 0 && errors > 0) code = to_int(ExitCode::check_failed);
    if (cli::interrupted()) return to_int(ExitCode::interrupted);
    return code;
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    return cli::run_main(
        argc, argv, kInfo, [&](CLI::App& app) { setup(app, o); }, [&] { return run(o); });
}
