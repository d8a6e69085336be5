// One connection, one request in flight: send, wait for the echo, repeat. Blocking reads with
// a short timeout (so stop and --timeout are noticed), or non-blocking ones spinning with
// --busy-poll; no event loop between the probe and the socket.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "drivers.hpp"

namespace netdx::probe {

void drive_pingpong(Session& s, Transport& transport) {
    auto fds = s.take_connections(transport);
    if (fds.empty()) return;
    const int fd = fds.front().get();
    if (!s.cfg.busy_poll) {
        const timeval tv{0, 100'000};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        const int fl = ::fcntl(fd, F_GETFL);
        ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    bool clean = true; // the socket holds no half-read echo
    for (;;) {
        const Nanos t0 = monotonic_ns();
        s.tick_interval(t0);
        if (s.stopping(t0)) break;
        if (!s.take_ticket(t0)) { // every remaining sample is in flight on another thread
            ::usleep(200);
            continue;
        }
        const auto e = transport.exchange(fd, t0);
        if (e == Transport::Exchange::answered) continue;
        clean = e == Transport::Exchange::stopped;
        break;
    }
    if (clean && !s.failed()) s.keep(std::move(fds));
}

} // namespace netdx::probe
