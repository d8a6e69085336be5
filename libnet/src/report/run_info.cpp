#include <algorithm>
#include <array>
#include <ctime>
#include <sys/random.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <netdx/report/run_info.hpp>
#include <netdx/report/units.hpp>
#include <netdx/sys/parse_error.hpp>
#include <netdx/sys/text.hpp>

namespace netdx {

namespace {
std::string random_id() {
    std::array<unsigned char, 16> b{};
    std::size_t got = 0;
    while (got < b.size()) {
        const ssize_t n = ::getrandom(b.data() + got, b.size() - got, 0);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    if (got < b.size()) { // no entropy source: the clock and the pid still tell runs apart
        const auto t = static_cast<std::uint64_t>(realtime_ns()) ^
                       (static_cast<std::uint64_t>(::getpid()) << 40);
        for (std::size_t i = 0; i < 8; ++i)
            b[i] = static_cast<unsigned char>(t >> (8 * i));
    }
    std::string out;
    for (const auto c : b)
        out += fmt::format("{:02x}", c);
    return out;
}

std::string host_name() {
    std::array<char, 256> h{};
    if (::gethostname(h.data(), h.size() - 1) != 0) return "unknown";
    return h.data();
}
} // namespace

RunInfo RunInfo::capture(int argc, const char* const* argv) {
    RunInfo r;
    r.id = random_id();
    r.agent = host_name();
    for (int i = 0; i < argc; ++i)
        r.command.emplace_back(argv[i]);
    const auto now = read_clock_pair();
    r.start_ns = now.wall;
    r.mono_to_wall_ns = now.wall - now.mono;
    r.clock = read_clock_sync();
    return r;
}

std::string format_rfc3339_ns(Nanos since_epoch) {
    Nanos secs = since_epoch / kNanosPerSecond;
    Nanos frac = since_epoch % kNanosPerSecond;
    if (frac < 0) {
        frac += kNanosPerSecond;
        --secs;
    }
    const auto t = static_cast<std::time_t>(secs);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

namespace {

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int digits_at(std::string_view text, std::size_t at, std::size_t n, std::string_view what, int lo,
              int hi) {
    const auto part = at + n <= text.size() ? text.substr(at, n) : std::string_view{};
    if (!all_digits(part) || part.size() != n)
        throw ParseError(
            fmt::format("bad time '{}': expected {} at position {}", text, what, at + 1));
    int v = 0;
    for (const char c : part)
        v = v * 10 + (c - '0');
    if (v < lo || v > hi)
        throw ParseError(fmt::format("bad time '{}': {} {} is out of range", text, what, part));
    return v;
}

void expect(std::string_view text, std::size_t at, std::string_view chars, std::string_view what) {
    if (at >= text.size() || chars.find(text[at]) == std::string_view::npos)
        throw ParseError(
            fmt::format("bad time '{}': expected {} at position {}", text, what, at + 1));
}

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's
// days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

} // namespace

Nanos parse_rfc3339_ns(std::string_view text) {
    //  2026-12-01T19:49:46.123456789Z   or ±hh:mm in place of Z
    //  0    5  8  11 14 17 19
    const int year = digits_at(text, 0, 4, "a 4-digit year", 1970, 2200);
    expect(text, 4, "-", "'-'");
    const int month = digits_at(text, 5, 2, "a 2-digit month", 1, 12);
    expect(text, 7, "-", "'-'");
    const int day = digits_at(text, 8, 2, "a 2-digit day", 1, 31);
    expect(text, 10, "Tt ", "'T'");
    const int hour = digits_at(text, 11, 2, "2-digit hours", 0, 23);
    expect(text, 13, ":", "':'");
    const int minute = digits_at(text, 14, 2, "2-digit minutes", 0, 59);
    expect(text, 16, ":", "':'");
    const int second = digits_at(text, 17, 2, "2-digit seconds", 0, 60);
    std::size_t at = 19;
    Nanos frac = 0;
    if (at < text.size() && text[at] == '.') {
        ++at;
        const std::size_t begin = at;
        Nanos scale = kNanosPerSecond;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
            if (at - begin < 9) {
                scale /= 10;
                frac += (text[at] - '0') * scale;
            }
            ++at;
        }
        if (at == begin)
            throw ParseError(fmt::format("bad time '{}': expected digits after '.'", text));
    }
    Nanos offset = 0;
    expect(text, at, "Zz+-", "'Z' or a UTC offset (+01:00)");
    if (text[at] == 'Z' || text[at] == 'z') {
        ++at;
    } else {
        const int sign = text[at] == '-' ? -1 : 1;
        const int oh = digits_at(text, at + 1, 2, "2-digit offset hours", 0, 23);
        expect(text, at + 3, ":", "':'");
        const int om = digits_at(text, at + 4, 2, "2-digit offset minutes", 0, 59);
        offset = sign * (oh * 3600 + om * 60) * kNanosPerSecond;
        at += 6;
    }
    if (at != text.size())
        throw ParseError(
            fmt::format("bad time '{}': unexpected '{}' after the time", text, text.substr(at)));
    const std::int64_t days =
        days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    const Nanos secs = days * 86400 + hour * 3600 + minute * 60 + second;
    return secs * kNanosPerSecond + frac - offset;
}

Nanos parse_start_at(std::string_view text, Nanos now_wall_ns) {
    if (text.empty())
        throw ParseError("bad start time '': expected RFC 3339, epoch seconds or +DURATION");
    if (text[0] == '+') {
        std::int64_t d = 0;
        try {
            d = parse_duration_ns(text.substr(1));
        } catch (const ParseError& e) {
            throw ParseError(fmt::format("bad start time '{}': {}", text, e.what()));
        }
        return now_wall_ns + d;
    }
    std::string_view epoch = text[0] == '@' ? text.substr(1) : text;
    const auto dot = epoch.find('.');
    const auto whole = epoch.substr(0, dot);
    const auto frac = dot == std::string_view::npos ? std::string_view{} : epoch.substr(dot + 1);
    if (all_digits(whole) && (dot == std::string_view::npos || all_digits(frac))) {
        if (whole.size() > 11)
            throw ParseError(fmt::format("bad start time '{}': too far in the future", text));
        Nanos secs = 0;
        for (const char c : whole)
            secs = secs * 10 + (c - '0');
        Nanos ns = 0, scale = kNanosPerSecond;
        for (std::size_t i = 0; i < frac.size() && i < 9; ++i) {
            scale /= 10;
            ns += (frac[i] - '0') * scale;
        }
        return secs * kNanosPerSecond + ns;
    }
    try {
        return parse_rfc3339_ns(text);
    } catch (const ParseError& e) {
        throw ParseError(std::string(e.what()) +
                         " (--start-at takes RFC 3339, seconds since the epoch, or +DURATION)");
    }
}

nlohmann::json to_json(const RunInfo& run) {
    nlohmann::json command = nlohmann::json::array();
    for (const auto& a : run.command)
        command.push_back(escape_invalid_utf8(a));
    return {{"id", escape_invalid_utf8(run.id)},
            {"agent", escape_invalid_utf8(run.agent)},
            {"command", std::move(command)},
            {"start", format_rfc3339_ns(run.start_ns)},
            {"start_ns", run.start_ns},
            {"mono_to_wall_ns", run.mono_to_wall_ns},
            {"clock",
             {{"synchronized", run.clock.synchronized},
              {"max_error_ns", run.clock.max_error_ns},
              {"est_error_ns", run.clock.est_error_ns}}},
            {"shard", run.shard
                          ? nlohmann::json{{"index", run.shard->index}, {"count", run.shard->count}}
                          : nlohmann::json(nullptr)},
            {"start_at", run.start_at_ns ? nlohmann::json(format_rfc3339_ns(*run.start_at_ns))
                                         : nlohmann::json(nullptr)},
            {"start_at_ns", run.start_at_ns ? nlohmann::json(*run.start_at_ns) : nullptr},
            {"start_lateness_ns",
             run.start_lateness_ns ? nlohmann::json(*run.start_lateness_ns) : nullptr},
            {"agents", run.agents},
            {"shards_merged", run.shards_merged.empty()
                                  ? nlohmann::json(nullptr)
                                  : nlohmann::json{{"count", run.shards_merged_count},
                                                   {"indices", run.shards_merged}}}};
}

} // namespace netdx
