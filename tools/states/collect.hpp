#pragma once
/// Enumerating the sockets netdx-states reports on: sock_diag with the kernel filtering by
/// state, the /proc/net/tcp fallback when netlink is unavailable, and the filters the kernel
/// does not apply here (ports, prefixes, families, orphans) applied as records stream in.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <netdx/inspect/tcp_socket.hpp>
#include <netdx/net/address_list.hpp>
#include <netdx/sys/clock.hpp>
#include <netdx/sys/limits.hpp>

namespace netdx::states {

struct Filters {
    StateSelection states{kAllStates, false};
    bool v4 = true;
    bool v6 = true;
    std::optional<PortRange> sport, dport;
    std::optional<Cidr> src, dst;
    bool force_proc = false; ///< read /proc/net/tcp even when netlink works (tests, comparison)
    std::string proc_root = "/";
};

struct Collected {
    std::vector<TcpSocket> sockets;
    std::string source; ///< "sock_diag" or "/proc/net/tcp"
    std::string note;   ///< why the fallback was used, malformed lines …
    Nanos duration = 0; ///< time spent enumerating
};

/// "7007" or "8000-8100"; throws ParseError naming the option and token.
[[nodiscard]] PortRange parse_port_filter(const std::string& text, const char* option);

[[nodiscard]] Collected collect(const Filters& f);

} // namespace netdx::states
