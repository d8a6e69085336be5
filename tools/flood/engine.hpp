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
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <netdx/measure/histogram.hpp>
#include <netdx/net/backends.hpp>
#include <netdx/net/endpoint.hpp>
#include <netdx/net/ip_address.hpp>
#include <netdx/sys/clock.hpp>

namespace netdx::flood {

struct Config {
    std::vector<Endpoint> targets;
    std::vector<IpAddress> sources; ///< empty: no bind, the kernel picks address and port
    std::uint64_t connections = 0;  ///< this worker's share, exactly
    /// Attempts per second of the whole schedule (every worker of every agent); 0: as fast
    /// as possible. This worker takes its slots of it: slot_first + m·slot_stride (a Stripe,
    /// sys/shard.hpp), so workers and agents interleave instead of firing together.
    double rate = 0;
    std::uint64_t slot_first = 0;
    std::uint64_t slot_stride = 1;
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
    Nanos start = 0; ///< monotonic time the ramp starts (same in every worker)
    /// --start-at: the shared start on the wall clock (ns since the epoch); the worker waits
    /// for it on CLOCK_REALTIME and then counts its times from it (`start` is recomputed).
    std::optional<Nanos> start_wall;
    std::uint64_t first_pair = 0;  ///< this worker's first (source, target) pair
    std::uint64_t pair_stride = 1; ///< number of workers: pairs go round-robin across them
    std::uint64_t seed = 1;
    /// Server-side check (the parent counts the server's sockets through sock_diag): each
    /// connection's local address and port are kept, written here when the ramp ends (see
    /// write_endpoints), and the connections are held until the parent says stop, so it can
    /// look at the server before they close. Empty: no check.
    std::string endpoints_path;
    /// Keep-alive check (any target): TCP keepalive on every held connection (1 s idle, then
    /// 3 probes 1 s apart); a connection the server does not hold is reset or times out.
    bool keepalive = false;
    /// The event loop's backend. Handlers drain every socket to EAGAIN, so the edge
    /// backends work too; with a level-triggered one a connection watches for writes only
    /// while it has bytes to write.
    Backend backend = Backend::epoll_et;
};

/// The connections one worker holds, as the parent reads them back for the server-side
/// check. A pair is (local address, target) as the kernel chose it; each connection is
/// (pair, local port).
///
///   "NDXEP1\0\0" u32 pairs  { u8 family, u8[16] local, u8[16] remote, u16 remote port } ...
///                 u64 conns  { u32 pair, u16 local port, u16 0 } ...
struct HeldEndpoints {
    struct Pair {
        IpAddress local;
        Endpoint target;
    };
    std::vector<Pair> pairs;
    std::vector<std::pair<std::uint32_t, std::uint16_t>> conns;
    void write(const std::string& path) const;
    [[nodiscard]] static HeldEndpoints read(const std::string& path);
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
    std::uint64_t unanswered = 0; ///< --send messages whose echo had not come back when the next
                                  ///< was due or the connection closed
    std::uint64_t peer_spoke = 0; ///< connections the server sent bytes on unasked (a banner,
                                  ///< a refusal such as redis's -ERR max number of clients)
    std::uint64_t keepalive_dead = 0; ///< --verify keepalive: held connections found dead
    std::uint64_t fds_peak = 0;       ///< descriptors one process had open, at most (merged: max)
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
    std::uint64_t rss_growth = 0; ///< private bytes gained between the start and the peak
    Nanos start_lateness = 0;     ///< --start-at: how late the ramp began (merged: the latest)
    std::map<std::string, std::uint64_t> pair_peak; ///< "src -> dst" -> most open at once
    std::string peer_said; ///< the first bytes a server sent unasked (on the first such connection)

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
    /// every `progress_every` with the counters so far; `on_event` gets the lines of the
    /// server-side check ({"type":"held"} once the endpoints are written, {"type":"hold_over"}
    /// when the hold time is over and it waits for the stop).
    Result run(int stop_fd, Nanos progress_every,
               const std::function<void(const Progress&)>& on_progress,
               const std::function<void(std::string_view)>& on_event = {});

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Memory this process alone holds, in bytes: its private pages (/proc/self/smaps_rollup),
/// or its resident set where the kernel has no rollup; 0 if unknown.
[[nodiscard]] std::uint64_t private_bytes();

} // namespace netdx::flood
