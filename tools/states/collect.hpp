#pragma once
/// Enumerating the sockets netdx-states reports on: sock_diag with the kernel filtering by
/// state, ports and prefixes (INET_DIAG_REQ_BYTECODE), the /proc/net/tcp fallback when
/// netlink is unavailable (filtered here), and orphans-only applied as records stream in.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <netdx/inspect/diag_filter.hpp>
#include <netdx/inspect/listeners.hpp>
#include <netdx/inspect/sock_diag.hpp>
#include <netdx/inspect/state_selection.hpp>
#include <netdx/inspect/tcp_socket.hpp>
#include <netdx/net/address_list.hpp>
#include <netdx/sys/clock.hpp>
#include <netdx/sys/limits.hpp>

namespace netdx::states {

struct Filters {
    StateSelection states{kAllStates, false};
    bool v4 = true;
    bool v6 = true;
    DiagFilter where;        ///< ports and prefixes: run by the kernel (sock_diag) or here (/proc)
    bool force_proc = false; ///< read /proc/net/tcp even when netlink works (tests, comparison)
    std::string proc_root = "/";
};

struct Collected {
    std::uint64_t records = 0; ///< sockets handed to the sink
    std::string source;        ///< "sock_diag" or "/proc/net/tcp"
    std::string note;          ///< why the fallback was used, malformed lines …
    Nanos duration = 0;        ///< time spent enumerating
};

/// "7007" or "8000-8100"; throws ParseError naming the option and token.
[[nodiscard]] PortRange parse_port_filter(const std::string& text, const char* option);

/// Streams every matching socket to `sink`, stores nothing.
[[nodiscard]] Collected collect(const Filters& f, const SocketSink& sink);

/// Every listening socket of this namespace, whatever the filters (they say which side a
/// socket is on); from the same source collect() would use.
[[nodiscard]] Listeners collect_listeners(const Filters& f);

/// How many TCP sockets this namespace has (/proc/net/sockstat), to reserve storage once.
[[nodiscard]] std::size_t expected_sockets(const std::string& proc_root);

} // namespace netdx::states
