#pragma once
/// --state selections ("time-wait,close-wait", groups such as "teardown") as the state bitmask
/// sock_diag filters on.
///
/// Thread safety: pure functions.

#include <string_view>
#include <vector>

#include <netdx/net/tcp_state.hpp>

namespace netdx {

/// A parsed --state list.
struct StateSelection {
    StateMask mask = 0;
    /// "orphan": of the selected FIN-WAIT-2 sockets only those without an owner (inode 0).
    bool orphans_only = false;
};

/// Parses a comma-separated list of state names and groups:
///   all          every state
///   connected    every state but LISTEN and CLOSED
///   synchronized connected but SYN-SENT and SYN-RECV
///   teardown     FIN-WAIT-1, FIN-WAIT-2, CLOSING, LAST-ACK, TIME-WAIT, CLOSE-WAIT
///   orphan       FIN-WAIT-2 sockets no process owns
/// Throws ParseError naming the bad name.
[[nodiscard]] StateSelection parse_state_selection(std::string_view text);

/// The names parse_state_selection accepts (for completions and help).
[[nodiscard]] std::vector<std::string_view> state_selection_names();

} // namespace netdx
