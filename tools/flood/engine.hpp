#pragma once
/// The flood engine: one event loop that opens exactly its share of connections at its share
/// of the rate, holds them, and closes them. netdx-flood runs one per worker process (each
/// process has its own RLIMIT_NOFILE) and merges their Progress and Result.
///
///   ramp ──(every attempt resolved)──> hold ──(--hold elapsed, or stop)──> close ──> done
///     │ connect() at the paced times, at most max_inflight half-open
///     │ each attempt ends established, failed (errno) or timed out (timing wheel)
///     └ --churn: a connection whose lifetime ends is closed and its slot reconnects,
///       through the same pacer, until the hold ends
///
/// Thread safety: a Worker belongs to the thread that calls run().

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <netdx/measure/histogram.hpp>
#include <netdx/net/endpoint.hpp>
#include <netdx/net/ip_address.hpp>
#include <netdx/sys/clock.hpp>

namespace netdx::flood {

struct Config {
    std::vector<Endpoint> targets;
    std::vector<IpAddress> sources; ///< empty: no bind, the kernel picks address and port
    std::uint64_t connections = 0;  ///< this worker's share, exactly
    double rate = 0;                ///< attempts per second for this worker; 0: as fast as possible
    std::uint64_t max_inflight = 1000;
    Nanos connect_timeout = 3 * kNanosPerSecond;
    Nanos hold = kNanosPerSecond; ///< < 0: until stopped
    bool close_rst = false;
    bool close_random = false;
    std::uint64_t send_size = 0; ///< 0: silent connections
    Nanos every = kNanosPerSecond;
    std::string first_message;
    bool churn = false;
    Nanos lifetime = 0;
    Nanos start = 0;               ///< monotonic time the ramp starts (same in every worker)
    std::uint64_t first_pair = 0;  ///< this worker's first (source, target) pair
    std::uint64_t pair_stride = 1; ///< number of workers: pairs go round-robin across them
    std::uint64_t seed = 1;
};

/// Counters, cumulative since the start; posted live and merged by addition (fds_peak: max).
struct Progress {
    std::uint64_t attempted = 0;
    std::uint64_t established = 0; ///< handshakes completed (with churn, every one)
    std::uint64_t failed = 0;      ///< attempts that ended in an error or a timeout
    std::uint64_t timed_out = 0;   ///< of which: no handshake within --connect-timeout
    std::uint64_t aborted = 0;     ///< still connecting when the run ended (not failures)
    std::uint64_t open = 0;        ///< established and not yet closed, now
    std::uint64_t inflight = 0;    ///< connects under way, now
    std::uint64_t peak_open = 0;
    std::uint64_t closed_by_peer = 0; ///< EOF from the peer while held
    std::uint64_t reset_by_peer = 0;  ///< ECONNRESET while held
    std::uint64_t closed = 0;         ///< closed by us (end of hold, churn)
    std::uint64_t messages_sent = 0;
    std::uint64_t echoes = 0;         ///< messages whose echo came back complete and equal
    std::uint64_t corrupt_echoes = 0; ///< echoes whose bytes differ from what was sent
    std::uint64_t bytes_received = 0;
    std::uint64_t fds_peak = 0; ///< descriptors one process had open, at most (merged: max)
    std::map<std::string, std::uint64_t> failures; ///< "connect ECONNREFUSED" -> count

    void add(const Progress& other);
    [[nodiscard]] nlohmann::json to_json() const;
    [[nodiscard]] static Progress from_json(const nlohmann::json& j);
};

struct Result {
    Progress progress;
    Histogram connect_latency{3'600 * kNanosPerSecond};
    /// When each connection was established, measured from Config::start: its percentiles
    /// give the time to 50%, 90% and 100% of the asked count, merged over workers exactly.
    Histogram established_at{3'600 * kNanosPerSecond};
    Histogram echo_rtt{3'600 * kNanosPerSecond};
    Nanos ramp_end = 0;           ///< when the last attempt resolved (from start); 0: never
    Nanos close_duration = 0;     ///< time to close everything at the end
    std::uint64_t rss_growth = 0; ///< resident bytes gained between the start and the peak
    std::map<std::string, std::uint64_t> pair_peak; ///< "src -> dst" -> most open at once

    void merge(const Result& other);
    [[nodiscard]] nlohmann::json to_json() const;
    [[nodiscard]] static Result from_json(const nlohmann::json& j);
};

class Worker {
public:
    explicit Worker(Config config);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    /// Runs to the end. `stop_fd` becomes readable when the run must end early (it then
    /// closes what it holds and returns what it measured). `on_progress` is called about
    /// every `progress_every` with the counters so far.
    Result run(int stop_fd, Nanos progress_every,
               const std::function<void(const Progress&)>& on_progress);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Resident set size of this process in bytes (from /proc/self/statm), 0 if unknown.
[[nodiscard]] std::uint64_t resident_bytes();

} // namespace netdx::flood
