// netdx-compare: a CI regression gate. Two results of netdx-probe or netdx-flood (one run's,
// or merged), metric by metric: the change and its 95% confidence interval from the
// histograms (order statistics for percentiles, quantile_interval.hpp; the normal
// approximation for the mean), so two runs of one build read "no significant change" and
// a real regression reads as one, with how sure it is.
//
//   change of a percentile:  point  new/base − 1
//                            CI     [new.low/base.high − 1, new.high/base.low − 1]
//   --fail-if 'p99>+10%'     fails when the whole CI is above +10%
//   --fail-if 'rate<-5%'     fails when the whole CI is below −5%
#include <algorithm>
#include <cmath>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <netdx/measure/quantile_interval.hpp>
#include <netdx/report/result.hpp>
#include <netdx/report/units.hpp>
#include <netdx/sys/parse_error.hpp>
#include <netdx/version.hpp>

#include "cli.hpp"
#include "merge.hpp"
#include "tool_registry.hpp"

namespace {

using namespace netdx;
using json = nlohmann::json;

const cli::ToolInfo kInfo{
    .name = "netdx-compare",
    .summary = std::string(registry::tool("netdx-compare").summary),
    .metrics = {},
    .ndjson = false,
    .csv = true,
    .subcommands = {},
    .delegate_prefix = {},
    .fail_if_example = {},
};

struct Options {
    cli::CommonOptions common;
    std::string base, fresh;
    std::vector<std::string> checks;
    bool markdown = false;
    std::string percentiles = "50,90,99,99.9";
};

void setup(CLI::App& app, Options& o) {
    cli::add_common_options(app, o.common, kInfo);
    cli::mark_file(app.add_option("base", o.base, "The result to compare against (main's)")
                       ->type_name("BASE"));
    cli::mark_file(app.add_option("new", o.fresh, "The result under test")->type_name("NEW"));
    app.add_option("--fail-if", o.checks,
                   "Exit 1 when a change clears this threshold with 95% confidence: "
                   "'p99>+10%', 'mean>+50us', 'rate<-5%', 'errors>+0'; repeatable")
        ->type_name("CHECK")
        ->group("Checks");
    app.add_option("-p,--percentiles", o.percentiles,
                   "Percentiles compared (default 50,90,99,99.9)")
        ->type_name("LIST");
    app.add_flag("--markdown", o.markdown,
                 "Print a Markdown table (GitHub job summaries) instead of the human table");
}

/// One compared metric.
struct Change {
    std::string scope;  ///< "" or "size 64"
    std::string metric; ///< "p99", "connect_p99", "mean", "errors"
    Unit unit = Unit::ns;
    double base = 0, fresh = 0;
    bool has_ci = false;
    double ci_low = 0, ci_high = 0;   ///< relative change (0.05 = +5%) bounds
    double abs_low = 0, abs_high = 0; ///< the same bounds in the metric's unit
    bool has_values = true;
    [[nodiscard]] double relative() const { return base != 0 ? fresh / base - 1 : 0; }
    [[nodiscard]] std::string verdict() const {
        if (!has_values) return "not measured";
        if (!has_ci) return fresh == base ? "same" : (fresh > base ? "higher" : "lower");
        if (ci_low > 0) return "higher (significant)";
        if (ci_high < 0) return "lower (significant)";
        return "no significant change";
    }
};

std::vector<double> parse_percentiles(const std::string& text) {
    std::vector<double> out;
    std::size_t at = 0;
    while (at <= text.size()) {
        const auto comma = text.find(',', at);
        const auto token =
            text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
        double p = 0;
        try {
            std::size_t used = 0;
            p = std::stod(token, &used);
            if (used != token.size()) throw std::invalid_argument("");
        } catch (const std::exception&) {
            throw ParseError(
                fmt::format("--percentiles: bad percentile '{}' in '{}'", token, text));
        }
        if (!(p > 0 && p < 100))
            throw ParseError(fmt::format("--percentiles: {} is not between 0 and 100", token));
        out.push_back(p);
        if (comma == std::string::npos) break;
        at = comma + 1;
    }
    return out;
}

void add_distribution(std::vector<Change>& out, const std::string& scope, const std::string& prefix,
                      const Histogram& base, const Histogram& fresh,
                      const std::vector<double>& percentiles) {
    for (double p : percentiles) {
        Change c{scope, prefix + percentile_key(p)};
        c.has_values = !base.empty() && !fresh.empty();
        if (c.has_values) {
            const auto b = quantile_interval(base, p);
            const auto n = quantile_interval(fresh, p);
            c.base = static_cast<double>(b.value);
            c.fresh = static_cast<double>(n.value);
            c.has_ci = b.low > 0;
            if (c.has_ci) {
                c.ci_low = static_cast<double>(n.low) / static_cast<double>(b.high) - 1;
                c.ci_high = static_cast<double>(n.high) / static_cast<double>(b.low) - 1;
                c.abs_low = static_cast<double>(n.low) - static_cast<double>(b.high);
                c.abs_high = static_cast<double>(n.high) - static_cast<double>(b.low);
            }
        }
        out.push_back(c);
    }
    Change mean{scope, prefix + "mean"};
    mean.has_values = !base.empty() && !fresh.empty();
    if (mean.has_values) {
        mean.base = base.mean();
        mean.fresh = fresh.mean();
        const double bh = 1.96 * base.stddev() / std::sqrt(static_cast<double>(base.count()));
        const double nh = 1.96 * fresh.stddev() / std::sqrt(static_cast<double>(fresh.count()));
        mean.has_ci = mean.base - bh > 0;
        if (mean.has_ci) {
            mean.ci_low = (mean.fresh - nh) / (mean.base + bh) - 1;
            mean.ci_high = (mean.fresh + nh) / (mean.base - bh) - 1;
            mean.abs_low = (mean.fresh - nh) - (mean.base + bh);
            mean.abs_high = (mean.fresh + nh) - (mean.base - bh);
        }
    }
    out.push_back(mean);
    Change mx{scope, prefix + "max", Unit::ns, static_cast<double>(base.max()),
              static_cast<double>(fresh.max())};
    mx.has_values = !base.empty() && !fresh.empty();
    out.push_back(mx);
}

void add_count(std::vector<Change>& out, const std::string& scope, const std::string& metric,
               const json& base, const json& fresh, Unit unit = Unit::count) {
    Change c{scope, metric, unit};
    c.has_values = base.is_number() && fresh.is_number();
    if (c.has_values) {
        c.base = base.get<double>();
        c.fresh = fresh.get<double>();
    }
    out.push_back(c);
}

std::vector<Change> compare(const merge::Input& base, const merge::Input& fresh,
                            const std::vector<double>& percentiles,
                            std::vector<std::string>& notes) {
    const auto tool = merge::tool_of(base.doc);
    if (tool != "netdx-probe" && tool != "netdx-flood")
        throw ParseError(fmt::format("cannot compare: {} is a {} result; netdx compare takes "
                                     "netdx-probe and netdx-flood results",
                                     base.path, tool.empty() ? "non-netdx" : tool));
    if (merge::tool_of(fresh.doc) != tool)
        throw ParseError(fmt::format("cannot compare: {} is a {} result and {} a {} result",
                                     base.path, tool, fresh.path, merge::tool_of(fresh.doc)));
    for (const auto* in : {&base, &fresh})
        if (!in->doc.value("error", json(nullptr)).is_null())
            throw ParseError(
                fmt::format("cannot compare: {} is an error report, not a result", in->path));
    std::vector<Change> out;
    if (tool == "netdx-probe") {
        for (const char* key : {"mode", "protocol"})
            if (base.doc["target"].value(key, json()) != fresh.doc["target"].value(key, json()))
                notes.push_back(fmt::format("the runs differ in {}: {} and {}", key,
                                            base.doc["target"].value(key, json()).dump(),
                                            fresh.doc["target"].value(key, json()).dump()));
        const auto& bh = base.doc.value("histograms", json::array());
        const bool sweep = bh.size() > 1;
        for (const auto& b : bh) {
            const json size = b.value("size_bytes", json(nullptr));
            const json* f = nullptr;
            for (const auto& e : fresh.doc["histograms"])
                if (e.value("size_bytes", json(nullptr)) == size) f = &e;
            if (!f) {
                notes.push_back(fmt::format("size {} is only in {}", size.dump(), base.path));
                continue;
            }
            const std::string scope = sweep ? fmt::format("size {}", size.dump()) : "";
            const auto hb = merge::histogram_of(base, b.at("rtt"), "rtt");
            const auto hf = merge::histogram_of(fresh, f->at("rtt"), "rtt");
            add_distribution(out, scope, "", hb, hf, percentiles);
            const json* rb = nullptr;
            const json* rf = nullptr;
            for (const auto& r : base.doc["results"])
                if (r.value("size_bytes", json()) == size) rb = &r;
            for (const auto& r : fresh.doc["results"])
                if (r.value("size_bytes", json()) == size) rf = &r;
            if (rb && rf) {
                add_count(out, scope, "count", rb->value("count", json()),
                          rf->value("count", json()));
                add_count(out, scope, "errors", rb->value("errors", json()),
                          rf->value("errors", json()));
                if (rb->contains("loss_percent"))
                    add_count(out, scope, "loss", rb->value("loss_percent", json()),
                              rf->value("loss_percent", json()), Unit::percent);
            }
        }
    } else {
        const auto hb =
            merge::histogram_of(base, base.doc["histograms"]["connect_latency"], "connect_latency");
        const auto hf = merge::histogram_of(fresh, fresh.doc["histograms"]["connect_latency"],
                                            "connect_latency");
        add_distribution(out, "", "connect_", hb, hf, percentiles);
        const auto& rb = base.doc["result"];
        const auto& rf = fresh.doc["result"];
        for (const char* k : {"established", "failed", "timed_out"})
            add_count(out, "", k, rb.value(k, json()), rf.value(k, json()));
        for (const char* k : {"time_to_50", "time_to_90", "time_to_100"})
            add_count(out, "", k, rb.value(std::string(k) + "_ns", json()),
                      rf.value(std::string(k) + "_ns", json()), Unit::ns);
        add_count(out, "", "rate", rb.value("rate_per_s", json()), rf.value("rate_per_s", json()),
                  Unit::per_second);
    }
    return out;
}

/// The one spelling of a metric, as compare names its rows: "p99.9" and "p99_9" are
/// "p99_9", "connect_p99.9" is "connect_p99_9"; with the percentile it names, if any.
std::pair<std::string, std::optional<double>> canonical_metric(const std::string& metric) {
    for (const std::string prefix : {"connect_", ""})
        if (const auto p = percentile_in_metric(metric, prefix + "p"))
            return {prefix + percentile_key(*p), p};
    return {metric, std::nullopt};
}

/// A compare check: METRIC OP CHANGE, CHANGE relative ("+10%") or absolute in the metric's
/// unit ("+50us", "+0").
struct CompareCheck {
    std::string text, metric;
    bool greater = true; ///< > (a rise) or < (a fall)
    bool relative = true;
    double value = 0; ///< relative: a fraction; absolute: base units
};

CompareCheck parse_check(const std::string& text) {
    CompareCheck c;
    c.text = text;
    const auto op = text.find_first_of("<>");
    if (op == std::string::npos || op == 0)
        throw ParseError(fmt::format("--fail-if: bad check '{}' (expected METRIC>CHANGE or "
                                     "METRIC<CHANGE, e.g. 'p99>+10%' or 'rate<-5%')",
                                     text));
    c.metric = text.substr(0, op);
    c.greater = text[op] == '>';
    std::string v = text.substr(op + 1);
    if (!v.empty() && v[0] == '=') v.erase(0, 1);
    if (v.empty() || (v[0] != '+' && v[0] != '-'))
        throw ParseError(fmt::format("--fail-if: '{}': the change needs a sign: '+10%', '-5%', "
                                     "'+50us'",
                                     text));
    const double sign = v[0] == '-' ? -1 : 1;
    v.erase(0, 1);
    try {
        if (!v.empty() && v.back() == '%') {
            std::size_t used = 0;
            c.value = sign * std::stod(v.substr(0, v.size() - 1), &used) / 100;
            if (used != v.size() - 1) throw ParseError("");
        } else {
            c.relative = false;
            const bool duration = v.find_first_not_of("0123456789.") != std::string::npos;
            if (duration) {
                c.value = sign * static_cast<double>(parse_duration_ns(v));
            } else {
                std::size_t used = 0;
                c.value = sign * std::stod(v, &used);
                if (used != v.size()) throw ParseError("");
            }
        }
    } catch (const std::exception&) {
        throw ParseError(fmt::format("--fail-if: bad change '{}' in '{}'", v, text));
    }
    return c;
}

std::string percent(double x) {
    return fmt::format("{:+.1f}%", x * 100);
}

std::string ci_text(const Change& c) {
    return c.has_ci ? fmt::format("[{}, {}]", percent(c.ci_low), percent(c.ci_high)) : "";
}

std::string markdown(const std::vector<Change>& changes, const Report& report,
                     const std::string& base, const std::string& fresh) {
    std::string s = fmt::format("### netdx compare: `{}` → `{}`\n\n", base, fresh);
    s += "| metric | base | new | change | 95% CI | verdict |\n|---|---:|---:|---:|---|---|\n";
    for (const auto& c : changes) {
        const auto name = c.scope.empty() ? c.metric : fmt::format("{} ({})", c.metric, c.scope);
        if (!c.has_values) {
            s += fmt::format("| {} | - | - | - | | not measured |\n", name);
            continue;
        }
        s += fmt::format("| {} | {} | {} | {} | {} | {} |\n", name, format_in_unit(c.base, c.unit),
                         format_in_unit(c.fresh, c.unit), c.base != 0 ? percent(c.relative()) : "",
                         ci_text(c), c.verdict());
    }
    if (!report.checks.empty()) {
        s += "\n| check | result |\n|---|---|\n";
        for (const auto& c : report.checks)
            s += fmt::format("| `{}` | {} |\n", c.threshold.text, c.failed ? "**FAIL**" : "pass");
    }
    for (const auto& n : report.notes)
        s += fmt::format("\n> {}\n", n);
    return s;
}

int run(const Options& o) {
    if (o.base.empty() || o.fresh.empty())
        throw ParseError("netdx compare needs two results: BASE NEW");
    const auto percentiles = parse_percentiles(o.percentiles);
    std::vector<CompareCheck> checks;
    std::vector<double> wanted = percentiles;
    for (const auto& t : o.checks) {
        checks.push_back(parse_check(t));
        if (const auto p = canonical_metric(checks.back().metric).second)
            if (std::find(wanted.begin(), wanted.end(), *p) == wanted.end()) wanted.push_back(*p);
    }
    std::sort(wanted.begin(), wanted.end());
    const auto base = merge::read_input(o.base);
    const auto fresh = merge::read_input(o.fresh);
    Report report;
    report.tool = kInfo.name;
    report.version = kVersion;
    const auto changes = compare(base, fresh, wanted, report.notes);

    auto& t = report.section("changes", "", Section::Kind::table);
    t.fields = {{"scope", "scope", Unit::none},
                {"metric", "metric", Unit::none},
                {"base", "base", Unit::none, false, false, true},
                {"new", "new", Unit::none, false, false, true},
                {"base_value", "", Unit::none, false, true},
                {"new_value", "", Unit::none, false, true},
                {"unit", "", Unit::none, false, true},
                {"change_percent", "change", Unit::percent},
                {"ci_low_percent", "95% CI from", Unit::percent},
                {"ci_high_percent", "to", Unit::percent},
                {"verdict", "verdict", Unit::none}};
    bool any_scope = false;
    for (const auto& c : changes)
        any_scope = any_scope || !c.scope.empty();
    if (!any_scope) t.fields[0].machine_only = true;
    for (const auto& c : changes) {
        const auto style = c.verdict().find("significant)") != std::string::npos
                               ? (c.verdict().starts_with("higher") ? Style::bad : Style::good)
                               : Style::plain;
        t.add_row({Cell(c.scope), Cell(c.metric),
                   c.has_values ? Cell(format_in_unit(c.base, c.unit)) : Cell(Value{}),
                   c.has_values ? Cell(format_in_unit(c.fresh, c.unit)) : Cell(Value{}),
                   c.has_values ? Cell(c.base) : Cell(Value{}),
                   c.has_values ? Cell(c.fresh) : Cell(Value{}),
                   Cell(std::string(unit_name(c.unit))),
                   c.has_values && c.base != 0 ? Cell(c.relative() * 100) : Cell(Value{}),
                   c.has_ci ? Cell(c.ci_low * 100) : Cell(Value{}),
                   c.has_ci ? Cell(c.ci_high * 100) : Cell(Value{}), Cell(c.verdict(), style)});
    }
    report.primary = "changes";

    // Checks: fail only when the interval (or, for a count, the value) clears the threshold.
    for (const auto& ck : checks) {
        const auto name = canonical_metric(ck.metric).first;
        std::vector<const Change*> hits;
        for (const auto& c : changes)
            if (c.metric == name) hits.push_back(&c);
        if (hits.empty()) {
            std::set<std::string> names;
            for (const auto& c : changes)
                names.insert(c.metric);
            std::string list;
            for (const auto& n : names)
                list += (list.empty() ? "" : ", ") + n;
            throw ParseError(fmt::format("--fail-if: unknown metric '{}' in '{}' (metrics: {})",
                                         ck.metric, ck.text, list));
        }
        for (const auto* c : hits) {
            CheckResult r;
            r.threshold.text =
                c->scope.empty() ? ck.text : fmt::format("{} ({})", ck.text, c->scope);
            r.threshold.metric = ck.metric;
            r.threshold.op = ck.greater ? CompareOp::gt : CompareOp::lt;
            r.threshold.value = ck.relative ? ck.value * 100 : ck.value;
            r.threshold.unit = ck.relative ? Unit::percent : c->unit;
            if (!c->has_values) {
                r.failed = true; // a check without a value fails: CI must not pass blind
                report.checks.push_back(r);
                continue;
            }
            double lo = 0, hi = 0;
            if (ck.relative) {
                lo = c->has_ci ? c->ci_low : c->relative();
                hi = c->has_ci ? c->ci_high : c->relative();
                r.actual = c->relative() * 100;
            } else { // absolute: the CI in the metric's unit
                lo = c->has_ci ? c->abs_low : c->fresh - c->base;
                hi = c->has_ci ? c->abs_high : c->fresh - c->base;
                r.actual = c->fresh - c->base;
            }
            r.failed = ck.greater ? lo > ck.value : hi < ck.value;
            if (!r.failed && c->has_ci && (ck.greater ? hi > ck.value : lo < ck.value))
                report.notes.push_back(fmt::format(
                    "{}: the change {} (95% CI {}) may pass the threshold but is not significant: "
                    "no significant change",
                    r.threshold.text, percent(c->relative()), ci_text(*c)));
            report.checks.push_back(r);
        }
    }
    report.extra["base"] = o.base;
    report.extra["new"] = o.fresh;
    report.extra["tool_compared"] = merge::tool_of(base.doc);
    if (o.markdown && o.common.format == Format::table) {
        cli::stamp_run(report);
        cli::write_stdout(markdown(changes, report, o.base, o.fresh));
        return to_int(report.exit_code());
    }
    return cli::emit(report, o.common);
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    return cli::run_main(
        argc, argv, kInfo, [&](CLI::App& app) { setup(app, o); }, [&] { return run(o); });
}
