#include <arpa/inet.h>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include <netdx/net/endpoint.hpp>

namespace netdx {

Endpoint::Endpoint(const IpAddress& ip, std::uint16_t port) {
    if (ip.is_v4()) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&storage_);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        std::memcpy(&sin->sin_addr, ip.bytes(), 4);
    } else {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage_);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        std::memcpy(&sin6->sin6_addr, ip.bytes(), 16);
        sin6->sin6_scope_id = ip.scope_id();
    }
}

Endpoint Endpoint::from_sockaddr(const sockaddr* sa, socklen_t len) {
    Endpoint e;
    if (sa == nullptr || len > sizeof e.storage_ ||
        (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
        throw std::invalid_argument("Endpoint::from_sockaddr: not an IPv4/IPv6 address");
    std::memcpy(&e.storage_, sa, len);
    return e;
}

IpAddress Endpoint::ip() const {
    if (storage_.ss_family == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
        std::array<std::uint8_t, 16> bytes{};
        std::memcpy(bytes.data(), &sin6->sin6_addr, 16);
        return IpAddress::v6(bytes, sin6->sin6_scope_id);
    }
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&storage_);
    return IpAddress::v4(ntohl(sin->sin_addr.s_addr));
}

std::uint16_t Endpoint::port() const {
    if (storage_.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
}

socklen_t Endpoint::sockaddr_len() const {
    return storage_.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

std::string Endpoint::to_string() const {
    const auto addr = ip().to_string();
    return storage_.ss_family == AF_INET6 ? fmt::format("[{}]:{}", addr, port())
                                          : fmt::format("{}:{}", addr, port());
}

} // namespace netdx
