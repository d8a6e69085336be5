#include "steps.hpp"

namespace netdx::tour {

std::vector<Step> default_steps() {
    return {
        {"What matters on this machine",
         "netdx doctor reads the limits and sysctls that decide how far a network test can go.",
         "netdx-doctor",
         {},
         30 * kNanosPerSecond,
         true},
        {"Loopback round trips, TCP",
         "netdx probe starts an embedded echo server and measures TCP round trips, 64 bytes and "
         "1KiB.",
         "netdx-probe",
         {"--duration", "2s", "--size", "64,1KiB"},
         30 * kNanosPerSecond,
         true},
        {"Loopback round trips, UDP",
         "The same over UDP: every datagram numbered, loss, duplicates and reordering counted.",
         "netdx-probe",
         {"--udp", "--duration", "1s"},
         30 * kNanosPerSecond,
         true},
        {"Paced load, coordinated omission corrected",
         "5,000 requests a second on a schedule: latency from the intended send time and from the\n"
         "actual one, and how late the sends were.",
         "netdx-probe",
         {"--rate", "5k/s", "--duration", "2s"},
         30 * kNanosPerSecond,
         true},
        {"Ten thousand connections",
         "netdx flood opens exactly 10,000 TCP connections to an embedded sink as fast as this\n"
         "machine allows, holds them a moment, and reports time to N, connect latency and limits.",
         "netdx-flood",
         {"--connections", "10000", "--hold", "500ms"},
         60 * kNanosPerSecond,
         true},
        {"Sockets by state, and what needs attention",
         "netdx states counts this machine's TCP sockets by state from sock_diag netlink (the\n"
         "flood just left TIME-WAIT behind), groups them, and shows what needs attention.",
         "netdx-states",
         {"--group-by", "state,rport", "--top", "8"},
         30 * kNanosPerSecond,
         true},
        {"select, poll, epoll and io_uring",
         "netdx mux times one wait with 1 of N descriptors ready, per backend: select and poll\n"
         "grow with N, epoll and io_uring do not; then a blocking wakeup from another CPU.",
         "netdx-mux",
         {"--quick", "--mode", "ready,wakeup"},
         60 * kNanosPerSecond,
         true},
        {"How connections open and close",
         "netdx trace captures on loopback while four connections end four ways, and draws\n"
         "each one: who closed first, who holds TIME_WAIT, refused, reset (needs CAP_NET_RAW).",
         "netdx-trace",
         {"--demo"},
         30 * kNanosPerSecond,
         true},
    };
}

} // namespace netdx::tour
