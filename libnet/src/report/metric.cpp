#include <charconv>
#include <cmath>

#include <fmt/format.h>

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
    case Unit::ratio:
        return "ratio";
    case Unit::delta:
        return "delta";
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
    case Unit::ratio:
        return fmt::format("{:.2f}x", value);
    case Unit::delta:
        if (value == std::floor(value) && std::abs(value) < 1e19)
            return (value < 0 ? "-" : "+") +
                   format_count(static_cast<std::uint64_t>(std::abs(value)));
        return fmt::format("{:+}", value);
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

namespace netdx {

std::string percentile_title(double p) {
    return "p" + format_significant(p, 6);
}

std::string percentile_key(double p) {
    std::string s = percentile_title(p);
    for (auto& c : s)
        if (c == '.') c = '_';
    return s;
}

std::optional<double> percentile_in_metric(std::string_view metric, std::string_view prefix) {
    if (!metric.starts_with(prefix) || metric.size() == prefix.size()) return std::nullopt;
    std::string digits(metric.substr(prefix.size()));
    int dots = 0;
    for (auto& c : digits) {
        if (c == '_') c = '.';
        if (c == '.')
            ++dots;
        else if (c < '0' || c > '9')
            return std::nullopt;
    }
    if (dots > 1 || digits.front() == '.' || digits.back() == '.') return std::nullopt;
    double p = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p);
    if (ec != std::errc{} || end != digits.data() + digits.size() || p <= 0 || p >= 100)
        return std::nullopt;
    return p;
}

} // namespace netdx
