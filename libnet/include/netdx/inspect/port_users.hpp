#pragma once
/// Who holds a local port: the TCP listeners (sock_diag, the kernel filtering on the port)
/// and the UDP sockets (/proc/net/udp and udp6) bound to it, with their owners. For the
/// message a server prints when its port is taken ("in use by pid 4242 (redis-server) on
/// 0.0.0.0:6379"), and for the check before binding that SO_REUSEPORT would otherwise
/// skip: two netdx-echo processes of one user would silently share a port.

#include <cstdint>
#include <string>
#include <vector>

#include <netdx/inspect/tcp_socket.hpp>
#include <netdx/net/socket.hpp>

namespace netdx {

struct PortUser {
    Protocol protocol = Protocol::tcp;
    SocketAddress local; ///< as bound: 0.0.0.0:6379, [::]:6379, 127.0.0.1:6379
    int pid = 0;         ///< 0: not found (another user's process without privilege)
    std::string process; ///< its comm
};

/// The sockets bound to `port` whose address overlaps `address` (the same address, or a
/// wildcard on either side, of a family that can collide); TCP: listeners only.
[[nodiscard]] std::vector<PortUser> find_port_users(const IpAddress& address, std::uint16_t port,
                                                    bool tcp, bool udp);

/// "pid 4242 (redis-server) on 0.0.0.0:6379 (tcp)", joined with "; ", or "" for none.
[[nodiscard]] std::string describe_port_users(const std::vector<PortUser>& users);

} // namespace netdx
