#include <array>
#include <ctime>
#include <sys/random.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <netdx/report/run_info.hpp>
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
    // The offset from two reads around one: the monotonic read sits between the wall ones.
    const Nanos w0 = realtime_ns();
    const Nanos m = monotonic_ns();
    const Nanos w1 = realtime_ns();
    r.start_ns = w0 + (w1 - w0) / 2;
    r.mono_to_wall_ns = r.start_ns - m;
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
            {"start_lateness_ns",
             run.start_lateness_ns ? nlohmann::json(*run.start_lateness_ns) : nullptr}};
}

} // namespace netdx
