#pragma once
/// One run split across agents (machines, pods, Slurm tasks): `--shard i/k|auto`,
/// `--start-at` and `--start-late-max`, shared by netdx-probe and netdx-flood.
///
///   agent:  parse ─ set-up (resolve, fork, raise limits) ─ check lateness ─ sleep ─ run
///                                                              │            (CLOCK_REALTIME
///                                       later than --start-late-max:        to start_at)
///                                       refused, exit 2
///
/// Times in a report (time to N, intervals) count from start_at, the instant every agent
/// shares, so the agents' results line up when merged.

#include <cstdint>
#include <optional>
#include <string>

#include <netdx/sys/clock.hpp>
#include <netdx/sys/shard.hpp>

namespace netdx::cli {

struct DistributionOptions {
    std::string shard;    ///< "" (the whole run), "auto" or "i/k"
    std::string start_at; ///< "" (start when ready)
    Nanos start_late_max = 100 * kNanosPerMilli;
};

struct Distribution {
    std::optional<Shard> shard;
    std::optional<Nanos> start_at; ///< wall clock, ns since the epoch
    Nanos start_late_max = 0;

    /// Parses the options (a relative "+10s" counts from the run's start, current_run());
    /// records the shard and start_at in current_run(). Throws ParseError.
    [[nodiscard]] static Distribution from(const DistributionOptions& o);

    /// This agent's part of N things: share(N, i, k), or N.
    [[nodiscard]] std::uint64_t share_of(std::uint64_t total) const;
    /// This agent's slots of a schedule of N slots (unbounded: Stripe::kUnbounded).
    [[nodiscard]] Stripe stripe_of(std::uint64_t total) const;
    /// Shard i of k as "2/3", or "" without one.
    [[nodiscard]] std::string shard_text() const;

    /// After the set-up: throws ParseError when it is already later than start_at by more
    /// than start_late_max (the others may have started; starting now would skew the merge).
    void check_not_late() const;
    /// check_not_late, then sleeps to start_at on CLOCK_REALTIME and records the lateness in
    /// current_run(). Returns the monotonic time of start_at (what times count from), or
    /// monotonic_ns() now without --start-at; nullopt when a signal interrupted the sleep.
    [[nodiscard]] std::optional<Nanos> wait() const;
    /// The monotonic time that corresponds to start_at on this machine now.
    [[nodiscard]] Nanos start_at_monotonic() const;
};

} // namespace netdx::cli
