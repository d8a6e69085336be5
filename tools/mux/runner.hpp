#pragma once
/// What netdx-mux measures and how, for one process. A run is a list of points; each point is
/// one backend, one N (watched fds), one K (ready per round) and one mode.
///
///   ready       K sources made readable (untimed), then ONE timed wait with timeout 0; the
///               kernel call is timed alone (the sample) and the rest of the wait, turning
///               the kernel's answer into events, is the dispatch. For io_uring the sample
///               is the whole cycle: submit the queued re-arms (one-shot), wait, reap the
///               completions (see measured_call()). The reported set is
///               checked against the K (missed, duplicate, spurious), then the data is read
///               and one-shot fds re-armed, untimed. With churn, the timed region also
///               re-registers the K fds (remove + add) before the wait: it counts as
///               dispatch.
///   wakeup      a producer thread on another CPU writes to one source while this thread is
///               blocked in wait(-1); sample = return time - write time.
///   ctl         remove, add and modify of one registered fd among N, each timed alone
///               (io_uring: including the submit that hands the SQE to the kernel).
///   throughput  rounds of (make K ready, wait, read, re-arm) for a fixed time: events/s
///               with everything included.
///
/// Every sample is one CLOCK_MONOTONIC pair around the call, minus the clock's own cost
/// (measured first). Warm-up rounds run before the timed ones and are discarded.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <netdx/net/backends.hpp>
#include <netdx/sys/clock.hpp>

#include "workload.hpp"

namespace netdx::mux {

enum class Mode { ready, wakeup, ctl, throughput };
inline constexpr Mode kAllModes[] = {Mode::ready, Mode::wakeup, Mode::ctl, Mode::throughput};
[[nodiscard]] std::string_view mode_name(Mode m);
[[nodiscard]] std::optional<Mode> mode_from_name(std::string_view name);

/// K as given: a count ("10") or a fraction of N ("10%", "1/2" is not accepted).
struct ActiveSpec {
    std::size_t count = 0;
    double fraction = 0; ///< > 0: a fraction of N
    [[nodiscard]] std::size_t resolve(std::size_t n) const;
};

struct Plan {
    std::vector<Backend> backends;
    std::vector<std::size_t> fds;
    std::vector<ActiveSpec> active;
    std::vector<Mode> modes;
    FdKind kind = FdKind::eventfd;
    Placement placement = Placement::spread;
    bool churn = false;
    std::size_t rounds = 1000; ///< timed rounds per point and process
    std::size_t warmup = 100;
    Nanos throughput_time = 200 * kNanosPerMilli;
    int cpu = -1;          ///< pin the measuring thread here (-1: do not pin)
    int producer_cpu = -1; ///< the wakeup producer's CPU (-1: do not pin)
    std::uint64_t seed = 1;
};

struct PointKey {
    Mode mode = Mode::ready;
    Backend backend = Backend::epoll;
    std::size_t fds = 0;
    std::size_t active = 0;
    std::string op; ///< ctl: "add", "modify", "remove"; otherwise ""
    bool operator<(const PointKey& o) const;
};

struct PointResult {
    PointKey key;
    std::vector<double> samples;  ///< ns per kernel call (clock cost subtracted)
    std::vector<double> dispatch; ///< ready mode: the rest of the timed region, ns
    std::uint64_t missed = 0, duplicates = 0, spurious = 0; ///< ready-set check
    std::uint64_t events = 0;                               ///< throughput: events handled
    double seconds = 0;                                     ///< throughput: time taken

    [[nodiscard]] std::uint64_t errors() const { return missed + duplicates + spurious; }
    /// Throughput: time per event handled, everything included (0 before any event).
    [[nodiscard]] double ns_per_event() const {
        return events ? seconds * 1e9 / static_cast<double>(events) : 0;
    }
};

/// Baselines measured alongside, so results decompose (ns per call, medians).
struct Baselines {
    double clock = 0;            ///< one clock_gettime(CLOCK_MONOTONIC)
    double clock_resolution = 1; ///< the smallest step between two different readings
    double null_syscall = 0;     ///< getppid
    double empty_poll = 0;       ///< ppoll on zero fds, timeout 0
    double empty_epoll = 0;      ///< epoll_pwait on an empty set, timeout 0
};

/// Measures the clock's cost and the baselines.
[[nodiscard]] Baselines measure_baselines(std::size_t rounds);

/// Runs every point of `plan` in this process, in an order shuffled by `shuffle_seed`.
/// `on_result` gets each point's result as it completes; `stop` is polled between points.
/// Throws std::system_error when descriptors cannot be made.
void run_points(const Plan& plan, double clock_cost, std::uint64_t shuffle_seed,
                const std::function<void(PointResult&&)>& on_result,
                const std::function<bool()>& stop);

/// What a ready-mode sample of `b` covers, for the report ("epoll_wait()").
[[nodiscard]] std::string_view measured_call(Backend b);

/// Pins the calling thread to `cpu`; false when it cannot (the CPU is not in the mask).
bool pin_to_cpu(int cpu);

} // namespace netdx::mux
