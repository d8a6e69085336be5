// Many connections or requests in flight, or paced sends, on one EventLoop per thread.
//
//   ping-pong: every connection starts with --inflight requests; each reply (or loss) sends
//              the next on the same connection.
//   paced:     requests go on the Pacer's schedule (open loop), round-robin over the
//              connections with room; latency runs from the intended send time, so a send
//              that waited counts its wait (coordinated omission corrected).
#include <algorithm>
#include <functional>
#include <vector>

#include <netdx/measure/pacer.hpp>
#include <netdx/net/event_loop.hpp>

#include "drivers.hpp"

namespace netdx::probe {

namespace {

constexpr int kSendBurst = 256; ///< paced sends per loop turn before events are served

/// The connections' events come through one channel; the descriptor finds the connection.
/// What it does is swapped between the run and the drain after it.
struct ConnChannel final : Channel {
    std::function<void(std::size_t ci, const PollEvent&)> fn;
    std::vector<std::size_t> conn_of_fd;
    void on_event(const PollEvent& ev) override {
        fn(conn_of_fd[static_cast<std::size_t>(ev.token)], ev);
    }
};

/// After the run: sends what is still queued and reads the echoes still owed, for at most
/// the timeout; a connection that does not get there is closed, not kept.
void settle_all(Session& s, Transport& t, std::vector<Fd>& fds, EventLoop& loop,
                ConnChannel& channel) {
    const Nanos until = monotonic_ns() + std::min<Nanos>(s.cfg.timeout, kNanosPerSecond);
    auto pending = [&] {
        for (std::size_t ci = 0; ci < fds.size(); ++ci)
            if (fds[ci] && t.owes(ci)) return true;
        return false;
    };
    auto drop = [&](std::size_t ci) { // closed or failed: not kept
        loop.unwatch(fds[ci].get());
        fds[ci].reset();
    };
    channel.fn = [&](std::size_t ci, const PollEvent& ev) {
        if (!fds[ci]) return;
        if (!t.settle(ci, ev.readable, ev.writable)) drop(ci);
    };
    while (pending() && monotonic_ns() < until)
        loop.run_once(50 * kNanosPerMilli);
    for (std::size_t ci = 0; ci < fds.size(); ++ci)
        if (fds[ci] && t.owes(ci)) drop(ci);
}

/// Before the loop goes (and before a close): an io_uring poll holds the file.
void unwatch_all(std::vector<Fd>& fds, EventLoop& loop) {
    for (auto& fd : fds)
        if (fd) loop.unwatch(fd.get());
}

} // namespace

void drive_loop(Session& s, Transport& t) {
    const Config& cfg = s.cfg;
    EventLoop::Options lo;
    lo.backend = cfg.backend;
    lo.busy_poll = cfg.busy_poll;
    lo.max_events = 64;
    EventLoop loop(lo);
    ConnChannel channel;
    auto fds = s.take_connections(t);
    if (fds.empty()) return;
    std::vector<int> raw;
    for (std::size_t i = 0; i < fds.size(); ++i) {
        const auto fd = static_cast<std::size_t>(fds[i].get());
        if (channel.conn_of_fd.size() <= fd) channel.conn_of_fd.resize(fd + 1);
        channel.conn_of_fd[fd] = i;
        raw.push_back(fds[i].get());
        loop.watch(fds[i].get(), interest::read, channel);
    }
    t.attach(raw, [&](std::size_t ci, bool on) {
        loop.modify(raw[ci], on ? interest::read | interest::write : interest::read);
    });
    const bool paced = cfg.mode == Mode::paced;
    // The thread's slots of the agent's, of the run's schedule: threads and agents interleave.
    const Nanos begin = paced ? s.run_start() : monotonic_ns();
    Pacer pacer(
        paced ? cfg.rate : 1.0, begin,
        cfg.slots.part(static_cast<unsigned>(s.index()), static_cast<unsigned>(cfg.threads)),
        cfg.poisson,
        std::uint64_t{0x9E3779B97F4A7C15} * static_cast<std::uint64_t>(s.index() + 1) +
            cfg.seed_salt);
    std::size_t rr = 0;

    auto send_one = [&](std::size_t ci, Nanos intended) -> bool {
        const Nanos actual = monotonic_ns();
        if (!s.take_ticket(actual)) return true; // --count: enough are in flight already
        return t.send(ci, intended, actual);
    };
    // Ping-pong: a request that ended (answered or lost) makes room for the next.
    const Transport::Replied next = [&](std::size_t ci) {
        const Nanos now = monotonic_ns();
        return paced || s.stopping(now) || send_one(ci, now);
    };

    bool ok = true;
    if (!paced) {
        for (std::size_t ci = 0; ci < fds.size() && ok; ++ci)
            for (int k = 0; k < cfg.inflight && ok; ++k)
                ok = send_one(ci, monotonic_ns());
    }

    channel.fn = [&](std::size_t ci, const PollEvent& ev) {
        if (!ok) return; // failed earlier in this batch
        if (ev.writable && !t.writable(ci)) {
            ok = false;
            return;
        }
        if (!(ev.readable || ev.error || ev.hangup)) return;
        ok = t.readable(ci, next);
    };
    while (ok) {
        Nanos now = monotonic_ns();
        s.tick_interval(now);
        if (s.stopping(now)) break;
        // Paced sends that are due, a bounded burst per turn so events and the stop are
        // served. With an --inflight cap a send waits for a connection with room: it then
        // lags the schedule, and the corrected latency counts that wait. A sender more than
        // kMaxSendLag behind gives those sends up and counts them.
        bool blocked = false;
        if (paced) {
            if (now - pacer.peek() > kMaxSendLag) s.result.skipped += pacer.skip_to(now);
            for (int burst = 0; pacer.peek() <= now && burst < kSendBurst && ok; ++burst) {
                std::size_t ci = fds.size();
                for (std::size_t k = 0; k < fds.size(); ++k) {
                    const std::size_t cand = (rr + k) % fds.size();
                    if (t.has_room(cand)) {
                        ci = cand;
                        break;
                    }
                }
                if (ci == fds.size()) {
                    blocked = true;
                    break;
                }
                rr = ci + 1;
                ok = send_one(ci, pacer.next());
                now = monotonic_ns();
            }
            if (!ok) break;
        }
        // Requests past --timeout: lost (and replaced in ping-pong), or the run fails.
        if (!t.expire(now, next)) {
            ok = false;
            break;
        }
        // Sleep until shortly before the next paced send, then spin: the kernel's timer
        // slack (50us by default) would otherwise make every send late.
        constexpr Nanos kSpinMargin = 80 * kNanosPerMicro;
        Nanos wait = 100 * kNanosPerMilli;
        if (paced && !blocked) wait = std::min(wait, pacer.peek() - now - kSpinMargin);
        if (const Nanos due = t.next_expiry(); due >= 0) wait = std::min(wait, due - now);
        loop.run_once(std::max<Nanos>(wait, 0)); // busy_poll: the loop never sleeps
    }
    if (s.failed()) return unwatch_all(fds, loop);
    s.result.skipped = std::max(s.result.skipped, pacer.skipped());
    // Streams are kept for the next size only once every echo owed is read back.
    settle_all(s, t, fds, loop, channel);
    unwatch_all(fds, loop);
    s.keep(std::move(fds));
}

} // namespace netdx::probe
