#pragma once
/// Network namespaces: run a function inside another one (sock_diag sockets and /proc/net
/// files belong to the namespace they are opened in), and list the named ones.
///
/// Entering a namespace needs CAP_SYS_ADMIN; failures come back as values. The calling
/// thread returns to its own namespace before in_netns returns, even when `fn` throws.

#include <functional>
#include <string>
#include <vector>

namespace netdx {

struct NetnsTarget {
    std::string label; ///< "blue", "pid 4242", "(this namespace)"
    std::string path;  ///< /run/netns/blue, /proc/4242/ns/net; empty: the current one
};

/// "blue" (from /run/netns) or a pid; throws ParseError when neither exists.
[[nodiscard]] NetnsTarget resolve_netns(const std::string& name_or_pid);
/// The current namespace and every named one in /run/netns.
[[nodiscard]] std::vector<NetnsTarget> all_named_netns();

/// Runs fn() inside `target`; returns "" or why the namespace could not be entered.
std::string in_netns(const NetnsTarget& target, const std::function<void()>& fn);

} // namespace netdx
