#pragma once
/// Which side of a connection a local socket is: the server side when its local port has a
/// LISTEN socket on its address (or a wildcard of its family, or [::] that also takes IPv4),
/// the client side otherwise. Deciding from the ephemeral port range alone is wrong both
/// ways: a server on 50051 (gRPC) listens inside Linux's default range 32768-60999, and a
/// client may bind any port; the range is the fallback for a port nothing listens on (the
/// listener may have closed since).
///
/// Thread safety: none needed once built (read-only).

#include <cstdint>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include <netdx/inspect/tcp_socket.hpp>
#include <netdx/sys/limits.hpp>

namespace netdx {

class Listeners {
public:
    /// Adds one socket of a LISTEN dump (others are ignored).
    void add(const TcpSocket& s);
    [[nodiscard]] bool empty() const {
        return exact_.empty() && any_v4_.empty() && any_v6_.empty();
    }
    [[nodiscard]] std::size_t size() const { return count_; }
    /// Whether a listener takes connections to `local`.
    [[nodiscard]] bool listening(const SocketAddress& local) const;

    enum class Side { server, client };
    /// The side of a connected socket: a listener on its local address and port makes it
    /// the server side; else the ephemeral range decides (inside: client), and without one
    /// it is the server side (the port was chosen, not handed out).
    [[nodiscard]] Side side_of(const TcpSocket& s, const std::optional<PortRange>& ephemeral) const;

private:
    std::set<std::pair<IpAddress, std::uint16_t>> exact_;
    std::set<std::uint16_t> any_v4_, any_v6_;
    std::size_t count_ = 0;
};

} // namespace netdx
