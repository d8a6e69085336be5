#pragma once
/// netdx-probe's measurement engine: threads that talk to an echo server and record round
/// trips into histograms. It measures; main.cpp reports.
///
/// Every message sent in the measured window ends exactly one way, so the counts add up:
///
///   sent = received (an RTT sample) + lost (UDP: no reply within --timeout)
///          + truncated (UDP: a reply shorter than the request) + unfinished (still in
///          flight when measuring ended, or answered after --count was reached)
///
/// A sweep runs the engine once per size on the same Connections: a peer that serves one
/// client (socat UDP-LISTEN or TCP-LISTEN without fork) serves every size, and UDP sequence
/// numbers go on across sizes, so a late reply to the previous size is counted late rather
/// than mistaken for this size's.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <netdx/measure/histogram.hpp>
#include <netdx/net/backends.hpp>
#include <netdx/net/endpoint.hpp>
#include <netdx/net/socket.hpp>
#include <netdx/sys/clock.hpp>
#include <netdx/sys/fd.hpp>
#include <netdx/sys/shard.hpp>

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
    double rate = 0;  ///< paced and connect modes: per second, the whole run (every agent)
    /// This agent's slots of the rate's schedule (--shard: every k-th); its threads split it.
    Stripe slots;
    std::uint64_t seed_salt = 0; ///< told apart per agent: independent Poisson streams
    bool poisson = false;
    Nanos timeout = kNanosPerSecond; ///< per request (UDP: then lost) and per connect
    bool busy_poll = false;
    /// The event loop's backend for many connections and paced runs (level-triggered:
    /// the handlers read once per event). One connection in ping-pong needs no loop: it
    /// reads with blocking (or, with busy_poll, non-blocking) recv.
    Backend backend = Backend::epoll;
    std::vector<int> cpus; ///< pin thread i to cpus[i % size]
    Nanos interval = 0;
    bool close_rst = false; ///< connect mode: close with RST (no TIME_WAIT left behind)
};

/// A paced send more than this far behind its schedule is given up (Result::skipped): a
/// sender that cannot keep up must not queue without bound (memory, and a stop it never
/// reaches), and says by how much it fell short instead.
inline constexpr Nanos kMaxSendLag = kNanosPerSecond;

/// Why a run stopped early.
enum class Failure { none, unavailable, corrupt, system };

/// Everything one thread (or, merged, the whole run) measured.
struct Result {
    Histogram rtt;        ///< round trip; paced: from the intended send time (corrected)
    Histogram rtt_actual; ///< paced only: from the actual send time (uncorrected)
    Histogram lag;        ///< paced only: how late each send was against the schedule
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::uint64_t lost = 0;       ///< UDP: no reply within --timeout
    std::uint64_t truncated = 0;  ///< UDP: replies shorter than the request
    std::uint64_t unfinished = 0; ///< in flight when measuring ended (see the identity above)
    std::uint64_t late = 0;       ///< UDP: a reply after it was counted lost (or a previous size's)
    std::uint64_t duplicates = 0; ///< UDP
    std::uint64_t reordered = 0;  ///< UDP: a reply older than one already received
    std::uint64_t foreign = 0;    ///< UDP: datagrams from the peer that are not ours at all
    std::uint64_t skipped = 0;    ///< paced and connect: sends given up, kMaxSendLag behind
    std::uint64_t refused = 0;    ///< connect mode
    std::uint64_t timeouts = 0;   ///< connect mode
    std::size_t truncated_to = 0; ///< UDP: the longest truncated reply, in bytes
    std::map<std::string, std::uint64_t> errors; ///< "connect ECONNREFUSED" -> count
    std::vector<int> cpus;                       ///< CPUs the probe threads ran on
    std::string socket_options; ///< as the kernel reports them, from the first socket
    Nanos measured_ns = 0;      ///< time after warm-up
    void merge(const Result& other);
    [[nodiscard]] std::uint64_t error_count() const;
    /// UDP: lost as a share of the requests that were answered or lost, in percent.
    [[nodiscard]] double loss_percent() const;
};

/// Per-interval aggregation. An interval is the time a reply came (or a request was found
/// lost), counted from the end of the warm-up, the last one taking what arrives after the
/// end: so every interval is there, and the intervals add up to the run's totals. Each
/// thread says how far it has got (advance), and the main thread takes interval k once
/// every thread is past it (complete), or when the run is over.
class IntervalCollector {
public:
    struct Slot {
        Histogram rtt;
        std::uint64_t lost = 0;
        std::uint64_t sent = 0; ///< answered or lost in the interval
    };
    /// Before the threads start (from the main thread).
    void begin(std::size_t threads);
    void add(std::uint64_t index, const Histogram& h, std::uint64_t sent, std::uint64_t lost);
    /// Thread `thread` has handed over every interval below `index`.
    void advance(std::size_t thread, std::uint64_t index);
    [[nodiscard]] bool complete(std::uint64_t index) const;
    /// The interval's data (empty when nothing happened in it).
    Slot take(std::uint64_t index);
    /// The highest index any thread reported into, +1 (0 when none).
    [[nodiscard]] std::uint64_t end() const;

private:
    mutable std::mutex mutex_;
    std::map<std::uint64_t, Slot> slots_;
    std::vector<std::uint64_t> past_; ///< per thread
    std::uint64_t end_ = 0;
};

/// State the threads share with the main thread. The times are set by begin(), on the main
/// thread before the threads start, and only read afterwards.
struct Shared {
    std::atomic<bool> stop{false};
    Nanos start = 0;        ///< when the threads began (warm-up starts)
    Nanos measure_from = 0; ///< start + warmup
    Nanos end = 0;          ///< measure_from + duration, or 0 for count-only runs
    /// Count mode: a send after the warm-up takes a ticket, a lost or truncated one gives
    /// it back, so exactly --count messages are answered and no more are sent.
    std::atomic<std::int64_t> tickets{0};
    std::atomic<std::uint64_t> recorded{0}; ///< count mode: samples taken so far
    IntervalCollector intervals;
    std::mutex failure_mutex;
    Failure failure = Failure::none;
    std::string failure_text;
    void begin(const Config& config, Nanos now);
    void fail(Failure f, std::string text);
    [[nodiscard]] bool failed() const;
    /// The last interval index of a duration run (count-only runs: none, UINT64_MAX).
    [[nodiscard]] std::uint64_t last_interval(const Config& config) const;
};

/// The sockets a sweep keeps from one size to the next, per thread, and each thread's next
/// UDP sequence number.
struct Connections {
    std::vector<std::vector<Fd>> by_thread;
    std::vector<std::uint64_t> udp_seq;
};

/// Runs the probe: threads, connections (opened when `connections` lacks them, kept there
/// after when they are still in a known state), measurement; returns the merged result.
/// Call shared.begin() first. Throws std::system_error for unexpected failures; expected
/// ones land in shared.failure.
Result run(const Config& config, Shared& shared, Connections& connections);

/// Bytes a UDP probe datagram needs for its header (magic, sequence, timestamp).
inline constexpr std::size_t kUdpHeader = 20;

} // namespace netdx::probe
