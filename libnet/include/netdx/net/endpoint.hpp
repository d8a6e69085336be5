#pragma once
/// An IP address and port: what bind() and connect() take.

#include <cstdint>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>

#include <netdx/net/ip_address.hpp>

namespace netdx {

class Endpoint {
public:
    Endpoint() = default;
    Endpoint(const IpAddress& ip, std::uint16_t port);
    /// From a kernel-filled sockaddr (accept, getsockname); AF_INET and AF_INET6 only.
    [[nodiscard]] static Endpoint from_sockaddr(const sockaddr* sa, socklen_t len);

    [[nodiscard]] IpAddress ip() const;
    [[nodiscard]] std::uint16_t port() const;
    [[nodiscard]] int family() const { return storage_.ss_family; }

    [[nodiscard]] const sockaddr* sockaddr_ptr() const {
        return reinterpret_cast<const sockaddr*>(&storage_);
    }
    [[nodiscard]] socklen_t sockaddr_len() const;

    /// "127.0.0.1:7007", "[::1]:7007".
    [[nodiscard]] std::string to_string() const;

    bool operator==(const Endpoint& other) const {
        return ip() == other.ip() && port() == other.port();
    }

private:
    sockaddr_storage storage_{};
};

} // namespace netdx
