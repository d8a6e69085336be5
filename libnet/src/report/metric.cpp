#include <cmath>

#include <netdx/report/metric.hpp>
#include <netdx/report/units.hpp>

namespace netdx {

std::string_view unit_name(Unit unit) {
    switch (unit) {
    case Unit::none:
        return "";
    case Unit::count:
        return "count";
    case Unit::ns:
        return "ns";
    case Unit::bytes:
        return "bytes";
    case Unit::per_second:
        return "per_second";
    case Unit::percent:
        return "percent";
    }
    return "";
}

std::string format_in_unit(double value, Unit unit) {
    switch (unit) {
    case Unit::ns:
        return format_duration(value);
    case Unit::bytes:
        return format_size(value);
    case Unit::per_second:
        return format_rate(value);
    case Unit::percent:
        return format_significant(value) + "%";
    case Unit::count:
        if (value >= 0 && value == std::floor(value) && value < 1e19)
            return format_count(static_cast<std::uint64_t>(value));
        return format_significant(value);
    case Unit::none:
        break;
    }
    return format_significant(value, 6);
}

} // namespace netdx
