#include "tcp_echo_completions.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netdx/net/socket.hpp>
#include <netdx/net/uring_poller.hpp>

#include "spare_descriptor.hpp"

namespace netdx::echo_detail {

namespace {
constexpr std::uint16_t kBufferGroup = 1;
constexpr unsigned kBufferCount = 1024;
constexpr std::size_t kBufferSize = 4096;

UringPoller& ring_of(EventLoop& loop) {
    if (loop.uring() == nullptr)
        throw std::invalid_argument("TCP echo on completions needs an io_uring event loop");
    return *loop.uring();
}
} // namespace

struct TcpEchoCompletions::Conn final : TimerEntry {
    struct Recv final : Completion {
        Conn* conn = nullptr;
        void on_complete(const CompletionEvent& ev) override { conn->owner->on_recv(*conn, ev); }
    };
    struct Send final : Completion {
        Conn* conn = nullptr;
        void on_complete(const CompletionEvent& ev) override { conn->owner->on_send(*conn, ev); }
    };
    TcpEchoCompletions* owner = nullptr;
    Fd fd;
    Recv recv;
    Send send;
    std::string sending;    ///< the send in flight (and its unsent rest): not touched meanwhile
    std::size_t offset = 0; ///< sent part of `sending`
    std::string next;       ///< arrived while a send was in flight
    Nanos last_active = 0;
    bool receiving = false; ///< the receive operation has not ended
    bool in_flight = false; ///< a send operation has not ended
    bool paused = false;    ///< receive cancelled until the unsent bytes drain
    bool eof = false;       ///< the peer sent FIN
    bool closing = false;
    [[nodiscard]] std::size_t unsent() const { return sending.size() - offset + next.size(); }
};

TcpEchoCompletions::TcpEchoCompletions(EventLoop& loop, const EchoConfig& config,
                                       EchoCounters& counters,
                                       std::atomic<std::uint64_t>& shared_now, int listen_fd)
    : loop_(loop), ring_(ring_of(loop)), cfg_(config), n_(counters), shared_now_(shared_now),
      listen_fd_(listen_fd),
      buffers_(ring_.ring(), kBufferGroup, kBufferCount,
               std::min<std::size_t>(std::max<std::size_t>(config.write_buffer, 1), kBufferSize)) {
    accept_.owner = this;
    spare_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

TcpEchoCompletions::~TcpEchoCompletions() = default;

void TcpEchoCompletions::start() {
    loop_.on_wheel_expiry(
        [this](TimerEntry& e, Nanos now) { on_idle(static_cast<Conn&>(e), now); });
    ring_.accept_multishot(listen_fd_, accept_);
    accepting_ = true;
    loop_.flush();
}

void TcpEchoCompletions::on_accept(const CompletionEvent& ev) {
    if (!ev.more) accepting_ = false;
    if (ev.res >= 0) {
        Fd fd(ev.res);
        const auto before = shared_now_.fetch_add(1, std::memory_order_relaxed);
        if (stopping_ || (cfg_.max_connections > 0 && before >= cfg_.max_connections)) {
            shared_now_.fetch_sub(1, std::memory_order_relaxed);
            if (!stopping_) n_.refused.add(1);
            return; // fd closes here: refused at once
        }
        const int raw = fd.get();
        set_int_option(raw, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
        const auto i = static_cast<std::size_t>(raw);
        if (i >= conns_.size()) conns_.resize(i * 2 + 64);
        auto conn = std::make_unique<Conn>();
        conn->owner = this;
        conn->fd = std::move(fd);
        conn->recv.conn = conn.get();
        conn->send.conn = conn.get();
        conn->last_active = loop_.now();
        arm_recv(*conn);
        if (cfg_.idle_timeout > 0) loop_.wheel().arm(*conn, loop_.now(), cfg_.idle_timeout);
        conns_[i] = std::move(conn);
        ++live_;
        n_.current.add(1);
        n_.total.add(1);
    } else if (ev.res == -EMFILE || ev.res == -ENFILE) {
        // Out of descriptors: the pending connection would end every accept at once, and a
        // client waits for an answer. Use the spare descriptor to accept and shed it.
        static_cast<void>(shed_with_spare(listen_fd_, spare_, n_.refused));
    }
    // ECONNABORTED and friends: that one is gone. An accept the kernel ended is re-armed.
    if (!accepting_ && !stopping_) {
        ring_.accept_multishot(listen_fd_, accept_);
        accepting_ = true;
    }
}

void TcpEchoCompletions::arm_recv(Conn& c) {
    ring_.recv_multishot(c.fd.get(), buffers_, c.recv);
    c.receiving = true;
}

void TcpEchoCompletions::on_recv(Conn& c, const CompletionEvent& ev) {
    if (!ev.more) c.receiving = false;
    if (ev.buffer >= 0) {
        if (ev.res > 0 && !c.closing) {
            c.last_active = loop_.now();
            n_.tcp_bytes.add(static_cast<std::uint64_t>(ev.res));
            n_.tcp_reads.add(1);
            take(c, buffers_.data(ev.buffer), static_cast<std::size_t>(ev.res));
        }
        buffers_.give_back(ev.buffer); // copied: a slow peer holds no ring buffer
    }
    if (c.closing) {
        free_if_done(c);
        return;
    }
    if (ev.res > 0 || ev.res == -ENOBUFS || ev.res == -ECANCELED) {
        // Buffers ran dry (they come back as each completion is handled, so it passes) or
        // the kernel ended the receive for its own reasons: receive again, unless paused.
        if (!c.receiving && !c.paused) arm_recv(c);
        return;
    }
    if (ev.res == 0) { // FIN: all the peer sent is echoed (or being sent), then close
        c.eof = true;
        if (!c.in_flight) close(c, nullptr);
        return;
    }
    close(c, &n_.reset);
}

void TcpEchoCompletions::take(Conn& c, const char* data, std::size_t n) {
    if (c.in_flight) {
        c.next.append(data, n);
    } else {
        c.sending.assign(data, n);
        c.offset = 0;
        submit_send(c);
    }
    // Bounded memory per peer: past write_buffer unsent bytes, stop receiving. (What the
    // kernel completes before the cancellation lands is still taken.)
    if (c.unsent() >= cfg_.write_buffer && c.receiving && !c.paused) {
        ring_.cancel(c.recv);
        c.paused = true;
    }
}

void TcpEchoCompletions::submit_send(Conn& c) {
    ring_.send(c.fd.get(), c.sending.data() + c.offset, c.sending.size() - c.offset, c.send);
    c.in_flight = true;
}

void TcpEchoCompletions::on_send(Conn& c, const CompletionEvent& ev) {
    c.in_flight = false;
    if (c.closing) {
        free_if_done(c);
        return;
    }
    if (ev.res <= 0) { // EPIPE, ECONNRESET …; 0 bytes of a non-empty send is no progress
        close(c, &n_.reset);
        return;
    }
    c.offset += static_cast<std::size_t>(ev.res);
    if (c.offset < c.sending.size()) {
        submit_send(c);
        return;
    }
    c.sending.swap(c.next);
    c.next.clear();
    c.offset = 0;
    if (!c.sending.empty()) {
        submit_send(c);
    } else if (c.eof) {
        close(c, nullptr);
        return;
    }
    if (c.paused && c.unsent() < cfg_.write_buffer && !c.eof) {
        c.paused = false;
        if (!c.receiving) arm_recv(c);
    }
}

void TcpEchoCompletions::on_idle(Conn& c, Nanos now) {
    const Nanos idle = now - c.last_active;
    if (idle >= cfg_.idle_timeout)
        close(c, &n_.idle_closed);
    else
        loop_.wheel().arm(c, now, cfg_.idle_timeout - idle);
}

void TcpEchoCompletions::close(Conn& c, Counter* reason) {
    if (c.closing) return;
    c.closing = true;
    if (reason != nullptr) reason->add(1);
    loop_.wheel().cancel(c);
    n_.current.sub(1);
    shared_now_.fetch_sub(1, std::memory_order_relaxed);
    if (c.receiving) ring_.cancel(c.recv);
    if (c.in_flight) ring_.cancel(c.send);
    free_if_done(c);
}

void TcpEchoCompletions::free_if_done(Conn& c) {
    // The kernel holds the Completions' addresses until their last completion.
    if (!c.closing || c.receiving || c.in_flight) return;
    --live_;
    conns_[static_cast<std::size_t>(c.fd.get())].reset(); // closes the descriptor
}

void TcpEchoCompletions::shutdown(Nanos budget) {
    stopping_ = true;
    if (accepting_) ring_.cancel(accept_);
    for (auto& c : conns_)
        if (c && !c->closing) close(*c, nullptr);
    const Nanos deadline = monotonic_ns() + budget;
    while ((live_ > 0 || accepting_) && monotonic_ns() < deadline)
        loop_.run_once(10 * kNanosPerMilli);
}

} // namespace netdx::echo_detail
