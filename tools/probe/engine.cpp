#include "engine.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <functional>
#include <limits>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include <netdx/measure/pacer.hpp>
#include <netdx/net/event_loop.hpp>
#include <netdx/report/units.hpp>
#include <netdx/sys/system_error.hpp>

namespace netdx::probe {

void Result::merge(const Result& o) {
    rtt.merge(o.rtt);
    rtt_actual.merge(o.rtt_actual);
    lag.merge(o.lag);
    sent += o.sent;
    received += o.received;
    lost += o.lost;
    truncated += o.truncated;
    unfinished += o.unfinished;
    late += o.late;
    duplicates += o.duplicates;
    reordered += o.reordered;
    foreign += o.foreign;
    skipped += o.skipped;
    refused += o.refused;
    timeouts += o.timeouts;
    truncated_to = std::max(truncated_to, o.truncated_to);
    for (const auto& [k, v] : o.errors)
        errors[k] += v;
    cpus.insert(cpus.end(), o.cpus.begin(), o.cpus.end());
    if (socket_options.empty()) socket_options = o.socket_options;
    measured_ns = std::max(measured_ns, o.measured_ns);
}

std::uint64_t Result::error_count() const {
    std::uint64_t n = 0;
    for (const auto& [k, v] : errors)
        n += v;
    return n;
}

double Result::loss_percent() const {
    const auto asked = received + lost;
    return asked ? 100.0 * static_cast<double>(lost) / static_cast<double>(asked) : 0.0;
}

void IntervalCollector::begin(std::size_t threads) {
    std::lock_guard lock(mutex_);
    slots_.clear();
    past_.assign(threads, 0);
    end_ = 0;
}

void IntervalCollector::add(std::uint64_t index, const Histogram& h, std::uint64_t sent,
                            std::uint64_t lost) {
    std::lock_guard lock(mutex_);
    auto& slot = slots_[index];
    slot.rtt.merge(h);
    slot.sent += sent;
    slot.lost += lost;
    end_ = std::max(end_, index + 1);
}

void IntervalCollector::advance(std::size_t thread, std::uint64_t index) {
    std::lock_guard lock(mutex_);
    if (thread < past_.size()) past_[thread] = std::max(past_[thread], index);
}

bool IntervalCollector::complete(std::uint64_t index) const {
    std::lock_guard lock(mutex_);
    return std::all_of(past_.begin(), past_.end(), [&](std::uint64_t p) { return p > index; });
}

IntervalCollector::Slot IntervalCollector::take(std::uint64_t index) {
    std::lock_guard lock(mutex_);
    auto it = slots_.find(index);
    if (it == slots_.end()) return {};
    Slot s = std::move(it->second);
    slots_.erase(it);
    return s;
}

std::uint64_t IntervalCollector::end() const {
    std::lock_guard lock(mutex_);
    return end_;
}

void Shared::begin(const Config& config, Nanos now) {
    start = now;
    measure_from = start + config.warmup;
    end = config.duration > 0 ? measure_from + config.duration : 0;
    tickets.store(config.count > 0 ? static_cast<std::int64_t>(config.count) : 0);
    recorded.store(0);
    intervals.begin(static_cast<std::size_t>(config.threads));
}

void Shared::fail(Failure f, std::string text) {
    {
        std::lock_guard lock(failure_mutex);
        if (failure == Failure::none) {
            failure = f;
            failure_text = std::move(text);
        }
    }
    stop.store(true, std::memory_order_relaxed);
}

bool Shared::failed() const {
    std::lock_guard lock(const_cast<std::mutex&>(failure_mutex));
    return failure != Failure::none;
}

std::uint64_t Shared::last_interval(const Config& config) const {
    if (config.interval <= 0 || config.duration <= 0)
        return std::numeric_limits<std::uint64_t>::max();
    return static_cast<std::uint64_t>((config.duration - 1) / config.interval);
}

namespace {

constexpr std::uint32_t kMagic = 0x3158444e;     // "NDX1"
constexpr std::uint64_t kPatternStride = 251;    // prime: consecutive messages differ everywhere
constexpr std::size_t kMaxQueuedBytes = 4 << 20; ///< TCP: unsent bytes per connection, at most
constexpr int kSendBurst = 256; ///< paced sends per loop turn before events are served

/// The bytes of message `seq`: a slice of one long pattern, so the echo can be checked
/// without keeping copies of what was sent.
class Pattern {
public:
    explicit Pattern(std::size_t size) : bytes_(size + kPatternStride + 1) {
        for (std::size_t i = 0; i < bytes_.size(); ++i)
            bytes_[i] = static_cast<char>((i * 7 + 3) & 0xff);
    }
    [[nodiscard]] const char* at(std::uint64_t seq) const {
        return bytes_.data() + seq % kPatternStride;
    }

private:
    std::vector<char> bytes_;
};

/// UDP datagram:
///
///   0      4          12          20                 size
///   | NDX1 | sequence | send time | pattern(seq) ... |
void fill_datagram(char* out, std::size_t size, std::uint64_t seq, Nanos sent, const Pattern& p) {
    std::memcpy(out + kUdpHeader, p.at(seq) + kUdpHeader, size - kUdpHeader);
    std::memcpy(out, &kMagic, 4);
    std::memcpy(out + 4, &seq, 8);
    std::memcpy(out + 12, &sent, 8);
}

enum class SeqState : std::uint8_t { free, outstanding, received, lost };

/// Recent UDP sequence numbers and what became of them (a window of 64Ki; empty, and never
/// touched, for TCP runs).
class SeqWindow {
public:
    explicit SeqWindow(bool used) : entries_(used ? 65536 : 0) {}
    struct Entry {
        std::uint64_t seq = ~std::uint64_t{0};
        Nanos intended = 0;
        Nanos actual = 0;
        SeqState state = SeqState::free;
    };
    Entry& slot(std::uint64_t seq) { return entries_[seq & (entries_.size() - 1)]; }
    Entry* find(std::uint64_t seq) {
        Entry& e = slot(seq);
        return e.seq == seq ? &e : nullptr;
    }

private:
    std::vector<Entry> entries_;
};

/// What a received UDP datagram is.
enum class Datagram { ours, truncated, previous, foreign, corrupt };

class Worker {
public:
    Worker(const Config& c, Shared& s, Connections& held, int index)
        : cfg_(c), shared_(s), held_(held), index_(index),
          datagram_size_(std::max(c.size, kUdpHeader)), pattern_(datagram_size_),
          last_interval_(s.last_interval(c)) {}

    Result result;

    void run() {
        auto& seq = held_.udp_seq[static_cast<std::size_t>(index_)];
        first_seq_ = seq;
        next_udp_seq_ = seq;
        try {
            pin();
            // Paced sends need wake-ups on time: no timer slack (50us by default) for this thread.
            if (cfg_.mode != Mode::pingpong) ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
            switch (cfg_.mode) {
            case Mode::connect:
                connect_loop();
                break;
            case Mode::pingpong:
                if (my_connections() == 1 && cfg_.inflight == 1)
                    single_pingpong();
                else
                    event_loop();
                break;
            case Mode::paced:
                event_loop();
                break;
            }
        } catch (const std::system_error& e) {
            shared_.fail(Failure::system, e.what());
        }
        seq = next_udp_seq_;
        // A failed run leaves its sockets in no known state: the next size opens new ones.
        if (shared_.failed()) held_.by_thread[static_cast<std::size_t>(index_)].clear();
        flush_interval();
        shared_.intervals.advance(static_cast<std::size_t>(index_),
                                  std::numeric_limits<std::uint64_t>::max());
        // A connect that failed is answered too: by an error.
        const auto done = result.received + result.lost + result.truncated +
                          (cfg_.mode == Mode::connect ? result.error_count() : 0);
        result.unfinished = result.sent > done ? result.sent - done : 0;
        const int cpu = ::sched_getcpu();
        if (cpu >= 0) result.cpus.push_back(cpu);
    }

private:
    // ---------------------------------------------------------------- shared pieces

    [[nodiscard]] int my_connections() const {
        return cfg_.connections / cfg_.threads + (index_ < cfg_.connections % cfg_.threads ? 1 : 0);
    }

    void pin() const {
        if (cfg_.cpus.empty()) return;
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(
            static_cast<unsigned>(cfg_.cpus[static_cast<std::size_t>(index_) % cfg_.cpus.size()]),
            &set);
        if (::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) != 0)
            throw system_error(errno, "pinning a probe thread (--cpu)");
    }

    [[nodiscard]] bool stopping(Nanos now) const {
        return shared_.stop.load(std::memory_order_relaxed) ||
               (shared_.end > 0 && now >= shared_.end);
    }

    /// The interval `now` falls in: from the end of the warm-up, the last interval taking
    /// whatever comes after the run's end (replies to its last sends).
    [[nodiscard]] std::uint64_t interval_of(Nanos now) const {
        if (now <= shared_.measure_from) return 0;
        const auto k = static_cast<std::uint64_t>((now - shared_.measure_from) / cfg_.interval);
        return std::min(k, last_interval_);
    }

    /// Moves this thread's interval on with the clock, even when nothing arrives (a stalled
    /// peer): the main thread prints an interval once every thread is past it.
    void tick_interval(Nanos now) {
        if (cfg_.interval <= 0) return;
        const auto k = interval_of(now);
        if (k != interval_index_) flush_interval(k);
    }

    /// Count mode: whether a message sent at `sent_at` may go (a warm-up send always may).
    bool take_ticket(Nanos sent_at) {
        if (cfg_.count == 0 || sent_at < shared_.measure_from) return true;
        if (shared_.tickets.fetch_sub(1, std::memory_order_relaxed) > 0) return true;
        shared_.tickets.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    /// A measured send that will give no sample (lost, truncated) frees its ticket.
    void return_ticket(Nanos sent_at) {
        if (cfg_.count > 0 && sent_at >= shared_.measure_from)
            shared_.tickets.fetch_add(1, std::memory_order_relaxed);
    }

    /// Records one sample; warm-up samples are dropped. The --count-th ends the run.
    void record(Nanos now, Nanos sent_at, Nanos rtt, Nanos rtt_actual = -1, Nanos lag = -1) {
        if (sent_at < shared_.measure_from) return;
        if (cfg_.count > 0 &&
            shared_.recorded.fetch_add(1, std::memory_order_relaxed) + 1 >= cfg_.count)
            shared_.stop.store(true, std::memory_order_relaxed);
        ++result.received;
        const auto v = static_cast<std::uint64_t>(std::max<Nanos>(rtt, 0));
        result.rtt.record(v);
        if (rtt_actual >= 0) result.rtt_actual.record(static_cast<std::uint64_t>(rtt_actual));
        if (lag >= 0) result.lag.record(static_cast<std::uint64_t>(lag));
        // Measured time runs from the first measured send, so a late start (connecting)
        // does not dilute the achieved rate.
        if (first_measured_send_ == 0) first_measured_send_ = sent_at;
        result.measured_ns = now - first_measured_send_;
        if (cfg_.interval > 0) {
            tick_interval(now);
            interval_.record(v);
            ++interval_sent_;
        }
    }

    /// Only sends after warm-up count.
    void count_sent(Nanos sent_at) {
        if (sent_at >= shared_.measure_from) ++result.sent;
    }

    void count_lost(Nanos sent_at, Nanos now) {
        if (sent_at < shared_.measure_from) return;
        return_ticket(sent_at);
        ++result.lost;
        if (cfg_.interval > 0) {
            tick_interval(now);
            ++interval_lost_;
        }
    }

    void count_truncated(Nanos sent_at, std::size_t bytes) {
        if (sent_at < shared_.measure_from) return;
        return_ticket(sent_at);
        ++result.truncated;
        result.truncated_to = std::max(result.truncated_to, bytes);
    }

    void flush_interval(std::uint64_t next = 0) {
        if (cfg_.interval <= 0) return;
        if (interval_.count() > 0 || interval_lost_ > 0)
            shared_.intervals.add(interval_index_, interval_, interval_sent_ + interval_lost_,
                                  interval_lost_);
        interval_.reset();
        interval_sent_ = interval_lost_ = 0;
        interval_index_ = next;
        shared_.intervals.advance(static_cast<std::size_t>(index_), next);
    }

    /// This thread's connections: the ones a previous size left, and new ones for the rest.
    /// Empty after recording the failure when one cannot be made.
    std::vector<Fd> take_connections() {
        auto& mine = held_.by_thread[static_cast<std::size_t>(index_)];
        std::vector<Fd> out = std::move(mine);
        mine.clear();
        while (out.size() < static_cast<std::size_t>(my_connections())) {
            Fd fd = open_connection();
            if (!fd) return {};
            out.push_back(std::move(fd));
        }
        if (result.socket_options.empty())
            result.socket_options = describe_socket_options(out.front().get(), cfg_.protocol);
        return out;
    }

    /// Hands healthy connections back for the next size.
    void keep(std::vector<Fd>&& fds) {
        auto& mine = held_.by_thread[static_cast<std::size_t>(index_)];
        for (auto& fd : fds)
            if (fd) mine.push_back(std::move(fd));
    }

    /// Opens and connects one socket; nullopt-like (invalid Fd) after recording the failure.
    Fd open_connection() {
        Fd fd = open_socket(cfg_.target.family(), cfg_.protocol, true);
        if (cfg_.protocol == Protocol::tcp)
            set_int_option(fd.get(), IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
        if (cfg_.busy_poll) {
            const int us = 50; // SO_BUSY_POLL above net.core.busy_read needs CAP_NET_ADMIN
            static_cast<void>(::setsockopt(fd.get(), SOL_SOCKET, SO_BUSY_POLL, &us, sizeof us));
        }
        const int err = connect_with_timeout(fd.get(), cfg_.target, cfg_.timeout);
        if (err != 0) {
            shared_.fail(
                Failure::unavailable,
                fmt::format("connect {}: {}", cfg_.target.to_string(), std::strerror(err)));
            return Fd();
        }
        return fd;
    }

    /// A UDP send the kernel refused without the socket being broken: no room (EAGAIN,
    /// ENOBUFS), or a local firewall rule dropped it (EPERM, counted as an error too). The
    /// datagram is lost on our side.
    bool dropped_here(int err) {
        if (err == EPERM) ++result.errors["send EPERM (dropped by a local firewall rule)"];
        return err == EAGAIN || err == ENOBUFS || err == EPERM;
    }

    void fail_io(int err, const char* doing) {
        if (err == ECONNREFUSED && cfg_.protocol == Protocol::udp)
            shared_.fail(Failure::unavailable,
                         fmt::format("UDP {}: nothing listens there (ICMP port unreachable)",
                                     cfg_.target.to_string()));
        else if (err == ECONNRESET || err == EPIPE)
            shared_.fail(Failure::unavailable,
                         fmt::format("{} {}: the peer reset the connection mid-run", doing,
                                     cfg_.target.to_string()));
        else
            shared_.fail(
                Failure::unavailable,
                fmt::format("{} {}: {}", doing, cfg_.target.to_string(), std::strerror(err)));
    }

    void fail_closed() {
        shared_.fail(Failure::unavailable,
                     fmt::format("{} closed the connection mid-run", cfg_.target.to_string()));
    }

    void fail_no_echo() {
        shared_.fail(Failure::unavailable,
                     fmt::format("no echo from {} within {}", cfg_.target.to_string(),
                                 format_duration(static_cast<double>(cfg_.timeout))));
    }

    void corrupt(std::uint64_t seq, std::size_t offset) {
        shared_.fail(
            Failure::corrupt,
            fmt::format("corrupt echo from {}: message {} differs from what was sent at byte {}",
                        cfg_.target.to_string(), seq, offset));
    }

    static std::size_t first_difference(const char* a, const char* b) {
        std::size_t i = 0;
        while (a[i] == b[i])
            ++i;
        return i;
    }

    // ------------------------------------------------------------------- UDP replies

    /// What a received datagram is, with its sequence number when it has one of ours.
    /// Shorter than sent but a true prefix of it: truncated (inetd's echo cuts at its
    /// buffer); from before this size's first send: a late reply to the previous size.
    Datagram classify(const char* data, std::size_t n, std::uint64_t& seq) {
        std::uint32_t magic = 0;
        if (n < kUdpHeader) return Datagram::foreign;
        std::memcpy(&magic, data, 4);
        std::memcpy(&seq, data + 4, 8);
        if (magic != kMagic) return Datagram::foreign;
        if (seq < first_seq_) return Datagram::previous;
        if (seq >= next_udp_seq_ || n > datagram_size_) return Datagram::corrupt;
        const std::size_t body = n - kUdpHeader;
        if (std::memcmp(data + kUdpHeader, pattern_.at(seq) + kUdpHeader, body) != 0) {
            corrupt(seq, kUdpHeader +
                             first_difference(data + kUdpHeader, pattern_.at(seq) + kUdpHeader));
            return Datagram::corrupt;
        }
        return n < datagram_size_ ? Datagram::truncated : Datagram::ours;
    }

    /// The outstanding request a UDP reply answers, marked received; nullptr after counting
    /// the reply as late (its request was already counted lost) or as a duplicate.
    SeqWindow::Entry* claim(SeqWindow& window, std::uint64_t seq) {
        SeqWindow::Entry* e = window.find(seq);
        if (e == nullptr || e->state == SeqState::lost) {
            ++result.late;
            return nullptr;
        }
        if (e->state == SeqState::received) {
            ++result.duplicates;
            return nullptr;
        }
        e->state = SeqState::received;
        return e;
    }

    /// What a reply did: `ended` the request it answered (a whole echo, `whole` then
    /// pointing at it, or a truncated one), or nothing (foreign, late, a duplicate, or
    /// corrupt: then the run has failed).
    struct Reply {
        SeqWindow::Entry* whole = nullptr;
        bool ended = false;
        std::uint64_t seq = 0;
    };

    Reply take_reply(SeqWindow& window, const char* data, std::size_t n) {
        Reply r;
        switch (classify(data, n, r.seq)) {
        case Datagram::foreign:
            ++result.foreign;
            break;
        case Datagram::previous:
            ++result.late;
            break;
        case Datagram::corrupt:
            if (!shared_.failed())
                shared_.fail(Failure::corrupt,
                             fmt::format("corrupt echo from {}: a {}-byte datagram with sequence "
                                         "{}, which was never sent at this size ({} bytes)",
                                         cfg_.target.to_string(), n, r.seq, datagram_size_));
            break;
        case Datagram::truncated:
            if (auto* e = claim(window, r.seq)) {
                count_truncated(e->actual, n);
                r.ended = true;
            }
            break;
        case Datagram::ours:
            r.whole = claim(window, r.seq);
            r.ended = r.whole != nullptr;
            break;
        }
        return r;
    }

    /// Records a reply to `e`: paced runs measure from the intended send time (and keep the
    /// actual one and the lag), ping-pong from the actual send.
    void record_reply(Nanos now, const SeqWindow::Entry& e, bool paced) {
        if (paced)
            record(now, e.intended, now - e.intended, now - e.actual, e.actual - e.intended);
        else
            record(now, e.actual, now - e.actual);
    }

    // ------------------------------------------- one connection, one message in flight

    /// The lowest-overhead path: one send, then read until the whole echo is back. Blocking
    /// reads with a short timeout (so stop and --timeout are noticed), or spinning on
    /// non-blocking reads with --busy-poll.
    void single_pingpong() {
        auto fds = take_connections();
        if (fds.empty()) return;
        Fd& fd = fds.front();
        const int flags = cfg_.busy_poll ? MSG_DONTWAIT : 0;
        if (!cfg_.busy_poll) {
            const timeval tv{0, 100'000};
            ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            const int fl = ::fcntl(fd.get(), F_GETFL);
            ::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK);
        }
        std::vector<char> rx(std::max<std::size_t>(cfg_.size, 65536));
        std::vector<char> dgram(datagram_size_);
        SeqWindow window(cfg_.protocol == Protocol::udp);
        bool clean = true; // the TCP stream holds no half-read echo
        for (std::uint64_t seq = 0;; ++seq) {
            Nanos t0 = monotonic_ns();
            tick_interval(t0);
            if (stopping(t0)) break;
            if (!take_ticket(t0)) { // every remaining sample is in flight on another thread
                ::usleep(200);
                --seq;
                continue;
            }
            if (cfg_.protocol == Protocol::tcp) {
                clean = false;
                if (!send_all(fd.get(), pattern_.at(seq), cfg_.size, t0)) break;
                count_sent(t0);
                std::size_t got = 0;
                bool stopped = false;
                while (got < cfg_.size) {
                    const ssize_t n =
                        ::recv(fd.get(), rx.data(), std::min(rx.size(), cfg_.size - got), flags);
                    if (n > 0) {
                        if (std::memcmp(rx.data(), pattern_.at(seq) + got,
                                        static_cast<std::size_t>(n)) != 0)
                            return corrupt(
                                seq, got + first_difference(rx.data(), pattern_.at(seq) + got));
                        got += static_cast<std::size_t>(n);
                        continue;
                    }
                    if (n == 0) return fail_closed();
                    if (errno != EAGAIN && errno != EINTR) return fail_io(errno, "recv from");
                    const Nanos now = monotonic_ns();
                    tick_interval(now);
                    if (now - t0 > cfg_.timeout) return fail_no_echo();
                    // Stopping mid-echo: the rest is read (below) so the stream stays usable.
                    if (shared_.stop.load(std::memory_order_relaxed)) {
                        stopped = true;
                        break;
                    }
                }
                if (stopped) {
                    clean = drain_echo(fd.get(), rx, cfg_.size - got);
                    break;
                }
                clean = true;
                const Nanos t1 = monotonic_ns();
                record(t1, t0, t1 - t0);
            } else {
                const std::uint64_t useq = next_udp_seq_++;
                auto& e = window.slot(useq);
                e = {useq, t0, t0, SeqState::outstanding};
                fill_datagram(dgram.data(), dgram.size(), useq, t0, pattern_);
                if (::send(fd.get(), dgram.data(), dgram.size(), 0) < 0) {
                    if (!dropped_here(errno)) return fail_io(errno, "send to");
                    // The kernel had no room: the datagram is lost on our side, as in event_loop.
                    count_sent(t0);
                    e.state = SeqState::lost;
                    count_lost(t0, t0);
                    continue;
                }
                count_sent(t0);
                for (;;) {
                    const ssize_t n = ::recv(fd.get(), rx.data(), rx.size(), flags);
                    const Nanos now = monotonic_ns();
                    if (n >= 0) {
                        // Only `useq` can be outstanding here: older ones were answered or lost.
                        const auto r = take_reply(window, rx.data(), static_cast<std::size_t>(n));
                        if (r.whole != nullptr) record_reply(now, *r.whole, false);
                        if (r.ended) break;
                        if (shared_.failed()) return;
                        continue;
                    }
                    if (errno != EAGAIN && errno != EINTR) return fail_io(errno, "recv from");
                    tick_interval(now);
                    if (now - t0 >= cfg_.timeout) {
                        e.state = SeqState::lost;
                        count_lost(t0, now);
                        break;
                    }
                    if (stopping(now)) break;
                }
            }
        }
        if (clean && !shared_.failed()) keep(std::move(fds));
    }

    /// Reads and drops the `left` bytes still owed on a TCP connection (an echo cut short by
    /// the end of the run), for at most the timeout: whether the stream is clean after.
    bool drain_echo(int fd, std::vector<char>& rx, std::size_t left) {
        const Nanos until = monotonic_ns() + std::min<Nanos>(cfg_.timeout, kNanosPerSecond);
        while (left > 0 && monotonic_ns() < until) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const ssize_t n = ::recv(fd, rx.data(), std::min(rx.size(), left), MSG_DONTWAIT);
            if (n == 0) return false;
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                return false;
            }
            left -= static_cast<std::size_t>(n);
        }
        return left == 0;
    }

    bool send_all(int fd, const char* data, std::size_t n, Nanos t0) {
        std::size_t off = 0;
        while (off < n) {
            const ssize_t w = ::send(fd, data + off, n - off, MSG_NOSIGNAL);
            if (w > 0) {
                off += static_cast<std::size_t>(w);
                continue;
            }
            if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
                const Nanos now = monotonic_ns();
                if (now - t0 > cfg_.timeout) {
                    shared_.fail(Failure::unavailable,
                                 fmt::format("{} stopped reading (send blocked for {})",
                                             cfg_.target.to_string(),
                                             format_duration(static_cast<double>(cfg_.timeout))));
                    return false;
                }
                if (shared_.stop.load(std::memory_order_relaxed)) return false;
                continue;
            }
            fail_io(errno, "send to");
            return false;
        }
        return true;
    }

    // ------------------------------------------------ many connections / paced (epoll)

    struct Conn {
        Fd fd;
        std::deque<SeqWindow::Entry> inflight; ///< TCP: replies come back in this order
        std::uint64_t next_seq = 0;
        std::size_t rx_offset = 0; ///< TCP: bytes of the oldest reply received
        std::uint64_t highest_received = ~std::uint64_t{0}; ///< UDP: reordering is per connection
        std::size_t udp_outstanding = 0;
        std::string tx; ///< TCP: bytes not yet taken by the socket
        std::size_t tx_offset = 0;
        /// TCP: bytes of echo still owed (what was sent and not yet read back).
        [[nodiscard]] std::size_t owed(std::size_t size) const {
            return inflight.size() * size - rx_offset;
        }
    };

    [[nodiscard]] std::size_t outstanding(const Conn& c) const {
        return cfg_.protocol == Protocol::tcp ? c.inflight.size() : c.udp_outstanding;
    }

    /// Whether a paced send may go on `c`: under the --inflight cap, and (TCP) with a
    /// bounded amount of bytes the socket has not taken.
    [[nodiscard]] bool has_room(const Conn& c) const {
        if (cfg_.inflight != 0 && outstanding(c) >= static_cast<std::size_t>(cfg_.inflight))
            return false;
        return c.tx.size() - c.tx_offset < kMaxQueuedBytes;
    }

    /// The connections' events come through one channel; the descriptor finds the
    /// connection. What it does is swapped between the run and the drain after it.
    struct ConnChannel final : Channel {
        std::function<void(std::size_t ci, const PollEvent&)> fn;
        std::vector<std::size_t> conn_of_fd;
        void on_event(const PollEvent& ev) override {
            fn(conn_of_fd[static_cast<std::size_t>(ev.token)], ev);
        }
    };

    void event_loop() {
        EventLoop::Options lo;
        lo.backend = cfg_.backend;
        lo.busy_poll = cfg_.busy_poll;
        lo.max_events = 64;
        EventLoop loop(lo);
        ConnChannel channel;
        auto fds = take_connections();
        if (fds.empty()) return;
        std::vector<Conn> conns(fds.size());
        for (std::size_t i = 0; i < conns.size(); ++i) {
            conns[i].fd = std::move(fds[i]);
            const auto fd = static_cast<std::size_t>(conns[i].fd.get());
            if (channel.conn_of_fd.size() <= fd) channel.conn_of_fd.resize(fd + 1);
            channel.conn_of_fd[fd] = i;
            loop.watch(conns[i].fd.get(), interest::read, channel);
        }
        SeqWindow window(cfg_.protocol == Protocol::udp);
        std::deque<std::pair<std::size_t, std::uint64_t>>
            udp_deadlines; // (conn, seq) in send order
        std::vector<char> rx(65536 + 16);
        std::vector<char> dgram(datagram_size_);
        const bool paced = cfg_.mode == Mode::paced;
        const Nanos begin = monotonic_ns();
        Pacer pacer(paced ? cfg_.rate / cfg_.threads : 1.0, begin, cfg_.poisson,
                    std::uint64_t{0x9E3779B97F4A7C15} * static_cast<std::uint64_t>(index_ + 1));
        std::size_t rr = 0;
        Nanos next_timeout_scan = 0;

        auto send_one = [&](std::size_t ci, Nanos intended) -> bool {
            Conn& c = conns[ci];
            const Nanos actual = monotonic_ns();
            if (!take_ticket(actual)) return true; // --count: enough are in flight already
            if (cfg_.protocol == Protocol::udp) {
                const std::uint64_t seq = next_udp_seq_++;
                auto& e = window.slot(seq);
                e = {seq, intended, actual, SeqState::outstanding};
                fill_datagram(dgram.data(), dgram.size(), seq, actual, pattern_);
                count_sent(actual);
                if (::send(c.fd.get(), dgram.data(), dgram.size(), 0) < 0) {
                    if (!dropped_here(errno)) {
                        fail_io(errno, "send to");
                        return false;
                    }
                    // The socket buffer is full: the datagram is lost on our side.
                    e.state = SeqState::lost;
                    count_lost(actual, actual);
                    return true;
                }
                udp_deadlines.emplace_back(ci, seq);
                ++c.udp_outstanding;
                return true;
            }
            const std::uint64_t seq = c.next_seq++;
            c.inflight.push_back({seq, intended, actual, SeqState::outstanding});
            count_sent(actual);
            if (!c.tx.empty()) { // earlier bytes still queued: keep order
                c.tx.append(pattern_.at(seq), cfg_.size);
                return true;
            }
            const ssize_t w =
                ::send(c.fd.get(), pattern_.at(seq), cfg_.size, MSG_NOSIGNAL | MSG_DONTWAIT);
            std::size_t done = w > 0 ? static_cast<std::size_t>(w) : 0;
            if (w < 0 && errno != EAGAIN) {
                fail_io(errno, "send to");
                return false;
            }
            if (done < cfg_.size) {
                c.tx.assign(pattern_.at(seq) + done, cfg_.size - done);
                c.tx_offset = 0;
                loop.modify(c.fd.get(), interest::read | interest::write);
            }
            return true;
        };

        bool ok = true;
        if (!paced) {
            for (std::size_t ci = 0; ci < conns.size() && ok; ++ci)
                for (int k = 0; k < cfg_.inflight && ok; ++k)
                    ok = send_one(ci, monotonic_ns());
        }

        channel.fn = [&](std::size_t ci, const PollEvent& ev) {
            if (!ok) return; // failed earlier in this batch
            Conn& c = conns[ci];
            if (ev.writable && !c.tx.empty() && !flush(c, loop)) {
                ok = false;
                return;
            }
            if (!(ev.readable || ev.error || ev.hangup)) return;
            ok = cfg_.protocol == Protocol::tcp ? read_tcp(c, ci, rx, send_one, paced)
                                                : read_udp(c, rx, window, ci, send_one, paced);
        };
        while (ok) {
            Nanos now = monotonic_ns();
            tick_interval(now);
            if (stopping(now)) break;
            // Paced sends that are due, a bounded burst per turn so events and the stop are
            // served. With an --inflight cap a send waits for a connection with room: it then
            // lags the schedule, and the corrected latency counts that wait. A sender more
            // than kMaxSendLag behind gives those sends up and counts them.
            bool blocked = false;
            if (paced) {
                if (now - pacer.peek() > kMaxSendLag) result.skipped += pacer.skip_to(now);
                for (int burst = 0; pacer.peek() <= now && burst < kSendBurst && ok; ++burst) {
                    std::size_t ci = conns.size();
                    for (std::size_t k = 0; k < conns.size(); ++k) {
                        const std::size_t cand = (rr + k) % conns.size();
                        if (has_room(conns[cand])) {
                            ci = cand;
                            break;
                        }
                    }
                    if (ci == conns.size()) {
                        blocked = true;
                        break;
                    }
                    rr = ci + 1;
                    ok = send_one(ci, pacer.next());
                    now = monotonic_ns();
                }
                if (!ok) break;
            }
            // UDP requests past their timeout are lost; ping-pong replaces them.
            while (!udp_deadlines.empty() && ok) {
                auto [ci, seq] = udp_deadlines.front();
                auto* e = window.find(seq);
                if (e == nullptr || e->state != SeqState::outstanding) {
                    udp_deadlines.pop_front();
                    continue;
                }
                if (now - e->actual < cfg_.timeout) break;
                e->state = SeqState::lost;
                count_lost(e->actual, now);
                --conns[ci].udp_outstanding;
                udp_deadlines.pop_front();
                if (!paced && !stopping(now)) ok = send_one(ci, monotonic_ns());
            }
            if (!ok) break;
            // TCP: the oldest request on any connection must be answered within --timeout.
            // The scan covers every connection, so it runs a few times a second, not on every
            // wake-up (10,000 connections would make it the hot path).
            if (cfg_.protocol == Protocol::tcp && now >= next_timeout_scan) {
                next_timeout_scan = now + std::min<Nanos>(cfg_.timeout / 4, 100 * kNanosPerMilli);
                for (const auto& c : conns)
                    if (!c.inflight.empty() && now - c.inflight.front().actual > cfg_.timeout)
                        return fail_no_echo();
            }
            // Sleep until shortly before the next paced send, then spin: the kernel's timer
            // slack (50us by default) would otherwise make every send late.
            constexpr Nanos kSpinMargin = 80 * kNanosPerMicro;
            Nanos wait = 100 * kNanosPerMilli;
            if (paced && !blocked) wait = std::min(wait, pacer.peek() - now - kSpinMargin);
            if (!udp_deadlines.empty()) {
                if (auto* e = window.find(udp_deadlines.front().second))
                    wait = std::min(wait, e->actual + cfg_.timeout - now);
            }
            loop.run_once(std::max<Nanos>(wait, 0)); // busy_poll: the loop never sleeps
        }
        if (shared_.failed()) return unwatch_all(conns, loop);
        result.skipped = std::max(result.skipped, pacer.skipped());
        // TCP streams are kept for the next size only once every echo owed is read back.
        if (cfg_.protocol == Protocol::tcp) drain(conns, loop, channel, rx);
        unwatch_all(conns, loop);
        std::vector<Fd> healthy;
        for (auto& c : conns)
            healthy.push_back(std::move(c.fd));
        keep(std::move(healthy));
    }

    /// Before the loop goes (and before a close): an io_uring poll holds the file.
    static void unwatch_all(std::vector<Conn>& conns, EventLoop& loop) {
        for (auto& c : conns)
            if (c.fd) loop.unwatch(c.fd.get());
    }

    /// After the run: sends what is still queued and reads the echoes still owed, for at
    /// most the timeout; a connection that does not get there is closed, not kept.
    void drain(std::vector<Conn>& conns, EventLoop& loop, ConnChannel& channel,
               std::vector<char>& rx) {
        const Nanos until = monotonic_ns() + std::min<Nanos>(cfg_.timeout, kNanosPerSecond);
        auto pending = [&] {
            return std::any_of(conns.begin(), conns.end(), [&](const Conn& c) {
                return c.fd && (c.owed(cfg_.size) > 0 || !c.tx.empty());
            });
        };
        auto drop = [&](Conn& c) { // closed or failed: not kept
            loop.unwatch(c.fd.get());
            c.fd.reset();
        };
        channel.fn = [&](std::size_t ci, const PollEvent& ev) {
            Conn& c = conns[ci];
            if (!c.fd) return;
            if (ev.writable && !c.tx.empty() && !flush(c, loop)) {
                drop(c);
                return;
            }
            while (c.owed(cfg_.size) > 0) {
                const ssize_t r = ::recv(c.fd.get(), rx.data(),
                                         std::min(rx.size(), c.owed(cfg_.size)), MSG_DONTWAIT);
                if (r > 0) {
                    std::size_t got = static_cast<std::size_t>(r) + c.rx_offset;
                    while (got >= cfg_.size && !c.inflight.empty()) {
                        c.inflight.pop_front();
                        got -= cfg_.size;
                    }
                    c.rx_offset = got;
                    continue;
                }
                if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
                drop(c);
                break;
            }
        };
        while (pending() && monotonic_ns() < until)
            loop.run_once(50 * kNanosPerMilli);
        for (auto& c : conns)
            if (c.fd && (c.owed(cfg_.size) > 0 || !c.tx.empty())) drop(c);
    }

    bool flush(Conn& c, EventLoop& loop) {
        const ssize_t w = ::send(c.fd.get(), c.tx.data() + c.tx_offset, c.tx.size() - c.tx_offset,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN) return true;
            fail_io(errno, "send to");
            return false;
        }
        c.tx_offset += static_cast<std::size_t>(w);
        if (c.tx_offset == c.tx.size()) {
            c.tx.clear();
            c.tx_offset = 0;
            loop.modify(c.fd.get(), interest::read);
        } else if (c.tx_offset > kMaxQueuedBytes) { // keep the buffer from only growing
            c.tx.erase(0, c.tx_offset);
            c.tx_offset = 0;
        }
        return true;
    }

    template <typename SendOne>
    bool read_tcp(Conn& c, std::size_t ci, std::vector<char>& rx, SendOne& send_one, bool paced) {
        const ssize_t n = ::recv(c.fd.get(), rx.data(), rx.size(), MSG_DONTWAIT);
        if (n == 0) {
            fail_closed();
            return false;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return true;
            fail_io(errno, "recv from");
            return false;
        }
        const Nanos now = monotonic_ns();
        std::size_t pos = 0;
        const auto len = static_cast<std::size_t>(n);
        while (pos < len) {
            if (c.inflight.empty()) {
                shared_.fail(Failure::corrupt,
                             fmt::format("corrupt echo from {}: {} bytes more than were sent",
                                         cfg_.target.to_string(), len - pos));
                return false;
            }
            const auto& head = c.inflight.front();
            const std::size_t take = std::min(len - pos, cfg_.size - c.rx_offset);
            if (std::memcmp(rx.data() + pos, pattern_.at(head.seq) + c.rx_offset, take) != 0) {
                corrupt(head.seq,
                        c.rx_offset +
                            first_difference(rx.data() + pos, pattern_.at(head.seq) + c.rx_offset));
                return false;
            }
            pos += take;
            c.rx_offset += take;
            if (c.rx_offset == cfg_.size) {
                c.rx_offset = 0;
                record_reply(now, head, paced);
                c.inflight.pop_front();
                if (!paced && !stopping(now) && !send_one(ci, monotonic_ns())) return false;
            }
        }
        return true;
    }

    template <typename SendOne>
    bool read_udp(Conn& c, std::vector<char>& rx, SeqWindow& window, std::size_t ci,
                  SendOne& send_one, bool paced) {
        for (int k = 0; k < 64; ++k) {
            const ssize_t n = ::recv(c.fd.get(), rx.data(), rx.size(), MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) return true;
                fail_io(errno, "recv from");
                return false;
            }
            const Nanos now = monotonic_ns();
            const auto r = take_reply(window, rx.data(), static_cast<std::size_t>(n));
            if (shared_.failed()) return false;
            if (!r.ended) continue;
            constexpr auto kNone = ~std::uint64_t{0};
            if (c.highest_received != kNone && r.seq < c.highest_received) ++result.reordered;
            if (c.highest_received == kNone || r.seq > c.highest_received)
                c.highest_received = r.seq;
            --c.udp_outstanding;
            if (r.whole != nullptr) record_reply(now, *r.whole, paced);
            if (!paced && !stopping(now) && !send_one(ci, monotonic_ns())) return false;
        }
        return true;
    }

    // ------------------------------------------------------------------ connect mode

    void connect_loop() {
        const Nanos begin = monotonic_ns();
        Pacer pacer(cfg_.rate / cfg_.threads, begin, cfg_.poisson,
                    7 + static_cast<std::uint64_t>(index_));
        for (;;) {
            const Nanos now = monotonic_ns();
            tick_interval(now);
            if (now - pacer.peek() > kMaxSendLag) result.skipped += pacer.skip_to(now);
            const Nanos intended = pacer.next();
            if (!sleep_until(intended) && shared_.stop.load()) return;
            Nanos t0 = monotonic_ns();
            if (stopping(t0)) return;
            Fd fd = open_socket(cfg_.target.family(), Protocol::tcp, true);
            t0 = monotonic_ns();
            const int err = connect_with_timeout(fd.get(), cfg_.target, cfg_.timeout);
            const Nanos t1 = monotonic_ns();
            count_sent(t0);
            if (err == 0) {
                if (result.socket_options.empty())
                    result.socket_options = describe_socket_options(fd.get(), Protocol::tcp);
                record(t1, t0, t1 - t0, -1, t0 - intended);
            } else if (t0 >= shared_.measure_from) {
                ++result.errors[fmt::format("connect {}", errno_name(err))];
                if (err == ECONNREFUSED) ++result.refused;
                if (err == ETIMEDOUT) ++result.timeouts;
            }
            if (cfg_.close_rst) {
                const linger l{1, 0};
                ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
            }
        }
    }

    const Config& cfg_;
    Shared& shared_;
    Connections& held_;
    int index_;
    std::size_t datagram_size_; ///< UDP: the message with its header
    Pattern pattern_;
    std::uint64_t last_interval_;
    std::uint64_t first_seq_ = 0;    ///< UDP: this size's first sequence number
    std::uint64_t next_udp_seq_ = 0; ///< UDP: the next one to send
    Histogram interval_;
    std::uint64_t interval_index_ = 0;
    std::uint64_t interval_sent_ = 0;
    std::uint64_t interval_lost_ = 0;
    Nanos first_measured_send_ = 0;
};

} // namespace

Result run(const Config& config, Shared& shared, Connections& connections) {
    const auto threads = static_cast<std::size_t>(config.threads);
    connections.by_thread.resize(threads);
    connections.udp_seq.resize(threads, 0);
    std::vector<std::unique_ptr<Worker>> workers;
    for (int i = 0; i < config.threads; ++i)
        workers.push_back(std::make_unique<Worker>(config, shared, connections, i));
    std::vector<std::thread> pool;
    for (auto& w : workers)
        pool.emplace_back([raw = w.get()] { raw->run(); });
    for (auto& t : pool)
        t.join();
    Result total;
    for (auto& w : workers)
        total.merge(w->result);
    return total;
}

} // namespace netdx::probe
