#pragma once
/// Units of the values in a result, shared by every output format: the human table formats
/// them (2.1ms, 1KiB, 5k/s), JSON and CSV carry the raw number in the base unit.

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
};

/// A metric a tool publishes for --fail-if.
struct MetricInfo {
    std::string name;
    Unit unit = Unit::count;
    std::string description;
};

[[nodiscard]] std::string_view unit_name(Unit unit);

/// The value formatted for people in its unit ("17.4us", "1KiB", "5k/s", "0.1%", "21,000").
[[nodiscard]] std::string format_in_unit(double value, Unit unit);

} // namespace netdx
