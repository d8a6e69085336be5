#include "runner.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <numeric>
#include <poll.h>
#include <random>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <thread>
#include <tuple>
#include <unistd.h>

#include <fmt/format.h>

#include <netdx/sys/fd.hpp>
#include <netdx/sys/system_error.hpp>

#include "stats.hpp"

namespace netdx::mux {

std::string_view mode_name(Mode m) {
    switch (m) {
    case Mode::ready:
        return "ready";
    case Mode::wakeup:
        return "wakeup";
    case Mode::ctl:
        return "ctl";
    case Mode::throughput:
        return "throughput";
    }
    return "?";
}

std::size_t ActiveSpec::resolve(std::size_t n) const {
    if (fraction > 0)
        return std::clamp<std::size_t>(
            static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n))), 1, n);
    return std::min(count, n);
}

std::optional<Mode> mode_from_name(std::string_view name) {
    for (const auto m : kAllModes)
        if (mode_name(m) == name) return m;
    return std::nullopt;
}

bool PointKey::operator<(const PointKey& o) const {
    return std::tie(mode, backend, fds, active, op) <
           std::tie(o.mode, o.backend, o.fds, o.active, o.op);
}

std::string_view measured_call(Backend b) {
    switch (b) {
    case Backend::select:
        return "select()";
    case Backend::poll:
        return "poll()";
    case Backend::epoll:
    case Backend::epoll_et:
    case Backend::epoll_oneshot:
        return "epoll_wait()";
    case Backend::uring_oneshot:
        return "io_uring cycle: submit the re-arms, wait, reap";
    case Backend::uring_multishot:
        return "io_uring cycle: wait, reap (no re-arm; often no system call)";
    }
    return "?";
}

bool pin_to_cpu(int cpu) {
    if (cpu < 0) return false;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<unsigned>(cpu), &set);
    return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

namespace {

/// Median ns of `f` over `rounds` calls, each between two clock reads, minus `clock`.
template <typename F>
double median_of(std::size_t rounds, double clock, F&& f) {
    std::vector<double> s;
    s.reserve(rounds);
    for (std::size_t i = 0; i < rounds; ++i) {
        const Nanos t0 = monotonic_ns();
        f();
        const Nanos t1 = monotonic_ns();
        s.push_back(static_cast<double>(t1 - t0) - clock);
    }
    return summarize(s).median;
}

/// Picks K distinct sources out of N: a partial Fisher-Yates shuffle of `perm`.
void pick(std::vector<std::size_t>& perm, std::size_t k, std::mt19937_64& rng) {
    for (std::size_t j = 0; j < k; ++j) {
        const auto r = j + static_cast<std::size_t>(rng() % (perm.size() - j));
        std::swap(perm[j], perm[r]);
    }
}

/// Checks one wait's events against the chosen set (marks: round stamps per source).
struct ReadyCheck {
    std::vector<std::uint64_t> chosen, seen;
    std::uint64_t missed = 0, duplicates = 0, spurious = 0;
    explicit ReadyCheck(std::size_t n) : chosen(n, 0), seen(n, 0) {}
    void expect(std::size_t i, std::uint64_t stamp) { chosen[i] = stamp; }
    void check(std::span<const PollEvent> ev, std::size_t k, std::uint64_t stamp) {
        std::size_t got = 0;
        for (const auto& e : ev) {
            const auto i = static_cast<std::size_t>(e.token);
            if (i >= chosen.size() || chosen[i] != stamp || !e.readable) {
                ++spurious;
            } else if (seen[i] == stamp) {
                ++duplicates;
            } else {
                seen[i] = stamp;
                ++got;
            }
        }
        missed += k - got;
    }
    void report_into(PointResult& r) const {
        r.missed = missed;
        r.duplicates = duplicates;
        r.spurious = spurious;
    }
};

/// What the ready and throughput modes share per point: which sources to pick from, room
/// for the events, the check.
struct Rounds {
    std::vector<std::size_t> perm; ///< source indices; the first K are this round's
    std::vector<PollEvent> events;
    ReadyCheck check;
    std::size_t k;
    Rounds(std::size_t n, std::size_t k_) : perm(n), events(k_ + 16), check(n), k(k_) {
        std::iota(perm.begin(), perm.end(), std::size_t{0});
    }
    /// K distinct sources, expected under `stamp` and made readable.
    std::span<const std::size_t> make_ready(const FdPool& pool, std::mt19937_64& rng,
                                            std::uint64_t stamp) {
        pick(perm, k, rng);
        const std::span<const std::size_t> chosen(perm.data(), k);
        for (const auto i : chosen) {
            check.expect(i, stamp);
            pool.make_ready(i);
        }
        return chosen;
    }
    /// One wait with timeout 0, not yet checked.
    std::size_t wait(Poller& poller) { return poller.wait(events, 0); }
    void check_events(std::size_t got, std::uint64_t stamp) {
        check.check(std::span(events.data(), got), k, stamp);
    }
};

struct Context {
    const Plan& plan;
    const FdPool& pool;
    double clock;
    std::mt19937_64& rng;
    const std::function<bool()>& stop;
};

void register_all(Poller& poller, const FdPool& pool) {
    for (std::size_t i = 0; i < pool.size(); ++i)
        poller.add(pool.watched(i), interest::read, i);
    poller.flush();
}

/// After a round: read the data and re-arm one-shot fds, untimed. epoll's re-arm is an
/// epoll_ctl made here; io_uring's is a poll SQE queued here and submitted by the next
/// wait, inside its timed cycle, as an io_uring event loop does it.
void settle(Poller& poller, const FdPool& pool, std::span<const std::size_t> chosen) {
    for (const auto i : chosen)
        pool.consume(i);
    if (poller.oneshot())
        for (const auto i : chosen)
            poller.modify(pool.watched(i), interest::read, i);
}

/// Whether to stop now: asked every 64 rounds, so Ctrl-C ends even a 10,000-fd select
/// point (280 us a round) within a fraction of a second.
bool stop_due(const std::function<bool()>& stop, std::size_t round) {
    return (round & 63) == 63 && stop();
}

PointResult run_ready(const Context& c, Poller& poller, PointKey key) {
    PointResult r;
    r.key = key;
    Rounds rounds(c.pool.size(), key.active);
    r.samples.reserve(c.plan.rounds);
    for (std::size_t round = 0; round < c.plan.warmup + c.plan.rounds; ++round) {
        if (stop_due(c.stop, round)) break;
        const std::uint64_t stamp = round + 1;
        const auto chosen = rounds.make_ready(c.pool, c.rng, stamp);
        const Nanos t0 = monotonic_ns();
        if (c.plan.churn) {
            for (const auto i : chosen) {
                poller.remove(c.pool.watched(i));
                poller.add(c.pool.watched(i), interest::read, i);
            }
        }
        const auto got = rounds.wait(poller);
        const Nanos t1 = monotonic_ns();
        rounds.check_events(got, stamp);
        settle(poller, c.pool, chosen);
        if (round >= c.plan.warmup) {
            // The call's span holds one clock read; the outer span another, and the call.
            const auto call = static_cast<double>(poller.last_call_ns());
            r.samples.push_back(call - c.clock);
            r.dispatch.push_back(std::max(0.0, static_cast<double>(t1 - t0) - call - c.clock));
        }
    }
    rounds.check.report_into(r);
    return r;
}

PointResult run_throughput(const Context& c, Poller& poller, PointKey key) {
    PointResult r;
    r.key = key;
    Rounds rounds(c.pool.size(), key.active);
    const Nanos start = monotonic_ns();
    Nanos now = start;
    for (std::uint64_t round = 1; now - start < c.plan.throughput_time; ++round) {
        if (stop_due(c.stop, round)) break;
        const auto chosen = rounds.make_ready(c.pool, c.rng, round);
        const auto got = rounds.wait(poller);
        rounds.check_events(got, round);
        r.events += got;
        settle(poller, c.pool, chosen);
        now = monotonic_ns();
    }
    r.seconds = static_cast<double>(now - start) / 1e9;
    rounds.check.report_into(r);
    return r;
}

PointResult run_wakeup(const Context& c, Poller& poller, PointKey key) {
    PointResult r;
    r.key = key;
    const std::size_t n = c.pool.size();
    const std::size_t total = c.plan.warmup + c.plan.rounds;
    std::vector<std::size_t> target(total);
    for (auto& t : target)
        t = static_cast<std::size_t>(c.rng() % n);
    // phase: 0 consumer busy, 1 consumer about to block, 2 written, 3 give up
    std::atomic<int> phase{0};
    std::atomic<Nanos> written_at{0};
    std::thread producer([&] {
        pin_to_cpu(c.plan.producer_cpu);
        for (std::size_t round = 0; round < total; ++round) {
            const Nanos patience = monotonic_ns() + kNanosPerSecond;
            int p = 0;
            while ((p = phase.load(std::memory_order_acquire)) != 1 && p != 3)
                if (monotonic_ns() > patience) return;
            if (p == 3) return;
            // Give the consumer time to really block in the wait: the point of the mode.
            const Nanos until = monotonic_ns() + 30 * kNanosPerMicro;
            while (monotonic_ns() < until) {
            }
            written_at.store(monotonic_ns(), std::memory_order_release);
            c.pool.make_ready(target[round]);
            phase.store(2, std::memory_order_release);
        }
    });
    std::vector<PollEvent> ev(16);
    ReadyCheck check(n);
    for (std::size_t round = 0; round < total; ++round) {
        if (stop_due(c.stop, round)) break;
        const std::uint64_t stamp = round + 1;
        check.expect(target[round], stamp);
        phase.store(1, std::memory_order_release);
        // Blocking, with a bound never reached normally; a wait cut short by a signal (or
        // by task work, which interrupts like one) waits again.
        const Nanos deadline = monotonic_ns() + kNanosPerSecond;
        std::size_t got = 0;
        Nanos t1 = 0;
        do {
            got = poller.wait(ev, kNanosPerSecond);
            t1 = monotonic_ns();
        } while (got == 0 && t1 < deadline);
        if (got == 0) { // the producer is gone: stop rather than hang
            phase.store(3);
            ++check.missed;
            break;
        }
        while (phase.load(std::memory_order_acquire) != 2) {
        }
        const Nanos w = written_at.load(std::memory_order_acquire);
        check.check(std::span(ev.data(), got), 1, stamp);
        phase.store(0, std::memory_order_release);
        const std::size_t one[1] = {target[round]};
        settle(poller, c.pool, one);
        if (round >= c.plan.warmup) r.samples.push_back(static_cast<double>(t1 - w) - c.clock);
    }
    phase.store(3);
    producer.join();
    check.report_into(r);
    return r;
}

/// remove, add, modify of one fd among N registered; three results.
std::vector<PointResult> run_ctl(const Context& c, Poller& poller, PointKey key) {
    std::vector<PointResult> out(3);
    const char* ops[3] = {"remove", "add", "modify"};
    for (int i = 0; i < 3; ++i) {
        out[static_cast<std::size_t>(i)].key = key;
        out[static_cast<std::size_t>(i)].key.op = ops[i];
        out[static_cast<std::size_t>(i)].samples.reserve(c.plan.rounds);
    }
    const std::size_t n = c.pool.size();
    for (std::size_t round = 0; round < c.plan.warmup + c.plan.rounds; ++round) {
        if (stop_due(c.stop, round)) break;
        const auto i = static_cast<std::size_t>(c.rng() % n);
        const int fd = c.pool.watched(i);
        const Nanos t0 = monotonic_ns();
        poller.remove(fd);
        poller.flush();
        const Nanos t1 = monotonic_ns();
        poller.add(fd, interest::read, i);
        poller.flush();
        const Nanos t2 = monotonic_ns();
        poller.modify(fd, interest::read, i);
        poller.flush();
        const Nanos t3 = monotonic_ns();
        if (round < c.plan.warmup) continue;
        out[0].samples.push_back(static_cast<double>(t1 - t0) - c.clock);
        out[1].samples.push_back(static_cast<double>(t2 - t1) - c.clock);
        out[2].samples.push_back(static_cast<double>(t3 - t2) - c.clock);
    }
    return out;
}

} // namespace

Baselines measure_baselines(std::size_t rounds) {
    Baselines b;
    b.clock = median_of(rounds, 0, [] {}); // two clock reads back to back
    // The smallest step the clock takes: a median below it is not a measurement.
    Nanos step = kNanosPerSecond;
    for (std::size_t i = 0; i < rounds; ++i) {
        const Nanos t0 = monotonic_ns();
        Nanos t1 = monotonic_ns();
        while (t1 == t0)
            t1 = monotonic_ns();
        step = std::min(step, t1 - t0);
    }
    b.clock_resolution = static_cast<double>(step);
    b.null_syscall = median_of(rounds, b.clock, [] { (void)::syscall(SYS_getppid); });
    const timespec zero{};
    b.empty_poll = median_of(rounds, b.clock, [&] { (void)::ppoll(nullptr, 0, &zero, nullptr); });
    Fd ep(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep) throw_errno("epoll_create1");
    epoll_event ev[1];
    b.empty_epoll = median_of(rounds, b.clock, [&] { (void)::epoll_wait(ep.get(), ev, 1, 0); });
    return b;
}

void run_points(const Plan& plan, double clock_cost, std::uint64_t shuffle_seed,
                const std::function<void(PointResult&&)>& on_result,
                const std::function<bool()>& stop) {
    pin_to_cpu(plan.cpu);
    std::mt19937_64 rng(plan.seed ^ (shuffle_seed * 0x9e3779b97f4a7c15ULL));
    // The N values in shuffled order too; each N's sources are made once and shared.
    auto fds = plan.fds;
    std::shuffle(fds.begin(), fds.end(), rng);
    for (const auto n : fds) {
        if (stop()) return;
        // The K values at this N (a percentage and a count may land on the same K).
        std::vector<std::size_t> ks;
        for (const auto& a : plan.active)
            ks.push_back(a.resolve(n));
        std::sort(ks.begin(), ks.end());
        ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
        std::vector<PointKey> points;
        for (const auto b : plan.backends)
            for (const auto m : plan.modes) {
                if (m == Mode::ready || m == Mode::throughput)
                    for (const auto k : ks)
                        points.push_back({m, b, n, k, ""});
                else
                    points.push_back({m, b, n, 1, ""});
            }
        std::shuffle(points.begin(), points.end(), rng);
        const FdPool pool(plan.kind, n, plan.placement);
        const Context ctx{plan, pool, clock_cost, rng, stop};
        for (const auto& key : points) {
            if (stop()) return;
            auto poller = make_poller(key.backend);
            poller->measure_calls(key.mode == Mode::ready);
            register_all(*poller, pool);
            switch (key.mode) {
            case Mode::ready:
                on_result(run_ready(ctx, *poller, key));
                break;
            case Mode::throughput:
                on_result(run_throughput(ctx, *poller, key));
                break;
            case Mode::wakeup:
                on_result(run_wakeup(ctx, *poller, key));
                break;
            case Mode::ctl:
                for (auto& r : run_ctl(ctx, *poller, key))
                    on_result(std::move(r));
                break;
            }
        }
    }
}

} // namespace netdx::mux
