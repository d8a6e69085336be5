#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include <netdx/report/units.hpp>
#include <netdx/sys/parse_error.hpp>

namespace netdx {

namespace {

/// Leading decimal number ("17.4" of "17.4us"); the rest is the suffix.
struct NumberAndSuffix {
    double number = 0;
    std::string_view suffix;
    bool ok = false;
};

NumberAndSuffix split_number(std::string_view text) {
    std::size_t i = 0;
    bool digits = false;
    while (i < text.size() &&
           ((text[i] >= '0' && text[i] <= '9') || text[i] == '.' || text[i] == '_')) {
        digits = digits || (text[i] >= '0' && text[i] <= '9');
        ++i;
    }
    if (!digits) return {};
    std::string cleaned;
    for (char c : text.substr(0, i))
        if (c != '_') cleaned.push_back(c);
    NumberAndSuffix r;
    auto [end, ec] = std::from_chars(cleaned.data(), cleaned.data() + cleaned.size(), r.number);
    if (ec != std::errc{} || end != cleaned.data() + cleaned.size()) return {};
    r.suffix = text.substr(i);
    r.ok = true;
    return r;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ')
        s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ')
        s.remove_suffix(1);
    return s;
}

/// The decimal multiplier a suffix stands for: "" 1, k/K 1e3, M 1e6, G 1e9.
double decimal_multiplier(std::string_view suffix, std::string_view what, std::string_view input) {
    if (suffix.empty()) return 1;
    if (suffix == "k" || suffix == "K") return 1e3;
    if (suffix == "M") return 1e6;
    if (suffix == "G") return 1e9;
    throw ParseError(
        fmt::format("bad {} '{}' (unknown multiplier '{}': use k, M or G)", what, input, suffix));
}

} // namespace

std::int64_t parse_duration_ns(std::string_view input) {
    const auto text = trim(input);
    const auto bad = [&](std::string_view why) {
        return ParseError(fmt::format("bad duration '{}' ({})", input, why));
    };
    if (text.empty()) throw bad("empty");
    if (text == "0") return 0;
    if (text.front() == '-') throw bad("must not be negative");
    double total = 0;
    std::string_view rest = text;
    while (!rest.empty()) {
        const auto part = split_number(rest);
        if (!part.ok) throw bad("expected a number, e.g. 500us, 2.5ms, 10s, 1m30s");
        // The unit runs until the next digit.
        std::size_t n = 0;
        while (n < part.suffix.size() && !(part.suffix[n] >= '0' && part.suffix[n] <= '9'))
            ++n;
        const auto unit = part.suffix.substr(0, n);
        double scale = 0;
        if (unit == "ns")
            scale = 1;
        else if (unit == "us" || unit == "\u00b5s" || unit == "\u03bcs")
            scale = 1e3;
        else if (unit == "ms")
            scale = 1e6;
        else if (unit == "s")
            scale = 1e9;
        else if (unit == "m" || unit == "min")
            scale = 60e9;
        else if (unit == "h")
            scale = 3600e9;
        else if (unit.empty())
            throw bad("missing unit: use ns, us, ms, s, m or h");
        else
            throw bad(fmt::format("unknown unit '{}': use ns, us, ms, s, m or h", unit));
        total += part.number * scale;
        rest = part.suffix.substr(n);
    }
    if (total > 1e18) throw bad("too long");
    return static_cast<std::int64_t>(std::llround(total));
}

std::uint64_t parse_size(std::string_view input) {
    const auto text = trim(input);
    const auto part = split_number(text);
    if (!part.ok)
        throw ParseError(fmt::format("bad size '{}' (expected e.g. 64, 1KiB, 4MiB)", input));
    double scale = 0;
    const auto s = part.suffix;
    if (s.empty() || s == "B" || s == "b")
        scale = 1;
    else if (s == "K" || s == "k" || s == "KiB" || s == "Ki")
        scale = 1024.0;
    else if (s == "M" || s == "MiB" || s == "Mi")
        scale = 1024.0 * 1024;
    else if (s == "G" || s == "GiB" || s == "Gi")
        scale = 1024.0 * 1024 * 1024;
    else if (s == "KB" || s == "kB")
        scale = 1e3;
    else if (s == "MB")
        scale = 1e6;
    else if (s == "GB")
        scale = 1e9;
    else
        throw ParseError(fmt::format(
            "bad size '{}' (unknown unit '{}': use KiB, MiB, GiB, KB, MB, GB)", input, s));
    const double v = part.number * scale;
    if (v != std::floor(v))
        throw ParseError(fmt::format("bad size '{}' (not a whole number of bytes)", input));
    if (v > 1e18) throw ParseError(fmt::format("bad size '{}' (too large)", input));
    return static_cast<std::uint64_t>(v);
}

double parse_rate(std::string_view input) {
    auto text = trim(input);
    double per = 1; // seconds per period
    if (text.ends_with("/s"))
        text.remove_suffix(2);
    else if (text.ends_with("/sec"))
        text.remove_suffix(4);
    else if (text.ends_with("/m") || text.ends_with("/min")) {
        text.remove_suffix(text.ends_with("/m") ? 2 : 4);
        per = 60;
    }
    const auto part = split_number(text);
    if (!part.ok)
        throw ParseError(fmt::format("bad rate '{}' (expected e.g. 500/s, 5k/s, 1.5M/s)", input));
    const double rate = part.number * decimal_multiplier(part.suffix, "rate", input) / per;
    if (!(rate > 0)) throw ParseError(fmt::format("bad rate '{}' (must be above zero)", input));
    return rate;
}

std::uint64_t parse_count(std::string_view input) {
    const auto text = trim(input);
    const auto part = split_number(text);
    if (!part.ok)
        throw ParseError(fmt::format("bad count '{}' (expected e.g. 100, 10k, 1M)", input));
    const double v = part.number * decimal_multiplier(part.suffix, "count", input);
    if (v != std::floor(v))
        throw ParseError(fmt::format("bad count '{}' (not a whole number)", input));
    if (v > 1e18) throw ParseError(fmt::format("bad count '{}' (too large)", input));
    return static_cast<std::uint64_t>(v);
}

double parse_percent(std::string_view input) {
    auto text = trim(input);
    if (text.ends_with("%")) text.remove_suffix(1);
    const auto part = split_number(text);
    if (!part.ok || !part.suffix.empty())
        throw ParseError(fmt::format("bad percentage '{}' (expected e.g. 0.1%)", input));
    if (part.number > 100) throw ParseError(fmt::format("bad percentage '{}' (above 100%)", input));
    return part.number;
}

std::string format_significant(double v, int sig) {
    if (v == 0 || !std::isfinite(v)) return fmt::format("{}", v);
    const int magnitude = static_cast<int>(std::floor(std::log10(std::fabs(v))));
    const int decimals = std::max(0, sig - 1 - magnitude);
    std::string s = fmt::format("{:.{}f}", v, decimals);
    if (s.find('.') != std::string::npos) {
        while (s.back() == '0')
            s.pop_back();
        if (s.back() == '.') s.pop_back();
    }
    return s;
}

std::string format_duration(double ns) {
    if (!std::isfinite(ns)) return "-";
    if (ns < 0) return "-" + format_duration(-ns);
    if (ns < 1e3) return format_significant(ns) + "ns";
    // Round first so 999.96us prints as 1ms, not 1e+03us.
    auto in = [&](double scale, std::string_view unit) -> std::string {
        return format_significant(ns / scale) + std::string(unit);
    };
    if (std::stod(format_significant(ns / 1e3)) < 1000) return in(1e3, "us");
    if (std::stod(format_significant(ns / 1e6)) < 1000) return in(1e6, "ms");
    if (ns < 59.95e9) return in(1e9, "s");
    const auto total_s = static_cast<std::uint64_t>(std::llround(ns / 1e9));
    if (total_s < 3600) {
        const auto m = total_s / 60, s = total_s % 60;
        return s ? fmt::format("{}m{:02}s", m, s) : fmt::format("{}m", m);
    }
    const auto h = total_s / 3600, m = (total_s % 3600) / 60;
    return m ? fmt::format("{}h{:02}m", h, m) : fmt::format("{}h", h);
}

std::string format_size(double bytes) {
    if (bytes < 1024) return format_significant(bytes, 4);
    const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = bytes;
    int u = -1;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    return format_significant(v) + units[u];
}

std::string format_rate(double per_second) {
    if (per_second >= 1e9) return format_significant(per_second / 1e9) + "G/s";
    if (per_second >= 1e6) return format_significant(per_second / 1e6) + "M/s";
    if (per_second >= 1e3) return format_significant(per_second / 1e3) + "k/s";
    return format_significant(per_second) + "/s";
}

std::string format_count(std::uint64_t n) {
    std::string digits = std::to_string(n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i != 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
        out.push_back(digits[i]);
    }
    return out;
}

} // namespace netdx
