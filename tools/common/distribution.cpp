#include "distribution.hpp"

#include <fmt/format.h>

#include <netdx/report/run_info.hpp>
#include <netdx/report/units.hpp>
#include <netdx/sys/parse_error.hpp>

#include "cli.hpp"

namespace netdx::cli {

Distribution Distribution::from(const DistributionOptions& o) {
    Distribution d;
    if (o.shard == "auto")
        d.shard = shard_from_environment();
    else if (!o.shard.empty())
        d.shard = parse_shard(o.shard);
    if (!o.start_at.empty()) d.start_at = parse_start_at(o.start_at, current_run().start_ns);
    if (o.start_late_max < 0) throw ParseError("--start-late-max must not be negative");
    d.start_late_max = o.start_late_max;
    current_run().shard = d.shard;
    current_run().start_at_ns = d.start_at;
    return d;
}

std::uint64_t Distribution::share_of(std::uint64_t total) const {
    return shard ? share(total, shard->index, shard->count) : total;
}

Stripe Distribution::stripe_of(std::uint64_t total) const {
    const Stripe whole{0, 1, total};
    return shard ? whole.part(shard->index, shard->count) : whole;
}

std::string Distribution::shard_text() const {
    return shard ? fmt::format("{}/{}", shard->index, shard->count) : std::string{};
}

void Distribution::check_not_late() const {
    if (!start_at) return;
    const Nanos late = realtime_ns() - *start_at;
    if (late > start_late_max)
        throw ParseError(fmt::format(
            "--start-at {}: it was {} ago when the set-up was done, more than --start-late-max "
            "{}: the other agents may have started without this one (pick an instant further "
            "ahead, or raise --start-late-max)",
            format_rfc3339_ns(*start_at), format_duration(static_cast<double>(late)),
            format_duration(static_cast<double>(start_late_max))));
}

Nanos Distribution::start_at_monotonic() const {
    const auto now = read_clock_pair();
    return start_at ? *start_at - (now.wall - now.mono) : now.mono;
}

std::optional<Nanos> Distribution::wait() const {
    if (!start_at) return monotonic_ns();
    check_not_late();
    if (!sleep_until_wall(*start_at)) return std::nullopt;
    const Nanos mono = start_at_monotonic();
    current_run().start_lateness_ns = std::max<Nanos>(monotonic_ns() - mono, 0);
    return mono;
}

} // namespace netdx::cli
