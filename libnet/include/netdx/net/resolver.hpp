#pragma once
/// Name resolution through getaddrinfo. A name that does not resolve is an expected outcome,
/// returned as a value (tools map it to exit 69, "target unavailable").

#include <string>
#include <vector>

#include <netdx/net/endpoint.hpp>
#include <netdx/net/host_port.hpp>

namespace netdx {

enum class AddressFamily { any, v4, v6 };

struct Resolved {
    std::vector<Endpoint> endpoints; ///< in getaddrinfo's order, duplicates removed
    std::string error;               ///< empty on success: "cannot resolve 'x': Name or …"
    [[nodiscard]] bool ok() const { return error.empty(); }
};

/// Resolves `target` for a TCP or UDP socket (numeric addresses never touch DNS).
[[nodiscard]] Resolved resolve(const HostPort& target, AddressFamily family = AddressFamily::any);

} // namespace netdx
