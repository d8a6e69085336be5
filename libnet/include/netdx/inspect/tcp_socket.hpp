#pragma once
/// One TCP socket as the kernel reports it (sock_diag's inet_diag_msg, or a line of
/// /proc/net/tcp): the same record from either source.

#include <cstdint>
#include <optional>
#include <string>

#include <netdx/net/endpoint.hpp>
#include <netdx/net/tcp_state.hpp>

namespace netdx {

/// The kernel's pending timer on a socket (idiag_timer / the "tr" column).
enum class SocketTimer : std::uint8_t {
    none = 0,
    retransmit = 1, ///< also the SYN-ACK timer of a request socket
    keepalive = 2,
    time_wait = 3,
    zero_window_probe = 4,
};

/// Idle times from tcp_info (sock_diag only, live sockets only), in milliseconds.
struct TcpIdle {
    std::uint32_t last_data_recv_ms = 0;
    std::uint32_t last_ack_recv_ms = 0;
    std::uint32_t last_data_sent_ms = 0;
};

/// An address and a port, compact: an Endpoint carries a whole sockaddr_storage (128 bytes),
/// which for 100,000 sockets is most of the memory and most of the copying.
class SocketAddress {
public:
    SocketAddress() = default;
    SocketAddress(const IpAddress& ip, std::uint16_t port) : ip_(ip), port_(port) {}
    SocketAddress(const Endpoint& e)
        : ip_(e.ip()), port_(e.port()) {} // NOLINT: implicit on purpose
    [[nodiscard]] const IpAddress& ip() const { return ip_; }
    [[nodiscard]] std::uint16_t port() const { return port_; }
    [[nodiscard]] Endpoint endpoint() const { return Endpoint(ip_, port_); }
    /// "127.0.0.1:7007", "[::1]:7007"
    [[nodiscard]] std::string to_string() const { return endpoint().to_string(); }
    bool operator==(const SocketAddress&) const = default;

private:
    IpAddress ip_;
    std::uint16_t port_ = 0;
};

struct TcpSocket {
    TcpState state = TcpState::closed;
    SocketAddress local;
    SocketAddress remote;
    std::uint32_t recv_q = 0; ///< bytes not read by the application (LISTEN: accept backlog)
    std::uint32_t send_q = 0; ///< bytes not acknowledged by the peer (LISTEN: backlog limit)
    std::uint32_t uid = 0;
    std::uint64_t inode = 0; ///< 0: no owner (TIME-WAIT, request and orphaned sockets)
    SocketTimer timer = SocketTimer::none;
    std::uint32_t timer_ms = 0; ///< until the timer fires
    std::uint8_t retransmits = 0;
    std::uint64_t cookie = 0;    ///< the kernel's socket id (sock_diag only)
    std::uint64_t cgroup_id = 0; ///< its cgroup v2 id (sock_diag, full sockets only; 0: none)
    std::optional<TcpIdle> idle;

    /// Closed by its process and still finishing (FIN-WAIT, CLOSING, LAST-ACK …): no owner.
    /// TIME-WAIT and request sockets (SYN-RECV) have no owner either, but are not orphans.
    [[nodiscard]] bool orphan() const {
        return inode == 0 && state != TcpState::time_wait && state != TcpState::syn_recv &&
               state != TcpState::new_syn_recv && state != TcpState::listen;
    }
};

} // namespace netdx
