// TCP: requests are slices of the pattern on a byte stream; echoes come back in order, so
// the n-th reply answers the n-th request and no header is needed. A request the socket
// cannot take at once is queued (at most kMaxQueuedBytes per connection) and the
// connection asks for write readiness until it is out.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>

#include <fmt/format.h>

#include "transport.hpp"

namespace netdx::probe {

namespace {

constexpr std::size_t kMaxQueuedBytes = 4 << 20; ///< unsent bytes per connection, at most

class TcpTransport final : public Transport {
public:
    explicit TcpTransport(Session& s)
        : s_(s), size_(s.cfg.size), pattern_(std::max(s.cfg.size, kUdpHeader)), rx_(65536 + 16) {}

    [[nodiscard]] Protocol protocol() const override { return Protocol::tcp; }

    void configure(int fd) const override {
        set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
    }

    Exchange exchange(int fd, Nanos t0) override {
        const std::uint64_t seq = exchange_seq_++;
        if (!send_all(fd, pattern_.at(seq), size_, t0))
            return s_.failed() ? Exchange::failed : Exchange::unclean;
        s_.count_sent(t0);
        const int flags = s_.cfg.busy_poll ? MSG_DONTWAIT : 0;
        std::size_t got = 0;
        while (got < size_) {
            const ssize_t n = ::recv(fd, rx_.data(), std::min(rx_.size(), size_ - got), flags);
            if (n > 0) {
                if (std::memcmp(rx_.data(), pattern_.at(seq) + got, static_cast<std::size_t>(n)) !=
                    0) {
                    s_.fail_corrupt(seq,
                                    got + first_difference(rx_.data(), pattern_.at(seq) + got));
                    return Exchange::failed;
                }
                got += static_cast<std::size_t>(n);
                continue;
            }
            if (n == 0) {
                s_.fail_closed();
                return Exchange::failed;
            }
            if (errno != EAGAIN && errno != EINTR) {
                s_.fail_io(errno, "recv from");
                return Exchange::failed;
            }
            const Nanos now = monotonic_ns();
            s_.tick_interval(now);
            if (now - t0 > s_.cfg.timeout) {
                s_.fail_no_echo();
                return Exchange::failed;
            }
            // Stopping mid-echo: the rest is read so the stream stays usable.
            if (s_.stop_requested())
                return drain_echo(fd, size_ - got) ? Exchange::stopped : Exchange::unclean;
        }
        const Nanos t1 = monotonic_ns();
        s_.record(t1, t0, t1 - t0);
        return Exchange::answered;
    }

    void attach(const std::vector<int>& fds, WantWrite want_write) override {
        conns_.assign(fds.size(), Conn{});
        for (std::size_t i = 0; i < fds.size(); ++i)
            conns_[i].fd = fds[i];
        want_write_ = std::move(want_write);
    }

    bool send(std::size_t ci, Nanos intended, Nanos actual) override {
        Conn& c = conns_[ci];
        const std::uint64_t seq = c.next_seq++;
        c.inflight.push_back({seq, intended, actual, SeqState::outstanding});
        s_.count_sent(actual);
        if (!c.tx.empty()) { // earlier bytes still queued: keep order
            c.tx.append(pattern_.at(seq), size_);
            return true;
        }
        const ssize_t w = ::send(c.fd, pattern_.at(seq), size_, MSG_NOSIGNAL | MSG_DONTWAIT);
        const std::size_t done = w > 0 ? static_cast<std::size_t>(w) : 0;
        if (w < 0 && errno != EAGAIN) {
            s_.fail_io(errno, "send to");
            return false;
        }
        if (done < size_) {
            c.tx.assign(pattern_.at(seq) + done, size_ - done);
            c.tx_offset = 0;
            want_write_(ci, true);
        }
        return true;
    }

    bool readable(std::size_t ci, const Replied& replied) override {
        Conn& c = conns_[ci];
        const ssize_t n = ::recv(c.fd, rx_.data(), rx_.size(), MSG_DONTWAIT);
        if (n == 0) {
            s_.fail_closed();
            return false;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return true;
            s_.fail_io(errno, "recv from");
            return false;
        }
        const Nanos now = monotonic_ns();
        std::size_t pos = 0;
        const auto len = static_cast<std::size_t>(n);
        while (pos < len) {
            if (c.inflight.empty()) {
                s_.fail_corrupt(fmt::format("{} bytes more than were sent", len - pos));
                return false;
            }
            const auto& head = c.inflight.front();
            const std::size_t take = std::min(len - pos, size_ - c.rx_offset);
            if (std::memcmp(rx_.data() + pos, pattern_.at(head.seq) + c.rx_offset, take) != 0) {
                s_.fail_corrupt(
                    head.seq, c.rx_offset + first_difference(rx_.data() + pos,
                                                             pattern_.at(head.seq) + c.rx_offset));
                return false;
            }
            pos += take;
            c.rx_offset += take;
            if (c.rx_offset == size_) {
                c.rx_offset = 0;
                s_.record_reply(now, head);
                c.inflight.pop_front();
                if (!replied(ci)) return false;
            }
        }
        return true;
    }

    bool writable(std::size_t ci) override {
        Conn& c = conns_[ci];
        if (c.tx.empty()) return true;
        const ssize_t w = ::send(c.fd, c.tx.data() + c.tx_offset, c.tx.size() - c.tx_offset,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN) return true;
            s_.fail_io(errno, "send to");
            return false;
        }
        c.tx_offset += static_cast<std::size_t>(w);
        if (c.tx_offset == c.tx.size()) {
            c.tx.clear();
            c.tx_offset = 0;
            want_write_(ci, false);
        } else if (c.tx_offset > kMaxQueuedBytes) { // keep the buffer from only growing
            c.tx.erase(0, c.tx_offset);
            c.tx_offset = 0;
        }
        return true;
    }

    /// The oldest request on any connection must be answered within --timeout. The scan
    /// covers every connection, so it runs a few times a second, not on every wake-up
    /// (10,000 connections would make it the hot path).
    bool expire(Nanos now, const Replied&) override {
        if (now < next_scan_) return true;
        next_scan_ = now + std::min<Nanos>(s_.cfg.timeout / 4, 100 * kNanosPerMilli);
        for (const auto& c : conns_)
            if (!c.inflight.empty() && now - c.inflight.front().actual > s_.cfg.timeout) {
                s_.fail_no_echo();
                return false;
            }
        return true;
    }

    [[nodiscard]] Nanos next_expiry() const override { return -1; }

    [[nodiscard]] std::size_t outstanding(std::size_t ci) const override {
        return conns_[ci].inflight.size();
    }

    [[nodiscard]] bool has_room(std::size_t ci) const override {
        const Conn& c = conns_[ci];
        if (s_.cfg.inflight != 0 && c.inflight.size() >= static_cast<std::size_t>(s_.cfg.inflight))
            return false;
        return c.tx.size() - c.tx_offset < kMaxQueuedBytes;
    }

    [[nodiscard]] bool owes(std::size_t ci) const override {
        const Conn& c = conns_[ci];
        return c.owed(size_) > 0 || !c.tx.empty();
    }

    bool settle(std::size_t ci, bool, bool can_write) override {
        Conn& c = conns_[ci];
        if (can_write && !c.tx.empty() && !writable(ci)) return false;
        while (c.owed(size_) > 0) {
            const ssize_t r =
                ::recv(c.fd, rx_.data(), std::min(rx_.size(), c.owed(size_)), MSG_DONTWAIT);
            if (r > 0) {
                std::size_t got = static_cast<std::size_t>(r) + c.rx_offset;
                while (got >= size_ && !c.inflight.empty()) {
                    c.inflight.pop_front();
                    got -= size_;
                }
                c.rx_offset = got;
                continue;
            }
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
            return false;
        }
        return true;
    }

private:
    struct Conn {
        int fd = -1;
        std::deque<Request> inflight; ///< replies come back in this order
        std::uint64_t next_seq = 0;
        std::size_t rx_offset = 0; ///< bytes of the oldest reply received
        std::string tx;            ///< bytes not yet taken by the socket
        std::size_t tx_offset = 0;
        /// Bytes of echo still owed (what was sent and not yet read back).
        [[nodiscard]] std::size_t owed(std::size_t size) const {
            return inflight.size() * size - rx_offset;
        }
    };

    bool send_all(int fd, const char* data, std::size_t n, Nanos t0) {
        std::size_t off = 0;
        while (off < n) {
            const ssize_t w = ::send(fd, data + off, n - off, MSG_NOSIGNAL);
            if (w > 0) {
                off += static_cast<std::size_t>(w);
                continue;
            }
            if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (monotonic_ns() - t0 > s_.cfg.timeout) {
                    s_.fail_stalled_sender();
                    return false;
                }
                if (s_.stop_requested()) return false;
                continue;
            }
            s_.fail_io(errno, "send to");
            return false;
        }
        return true;
    }

    /// Reads and drops the `left` bytes still owed (an echo cut short by the end of the run),
    /// for at most the timeout: whether the stream is clean after.
    bool drain_echo(int fd, std::size_t left) {
        const Nanos until = monotonic_ns() + std::min<Nanos>(s_.cfg.timeout, kNanosPerSecond);
        while (left > 0 && monotonic_ns() < until) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const ssize_t n = ::recv(fd, rx_.data(), std::min(rx_.size(), left), MSG_DONTWAIT);
            if (n == 0) return false;
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                return false;
            }
            left -= static_cast<std::size_t>(n);
        }
        return left == 0;
    }

    Session& s_;
    std::size_t size_;
    Pattern pattern_;
    std::vector<char> rx_;
    std::vector<Conn> conns_;
    WantWrite want_write_;
    std::uint64_t exchange_seq_ = 0;
    Nanos next_scan_ = 0;
};

} // namespace

std::unique_ptr<Transport> make_tcp_transport(Session& session) {
    return std::make_unique<TcpTransport>(session);
}

} // namespace netdx::probe
