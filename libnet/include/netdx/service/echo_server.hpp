#pragma once
/// RFC 862 echo over TCP and UDP on one port, one EventLoop per thread (any level-triggered
/// backend: epoll, poll, io_uring one-shot polls).
///
///   thread 0                thread 1               ...   (SO_REUSEPORT: the kernel spreads
///   +------------------+    +------------------+          new connections and datagrams
///   | TCP listen :7007 |    | TCP listen :7007 |          over the threads' sockets)
///   | UDP socket :7007 |    | UDP socket :7007 |
///   | EventLoop, wheel |    | EventLoop, wheel |
///   | connections ...  |    | connections ...  |
///   +------------------+    +------------------+
///
/// Bytes are echoed as they come, with no framing. A reply that cannot be written at once is
/// kept (at most `write_buffer` bytes per connection) and the connection is not read again
/// until it is flushed, so a peer that never reads costs a bounded amount of memory. UDP
/// replies are the request, never larger. Idle connections are closed through a hashed
/// timing wheel (no timer syscall per connection).
///
/// Ownership: the server owns its sockets and threads. Thread safety: the constructor binds
/// (and throws std::system_error naming the address); start(), stop() and the destructor are
/// for the owning thread; stats() may be called from any thread at any time. A process may
/// fork between construction and start(): a child destroying its copy leaves the parent's
/// server untouched.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include <netdx/net/backends.hpp>
#include <netdx/net/endpoint.hpp>
#include <netdx/sys/clock.hpp>

namespace netdx {

struct EchoConfig {
    Endpoint listen; ///< port 0: the kernel picks one (same for TCP and UDP)
    bool tcp = true;
    bool udp = true;
    int threads = 1;
    Nanos idle_timeout = 0;                ///< 0: never close idle connections
    std::uint64_t max_connections = 0;     ///< 0: unlimited; past it, accepted and closed at once
    double udp_rate_limit = 0;             ///< replies per source address per second; 0: unlimited
    std::size_t write_buffer = 256 * 1024; ///< per-connection cap on unsent echo bytes
    int backlog = 4096;
    /// After serving events, poll without sleeping for up to this long before blocking, but
    /// only while traffic is dense (the last idle gap was shorter than this). It saves the
    /// sleep/wake-up of a ping-pong peer at the price of CPU while that traffic lasts; an idle
    /// server sleeps. With a peer on the same machine it yields the CPU while it spins, so a
    /// busy client loses nothing. 0: always block.
    Nanos spin = 50 * kNanosPerMicro;
    /// Never sleep: every turn polls the backend with a zero timeout, whatever the traffic
    /// (a CPU per thread, all the time). For latency runs against a spinning client, where
    /// even the adaptive spin's first sleep after a gap costs a wake-up.
    bool busy_poll = false;
    /// The loop's readiness backend; its handlers read once per event, so a level-triggered
    /// one (not epoll-et nor uring-multishot).
    Backend backend = Backend::epoll;
    /// With an io_uring backend, TCP goes through completions instead of readiness: one
    /// multishot accept, a multishot receive per connection into provided buffers, sends
    /// batched into the loop's submission (probe_io_uring().completions says whether the
    /// kernel can). UDP stays on readiness, on the same ring.
    bool tcp_completions = false;
};

/// The backend as reports name it: backend_name(), or "uring-completions".
[[nodiscard]] std::string_view echo_backend_name(const EchoConfig& config);

struct EchoStats {
    std::uint64_t connections_current = 0;
    std::uint64_t connections_total = 0;
    std::uint64_t connections_refused = 0; ///< over --max-connections or out of descriptors
    std::uint64_t connections_idle_closed = 0;
    std::uint64_t connections_reset = 0; ///< ended by an error (ECONNRESET, EPIPE …)
    std::uint64_t tcp_bytes = 0;         ///< bytes received (and so echoed) over TCP
    std::uint64_t tcp_reads = 0;         ///< TCP receive calls that returned data
    std::uint64_t udp_datagrams = 0;     ///< datagrams received
    std::uint64_t udp_replies = 0;       ///< datagrams echoed
    std::uint64_t udp_bytes = 0;
    std::uint64_t udp_rate_limited = 0; ///< datagrams not echoed (rate limit)
    std::uint64_t udp_send_errors = 0;  ///< replies the kernel refused (ENOBUFS …)
    void add(const EchoStats& other);
    /// {"connections_current": …, …}: the counters by their names, for reports and for
    /// worker processes reporting to their parent.
    [[nodiscard]] nlohmann::json to_json() const;
    /// The counters found in `j` (missing ones are 0).
    [[nodiscard]] static EchoStats from_json(const nlohmann::json& j);

    /// Every counter with its JSON name: sums, serialisation and checks walk this one list.
    struct Counter {
        const char* name;
        std::uint64_t EchoStats::*member;
    };
    static const std::array<Counter, 12> kCounters;
};

class EchoServer {
public:
    explicit EchoServer(EchoConfig config);
    ~EchoServer();
    EchoServer(const EchoServer&) = delete;
    EchoServer& operator=(const EchoServer&) = delete;

    /// The bound address (with the real port when port 0 was asked).
    [[nodiscard]] Endpoint local_endpoint() const { return local_; }
    /// Starts the worker threads. Throws std::system_error if one cannot start.
    void start();
    /// Stops accepting, closes every connection and joins the threads. Idempotent.
    void stop();
    [[nodiscard]] EchoStats stats() const;
    /// The CPU each worker last ran on (-1 when unknown).
    [[nodiscard]] std::vector<int> worker_cpus() const;
    /// The first fatal error a worker hit ("" when none): a worker never dies silently.
    [[nodiscard]] std::string worker_error() const;

    struct Worker; // private, defined in the .cpp

private:
    EchoConfig config_;
    Endpoint local_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::atomic<std::uint64_t> connections_now_{0}; ///< shared by workers for max_connections
    bool started_ = false;
};

} // namespace netdx
