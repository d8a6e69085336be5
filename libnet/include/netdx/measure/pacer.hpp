#pragma once
/// Open-loop schedule for paced load: when each request is *meant* to be sent, whatever
/// happened to the previous ones. Latency is measured from these intended times, so a stall
/// shows up in every request scheduled during it (coordinated-omission correction), not
/// only in the one request that was stuck.
///
///   intended:  |----x----x----x----x----x----x----|     x = scheduled send
///   server stalls    [=========]
///   closed loop:      x.........x                 one slow sample, the stall hidden
///   open loop:        x....x....x  (sent late, each measured from its x)
///
/// Split across threads, processes or machines, each sender takes a Stripe of the one
/// schedule (sys/shard.hpp): with constant spacing the senders' sends interleave, slot j of
/// the whole at start + j/rate, instead of all firing their k-th send at the same instant;
/// with Poisson spacing each sender is an independent Poisson stream at its share of the
/// rate (whose union is a Poisson stream at the whole rate).
///
/// Thread safety: none; one pacer per sending thread.

#include <cstdint>
#include <random>

#include <netdx/sys/clock.hpp>
#include <netdx/sys/shard.hpp>

namespace netdx {

class Pacer {
public:
    /// `rate` sends per second starting at `start`; Poisson spacing when `poisson` (the
    /// exponential gaps of independent arrivals), constant spacing otherwise.
    Pacer(double rate, Nanos start, bool poisson = false, std::uint64_t seed = 1);
    /// This sender's `stripe` of a schedule of `rate` sends per second in all (slot j at
    /// start + j/rate). An unbounded stripe never runs out; a bounded one still does not
    /// stop by itself: its owner counts (issued() reaches stripe.count).
    Pacer(double rate, Nanos start, Stripe stripe, bool poisson = false, std::uint64_t seed = 1);

    /// The intended time of the next send (advances the schedule).
    Nanos next();
    /// The intended time of the next send, without advancing.
    [[nodiscard]] Nanos peek() const { return next_; }
    /// Gives up every send scheduled before `now` (a sender that fell too far behind must
    /// not queue them without bound) and returns how many: exactly the schedule's count for
    /// constant spacing; for Poisson arrivals a Poisson draw with that mean, and the process
    /// restarts at `now` (it is memoryless). The schedule goes on from the first send at or
    /// after `now`.
    std::uint64_t skip_to(Nanos now);
    [[nodiscard]] std::uint64_t skipped() const { return skipped_; }
    [[nodiscard]] double rate() const { return rate_; } ///< this sender's share
    [[nodiscard]] std::uint64_t issued() const { return issued_; }

private:
    /// Constant spacing: the time of this sender's m-th slot, start + ⌊slot(m)·1e9/rate⌋,
    /// from the index (not a running sum), so every sender of a stripe agrees to the ns.
    [[nodiscard]] Nanos slot_time(std::uint64_t m) const;

    double rate_;
    double interval_ns_;  ///< this sender's mean gap
    long double slot_ns_; ///< constant spacing: the whole schedule's gap
    Stripe stripe_;
    Nanos start_;
    std::uint64_t m_ = 0; ///< constant spacing: this sender's next slot
    bool poisson_;
    Nanos next_;
    double carry_ = 0; ///< Poisson: fractional nanoseconds, so long runs keep the exact rate
    std::uint64_t issued_ = 0;
    std::uint64_t skipped_ = 0;
    std::mt19937_64 rng_;
    std::exponential_distribution<double> gap_;
};

} // namespace netdx
