#pragma once
/// Monotonic time in nanoseconds (CLOCK_MONOTONIC, vDSO: no syscall on a TSC clocksource).

#include <cstdint>
#include <ctime>

namespace netdx {

using Nanos = std::int64_t;

inline constexpr Nanos kNanosPerMicro = 1'000;
inline constexpr Nanos kNanosPerMilli = 1'000'000;
inline constexpr Nanos kNanosPerSecond = 1'000'000'000;

[[nodiscard]] inline Nanos monotonic_ns() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<Nanos>(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
}

/// Wall-clock time (CLOCK_REALTIME) in ns since the epoch, for timestamps in reports only.
[[nodiscard]] inline Nanos realtime_ns() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<Nanos>(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
}

/// A wall-clock and a monotonic reading of one instant: the monotonic read between two wall
/// reads, the wall time their midpoint. wall - mono converts monotonic times to wall times.
struct ClockPair {
    Nanos wall = 0;
    Nanos mono = 0;
};
[[nodiscard]] inline ClockPair read_clock_pair() noexcept {
    const Nanos w0 = realtime_ns();
    const Nanos m = monotonic_ns();
    const Nanos w1 = realtime_ns();
    return {w0 + (w1 - w0) / 2, m};
}

/// Sleeps until monotonic time `deadline`: clock_nanosleep until `spin_margin` before it, then
/// spins on the clock, so wake-ups are accurate to about a microsecond rather than the
/// scheduler's ~50-100us. Returns early (false) when a signal interrupts the sleep.
bool sleep_until(Nanos deadline, Nanos spin_margin = 60 * kNanosPerMicro);

/// Sleeps until wall-clock time `wall_deadline` (ns since the epoch) on CLOCK_REALTIME, so a
/// clock stepped meanwhile (NTP) still wakes it at the instant the wall clock names, then
/// spins the last `spin_margin` on the wall clock. Returns false when a signal interrupts it.
bool sleep_until_wall(Nanos wall_deadline, Nanos spin_margin = 200 * kNanosPerMicro);

/// How far the wall clock may be off, as the kernel's NTP state says (adjtimex(2) read
/// only): what lines up the results of many machines.
struct ClockSync {
    bool synchronized = false; ///< not TIME_ERROR: an NTP daemon keeps the clock
    Nanos max_error_ns = 0;    ///< maxerror: the bound the kernel keeps (grows unsynced)
    Nanos est_error_ns = 0;    ///< esterror: the estimate
};
/// Never fails: a kernel that refuses the call reads as unsynchronised with unknown error.
[[nodiscard]] ClockSync read_clock_sync() noexcept;

/// Median cost of one monotonic_ns() call, measured over `samples` back-to-back reads.
[[nodiscard]] double measure_clock_read_cost_ns(int samples = 20'001);

} // namespace netdx
