// netdx-doctor: what matters for network testing on this machine, one screen.
#include <map>

#include <CLI/CLI.hpp>

#include <netdx/report/result.hpp>
#include <netdx/version.hpp>

#include "checks.hpp"
#include "cli.hpp"
#include "tool_registry.hpp"

namespace {

using namespace netdx;

const cli::ToolInfo kInfo{
    .name = "netdx-doctor",
    .summary = std::string(registry::tool("netdx-doctor").summary),
    .metrics =
        {
            {"warnings", Unit::count, "number of checks that found a problem"},
            {"nofile_soft", Unit::count, "RLIMIT_NOFILE soft limit"},
            {"nofile_hard", Unit::count, "RLIMIT_NOFILE hard limit"},
            {"ephemeral_ports", Unit::count, "ports in ip_local_port_range"},
            {"somaxconn", Unit::count, "net.core.somaxconn"},
        },
    .ndjson = true,
    .csv = true,
    .subcommands = {},
    .delegate_prefix = {},
    .fail_if_example = "warnings>0",
};

struct Options {
    cli::CommonOptions common;
    std::string root = "/"; ///< hidden: replay a recorded /proc and /sys tree
};

void setup(CLI::App& app, Options& o) {
    cli::add_common_options(app, o.common, kInfo);
    app.add_option("--root", o.root,
                   "Read /proc and /sys below this directory (for replaying fixtures)")
        ->group("") // hidden: a test seam, not a user feature
        ->check(CLI::ExistingDirectory);
}

Style style_of(doctor::Status s) {
    switch (s) {
    case doctor::Status::ok:
        return Style::good;
    case doctor::Status::warn:
        return Style::bad;
    case doctor::Status::absent:
        return Style::dim;
    case doctor::Status::info:
        return Style::plain;
    }
    return Style::plain;
}

int run(const Options& o) {
    doctor::Environment env{SysfsReader(o.root), o.root == "/"};
    const auto checks = doctor::run_checks(env);

    Report report;
    report.tool = kInfo.name;
    report.version = kVersion;
    report.primary = "machine";
    auto& table = report.section("machine", "netdx doctor: network testing on this machine",
                                 Section::Kind::table);
    table.fields = {
        {"status", "status", Unit::none},        {"check", "check", Unit::none},
        {"value", "value", Unit::none},          {"why", "why it matters", Unit::none},
        {"fix", "fix", Unit::none, true},        {"key", "key", Unit::none, false, true},
        {"raw", "raw", Unit::none, false, true},
    };
    std::map<std::string, double> metrics;
    std::uint64_t warnings = 0;
    for (const auto& c : checks) {
        if (c.status == doctor::Status::warn) ++warnings;
        if (c.number) metrics[c.key] = *c.number;
        table.add_row({Cell(std::string(doctor::status_name(c.status)), style_of(c.status)),
                       Cell(c.title), Cell(c.value), Cell(c.why), Cell(c.fix), Cell(c.key),
                       c.number ? Cell(*c.number) : Cell(Value{})});
    }
    metrics["warnings"] = static_cast<double>(warnings);
    auto& summary = report.section("summary", "", Section::Kind::record);
    summary.add({"warnings", "warnings", Unit::count},
                Cell(warnings, warnings ? Style::bad : Style::good));
    summary.add({"checks", "checks", Unit::count}, Cell(static_cast<std::uint64_t>(checks.size())));
    report.checks = evaluate(o.common.checks, metrics);
    return cli::emit(report, o.common);
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    return cli::run_main(
        argc, argv, kInfo, [&](CLI::App& app) { setup(app, o); }, [&] { return run(o); });
}
