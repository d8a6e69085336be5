#include <algorithm>
#include <cerrno>
#include <sys/timex.h>
#include <vector>

#include <netdx/sys/clock.hpp>

namespace netdx {

ClockSync read_clock_sync() noexcept {
    ClockSync c;
    timex tx{};
    tx.modes = 0; // read only
    const int state = ::adjtimex(&tx);
    if (state < 0) return c;
    c.synchronized = state != TIME_ERROR;
    c.max_error_ns = static_cast<Nanos>(tx.maxerror) * kNanosPerMicro;
    c.est_error_ns = static_cast<Nanos>(tx.esterror) * kNanosPerMicro;
    return c;
}

bool sleep_until(Nanos deadline, Nanos spin_margin) {
    const Nanos wake = deadline - spin_margin;
    if (monotonic_ns() < wake) {
        timespec ts{static_cast<time_t>(wake / kNanosPerSecond),
                    static_cast<long>(wake % kNanosPerSecond)};
        if (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) != 0) return false;
    }
    while (monotonic_ns() < deadline) {
        __builtin_ia32_pause();
    }
    return true;
}

bool sleep_until_wall(Nanos wall_deadline, Nanos spin_margin) {
    const Nanos wake = wall_deadline - spin_margin;
    while (realtime_ns() < wake) {
        timespec ts{static_cast<time_t>(wake / kNanosPerSecond),
                    static_cast<long>(wake % kNanosPerSecond)};
        const int rc = ::clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, nullptr);
        if (rc == EINTR) return false;
        if (rc != 0) break; // cannot happen with valid arguments: spin the rest
    }
    while (realtime_ns() < wall_deadline) {
        __builtin_ia32_pause();
    }
    return true;
}

double measure_clock_read_cost_ns(int samples) {
    if (samples < 3) samples = 3;
    // Each sample times a block of reads so the result is not dominated by its own two reads.
    constexpr int kBlock = 64;
    std::vector<double> costs;
    costs.reserve(static_cast<std::size_t>(samples / kBlock + 1));
    for (int done = 0; done < samples; done += kBlock) {
        const Nanos start = monotonic_ns();
        Nanos sink = 0;
        for (int i = 0; i < kBlock; ++i)
            sink ^= monotonic_ns();
        const Nanos end = monotonic_ns();
        static_cast<void>(sink);
        costs.push_back(static_cast<double>(end - start) / (kBlock + 1));
    }
    auto mid = costs.begin() + static_cast<std::ptrdiff_t>(costs.size() / 2);
    std::nth_element(costs.begin(), mid, costs.end());
    return *mid;
}

} // namespace netdx
