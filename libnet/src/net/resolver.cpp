#include <algorithm>
#include <netdb.h>

#include <fmt/format.h>

#include <netdx/net/resolver.hpp>

namespace netdx {

Resolved resolve(const HostPort& target, AddressFamily family) {
    Resolved out;
    addrinfo hints{};
    hints.ai_family = family == AddressFamily::v4   ? AF_INET
                      : family == AddressFamily::v6 ? AF_INET6
                                                    : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM; // one entry per address; the caller picks the protocol
    // Numeric addresses first, so "127.0.0.1" never waits on a resolver.
    hints.ai_flags = AI_NUMERICSERV;
    if (IpAddress::from_string(target.host)) hints.ai_flags |= AI_NUMERICHOST;
    addrinfo* list = nullptr;
    const std::string service = std::to_string(target.port);
    const int rc = ::getaddrinfo(target.host.c_str(), service.c_str(), &hints, &list);
    if (rc != 0) {
        out.error = fmt::format("cannot resolve '{}': {}", target.host, ::gai_strerror(rc));
        return out;
    }
    for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        auto ep = Endpoint::from_sockaddr(ai->ai_addr, ai->ai_addrlen);
        if (std::find(out.endpoints.begin(), out.endpoints.end(), ep) == out.endpoints.end())
            out.endpoints.push_back(ep);
    }
    ::freeaddrinfo(list);
    if (out.endpoints.empty())
        out.error =
            fmt::format("cannot resolve '{}': no address of the requested family", target.host);
    return out;
}

} // namespace netdx
