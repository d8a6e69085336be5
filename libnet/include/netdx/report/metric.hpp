#pragma once
/// Units of the values in a result, shared by every output format: the human table formats
/// them (2.1ms, 1KiB, 5k/s), JSON and CSV carry the raw number in the base unit.

#include <optional>
#include <string>
#include <string_view>

namespace netdx {

enum class Unit {
    none,       ///< text or a plain number
    count,      ///< integer count: 21,000
    ns,         ///< duration in nanoseconds: 17.4us
    bytes,      ///< size in bytes: 1KiB
    per_second, ///< rate: 5k/s
    percent,    ///< 0.1%
    ratio,      ///< a multiple of a reference: 12.22x (JSON: 12.22)
    delta,      ///< a signed change of a count: +5, -3, +0 (JSON: 5, -3, 0)
};

/// A metric a tool publishes for --fail-if.
struct MetricInfo {
    std::string name;
    Unit unit = Unit::count;
    std::string description;
    /// A family of percentiles: `name` is a prefix ("p", "connect_p") and "<name><P>" is
    /// the P-th percentile of that distribution for any P in (0, 100): "p95", "p99.9",
    /// also spelt "p99_9" as in the JSON keys ("p99_9_ns").
    bool percentiles = false;
    /// "p<P>" for a family, the name otherwise: how help and errors list it.
    [[nodiscard]] std::string display_name() const { return percentiles ? name + "<P>" : name; }
};

/// The one spelling of a percentile: 99.9 -> "p99_9" (keys and metric names), 50 -> "p50".
[[nodiscard]] std::string percentile_key(double p);
/// 99.9 -> "p99.9" (titles).
[[nodiscard]] std::string percentile_title(double p);
/// The percentile a metric of the family `prefix` names: ("p99.9", "p") -> 99.9, ("p99_9",
/// "p") -> 99.9; nullopt when `metric` is not the prefix and a percentile in (0, 100).
[[nodiscard]] std::optional<double> percentile_in_metric(std::string_view metric,
                                                         std::string_view prefix);

[[nodiscard]] std::string_view unit_name(Unit unit);

/// The value formatted for people in its unit ("17.4us", "1KiB", "5k/s", "0.1%", "21,000").
[[nodiscard]] std::string format_in_unit(double value, Unit unit);

} // namespace netdx
