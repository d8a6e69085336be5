#pragma once
/// netdx-probe's measurement engine: threads that talk to an echo server and record round
/// trips into histograms. It measures; main.cpp reports.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <netdx/measure/histogram.hpp>
#include <netdx/net/endpoint.hpp>
#include <netdx/net/socket.hpp>
#include <netdx/sys/clock.hpp>

namespace netdx::probe {

enum class Mode { pingpong, paced, connect };

struct Config {
    Endpoint target;
    Protocol protocol = Protocol::tcp;
    Mode mode = Mode::pingpong;
    std::size_t size = 64;
    Nanos duration = 10 * kNanosPerSecond; ///< 0 with count > 0: until count
    std::uint64_t count = 0;               ///< total samples; 0: by duration
    Nanos warmup = 0;
    int connections = 1;
    int threads = 1;
    int inflight = 1; ///< ping-pong: per connection; paced: cap per connection, 0 = none
    double rate = 0;  ///< paced and connect modes: per second, all threads together
    bool poisson = false;
    Nanos timeout = kNanosPerSecond; ///< per request (UDP: then lost) and per connect
    bool busy_poll = false;
    std::vector<int> cpus; ///< pin thread i to cpus[i % size]
    Nanos interval = 0;
    bool close_rst = false; ///< connect mode: close with RST (no TIME_WAIT left behind)
};

/// Why a run stopped early.
enum class Failure { none, unavailable, corrupt, system };

/// Everything one thread (or, merged, the whole run) measured.
struct Result {
    Histogram rtt;        ///< round trip; paced: from the intended send time (corrected)
    Histogram rtt_actual; ///< paced only: from the actual send time (uncorrected)
    Histogram lag;        ///< paced only: how late each send was against the schedule
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::uint64_t lost = 0;                      ///< UDP: no reply within --timeout
    std::uint64_t late = 0;                      ///< UDP: a reply after it was counted lost
    std::uint64_t duplicates = 0;                ///< UDP
    std::uint64_t reordered = 0;                 ///< UDP: a reply older than one already received
    std::uint64_t refused = 0;                   ///< connect mode
    std::uint64_t timeouts = 0;                  ///< connect mode
    std::map<std::string, std::uint64_t> errors; ///< "connect ECONNREFUSED" -> count
    std::vector<int> cpus;                       ///< CPUs the probe threads ran on
    std::string socket_options; ///< as the kernel reports them, from the first socket
    Nanos measured_ns = 0;      ///< time after warm-up
    void merge(const Result& other);
    [[nodiscard]] std::uint64_t error_count() const;
    /// UDP: lost as a share of the requests that were answered or lost, in percent.
    [[nodiscard]] double loss_percent() const;
};

/// Per-interval aggregation: threads flush their interval histograms here; the main thread
/// takes each interval once it is over.
class IntervalCollector {
public:
    struct Slot {
        Histogram rtt;
        std::uint64_t lost = 0;
        std::uint64_t sent = 0;
    };
    void add(std::uint64_t index, const Histogram& h, std::uint64_t sent, std::uint64_t lost);
    /// The interval's data (empty when no thread reported into it).
    Slot take(std::uint64_t index);

private:
    std::mutex mutex_;
    std::map<std::uint64_t, Slot> slots_;
};

/// State the threads share with the main thread.
struct Shared {
    std::atomic<bool> stop{false};
    Nanos start = 0;                        ///< when the threads began (warm-up starts)
    Nanos measure_from = 0;                 ///< start + warmup
    Nanos end = 0;                          ///< measure_from + duration, or 0 for count-only runs
    std::atomic<std::int64_t> remaining{0}; ///< samples still wanted (count mode)
    IntervalCollector intervals;
    std::mutex failure_mutex;
    Failure failure = Failure::none;
    std::string failure_text;
    void fail(Failure f, std::string text);
};

/// Runs the probe: threads, connections, measurement; returns the merged result.
/// Throws std::system_error for unexpected failures; expected ones land in shared.failure.
Result run(const Config& config, Shared& shared);

/// Bytes a UDP probe datagram needs for its header (magic, sequence, timestamp).
inline constexpr std::size_t kUdpHeader = 20;

} // namespace netdx::probe
