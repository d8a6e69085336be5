#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include <netdx/report/threshold.hpp>
#include <netdx/report/units.hpp>
#include <netdx/sys/parse_error.hpp>

namespace netdx {

std::string_view to_string(CompareOp op) {
    switch (op) {
    case CompareOp::gt:
        return ">";
    case CompareOp::ge:
        return ">=";
    case CompareOp::lt:
        return "<";
    case CompareOp::le:
        return "<=";
    case CompareOp::eq:
        return "==";
    case CompareOp::ne:
        return "!=";
    }
    return "?";
}

bool Threshold::fails(double actual) const {
    switch (op) {
    case CompareOp::gt:
        return actual > value;
    case CompareOp::ge:
        return actual >= value;
    case CompareOp::lt:
        return actual < value;
    case CompareOp::le:
        return actual <= value;
    case CompareOp::eq:
        return actual == value;
    case CompareOp::ne:
        return actual != value;
    }
    return true;
}

Threshold parse_threshold(std::string_view text, std::span<const MetricInfo> catalog) {
    Threshold t;
    t.text = std::string(text);
    const auto op_pos = text.find_first_of("<>=!");
    if (op_pos == std::string_view::npos || op_pos == 0)
        throw ParseError(
            fmt::format("bad check '{}' (expected METRIC OP VALUE, e.g. 'p99>2ms')", text));
    auto metric = text.substr(0, op_pos);
    while (!metric.empty() && metric.back() == ' ')
        metric.remove_suffix(1);
    std::string_view rest = text.substr(op_pos);
    struct OpText {
        std::string_view text;
        CompareOp op;
    };
    constexpr OpText ops[] = {{">=", CompareOp::ge}, {"<=", CompareOp::le}, {"==", CompareOp::eq},
                              {"!=", CompareOp::ne}, {">", CompareOp::gt},  {"<", CompareOp::lt}};
    bool matched = false;
    for (const auto& o : ops) {
        if (rest.starts_with(o.text)) {
            t.op = o.op;
            rest.remove_prefix(o.text.size());
            matched = true;
            break;
        }
    }
    if (!matched)
        throw ParseError(fmt::format("bad operator in '{}' (use >, >=, <, <=, ==, !=)", text));
    while (!rest.empty() && rest.front() == ' ')
        rest.remove_prefix(1);
    if (rest.empty()) throw ParseError(fmt::format("missing value in check '{}'", text));

    // An exact name first (legacy "p999" stays p99.9), then a family: "p95", "p99.9".
    auto it = std::find_if(catalog.begin(), catalog.end(),
                           [&](const MetricInfo& m) { return !m.percentiles && m.name == metric; });
    std::string canonical(metric);
    if (it == catalog.end()) {
        std::optional<double> p;
        it = std::find_if(catalog.begin(), catalog.end(), [&](const MetricInfo& m) {
            return m.percentiles && (p = percentile_in_metric(metric, m.name)).has_value();
        });
        if (it != catalog.end()) canonical = it->name + percentile_key(*p).substr(1);
    }
    if (it == catalog.end()) {
        std::string names;
        for (const auto& m : catalog)
            names += (names.empty() ? "" : ", ") + m.display_name();
        throw ParseError(
            fmt::format("unknown metric '{}' in '{}' (metrics: {})", metric, text, names));
    }
    t.metric = canonical;
    t.unit = it->unit;
    try {
        switch (t.unit) {
        case Unit::ns:
            t.value = static_cast<double>(parse_duration_ns(rest));
            break;
        case Unit::bytes:
            t.value = static_cast<double>(parse_size(rest));
            break;
        case Unit::per_second:
            t.value = parse_rate(rest);
            break;
        case Unit::percent:
            t.value = parse_percent(rest);
            break;
        case Unit::count:
            t.value = static_cast<double>(parse_count(rest));
            break;
        case Unit::delta: { // a signed count: +5, -3, 10k
            const bool negative = !rest.empty() && rest.front() == '-';
            if (!rest.empty() && (rest.front() == '-' || rest.front() == '+'))
                rest.remove_prefix(1);
            t.value = static_cast<double>(parse_count(rest)) * (negative ? -1 : 1);
            break;
        }
        case Unit::ratio:
            if (!rest.empty() && (rest.back() == 'x' || rest.back() == 'X')) rest.remove_suffix(1);
            [[fallthrough]];
        case Unit::none: {
            double v = 0;
            auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v);
            if (ec != std::errc{} || end != rest.data() + rest.size())
                throw ParseError(fmt::format("bad number '{}'", rest));
            t.value = v;
            break;
        }
        }
    } catch (const ParseError& e) {
        throw ParseError(fmt::format("{} in check '{}' (metric '{}' is {})", e.what(), text,
                                     t.metric,
                                     t.unit == Unit::ns ? "a duration" : unit_name(t.unit)));
    }
    return t;
}

std::vector<CheckResult> evaluate(const std::vector<Threshold>& thresholds,
                                  const std::map<std::string, double>& metrics) {
    std::vector<CheckResult> out;
    for (const auto& t : thresholds) {
        CheckResult r{t, std::nullopt, true};
        if (auto it = metrics.find(t.metric); it != metrics.end()) {
            r.actual = it->second;
            r.failed = t.fails(it->second);
        }
        out.push_back(std::move(r));
    }
    return out;
}

} // namespace netdx
