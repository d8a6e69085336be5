// The EventLoop on every backend this machine has: level-triggered delivery (one-shot
// backends re-armed by the loop), unwatch within a batch, stop and post from another
// thread, one-off timers in order and cancelled, the timing wheel's expiries.
#include <fcntl.h>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <doctest/doctest.h>

#include <netdx/net/event_loop.hpp>
#include <netdx/sys/fd.hpp>

#include "pipes.hpp"

using namespace netdx;

namespace {

using test::make_pipe;
using test::Pipe;
using test::put;

/// Reads one byte per event: only a level-triggered loop calls it again for the rest.
struct OneByte final : Channel {
    int fd = -1;
    int calls = 0, bytes = 0;
    EventLoop* loop = nullptr;
    int unwatch_other = -1; ///< on its first event, unwatches this descriptor
    void on_event(const PollEvent& ev) override {
        CHECK(static_cast<int>(ev.token) == fd);
        ++calls;
        char c = 0;
        if (::read(fd, &c, 1) == 1) ++bytes;
        if (unwatch_other >= 0) {
            loop->unwatch(unwatch_other);
            unwatch_other = -1;
        }
    }
};

std::vector<Backend> level_backends() {
    std::vector<Backend> out;
    for (const auto b : kAllBackends) {
        if (b == Backend::epoll_et || b == Backend::uring_multishot) continue; // edges
        if (probe_backend(b).available)
            out.push_back(b);
        else
            MESSAGE(backend_name(b) << " unavailable here");
    }
    return out;
}

/// Turns until `done` or 200 turns of up to 50 ms (io_uring completions may take a moment).
template <typename F>
void turn_until(EventLoop& loop, F done) {
    for (int i = 0; i < 200 && !done(); ++i)
        loop.run_once(50 * kNanosPerMilli);
}

} // namespace

TEST_CASE("event loop: level-triggered on every backend, one-shot ones re-armed") {
    for (const auto b : level_backends()) {
        CAPTURE(backend_name(b));
        EventLoop loop({.backend = b});
        auto p = make_pipe();
        OneByte h;
        h.fd = p.r.get();
        loop.watch(h.fd, interest::read, h);
        put(p, 3);
        turn_until(loop, [&] { return h.bytes == 3; });
        CHECK(h.bytes == 3);
        CHECK(h.calls == 3);
        // Nothing more to read: no more calls.
        loop.run_once(20 * kNanosPerMilli);
        CHECK(h.calls == 3);
        loop.unwatch(h.fd);
        CHECK_FALSE(loop.watching(h.fd));
    }
}

TEST_CASE("event loop: a descriptor unwatched earlier in the batch gets no event") {
    for (const auto b : level_backends()) {
        CAPTURE(backend_name(b));
        EventLoop loop({.backend = b});
        auto p1 = make_pipe(), p2 = make_pipe();
        OneByte h1, h2;
        h1.fd = p1.r.get();
        h2.fd = p2.r.get();
        h1.loop = h2.loop = &loop;
        h1.unwatch_other = h2.fd; // whichever comes first unwatches the other
        h2.unwatch_other = h1.fd;
        loop.watch(h1.fd, interest::read, h1);
        loop.watch(h2.fd, interest::read, h2);
        put(p1, 1);
        put(p2, 1);
        turn_until(loop, [&] { return h1.calls + h2.calls > 0; });
        loop.run_once(20 * kNanosPerMilli);
        CHECK(h1.calls + h2.calls == 1);
        CHECK(loop.watched() == 2); // the survivor and the loop's own wake-up eventfd
    }
}

TEST_CASE("event loop: edge-triggered backends report a write once") {
    for (const auto b : {Backend::epoll_et, Backend::uring_multishot}) {
        if (!probe_backend(b).available) continue;
        CAPTURE(backend_name(b));
        EventLoop loop({.backend = b});
        CHECK(loop.edge_triggered());
        auto p = make_pipe();
        OneByte h;
        h.fd = p.r.get();
        loop.watch(h.fd, interest::read, h);
        put(p, 3);
        loop.run_once(50 * kNanosPerMilli);
        loop.run_once(20 * kNanosPerMilli);
        CHECK(h.calls == 1); // the handler did not drain: no second edge
        CHECK(h.bytes == 1);
    }
}

TEST_CASE("event loop: stop and post from another thread wake a blocked run") {
    for (const auto b : level_backends()) {
        CAPTURE(backend_name(b));
        EventLoop loop({.backend = b});
        std::thread::id ran_on;
        bool ran = false;
        std::thread other([&] {
            loop.post([&] {
                ran_on = std::this_thread::get_id();
                ran = true;
            });
            loop.stop();
        });
        // Nothing is watched but the wake-up: without it this would block for the deadline.
        loop.run(monotonic_ns() + 30 * kNanosPerSecond);
        other.join();
        CHECK(loop.stop_requested());
        CHECK(ran);
        CHECK(ran_on == std::this_thread::get_id());
    }
}

TEST_CASE("event loop: one-off timers run in time order, a cancelled one never") {
    EventLoop loop({});
    std::vector<int> order;
    const Nanos t0 = monotonic_ns();
    loop.run_at(t0 + 30 * kNanosPerMilli, [&] { order.push_back(3); });
    loop.run_at(t0 + 10 * kNanosPerMilli, [&] { order.push_back(1); });
    const auto dropped = loop.run_at(t0 + 20 * kNanosPerMilli, [&] { order.push_back(2); });
    loop.run_at(t0 + 40 * kNanosPerMilli, [&] { loop.stop(); });
    loop.cancel(dropped);
    loop.run(t0 + 30 * kNanosPerSecond);
    CHECK(order == std::vector<int>{1, 3});
    CHECK(monotonic_ns() >= t0 + 40 * kNanosPerMilli); // not before its time
}

TEST_CASE("event loop: wheel entries expire through the loop's handler") {
    EventLoop loop({.wheel_tick = kNanosPerMilli, .wheel_slots = 64});
    TimerEntry a, b;
    std::vector<TimerEntry*> expired;
    loop.on_wheel_expiry([&](TimerEntry& e, Nanos) {
        expired.push_back(&e);
        if (expired.size() == 2) loop.stop();
    });
    const Nanos t0 = monotonic_ns();
    loop.wheel().arm(b, t0, 20 * kNanosPerMilli);
    loop.wheel().arm(a, t0, 5 * kNanosPerMilli);
    loop.run(t0 + 30 * kNanosPerSecond);
    REQUIRE(expired.size() == 2);
    CHECK(expired[0] == &a);
    CHECK(expired[1] == &b);
}

TEST_CASE("event loop: --backend names") {
    CHECK(loop_backend_from_name("epoll") == Backend::epoll);
    CHECK(loop_backend_from_name("poll") == Backend::poll);
    CHECK(loop_backend_from_name("uring") == Backend::uring_oneshot);
    CHECK(loop_backend_from_name("uring-multishot") == Backend::uring_multishot);
    CHECK_FALSE(loop_backend_from_name("kqueue").has_value());
}

// ---------------------------------------------------------------- io_uring completions
#include <cerrno>
#include <sys/socket.h>

#include <netdx/net/completion.hpp>
#include <netdx/net/provided_buffers.hpp>
#include <netdx/net/uring_poller.hpp>
#include <netdx/net/uring_probe.hpp>

namespace {
struct Recorded final : Completion {
    std::vector<CompletionEvent> events;
    std::string bytes;
    ProvidedBuffers* buffers = nullptr;
    void on_complete(const CompletionEvent& ev) override {
        events.push_back(ev);
        if (ev.buffer >= 0 && buffers != nullptr) {
            if (ev.res > 0)
                bytes.append(buffers->data(ev.buffer), static_cast<std::size_t>(ev.res));
            buffers->give_back(ev.buffer);
        }
    }
    [[nodiscard]] bool ended() const { return !events.empty() && !events.back().more; }
};

std::pair<Fd, Fd> stream_pair() {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    return {Fd(sv[0]), Fd(sv[1])};
}
} // namespace

TEST_CASE("event loop: io_uring completions - multishot receive into provided buffers, send, "
          "cancel") {
    const auto support = probe_io_uring();
    if (!support.available || !support.completions) {
        MESSAGE("io_uring completions unavailable here: " << support.completions_detail);
        return;
    }
    EventLoop::Options o;
    o.backend = Backend::uring_oneshot;
    EventLoop loop(o);
    REQUIRE(loop.uring() != nullptr);
    auto [a, b] = stream_pair();
    {
        ProvidedBuffers buffers(loop.uring()->ring(), 3, 4, 8); // 4 buffers of 8 bytes
        Recorded recv;
        recv.buffers = &buffers;
        loop.uring()->recv_multishot(b.get(), buffers, recv);
        loop.flush();
        // 20 bytes, more than one buffer holds: three completions of at most 8, in order,
        // the multishot receive still armed after each.
        const std::string sent = "0123456789abcdefghij";
        REQUIRE(::write(a.get(), sent.data(), sent.size()) == 20);
        turn_until(loop, [&] { return recv.bytes.size() == 20; });
        CHECK(recv.bytes == sent);
        for (const auto& ev : recv.events) {
            CHECK(ev.res <= 8);
            CHECK(ev.buffer >= 0);
            CHECK(ev.more);
        }
        // More than the four buffers hold at once: the kernel fills them all before they come
        // back, and the receive ends with -ENOBUFS (what netdx-echo re-arms on); received
        // again, the rest arrives in the buffers given back.
        const std::string again(64, 'z');
        REQUIRE(::write(a.get(), again.data(), again.size()) == 64);
        for (int round = 0; round < 20 && recv.bytes.size() < 84; ++round) {
            recv.events.clear();
            turn_until(loop, [&] { return recv.bytes.size() == 84 || recv.ended(); });
            if (recv.ended()) {
                CHECK(recv.events.back().res == -ENOBUFS);
                loop.uring()->recv_multishot(b.get(), buffers, recv);
            }
        }
        CHECK(recv.bytes == sent + again);

        // A send completes with its byte count and the bytes arrive.
        Recorded send;
        const std::string reply = "pong";
        loop.uring()->send(b.get(), reply.data(), reply.size(), send);
        CHECK(loop.run_once(0) + loop.run_once(50 * kNanosPerMilli) >= 1); // completions count
        turn_until(loop, [&] { return send.ended(); });
        REQUIRE(send.events.size() == 1);
        CHECK(send.events[0].res == 4);
        char got[8] = {};
        CHECK(::read(a.get(), got, sizeof got) == 4);
        CHECK(std::string(got, 4) == reply);

        // A cancelled receive ends: its last completion says -ECANCELED and no more.
        loop.uring()->cancel(recv);
        turn_until(loop, [&] { return recv.ended(); });
        REQUIRE(recv.ended());
        CHECK(recv.events.back().res == -ECANCELED);
    }
}

TEST_CASE("event loop: io_uring completions - the peer's FIN ends a multishot receive") {
    const auto support = probe_io_uring();
    if (!support.available || !support.completions) return;
    EventLoop::Options o;
    o.backend = Backend::uring_oneshot;
    EventLoop loop(o);
    auto [a, b] = stream_pair();
    ProvidedBuffers buffers(loop.uring()->ring(), 1, 2, 64);
    Recorded recv;
    recv.buffers = &buffers;
    loop.uring()->recv_multishot(b.get(), buffers, recv);
    REQUIRE(::write(a.get(), "x", 1) == 1);
    ::shutdown(a.get(), SHUT_WR);
    turn_until(loop, [&] { return recv.ended(); });
    REQUIRE(recv.ended());
    CHECK(recv.bytes == "x");
    CHECK(recv.events.back().res == 0);
}

TEST_CASE("event loop: provided buffers refuse a count that is not a power of two") {
    const auto support = probe_io_uring();
    if (!support.available || !support.completions) return;
    EventLoop::Options o;
    o.backend = Backend::uring_oneshot;
    EventLoop loop(o);
    CHECK_THROWS_AS(ProvidedBuffers(loop.uring()->ring(), 1, 3, 64), std::invalid_argument);
    EventLoop::Options e;
    EventLoop epoll(e);
    CHECK(epoll.uring() == nullptr);
}
