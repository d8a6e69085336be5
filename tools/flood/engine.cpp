#include "engine.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <random>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <netdx/net/event_loop.hpp>
#include <netdx/net/socket.hpp>
#include <netdx/net/timing_wheel.hpp>
#include <netdx/sys/limits.hpp>
#include <netdx/sys/system_error.hpp>

namespace netdx::flood {

namespace {

/// Every counter with its JSON name: add, to_json and from_json walk this one list.
struct CounterName {
    const char* name;
    std::uint64_t Progress::*member;
};
constexpr std::array<CounterName, 19> kCounters{{
    {"attempted", &Progress::attempted},
    {"established", &Progress::established},
    {"failed", &Progress::failed},
    {"timed_out", &Progress::timed_out},
    {"aborted", &Progress::aborted},
    {"open", &Progress::open},
    {"inflight", &Progress::inflight},
    {"peak_open", &Progress::peak_open},
    {"closed_by_peer", &Progress::closed_by_peer},
    {"reset_by_peer", &Progress::reset_by_peer},
    {"closed", &Progress::closed},
    {"messages_sent", &Progress::messages_sent},
    {"echoes", &Progress::echoes},
    {"corrupt_echoes", &Progress::corrupt_echoes},
    {"bytes_received", &Progress::bytes_received},
    {"unanswered", &Progress::unanswered},
    {"peer_spoke", &Progress::peer_spoke},
    {"keepalive_dead", &Progress::keepalive_dead},
    {"fds_peak", &Progress::fds_peak},
}};

constexpr char kEndpointsMagic[8] = {'N', 'D', 'X', 'E', 'P', '1', 0, 0};

/// An address's bytes, network order, zero-padded to 16.
std::array<std::uint8_t, 16> padded(const IpAddress& ip) {
    std::array<std::uint8_t, 16> b{};
    std::memcpy(b.data(), ip.bytes(), ip.size());
    return b;
}

/// What a server sent unasked, as text a person can read (control bytes as \xNN).
std::string printable(const char* data, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n && out.size() < 200; ++i) {
        const auto c = static_cast<unsigned char>(data[i]);
        if (c == '\r' || c == '\n') {
            if (!out.empty() && out.back() != ' ') out += ' ';
        } else if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            out += fmt::format("\\x{:02x}", c);
        }
    }
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

/// The bytes every message carries, so an echo can be checked without keeping a copy.
std::uint8_t pattern_byte(std::uint64_t i) {
    return static_cast<std::uint8_t>((i * 131 + 17) >> 1);
}

} // namespace

void Progress::add(const Progress& other) {
    const auto fds = std::max(fds_peak, other.fds_peak); // per process: the largest, not a sum
    for (const auto& c : kCounters)
        this->*c.member += other.*c.member;
    fds_peak = fds;
    for (const auto& [k, v] : other.failures)
        failures[k] += v;
}

nlohmann::json Progress::to_json() const {
    auto j = nlohmann::json::object();
    for (const auto& c : kCounters)
        j[c.name] = this->*c.member;
    j["failures"] = failures;
    return j;
}

Progress Progress::from_json(const nlohmann::json& j) {
    Progress p;
    for (const auto& c : kCounters)
        p.*c.member = j.value(c.name, std::uint64_t{0});
    if (j.contains("failures"))
        p.failures = j["failures"].get<std::map<std::string, std::uint64_t>>();
    return p;
}

void HeldEndpoints::write(const std::string& path) const {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) throw_errno("write the held connections to " + path);
    std::vector<unsigned char> buf(kEndpointsMagic, kEndpointsMagic + 8);
    auto put = [&](const void* p, std::size_t n) {
        const auto* b = static_cast<const unsigned char*>(p);
        buf.insert(buf.end(), b, b + n);
    };
    const auto np = static_cast<std::uint32_t>(pairs.size());
    put(&np, 4);
    for (const auto& pr : pairs) {
        const std::uint8_t fam = pr.local.is_v4() ? 4 : 6;
        put(&fam, 1);
        put(padded(pr.local).data(), 16);
        put(padded(pr.target.ip()).data(), 16);
        const std::uint16_t port = pr.target.port();
        put(&port, 2);
    }
    const std::uint64_t nc = conns.size();
    put(&nc, 8);
    for (const auto& [pair, port] : conns) {
        const std::uint16_t zero = 0;
        put(&pair, 4);
        put(&port, 2);
        put(&zero, 2);
    }
    const bool ok = std::fwrite(buf.data(), 1, buf.size(), f) == buf.size();
    if (std::fclose(f) != 0 || !ok) throw_errno("write the held connections to " + path);
}

HeldEndpoints HeldEndpoints::read(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) throw_errno("read the held connections from " + path);
    std::vector<unsigned char> buf;
    unsigned char chunk[65536];
    std::size_t n = 0;
    while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0)
        buf.insert(buf.end(), chunk, chunk + n);
    std::fclose(f);
    std::size_t off = 0;
    auto take = [&](void* p, std::size_t len) {
        if (off + len > buf.size())
            throw std::runtime_error("held connections file " + path + " is cut short");
        std::memcpy(p, buf.data() + off, len);
        off += len;
    };
    char magic[8];
    take(magic, 8);
    if (std::memcmp(magic, kEndpointsMagic, 8) != 0)
        throw std::runtime_error("held connections file " + path + " is not one");
    HeldEndpoints h;
    std::uint32_t np = 0;
    take(&np, 4);
    for (std::uint32_t i = 0; i < np; ++i) {
        std::uint8_t fam = 0;
        std::array<std::uint8_t, 16> local{}, remote{};
        std::uint16_t port = 0;
        take(&fam, 1);
        take(local.data(), 16);
        take(remote.data(), 16);
        take(&port, 2);
        auto ip = [&](const std::array<std::uint8_t, 16>& b) {
            return fam == 4 ? IpAddress::v4(std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 |
                                            std::uint32_t{b[2]} << 8 | b[3])
                            : IpAddress::v6(b);
        };
        h.pairs.push_back({ip(local), Endpoint(ip(remote), port)});
    }
    std::uint64_t nc = 0;
    take(&nc, 8);
    h.conns.reserve(nc);
    for (std::uint64_t i = 0; i < nc; ++i) {
        std::uint32_t pair = 0;
        std::uint16_t port = 0, zero = 0;
        take(&pair, 4);
        take(&port, 2);
        take(&zero, 2);
        h.conns.emplace_back(pair, port);
    }
    return h;
}

void Result::merge(const Result& other) {
    progress.add(other.progress);
    if (peer_said.empty()) peer_said = other.peer_said;
    connect_latency.merge(other.connect_latency);
    established_at.merge(other.established_at);
    echo_rtt.merge(other.echo_rtt);
    ramp_end = std::max(ramp_end, other.ramp_end);
    close_duration = std::max(close_duration, other.close_duration);
    rss_growth += other.rss_growth;
    start_lateness = std::max(start_lateness, other.start_lateness);
    for (const auto& [k, v] : other.pair_peak)
        pair_peak[k] += v; // pairs are split over workers: the peaks add (an upper bound)
}

nlohmann::json Result::to_json() const {
    return {{"progress", progress.to_json()},
            {"connect_latency", connect_latency.to_json()},
            {"established_at", established_at.to_json()},
            {"echo_rtt", echo_rtt.to_json()},
            {"ramp_end", ramp_end},
            {"close_duration", close_duration},
            {"rss_growth", rss_growth},
            {"start_lateness", start_lateness},
            {"pair_peak", pair_peak},
            {"peer_said", peer_said}};
}

Result Result::from_json(const nlohmann::json& j) {
    Result r;
    r.progress = Progress::from_json(j.at("progress"));
    r.connect_latency = Histogram::from_json(j.at("connect_latency"));
    r.established_at = Histogram::from_json(j.at("established_at"));
    r.echo_rtt = Histogram::from_json(j.at("echo_rtt"));
    r.ramp_end = j.value("ramp_end", Nanos{0});
    r.close_duration = j.value("close_duration", Nanos{0});
    r.rss_growth = j.value("rss_growth", std::uint64_t{0});
    r.start_lateness = j.value("start_lateness", Nanos{0});
    r.pair_peak = j.value("pair_peak", std::map<std::string, std::uint64_t>{});
    r.peer_said = j.value("peer_said", std::string());
    return r;
}

std::uint64_t private_bytes() {
    // What this process alone holds: its private pages (Private_Clean + Private_Dirty). A
    // worker is forked from the parent, and memory it allocates out of the heap it inherited
    // is resident already (shared with the parent until written), so the resident set
    // barely moves while the private set grows by exactly what the worker uses.
    if (std::FILE* f = std::fopen("/proc/self/smaps_rollup", "r")) {
        char line[256];
        std::uint64_t kib = 0;
        bool found = false;
        while (std::fgets(line, sizeof line, f)) {
            unsigned long v = 0;
            if (std::sscanf(line, "Private_Clean: %lu kB", &v) == 1 ||
                std::sscanf(line, "Private_Dirty: %lu kB", &v) == 1) {
                kib += v;
                found = true;
            }
        }
        std::fclose(f);
        if (found) return kib * 1024;
    }
    std::FILE* f = std::fopen("/proc/self/statm", "r"); // kernels before 4.14: resident
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    const int n = std::fscanf(f, "%lu %lu", &size, &resident);
    std::fclose(f);
    if (n != 2) return 0;
    return static_cast<std::uint64_t>(resident) *
           static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

struct Worker::Impl {
    enum class State : std::uint8_t { free, connecting, established };
    enum class Phase { ramp, hold, done };

    /// One socket, indexed by its descriptor. It is its own timer entry: connect timeout
    /// while connecting; next message or end of life while established.
    struct Conn : TimerEntry {
        Nanos t = 0;       ///< connect() time, then the time it was established
        Nanos sent_at = 0; ///< when the message now being echoed was sent
        std::uint32_t pair = 0;
        std::uint32_t out_left = 0;  ///< bytes of the current message not yet written
        std::uint32_t echo_left = 0; ///< bytes of its echo not yet back
        std::uint16_t lport = 0;     ///< server-side check: the local port the kernel chose
        std::uint16_t lpair = 0;     ///< ... and its (local address, target) in `held`
        State state = State::free;
        bool echo_bad = false;
        bool spoke = false; ///< the server sent bytes unasked on it
    };

    /// Every connection's events come through this one channel (the descriptor is the
    /// token): no per-connection vtable pointer in a table of a million.
    struct Sockets final : Channel {
        Impl* impl = nullptr;
        void on_event(const PollEvent& ev) override { impl->on_event(ev, monotonic_ns()); }
    };
    struct StopChannel final : Channel {
        bool stopped = false;
        void on_event(const PollEvent&) override { stopped = true; }
    };

    explicit Impl(Config c) : cfg(std::move(c)), loop(loop_options(cfg)), rng(cfg.seed) {
        sockets.impl = this;
        loop.on_wheel_expiry(
            [this](TimerEntry& e, Nanos now) { on_timer(static_cast<Conn&>(e), now); });
        for (std::size_t s = 0; s < std::max<std::size_t>(cfg.sources.size(), 1); ++s)
            for (const auto& t : cfg.targets) {
                const std::string src = cfg.sources.empty() ? "*" : cfg.sources[s].to_string();
                pair_names.push_back(fmt::format("{} -> {}", src, t.to_string()));
            }
        next_pair = cfg.first_pair;
        pair_open.assign(pair_names.size(), 0);
        pair_peak.assign(pair_names.size(), 0);
        if (cfg.rate > 0) interval = 1e9 / cfg.rate * static_cast<double>(cfg.slot_stride);
    }

    static EventLoop::Options loop_options(const Config& c) {
        EventLoop::Options o;
        o.backend = c.backend;
        o.wheel_tick = kNanosPerMilli;
        o.wheel_slots = 4096;
        o.max_events = 512;
        return o;
    }

    Config cfg;
    EventLoop loop;
    Sockets sockets;
    StopChannel stop_channel;
    std::mt19937_64 rng;
    std::vector<Conn> conns;
    std::vector<std::string> pair_names;
    std::vector<std::uint64_t> pair_open, pair_peak;
    std::vector<char> rx;
    std::vector<char> message;
    Progress p;
    Result r;
    Phase phase = Phase::ramp;
    HeldEndpoints held;          ///< server-side check: the pairs seen so far
    bool hold_over_said = false; ///< posted that the hold time is over (server-side check)
    double interval = 0;         ///< ns between attempts (0: no pacing)
    double next_at = 0;          ///< intended time of the next attempt
    std::uint64_t next_pair = 0;
    std::uint64_t base_fds = 0;
    Nanos hold_until = -1;

    [[nodiscard]] bool want_more() const {
        if (cfg.churn) return phase != Phase::done && p.open + p.inflight < cfg.connections;
        return phase == Phase::ramp && p.attempted < cfg.connections;
    }

    void fail(const char* call, int err) {
        ++p.failed;
        ++p.failures[fmt::format("{} {}", call, errno_name(err))];
    }

    void attempt(Nanos now) {
        ++p.attempted;
        const auto pair = static_cast<std::uint32_t>(next_pair % pair_names.size());
        next_pair += cfg.pair_stride;
        const auto& target = cfg.targets[pair % cfg.targets.size()];
        const int fd = ::socket(target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) return fail("socket", errno);
        if (static_cast<std::size_t>(fd) >= conns.size()) { // the table is sized to the limit
            ::close(fd);
            return fail("socket", EMFILE);
        }
        if (!cfg.sources.empty()) {
            const auto& src = cfg.sources[pair / cfg.targets.size()];
            // Bind the address only: the port is chosen at connect() for the whole 4-tuple,
            // not reserved per source address at bind() (which caps a source at one range).
            const int one = 1;
            ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            const Endpoint local(src, 0);
            if (::bind(fd, local.sockaddr_ptr(), local.sockaddr_len()) != 0) {
                const int err = errno;
                ::close(fd);
                return fail("bind", err);
            }
        }
        if (cfg.send_size > 0 || !cfg.first_message.empty()) {
            const int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        Conn& c = conns[static_cast<std::size_t>(fd)];
        c.pair = pair;
        c.t = now;
        c.state = State::connecting;
        ++p.inflight;
        const int rc = ::connect(fd, target.sockaddr_ptr(), target.sockaddr_len());
        const int err = errno;
        // Registered after connect(): edge-triggered, a handshake that completed meanwhile
        // is still reported (the first registration reports the current state).
        if (rc == 0 || err == EINPROGRESS)
            loop.watch(fd, interest::read | interest::write, sockets);
        if (rc == 0) return on_connected(fd, monotonic_ns());
        if (err == EINPROGRESS) {
            loop.wheel().arm(c, now, cfg.connect_timeout);
            return;
        }
        --p.inflight;
        release(fd);
        fail("connect", err);
    }

    /// Closes the descriptor and frees its slot (the caller has done the accounting).
    void release(int fd) {
        Conn& c = conns[static_cast<std::size_t>(fd)];
        if (c.armed) loop.wheel().cancel(c);
        c.state = State::free;
        loop.unwatch(fd); // before the close: an io_uring poll holds the file
        ::close(fd);
    }

    void on_connected(int fd, Nanos now) {
        Conn& c = conns[static_cast<std::size_t>(fd)];
        if (c.armed) loop.wheel().cancel(c);
        --p.inflight;
        ++p.established;
        ++p.open;
        p.peak_open = std::max(p.peak_open, p.open);
        p.fds_peak = std::max(p.fds_peak, base_fds + p.open + p.inflight);
        r.connect_latency.record(static_cast<std::uint64_t>(std::max<Nanos>(now - c.t, 0)));
        r.established_at.record(static_cast<std::uint64_t>(std::max<Nanos>(now - cfg.start, 0)));
        if (++pair_open[c.pair] > pair_peak[c.pair]) pair_peak[c.pair] = pair_open[c.pair];
        c.state = State::established;
        c.t = now;
        c.out_left = c.echo_left = 0;
        if (!cfg.endpoints_path.empty()) remember_endpoint(fd, c);
        if (cfg.keepalive) {
            // A connection the server does not hold answers the first probe with a RST (it
            // has no socket for it) or not at all (then 3 unanswered probes: ETIMEDOUT).
            const int one = 1, idle = 1, intvl = 1, cnt = 3;
            ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
            ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
            ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
            ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
        }
        if (!cfg.first_message.empty()) [[maybe_unused]]
            auto n = ::send(fd, cfg.first_message.data(), cfg.first_message.size(), MSG_NOSIGNAL);
        want_writes(fd, false); // level-triggered: an idle socket is always writable
        arm_established(c, now);
    }

    /// The connection's local address and port as the kernel chose them, for the parent's
    /// server-side check: the address goes in the pair table once, the port per connection.
    void remember_endpoint(int fd, Conn& c) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return;
        const auto local = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
        const auto& target = cfg.targets[c.pair % cfg.targets.size()];
        std::size_t i = 0;
        while (i < held.pairs.size() &&
               !(held.pairs[i].local == local.ip() && held.pairs[i].target == target))
            ++i;
        if (i == held.pairs.size()) held.pairs.push_back({local.ip(), target});
        c.lpair = static_cast<std::uint16_t>(i);
        c.lport = local.port();
    }

    /// At the end of the ramp: every connection held now, for the parent to look up.
    void write_endpoints() {
        held.conns.clear();
        held.conns.reserve(p.open);
        for (const auto& c : conns)
            if (c.state == State::established) held.conns.emplace_back(c.lpair, c.lport);
        held.write(cfg.endpoints_path);
    }

    void arm_established(Conn& c, Nanos now) {
        Nanos due = -1;
        if (cfg.send_size > 0) due = cfg.every;
        if (cfg.churn) {
            const Nanos left = std::max<Nanos>(c.t + cfg.lifetime - now, 0);
            due = due < 0 ? left : std::min(due, left);
        }
        if (due >= 0) loop.wheel().arm(c, now, due);
    }

    /// Closes an established connection: `by_us` counts it as closed by us (with FIN or
    /// RST as configured); otherwise the peer ended it and it is already counted.
    void close_established(int fd, bool by_us) {
        Conn& c = conns[static_cast<std::size_t>(fd)];
        if (c.echo_left > 0 && !c.echo_bad) ++p.unanswered;
        c.echo_left = 0;
        --p.open;
        --pair_open[c.pair];
        if (by_us) {
            ++p.closed;
            if (cfg.close_rst) {
                const linger l{1, 0}; // an RST now instead of FIN and TIME_WAIT
                ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            }
        }
        release(fd);
    }

    void send_message(int fd, Conn& c, Nanos now) {
        if (c.echo_left > 0 && !c.echo_bad) ++p.unanswered; // the previous one never came back
        c.sent_at = now;
        c.out_left = static_cast<std::uint32_t>(cfg.send_size);
        c.echo_left = static_cast<std::uint32_t>(cfg.send_size);
        c.echo_bad = false;
        ++p.messages_sent;
        flush(fd, c);
    }

    void flush(int fd, Conn& c) {
        while (c.out_left > 0) {
            const std::size_t off = cfg.send_size - c.out_left;
            const ssize_t n = ::send(fd, message.data() + off, c.out_left, MSG_NOSIGNAL);
            if (n <= 0) { // EAGAIN: the write event resumes; errors show on read
                want_writes(fd, true);
                return;
            }
            c.out_left -= static_cast<std::uint32_t>(n);
        }
        want_writes(fd, false);
    }

    /// Level-triggered backends: watch for writes only while there is something to write
    /// (an edge backend reports each change once, so it keeps both).
    void want_writes(int fd, bool on) {
        if (loop.edge_triggered()) return;
        loop.modify(fd, on ? interest::read | interest::write : interest::read);
    }

    void on_timer(Conn& c, Nanos now) {
        const int fd = static_cast<int>(&c - conns.data());
        if (c.state == State::connecting) {
            --p.inflight;
            ++p.timed_out;
            release(fd);
            fail("connect", ETIMEDOUT);
            return;
        }
        if (c.state != State::established) return;
        if (cfg.churn && now >= c.t + cfg.lifetime) return close_established(fd, true);
        if (cfg.send_size > 0) send_message(fd, c, now);
        arm_established(c, now);
    }

    void on_event(const PollEvent& ev, Nanos now) {
        const int fd = static_cast<int>(ev.token);
        Conn& c = conns[static_cast<std::size_t>(fd)];
        if (c.state == State::connecting) {
            if (!ev.writable && !ev.error && !ev.hangup) return;
            const int err = pending_error(fd);
            if (err != 0) {
                --p.inflight;
                release(fd);
                return fail("connect", err == EINPROGRESS ? ECONNREFUSED : err);
            }
            on_connected(fd, now);
            // Edge-triggered: data or a FIN that came with the handshake has no later edge,
            // so it is read now (a server's greeting, an immediate close).
        }
        if (c.state != State::established) return;
        if (ev.writable && c.out_left > 0) flush(fd, c);
        if (ev.readable || ev.error || ev.hangup) read_all(fd, c, now);
    }

    void read_all(int fd, Conn& c, Nanos now) {
        for (;;) { // edge-triggered: read until EAGAIN
            const ssize_t n = ::recv(fd, rx.data(), rx.size(), 0);
            if (n > 0) {
                if (c.echo_left == 0 && cfg.first_message.empty()) heard_unasked(c, n);
                check_echo(c, static_cast<std::size_t>(n), now);
                continue;
            }
            if (n == 0) {
                ++p.closed_by_peer;
                return close_established(fd, false);
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            // With --verify keepalive, a reset or a probe timeout is the server not holding
            // the connection; otherwise a reset is the server's doing.
            if (cfg.keepalive && (errno == ETIMEDOUT || errno == ECONNRESET))
                ++p.keepalive_dead;
            else
                ++p.reset_by_peer;
            return close_established(fd, false);
        }
    }

    /// Bytes the server sent though nothing was asked (no --send message outstanding): a
    /// banner, or a refusal before it closes (redis at maxclients). The first is kept.
    void heard_unasked(Conn& c, ssize_t n) {
        if (!c.spoke) {
            c.spoke = true;
            ++p.peer_spoke;
        }
        if (r.peer_said.empty()) r.peer_said = printable(rx.data(), static_cast<std::size_t>(n));
    }

    void check_echo(Conn& c, std::size_t n, Nanos now) {
        p.bytes_received += n;
        if (c.echo_left == 0) return; // not ours to check (a first message, a banner …)
        const std::size_t take = std::min<std::size_t>(n, c.echo_left);
        const std::size_t off = cfg.send_size - c.echo_left;
        for (std::size_t i = 0; i < take && !c.echo_bad; ++i)
            c.echo_bad = static_cast<std::uint8_t>(rx[i]) != pattern_byte(off + i);
        c.echo_left -= static_cast<std::uint32_t>(take);
        if (c.echo_bad) {
            ++p.corrupt_echoes;
            c.echo_left = 0;
        } else if (c.echo_left == 0) {
            ++p.echoes;
            r.echo_rtt.record(static_cast<std::uint64_t>(std::max<Nanos>(now - c.sent_at, 0)));
        }
    }

    void close_everything(Nanos now) {
        std::vector<int> open;
        open.reserve(p.open);
        for (std::size_t fd = 0; fd < conns.size(); ++fd) {
            auto& c = conns[fd];
            if (c.state == State::connecting) { // the run ended before it did: not a failure
                --p.inflight;
                ++p.aborted;
                release(static_cast<int>(fd));
            } else if (c.state == State::established) {
                open.push_back(static_cast<int>(fd));
            }
        }
        if (cfg.close_random)
            std::shuffle(open.begin(), open.end(), rng);
        else
            std::stable_sort(open.begin(), open.end(), [&](int a, int b) {
                return conns[static_cast<std::size_t>(a)].t < conns[static_cast<std::size_t>(b)].t;
            });
        for (const int fd : open)
            close_established(fd, true);
        r.close_duration = monotonic_ns() - now;
    }

    std::function<void(std::string_view)> on_event_line = [](std::string_view) {};

    Result run(int stop_fd, Nanos progress_every,
               const std::function<void(const Progress&)>& on_progress) {
        const std::uint64_t rss0 = private_bytes();
        auto rss_growth = [rss0] {
            const auto now = private_bytes();
            return now - std::min(rss0, now);
        };
        base_fds = open_fd_count().value_or(16);
        // Descriptors are allocated lowest first, so they stay below what is open now plus
        // what this worker opens; the table never reallocates (timer entries live in it).
        const auto limit = nofile_limit().soft;
        conns = std::vector<Conn>(static_cast<std::size_t>(
            std::min<std::uint64_t>(limit, base_fds + cfg.connections + 64)));
        rx.resize(64 * 1024);
        message.resize(cfg.send_size);
        for (std::size_t i = 0; i < message.size(); ++i)
            message[i] = static_cast<char>(pattern_byte(i));
        if (stop_fd >= 0) loop.watch(stop_fd, interest::read, stop_channel);

        if (cfg.start_wall) {
            // --start-at: wait on the wall clock, a little at a time so that a stepped clock
            // or a stop is seen, then spin the last stretch; times count from the instant.
            for (Nanos left; (left = *cfg.start_wall - realtime_ns()) > 300 * kNanosPerMicro &&
                             !stop_channel.stopped;)
                loop.run_once(std::min<Nanos>(left - 250 * kNanosPerMicro, 20 * kNanosPerMilli));
            while (!stop_channel.stopped && realtime_ns() < *cfg.start_wall)
                __builtin_ia32_pause();
            const auto now = read_clock_pair();
            r.start_lateness = std::max<Nanos>(now.wall - *cfg.start_wall, 0);
            cfg.start = now.mono - (now.wall - *cfg.start_wall);
        } else {
            // Wait for the common start time (or a stop).
            for (Nanos left; (left = cfg.start - monotonic_ns()) > 0 && !stop_channel.stopped;)
                loop.run_once(left);
        }
        // This worker's first slot of the whole schedule.
        next_at = static_cast<double>(cfg.start) +
                  (cfg.rate > 0 ? 1e9 / cfg.rate * static_cast<double>(cfg.slot_first) : 0.0);
        Nanos next_progress = monotonic_ns() + progress_every;
        for (;;) {
            Nanos now = monotonic_ns();
            // Attempts due now; each loop turn also serves events, so completions keep up.
            int budget = 64;
            while (want_more() && p.inflight < cfg.max_inflight && budget-- > 0 &&
                   (interval == 0 || next_at <= static_cast<double>(now))) {
                attempt(now = monotonic_ns()); // each its own start time: µs-exact latency
                if (interval > 0) next_at += interval;
            }
            // Blocked by the in-flight cap or a full set: no debt builds up meanwhile, so
            // a slot that frees later does not release a burst above the rate.
            if (interval > 0 && next_at < static_cast<double>(now) &&
                (!want_more() || p.inflight >= cfg.max_inflight))
                next_at = static_cast<double>(now);
            if (phase == Phase::ramp && p.attempted >= cfg.connections && p.inflight == 0) {
                phase = Phase::hold;
                r.ramp_end = now - cfg.start;
                r.rss_growth = rss_growth();
                hold_until = cfg.hold < 0 ? -1 : now + cfg.hold;
                if (!cfg.endpoints_path.empty() && !cfg.churn) {
                    write_endpoints();
                    on_event_line(R"({"type":"held"})");
                }
            }
            if (phase == Phase::hold && hold_until >= 0 && now >= hold_until) {
                // With the server-side check the parent looks at the server first and then
                // says stop; otherwise the hold is over.
                if (cfg.endpoints_path.empty() || cfg.churn) break;
                if (!hold_over_said) {
                    hold_over_said = true;
                    on_event_line(R"({"type":"hold_over"})");
                }
            }
            if (stop_channel.stopped) break;

            Nanos wait = next_progress - now;
            if (want_more() && interval > 0 && p.inflight < cfg.max_inflight)
                wait = std::min<Nanos>(wait, static_cast<Nanos>(next_at) - now);
            if (want_more() && interval == 0 && p.inflight < cfg.max_inflight) wait = 0;
            if (phase == Phase::hold && hold_until >= 0 && !hold_over_said)
                wait = std::min(wait, hold_until - now);
            // The loop also wakes for the timing wheel (connect timeouts, messages, churn).
            loop.run_once(std::max<Nanos>(wait, 0));
            now = monotonic_ns();
            if (now >= next_progress) {
                on_progress(p);
                next_progress = now + progress_every;
            }
        }
        if (phase == Phase::ramp) r.rss_growth = rss_growth();
        close_everything(monotonic_ns());
        phase = Phase::done;
        r.progress = p;
        for (std::size_t i = 0; i < pair_names.size(); ++i)
            if (pair_peak[i] > 0) r.pair_peak[pair_names[i]] = pair_peak[i];
        on_progress(p);
        return r;
    }
};

Worker::Worker(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Worker::~Worker() = default;

Result Worker::run(int stop_fd, Nanos progress_every,
                   const std::function<void(const Progress&)>& on_progress,
                   const std::function<void(std::string_view)>& on_event) {
    if (on_event) impl_->on_event_line = on_event;
    return impl_->run(stop_fd, progress_every, on_progress);
}

} // namespace netdx::flood
