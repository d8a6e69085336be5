#pragma once
/// One threshold syntax for CI across tools: --fail-if 'p99>2ms' --fail-if 'loss>0.1%'.
///
///   check   := metric op value
///   op      := > >= < <= == !=
///   value   := in the metric's unit: a duration (2ms), a size (1KiB), a rate (5k/s),
///              a percentage (0.1%), or a count (10k)
///
/// Each tool publishes its metric catalog; a check naming another metric, or a value in the
/// wrong unit, is a usage error caught before the run starts.

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <netdx/report/metric.hpp>

namespace netdx {

enum class CompareOp { gt, ge, lt, le, eq, ne };

struct Threshold {
    std::string text; ///< as the user wrote it
    std::string metric;
    CompareOp op = CompareOp::gt;
    double value = 0; ///< in the metric's base unit (ns, bytes, per second, percent, count)
    Unit unit = Unit::count;

    /// True when `actual` violates the check ("p99>2ms" fails when p99 is 3ms).
    [[nodiscard]] bool fails(double actual) const;
};

/// Throws ParseError: "unknown metric 'p98' in 'p98>2ms' (metrics: p50, p90, …)".
[[nodiscard]] Threshold parse_threshold(std::string_view text, std::span<const MetricInfo> catalog);

struct CheckResult {
    Threshold threshold;
    std::optional<double> actual; ///< nullopt when the run produced no value for the metric
    bool failed = false;          ///< a check without a value fails: CI must not pass blind
};

[[nodiscard]] std::vector<CheckResult> evaluate(const std::vector<Threshold>& thresholds,
                                                const std::map<std::string, double>& metrics);

[[nodiscard]] std::string_view to_string(CompareOp op);

} // namespace netdx
