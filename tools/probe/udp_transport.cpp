// UDP: every request is one datagram with a header (wire.hpp), so replies are matched by
// sequence number whatever their order: lost (no reply within --timeout), late (a reply
// after that), duplicated, reordered, truncated (a true prefix of the request) and foreign
// datagrams are told apart. Sequence numbers go on across the sizes of a sweep.
#include <cerrno>
#include <deque>
#include <sys/socket.h>
#include <utility>

#include <fmt/format.h>

#include "transport.hpp"

namespace netdx::probe {

namespace {

class UdpTransport final : public Transport {
public:
    explicit UdpTransport(Session& s)
        : s_(s), size_(std::max(s.cfg.size, kUdpHeader)), pattern_(size_), rx_(65536 + 16),
          dgram_(size_), next_seq_(s.sequence()), first_seq_(next_seq_) {}

    [[nodiscard]] Protocol protocol() const override { return Protocol::udp; }
    void configure(int) const override {}

    Exchange exchange(int fd, Nanos t0) override {
        const std::uint64_t useq = next_seq_++;
        auto& e = window_.slot(useq);
        e = {useq, t0, t0, SeqState::outstanding};
        fill_datagram(dgram_.data(), dgram_.size(), useq, t0, pattern_);
        if (::send(fd, dgram_.data(), dgram_.size(), 0) < 0) {
            if (!dropped_here(errno)) {
                fail_io(errno, "send to");
                return Exchange::failed;
            }
            s_.count_sent(t0);
            e.state = SeqState::lost; // the kernel had no room: lost on our side
            s_.count_lost(t0, t0);
            return Exchange::answered;
        }
        s_.count_sent(t0);
        const int flags = s_.cfg.busy_poll ? MSG_DONTWAIT : 0;
        for (;;) {
            const ssize_t n = ::recv(fd, rx_.data(), rx_.size(), flags);
            const Nanos now = monotonic_ns();
            if (n >= 0) {
                // Only `useq` can be outstanding here: older ones were answered or lost.
                const auto r = take_reply(rx_.data(), static_cast<std::size_t>(n));
                if (r.whole != nullptr) s_.record_reply(now, *r.whole);
                if (r.ended) return Exchange::answered;
                if (s_.failed()) return Exchange::failed;
                continue;
            }
            if (errno != EAGAIN && errno != EINTR) {
                fail_io(errno, "recv from");
                return Exchange::failed;
            }
            s_.tick_interval(now);
            if (now - t0 >= s_.cfg.timeout) {
                e.state = SeqState::lost;
                s_.count_lost(t0, now);
                return Exchange::answered;
            }
            if (s_.stopping(now)) return Exchange::stopped;
        }
    }

    void attach(const std::vector<int>& fds, WantWrite) override {
        conns_.assign(fds.size(), Conn{});
        for (std::size_t i = 0; i < fds.size(); ++i)
            conns_[i].fd = fds[i];
    }

    bool send(std::size_t ci, Nanos intended, Nanos actual) override {
        Conn& c = conns_[ci];
        const std::uint64_t seq = next_seq_++;
        auto& e = window_.slot(seq);
        e = {seq, intended, actual, SeqState::outstanding};
        fill_datagram(dgram_.data(), dgram_.size(), seq, actual, pattern_);
        s_.count_sent(actual);
        if (::send(c.fd, dgram_.data(), dgram_.size(), 0) < 0) {
            if (!dropped_here(errno)) {
                fail_io(errno, "send to");
                return false;
            }
            e.state = SeqState::lost; // the socket buffer is full: lost on our side
            s_.count_lost(actual, actual);
            return true;
        }
        deadlines_.emplace_back(ci, seq);
        ++c.outstanding;
        return true;
    }

    bool readable(std::size_t ci, const Replied& replied) override {
        Conn& c = conns_[ci];
        for (int k = 0; k < 64; ++k) {
            const ssize_t n = ::recv(c.fd, rx_.data(), rx_.size(), MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) return true;
                fail_io(errno, "recv from");
                return false;
            }
            const Nanos now = monotonic_ns();
            const auto r = take_reply(rx_.data(), static_cast<std::size_t>(n));
            if (s_.failed()) return false;
            if (!r.ended) continue;
            constexpr auto kNone = ~std::uint64_t{0};
            // Reordering is per connection: replies on two sockets have no order.
            if (c.highest_received != kNone && r.seq < c.highest_received) ++s_.result.reordered;
            if (c.highest_received == kNone || r.seq > c.highest_received)
                c.highest_received = r.seq;
            --c.outstanding;
            if (r.whole != nullptr) s_.record_reply(now, *r.whole);
            if (!replied(ci)) return false;
        }
        return true;
    }

    bool writable(std::size_t) override { return true; }

    /// Requests past their timeout are lost.
    bool expire(Nanos now, const Replied& lost) override {
        while (!deadlines_.empty()) {
            auto [ci, seq] = deadlines_.front();
            auto* e = window_.find(seq);
            if (e == nullptr || e->state != SeqState::outstanding) {
                deadlines_.pop_front();
                continue;
            }
            if (now - e->actual < s_.cfg.timeout) break;
            e->state = SeqState::lost;
            s_.count_lost(e->actual, now);
            --conns_[ci].outstanding;
            deadlines_.pop_front();
            if (!lost(ci)) return false;
        }
        return true;
    }

    [[nodiscard]] Nanos next_expiry() const override {
        if (deadlines_.empty()) return -1;
        const auto* e = window_.find(deadlines_.front().second);
        return e != nullptr ? e->actual + s_.cfg.timeout : -1;
    }

    [[nodiscard]] std::size_t outstanding(std::size_t ci) const override {
        return conns_[ci].outstanding;
    }
    [[nodiscard]] bool has_room(std::size_t ci) const override {
        return s_.cfg.inflight == 0 ||
               conns_[ci].outstanding < static_cast<std::size_t>(s_.cfg.inflight);
    }
    /// A datagram socket owes nothing: a late reply to this size is told apart in the next.
    [[nodiscard]] bool owes(std::size_t) const override { return false; }
    bool settle(std::size_t, bool, bool) override { return true; }

private:
    struct Conn {
        int fd = -1;
        std::uint64_t highest_received = ~std::uint64_t{0};
        std::size_t outstanding = 0;
    };

    /// What a reply did: `ended` the request it answered (a whole echo, `whole` then pointing
    /// at it, or a truncated one), or nothing (foreign, late, a duplicate, or corrupt: then
    /// the run has failed).
    struct Reply {
        Request* whole = nullptr;
        bool ended = false;
        std::uint64_t seq = 0;
    };

    Reply take_reply(const char* data, std::size_t n) {
        Reply r;
        std::size_t corrupt_at = 0;
        switch (
            classify_datagram(data, n, size_, first_seq_, next_seq_, pattern_, r.seq, corrupt_at)) {
        case Datagram::foreign:
            ++s_.result.foreign;
            break;
        case Datagram::previous:
            ++s_.result.late;
            break;
        case Datagram::corrupt:
            if (corrupt_at != static_cast<std::size_t>(-1))
                s_.fail_corrupt(r.seq, corrupt_at);
            else if (!s_.failed())
                s_.fail_corrupt(fmt::format("a {}-byte datagram with sequence {}, which was never "
                                            "sent at this size ({} bytes)",
                                            n, r.seq, size_));
            break;
        case Datagram::truncated:
            if (auto* e = claim(r.seq)) {
                s_.count_truncated(e->actual, n);
                r.ended = true;
            }
            break;
        case Datagram::ours:
            r.whole = claim(r.seq);
            r.ended = r.whole != nullptr;
            break;
        }
        return r;
    }

    /// The outstanding request a reply answers, marked received; nullptr after counting the
    /// reply as late (its request was already counted lost) or as a duplicate.
    Request* claim(std::uint64_t seq) {
        Request* e = window_.find(seq);
        if (e == nullptr || e->state == SeqState::lost) {
            ++s_.result.late;
            return nullptr;
        }
        if (e->state == SeqState::received) {
            ++s_.result.duplicates;
            return nullptr;
        }
        e->state = SeqState::received;
        return e;
    }

    /// A send the kernel refused without the socket being broken: no room (EAGAIN, ENOBUFS),
    /// or a local firewall rule dropped it (EPERM, counted as an error too). The datagram is
    /// lost on our side.
    bool dropped_here(int err) {
        if (err == EPERM) ++s_.result.errors["send EPERM (dropped by a local firewall rule)"];
        return err == EAGAIN || err == ENOBUFS || err == EPERM;
    }

    void fail_io(int err, const char* doing) {
        if (err == ECONNREFUSED)
            s_.fail_unavailable(fmt::format("UDP {}: nothing listens there (ICMP port unreachable)",
                                            s_.cfg.target.to_string()));
        else
            s_.fail_io(err, doing);
    }

    Session& s_;
    std::size_t size_; ///< the datagram with its header
    Pattern pattern_;
    std::vector<char> rx_;
    std::vector<char> dgram_;
    SeqWindow window_;
    std::uint64_t& next_seq_; ///< the thread's, so it goes on across sizes
    std::uint64_t first_seq_; ///< this size's first
    std::vector<Conn> conns_;
    std::deque<std::pair<std::size_t, std::uint64_t>> deadlines_; ///< (conn, seq) in send order
};

} // namespace

std::unique_ptr<Transport> make_udp_transport(Session& session) {
    return std::make_unique<UdpTransport>(session);
}

} // namespace netdx::probe
