#include <array>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <future>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <netdx/net/event_loop.hpp>
#include <netdx/net/socket.hpp>
#include <netdx/service/echo_server.hpp>
#include <netdx/sys/system_error.hpp>

#include "echo_counters.hpp"
#include "spare_descriptor.hpp"
#include "tcp_echo_completions.hpp"

namespace netdx {

using echo_detail::Counter;

const std::array<EchoStats::Counter, 12> EchoStats::kCounters{{
    {"connections_current", &EchoStats::connections_current},
    {"connections_total", &EchoStats::connections_total},
    {"connections_refused", &EchoStats::connections_refused},
    {"connections_idle_closed", &EchoStats::connections_idle_closed},
    {"connections_reset", &EchoStats::connections_reset},
    {"tcp_bytes", &EchoStats::tcp_bytes},
    {"tcp_reads", &EchoStats::tcp_reads},
    {"udp_datagrams", &EchoStats::udp_datagrams},
    {"udp_replies", &EchoStats::udp_replies},
    {"udp_bytes", &EchoStats::udp_bytes},
    {"udp_rate_limited", &EchoStats::udp_rate_limited},
    {"udp_send_errors", &EchoStats::udp_send_errors},
}};

void EchoStats::add(const EchoStats& o) {
    for (const auto& c : kCounters)
        this->*c.member += o.*c.member;
}

nlohmann::json EchoStats::to_json() const {
    auto j = nlohmann::json::object();
    for (const auto& c : kCounters)
        j[c.name] = this->*c.member;
    return j;
}

EchoStats EchoStats::from_json(const nlohmann::json& j) {
    EchoStats s;
    for (const auto& c : kCounters)
        s.*c.member = j.value(c.name, std::uint64_t{0});
    return s;
}

namespace {

constexpr std::size_t kUdpBatch = 16;
constexpr std::size_t kMaxDatagram = 65536;

struct SourceKey {
    std::uint64_t hi = 0, lo = 0;
    bool operator==(const SourceKey&) const = default;
};
struct SourceKeyHash {
    std::size_t operator()(const SourceKey& k) const {
        return std::hash<std::uint64_t>{}(k.hi * 0x9E3779B97F4A7C15ULL ^ k.lo);
    }
};

SourceKey key_of(const sockaddr_storage& ss) {
    SourceKey k;
    if (ss.ss_family == AF_INET) {
        k.lo = reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr.s_addr;
    } else {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr.s6_addr;
        std::memcpy(&k.hi, a, 8);
        std::memcpy(&k.lo, a + 8, 8);
    }
    return k;
}

Fd open_listener(const Endpoint& at, Protocol protocol, int backlog) {
    Fd fd = open_socket(at.family(), protocol, true);
    set_int_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    set_int_option(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
    if (at.family() == AF_INET6)
        set_int_option(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY");
    bind_to(fd.get(), at);
    if (protocol == Protocol::tcp) listen_on(fd.get(), backlog, at);
    return fd;
}

} // namespace

struct EchoServer::Worker : echo_detail::EchoCounters {
    /// A TCP connection: its own channel and its own timer entry (intrusive: arming
    /// allocates nothing).
    struct Conn final : TimerEntry, Channel {
        Worker* worker = nullptr;
        Fd fd;
        std::string pending;        ///< echo bytes the socket did not take yet
        std::size_t offset = 0;     ///< sent part of pending
        Nanos last_active = 0;      ///< only kept with an idle timeout
        std::size_t live_index = 0; ///< busy-polling: its place in Worker::live
        void on_event(const PollEvent& ev) override { worker->on_conn_event(*this, ev); }
    };
    /// The listener and the UDP socket: one channel each, calling back into the worker.
    struct Callback final : Channel {
        std::function<void()> fn;
        void on_event(const PollEvent&) override { fn(); }
    };

    Worker(const EchoConfig& c, std::atomic<std::uint64_t>& shared, Fd tcp, Fd udp_fd)
        : cfg(c), shared_now(shared), listen(std::move(tcp)), udp(std::move(udp_fd)),
          read_buffer(
              std::min<std::size_t>(std::max<std::size_t>(cfg.write_buffer, 1), 64 * 1024)) {
        if (udp) udp_buffers.resize(kUdpBatch * kMaxDatagram);
        spare.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        on_listen.fn = [this] { accept_all(loop->now()); };
        on_udp.fn = [this] { static_cast<void>(echo_datagrams()); };
    }

    /// Made on the worker's own thread once started, never at construction: a process that
    /// forks between the two (netdx-echo --processes) must not share its eventfd or
    /// io_uring with its children, whose copy of the server is destroyed right after the
    /// fork; and an io_uring made, run and destroyed by one thread may defer its kernel work
    /// to the loop's waits (EventLoop::Options::one_thread).
    void make_loop() {
        EventLoop::Options o;
        o.one_thread = true;
        o.backend = cfg.backend;
        o.spin = cfg.spin;
        o.busy_poll = cfg.busy_poll;
        o.wheel_tick = cfg.idle_timeout > 0 ? std::max<Nanos>(cfg.idle_timeout / 64, kNanosPerMilli)
                                            : kNanosPerSecond;
        o.wheel_slots = 256;
        {
            auto made = std::make_unique<EventLoop>(o);
            std::lock_guard lock(loop_mutex);
            loop = std::move(made);
            if (stopping) loop->stop(); // stop() came before the loop existed
        }
        loop->on_wheel_expiry(
            [this](TimerEntry& e, Nanos now) { on_idle_timer(static_cast<Conn&>(e), now); });
        if (listen && cfg.tcp_completions) {
            tcp_completions = std::make_unique<echo_detail::TcpEchoCompletions>(
                *loop, cfg, *this, shared_now, listen.get());
            tcp_completions->start();
        } else if (listen) {
            loop->watch(listen.get(), interest::read, on_listen);
        }
        // Busy-polling, the UDP socket is read every turn instead: asking the poller first
        // would cost one more system call per datagram than a bare recvfrom spin.
        if (udp && !cfg.busy_poll) loop->watch(udp.get(), interest::read, on_udp);
        loop->flush();
    }

    /// The thread's body: makes the loop (the outcome goes to `ready`), serves until stop(),
    /// then closes everything and destroys the loop, all on this thread.
    void run(std::promise<void>& ready) {
        try {
            make_loop();
            ready.set_value();
        } catch (...) {
            ready.set_exception(std::current_exception());
            destroy_loop();
            return;
        }
        try {
            cpu.store(::sched_getcpu(), std::memory_order_relaxed);
            if (cfg.busy_poll) {
                busy_poll();
            } else {
                while (!loop->stop_requested()) {
                    loop->run_once(-1);
                    cpu.store(::sched_getcpu(), std::memory_order_relaxed);
                }
            }
        } catch (const std::exception& e) {
            std::lock_guard lock(error_mutex);
            error = e.what();
        }
        for (auto& c : conns)
            if (c) close_conn(*c, nullptr);
        try {
            // The kernel ends each connection's operations before it is freed: a second at
            // most, then the ring's teardown cancels what is left.
            if (tcp_completions) tcp_completions->shutdown(kNanosPerSecond);
        } catch (const std::exception& e) {
            std::lock_guard lock(error_mutex);
            if (error.empty()) error = e.what();
        }
        tcp_completions.reset();
        if (listen) loop->unwatch(listen.get());
        if (udp) loop->unwatch(udp.get()); // a no-op when busy-polling: never watched
        listen.reset();
        udp.reset();
        destroy_loop();
    }

    /// Busy-polling: the sources are asked directly, as a bare spinning server asks its one
    /// socket, because each system call a turn makes is time the one with traffic waits:
    ///
    ///   UDP socket        recvmmsg every turn (asking the poller first is one more call)
    ///   TCP, <= 8 conns   recv on each connection every turn
    ///   the poller        every turn while TCP (too many connections to read directly)
    ///                     has had traffic lately or nothing else has; else every 8th turn
    ///                     (accepts, writability, timers)
    ///
    /// A source quiet for ~10 ms of turns is asked every 8th turn only, so traffic on the
    /// other halves its wait. Both busy, or both quiet: both every turn.
    void busy_poll() {
        constexpr std::uint64_t kRecent = 1 << 14; // turns: ~10 ms of spinning
        constexpr std::uint64_t kQuietEvery = 8;
        constexpr std::size_t kDirect = 8;
        std::uint64_t turn = 0, udp_seen = 0, tcp_seen = 0;
        while (!loop->stop_requested()) {
            ++turn;
            const bool udp_recent = udp && turn - udp_seen <= kRecent;
            const bool tcp_recent = turn - tcp_seen <= kRecent;
            const bool sometimes = turn % kQuietEvery == 0;
            if (udp && (udp_recent || !tcp_recent || sometimes))
                if (echo_datagrams() > 0) udp_seen = turn;
            const auto before = total.get() + tcp_reads.get();
            const bool direct = !live.empty() && live.size() <= kDirect;
            if (direct && (tcp_recent || !udp_recent || sometimes)) {
                for (std::size_t i = 0; i < live.size();) {
                    const int fd = live[i];
                    Conn& c = *conns[static_cast<std::size_t>(fd)];
                    if (c.pending.empty()) on_readable(c, loop->now()); // may close it
                    if (i < live.size() && live[i] == fd) ++i; // else another took its place
                }
            }
            if (direct ? sometimes : (tcp_recent || !udp_recent || sometimes)) loop->run_once(0);
            // Only TCP counts as traffic here: the wake-up eventfd is the loop's own.
            if (total.get() + tcp_reads.get() != before) tcp_seen = turn;
            if (sometimes) cpu.store(::sched_getcpu(), std::memory_order_relaxed);
        }
    }

    void destroy_loop() {
        tcp_completions.reset();
        std::lock_guard lock(loop_mutex);
        loop.reset();
    }

    /// Any thread.
    void request_stop() {
        std::lock_guard lock(loop_mutex);
        stopping = true;
        if (loop) loop->stop();
    }

    void on_conn_event(Conn& c, const PollEvent& ev) {
        if (ev.writable && !c.pending.empty()) {
            if (!flush(c)) return;
        }
        if (ev.readable || ev.error || ev.hangup) {
            if (c.pending.empty())
                on_readable(c, loop->now());
            else if (ev.error)
                close_conn(c, &reset);
        }
    }

    void accept_all(Nanos now) {
        for (int i = 0; i < 64; ++i) {
            Accepted a = accept_connection(listen.get());
            if (!a.fd) {
                if (a.error == EAGAIN) return;
                if (a.error == EMFILE || a.error == ENFILE) {
                    // Out of descriptors: the pending connection would keep the listener
                    // readable forever. Use the spare descriptor to accept and shed it.
                    if (!echo_detail::shed_with_spare(listen.get(), spare, refused)) return;
                }
                continue; // ECONNABORTED and friends: that one is gone, take the next
            }
            const auto before = shared_now.fetch_add(1, std::memory_order_relaxed);
            if (cfg.max_connections > 0 && before >= cfg.max_connections) {
                shared_now.fetch_sub(1, std::memory_order_relaxed);
                refused.add(1);
                continue; // a.fd closes here: refused at once
            }
            const int fd = a.fd.get();
            set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
            if (static_cast<std::size_t>(fd) >= conns.size())
                conns.resize(static_cast<std::size_t>(fd) * 2 + 64);
            auto conn = std::make_unique<Conn>();
            conn->worker = this;
            conn->fd = std::move(a.fd);
            conn->last_active = now;
            loop->watch(fd, interest::read, *conn);
            if (cfg.idle_timeout > 0) loop->wheel().arm(*conn, now, cfg.idle_timeout);
            if (cfg.busy_poll) {
                conn->live_index = live.size();
                live.push_back(fd);
            }
            conns[static_cast<std::size_t>(fd)] = std::move(conn);
            current.add(1);
            total.add(1);
        }
    }

    void on_readable(Conn& c, Nanos now) {
        // read_buffer holds at most write_buffer bytes, so pending never exceeds it.
        const ssize_t n = ::recv(c.fd.get(), read_buffer.data(), read_buffer.size(), 0);
        if (n > 0) {
            c.last_active = now;
            tcp_bytes.add(static_cast<std::uint64_t>(n));
            tcp_reads.add(1);
            write_back(c, read_buffer.data(), static_cast<std::size_t>(n));
            return;
        }
        if (n == 0) { // the peer finished sending: all it sent was echoed, so close
            close_conn(c, nullptr);
            return;
        }
        if (errno == EAGAIN || errno == EINTR) return;
        close_conn(c, &reset);
    }

    void write_back(Conn& c, const char* data, std::size_t n) {
        const ssize_t w = ::send(c.fd.get(), data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        std::size_t sent = 0;
        if (w >= 0)
            sent = static_cast<std::size_t>(w);
        else if (errno != EAGAIN && errno != EINTR) {
            close_conn(c, &reset);
            return;
        }
        if (sent == n) return;
        // Keep the rest and stop reading until it is flushed: bounded memory per peer.
        c.pending.assign(data + sent, n - sent);
        c.offset = 0;
        loop->modify(c.fd.get(), interest::write);
    }

    /// Returns false when the connection was closed.
    bool flush(Conn& c) {
        const ssize_t w = ::send(c.fd.get(), c.pending.data() + c.offset,
                                 c.pending.size() - c.offset, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) return true;
            close_conn(c, &reset);
            return false;
        }
        c.offset += static_cast<std::size_t>(w);
        if (c.offset < c.pending.size()) return true;
        c.pending.clear();
        c.pending.shrink_to_fit();
        c.offset = 0;
        loop->modify(c.fd.get(), interest::read);
        return true;
    }

    void on_idle_timer(Conn& c, Nanos now) {
        const Nanos idle = now - c.last_active;
        if (idle >= cfg.idle_timeout)
            close_conn(c, &idle_closed);
        else
            loop->wheel().arm(c, now, cfg.idle_timeout - idle);
    }

    void close_conn(Conn& c, Counter* reason) {
        if (reason != nullptr) reason->add(1);
        loop->wheel().cancel(c);
        const auto fd = static_cast<std::size_t>(c.fd.get());
        current.sub(1);
        shared_now.fetch_sub(1, std::memory_order_relaxed);
        loop->unwatch(c.fd.get()); // before the close: an io_uring poll holds the file
        if (cfg.busy_poll) {       // swap-remove from the busy-poll list
            const int last = live.back();
            live[c.live_index] = last;
            conns[static_cast<std::size_t>(last)]->live_index = c.live_index;
            live.pop_back();
        }
        conns[fd].reset();
    }

    /// Returns how many datagrams came in.
    std::size_t echo_datagrams() {
        std::size_t got = 0;
        std::array<mmsghdr, kUdpBatch> in{};
        std::array<iovec, kUdpBatch> iov{};
        std::array<sockaddr_storage, kUdpBatch> from{};
        for (int round = 0; round < 8; ++round) { // then yield to the other sockets
            for (std::size_t i = 0; i < kUdpBatch; ++i) {
                iov[i] = {udp_buffers.data() + i * kMaxDatagram, kMaxDatagram};
                in[i].msg_hdr = {};
                in[i].msg_hdr.msg_name = &from[i];
                in[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
                in[i].msg_hdr.msg_iov = &iov[i];
                in[i].msg_hdr.msg_iovlen = 1;
            }
            const int n = ::recvmmsg(udp.get(), in.data(), kUdpBatch, MSG_DONTWAIT, nullptr);
            if (n <= 0) {
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                    throw_errno("recvmmsg on the UDP socket");
                return got;
            }
            got += static_cast<std::size_t>(n);
            std::array<mmsghdr, kUdpBatch> out{};
            unsigned replies = 0;
            const Nanos now_s = monotonic_ns() / kNanosPerSecond;
            for (int i = 0; i < n; ++i) {
                const auto idx = static_cast<std::size_t>(i);
                udp_datagrams.add(1);
                udp_bytes.add(in[idx].msg_len);
                if (cfg.udp_rate_limit > 0 && !allow(from[idx], now_s)) {
                    udp_rate_limited.add(1);
                    continue;
                }
                // The reply is exactly the request: same bytes, same length, never larger.
                iov[idx].iov_len = in[idx].msg_len;
                out[replies].msg_hdr = in[idx].msg_hdr;
                out[replies].msg_hdr.msg_iov = &iov[idx];
                ++replies;
            }
            unsigned done = 0;
            while (done < replies) {
                const int s =
                    ::sendmmsg(udp.get(), out.data() + done, replies - done, MSG_DONTWAIT);
                if (s <= 0) { // ENOBUFS/EAGAIN: drop the rest of this batch, as UDP may
                    udp_send_errors.add(replies - done);
                    break;
                }
                done += static_cast<unsigned>(s);
            }
            udp_replies.add(done);
            if (static_cast<std::size_t>(n) < kUdpBatch) return got;
        }
        return got;
    }

    bool allow(const sockaddr_storage& from, Nanos second) {
        if (rate_windows.size() > 100'000) rate_windows.clear(); // bounded memory under spoofing
        auto& w = rate_windows[key_of(from)];
        if (w.second != second) {
            w.second = second;
            w.count = 0;
        }
        if (static_cast<double>(w.count) >= cfg.udp_rate_limit) return false;
        ++w.count;
        return true;
    }

    const EchoConfig& cfg;
    std::atomic<std::uint64_t>& shared_now;
    Fd listen, udp, spare;
    std::mutex loop_mutex;           ///< guards `loop` against stop() from other threads
    bool stopping = false;           ///< under loop_mutex
    std::unique_ptr<EventLoop> loop; ///< written only by the worker's thread
    Callback on_listen, on_udp;
    std::vector<char> read_buffer;
    std::vector<char> udp_buffers;
    std::vector<std::unique_ptr<Conn>> conns; ///< indexed by fd
    std::vector<int> live;                    ///< busy-polling: the open connections' fds
    struct Window {
        Nanos second = -1;
        std::uint32_t count = 0;
    };
    std::unordered_map<SourceKey, Window, SourceKeyHash> rate_windows;
    std::thread thread;
    std::atomic<int> cpu{-1};
    mutable std::mutex error_mutex;
    std::string error;
    /// TCP on io_uring completions (cfg.tcp_completions); after `loop`: freed before it.
    std::unique_ptr<echo_detail::TcpEchoCompletions> tcp_completions;
};

std::string_view echo_backend_name(const EchoConfig& config) {
    return config.tcp_completions ? "uring-completions" : backend_name(config.backend);
}

EchoServer::EchoServer(EchoConfig config) : config_(std::move(config)) {
    if (!config_.tcp && !config_.udp)
        throw std::invalid_argument("echo server: neither TCP nor UDP");
    if (config_.tcp_completions && config_.backend != Backend::uring_oneshot)
        throw std::invalid_argument("echo server: TCP completions need the uring-oneshot loop");
    if (config_.threads < 1) config_.threads = 1;
    // Bind the first worker's sockets; with port 0 the kernel picks the TCP port and UDP must
    // get the same one, which can be taken: retry with a new pick a few times.
    Fd tcp, udp;
    Endpoint at = config_.listen;
    for (int attempt = 0;; ++attempt) {
        try {
            tcp = config_.tcp ? open_listener(at, Protocol::tcp, config_.backlog) : Fd();
            const Endpoint bound = tcp ? local_endpoint_of(tcp.get()) : at;
            udp = config_.udp ? open_listener(bound, Protocol::udp, 0) : Fd();
            local_ = tcp ? bound : local_endpoint_of(udp.get());
            break;
        } catch (const std::system_error& e) {
            if (config_.listen.port() != 0 || e.code().value() != EADDRINUSE || attempt >= 20)
                throw;
        }
    }
    workers_.push_back(
        std::make_unique<Worker>(config_, connections_now_, std::move(tcp), std::move(udp)));
    for (int i = 1; i < config_.threads; ++i) {
        Fd t = config_.tcp ? open_listener(local_, Protocol::tcp, config_.backlog) : Fd();
        Fd u = config_.udp ? open_listener(local_, Protocol::udp, 0) : Fd();
        workers_.push_back(
            std::make_unique<Worker>(config_, connections_now_, std::move(t), std::move(u)));
    }
}

EchoServer::~EchoServer() {
    stop();
}

void EchoServer::start() {
    if (started_) return;
    started_ = true;
    // Each worker makes its loop on its own thread; a loop that cannot be made (io_uring
    // refused …) stops the others and is thrown from here, as before threads existed.
    std::vector<std::future<void>> made;
    for (auto& w : workers_) {
        std::promise<void> ready; // the thread owns it: set_value may still run after get()
        made.push_back(ready.get_future());
        w->thread = std::thread([raw = w.get(), r = std::move(ready)]() mutable { raw->run(r); });
    }
    std::exception_ptr failure;
    for (auto& f : made) {
        try {
            f.get();
        } catch (...) {
            if (!failure) failure = std::current_exception();
        }
    }
    if (failure) {
        stop();
        std::rethrow_exception(failure);
    }
}

void EchoServer::stop() {
    for (auto& w : workers_)
        w->request_stop();
    for (auto& w : workers_)
        if (w->thread.joinable()) w->thread.join();
}

EchoStats EchoServer::stats() const {
    EchoStats total;
    for (const auto& w : workers_)
        total.add(w->snapshot());
    return total;
}

std::vector<int> EchoServer::worker_cpus() const {
    std::vector<int> cpus;
    for (const auto& w : workers_)
        cpus.push_back(w->cpu.load(std::memory_order_relaxed));
    return cpus;
}

std::string EchoServer::worker_error() const {
    for (const auto& w : workers_) {
        std::lock_guard lock(w->error_mutex);
        if (!w->error.empty()) return w->error;
    }
    return {};
}

} // namespace netdx
