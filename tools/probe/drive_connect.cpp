// Connection set-up latency: TCP connects on the Pacer's schedule, each timed from the
// SYN to the established socket, then closed (with RST under --close rst, leaving no
// TIME_WAIT behind). No transport: nothing is sent.
#include <sys/socket.h>

#include <fmt/format.h>

#include <netdx/measure/pacer.hpp>
#include <netdx/net/socket.hpp>
#include <netdx/sys/system_error.hpp>

#include "drivers.hpp"

namespace netdx::probe {

void drive_connect(Session& s) {
    const Config& cfg = s.cfg;
    const Nanos begin = s.run_start();
    Pacer pacer(
        cfg.rate, begin,
        cfg.slots.part(static_cast<unsigned>(s.index()), static_cast<unsigned>(cfg.threads)),
        cfg.poisson, 7 + static_cast<std::uint64_t>(s.index()) + cfg.seed_salt);
    for (;;) {
        const Nanos now = monotonic_ns();
        s.tick_interval(now);
        if (now - pacer.peek() > kMaxSendLag) s.result.skipped += pacer.skip_to(now);
        const Nanos intended = pacer.next();
        if (!sleep_until(intended) && s.stop_requested()) return;
        Nanos t0 = monotonic_ns();
        if (s.stopping(t0)) return;
        Fd fd = open_socket(cfg.target.family(), Protocol::tcp, true);
        t0 = monotonic_ns();
        const int err = connect_with_timeout(fd.get(), cfg.target, cfg.timeout);
        const Nanos t1 = monotonic_ns();
        s.count_sent(t0);
        if (err == 0) {
            if (s.result.socket_options.empty())
                s.result.socket_options = describe_socket_options(fd.get(), Protocol::tcp);
            s.record(t1, t0, t1 - t0, -1, t0 - intended);
        } else if (s.measuring(t0)) {
            ++s.result.errors[fmt::format("connect {}", errno_name(err))];
            if (err == ECONNREFUSED) ++s.result.refused;
            if (err == ETIMEDOUT) ++s.result.timeouts;
        }
        if (cfg.close_rst) {
            const linger l{1, 0};
            ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
        }
    }
}

} // namespace netdx::probe
