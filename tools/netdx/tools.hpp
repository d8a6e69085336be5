#pragma once
/// The tools the umbrella knows, in the order `netdx --help` lists them. A tool is listed
/// here when it lands, not before.

#include <array>
#include <string_view>

namespace netdx::umbrella {

struct ToolEntry {
    std::string_view name;    ///< `netdx <name>` runs `netdx-<name>`
    std::string_view summary; ///< one line
};

inline constexpr std::array<ToolEntry, 8> kTools{{
    {"doctor", "what matters for network testing on this machine, and the fixes"},
    {"echo", "RFC 862 echo server, TCP and UDP on one port"},
    {"probe", "round-trip latency to an echo server: ping-pong, paced, connect"},
    {"flood", "open exactly N TCP connections at a controlled rate, hold them, report limits"},
    {"states", "TCP sockets by state: TIME-WAIT and CLOSE-WAIT counted, grouped, explained"},
    {"mux", "select, poll, epoll and io_uring compared: cost per call vs watched and ready fds"},
    {"trace", "TCP handshakes and teardowns from a capture or live: states, times, who closed"},
    {"tour", "a short, bounded demonstration of every tool on loopback"},
}};

} // namespace netdx::umbrella
