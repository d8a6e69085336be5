// netdx-merge: the agents' results of one distributed run made into the run's result,
// exactly (merge.hpp), reported as one run of the tool is: table, JSON (the tool's schema,
// with an "agents" table beside it) or CSV, and --fail-if on the merged numbers.
#include <cctype>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <netdx/report/result.hpp>
#include <netdx/sys/parse_error.hpp>
#include <netdx/version.hpp>

#include "../flood/metrics.hpp"
#include "../probe/metrics.hpp"
#include "cli.hpp"
#include "merge.hpp"
#include "tool_registry.hpp"

namespace {

using namespace netdx;
using json = nlohmann::json;

/// What --fail-if may name: netdx-probe's metrics and netdx-flood's (which apply is known once
/// the files are read).
std::vector<MetricInfo> all_metrics() {
    std::vector<MetricInfo> out;
    std::set<std::string> names;
    for (const auto* catalog : {&probe::kMetrics, &flood::kMetrics})
        for (const auto& m : *catalog)
            if (names.insert(m.name).second) out.push_back(m);
    return out;
}

const cli::ToolInfo kInfo{
    .name = "netdx-merge",
    .summary = std::string(registry::tool("netdx-merge").summary),
    .metrics = all_metrics(),
    .ndjson = false,
    .csv = true,
    .subcommands = {},
    .delegate_prefix = {},
    .fail_if_example = "p99>2ms",
};

struct Options {
    cli::CommonOptions common;
    std::vector<std::string> files;
    bool partial = false;
};

void setup(CLI::App& app, Options& o) {
    cli::add_common_options(app, o.common, kInfo);
    cli::mark_file(app.add_option("files", o.files,
                                  "JSON results of netdx-probe or netdx-flood (--json), one per "
                                  "agent or shard of one run")
                       ->type_name("FILE"));
    app.add_flag("--partial", o.partial,
                 "Merge even when shards are missing (a stage of a merge; the run block's "
                 "shards_merged says which are in)");
}

Unit unit_of_key(const std::string& key) {
    if (key.ends_with("_ns")) return Unit::ns;
    if (key.ends_with("_bytes")) return Unit::bytes;
    if (key.ends_with("_per_s")) return Unit::per_second;
    if (key.ends_with("_percent") || key == "percent") return Unit::percent;
    return Unit::none;
}

std::string title_of_key(const std::string& key) {
    std::string t = key;
    for (const char* suffix : {"_ns", "_bytes", "_per_s", "_percent"})
        if (t.ends_with(suffix)) t.resize(t.size() - std::string_view(suffix).size());
    // "connect_p99_9" -> "connect p99.9": a percentile's digits keep their point.
    for (std::size_t i = 0; i < t.size(); ++i)
        if (t[i] == '_')
            t[i] = i > 0 && i + 1 < t.size() &&
                           std::isdigit(static_cast<unsigned char>(t[i - 1])) &&
                           std::isdigit(static_cast<unsigned char>(t[i + 1]))
                       ? '.'
                       : ' ';
    return t;
}

Cell cell_of(const json& v) {
    if (v.is_null()) return Cell(Value{});
    if (v.is_boolean()) return Cell(v.get<bool>());
    if (v.is_number_unsigned()) return Cell(v.get<std::uint64_t>());
    if (v.is_number_integer()) return Cell(v.get<std::int64_t>());
    if (v.is_number_float()) return Cell(v.get<double>());
    if (v.is_string()) return Cell(v.get<std::string>());
    return Cell(v.dump());
}

Field field_of(const std::string& key, const json& sample) {
    Unit u = unit_of_key(key);
    if (u == Unit::none && (sample.is_number_unsigned() || sample.is_number_integer()))
        u = Unit::count;
    return {key, title_of_key(key), u};
}

void add_record(Report& report, const std::string& name, const std::string& title,
                const json& obj) {
    auto& s = report.section(name, title, Section::Kind::record);
    for (const auto& [k, v] : obj.items())
        s.add(field_of(k, v), cell_of(v));
}

void add_table(Report& report, const std::string& name, const std::string& title, const json& rows,
               bool transpose = false) {
    auto& s = report.section(name, title, Section::Kind::table);
    s.transpose = transpose;
    std::vector<std::string> keys;
    std::set<std::string> seen;
    for (const auto& r : rows)
        for (const auto& [k, v] : r.items())
            if (seen.insert(k).second) {
                keys.push_back(k);
                s.fields.push_back(field_of(k, v));
            }
    for (const auto& r : rows) {
        Row row;
        for (const auto& k : keys)
            row.push_back(cell_of(r.value(k, json(nullptr))));
        s.add_row(std::move(row));
    }
}

int run(const Options& o) {
    std::vector<merge::Input> inputs;
    for (const auto& f : o.files)
        inputs.push_back(merge::read_input(f));
    auto merged = merge::merge(inputs, o.common.checks, o.partial);
    // The checks must name this tool's metrics.
    const auto& catalog = merged.tool == "netdx-probe" ? probe::kMetrics : flood::kMetrics;
    std::vector<Threshold> checks;
    for (const auto& c : o.common.checks)
        checks.push_back(parse_threshold(c.text, catalog));

    Report report;
    report.tool = kInfo.name;
    report.version = kVersion;
    const bool probe = merged.tool == "netdx-probe";
    if (probe) {
        add_record(report, "target", "", merged.doc["target"]);
        add_table(report, "results", "Merged round trips (RTT)", merged.doc["results"], true);
        add_record(report, "environment", "Environment", merged.doc["environment"]);
        report.primary = "results";
    } else {
        add_record(report, "flood", "netdx-flood (merged)", merged.doc["flood"]);
        add_record(report, "result", "Result", merged.doc["result"]);
        add_table(report, "failures", "Failures by call and errno", merged.doc["failures"]);
        add_table(report, "limits", "Limits in play (the most loaded agent's)",
                  merged.doc["limits"]);
    }
    auto& agents = report.section("agents", "Agents", Section::Kind::table);
    agents.fields = {
        {"agent", "agent", Unit::none},
        {"shard", "shard", Unit::none},
        {"start_lateness_ns", "late by", Unit::ns},
        {"clock_max_error_ns", "clock error (max)", Unit::ns},
        {"clock_synchronized", "NTP synced", Unit::none},
        {probe ? "count" : "established", probe ? "count" : "established", Unit::count},
        {probe ? "p99_ns" : "connect_p99_ns", probe ? "p99" : "connect p99", Unit::ns},
        {"file", "file", Unit::none}};
    for (const auto& a : merged.agents)
        agents.add_row({cell_of(a.agent), cell_of(a.shard), cell_of(a.start_lateness_ns),
                        cell_of(a.clock_max_error_ns), Cell(a.clock_synchronized), cell_of(a.count),
                        cell_of(a.p99_ns), cell_of(a.file)});
    if (!probe) report.primary = "agents";
    report.extra["tool_merged"] = merged.tool;
    report.extra["histograms"] = merged.doc["histograms"];
    for (const char* key : {"raw", "target_endpoints", "source_addresses"})
        if (merged.doc.contains(key)) report.extra[key] = merged.doc[key];
    report.extra["intervals"] = merged.doc["intervals"];
    report.notes = merged.notes;
    for (const auto& in : inputs)
        if (in.doc.value("interrupted", false))
            report.notes.push_back(in.path + " was interrupted: it holds what that agent measured "
                                             "until then");
    for (const auto& [label, metrics] : merged.metrics) {
        auto results = evaluate(checks, metrics);
        if (!label.empty())
            for (auto& c : results)
                c.threshold.text = fmt::format("{} ({})", c.threshold.text, label);
        report.checks.insert(report.checks.end(), results.begin(), results.end());
    }
    // The run block is the merged run's: its id, every agent, the shared start.
    auto& run = cli::current_run();
    run.id = merged.run.value("id", run.id);
    run.agent = merged.run.value("agent", run.agent);
    run.start_ns = merged.run.value("start_ns", run.start_ns);
    run.shard.reset();
    if (merged.run.value("start_at_ns", json(nullptr)).is_number())
        run.start_at_ns = merged.run["start_at_ns"].get<Nanos>();
    if (merged.run.value("start_lateness_ns", json(nullptr)).is_number())
        run.start_lateness_ns = merged.run["start_lateness_ns"].get<Nanos>();
    run.clock.synchronized = merged.run["clock"].value("synchronized", false);
    run.agents = merged.agents.size();
    if (const auto& sm = merged.run["shards_merged"]; sm.is_object()) {
        run.shards_merged_count = sm.value("count", 0U);
        run.shards_merged = sm.value("indices", std::vector<unsigned>{});
    }
    if (merged.run["clock"].value("max_error_ns", json(nullptr)).is_number())
        run.clock.max_error_ns = merged.run["clock"]["max_error_ns"].get<Nanos>();
    return cli::emit(report, o.common);
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    return cli::run_main(
        argc, argv, kInfo, [&](CLI::App& app) { setup(app, o); }, [&] { return run(o); });
}
