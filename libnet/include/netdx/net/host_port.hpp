#pragma once
/// The syntax of a target or listen address, before any name is resolved.
///
///   host:port        localhost:7007, 127.0.0.1:7007, example.org:80
///   [v6]:port        [::1]:7007
///   port             7007          -> default host
///   :port            :7007         -> default host (binding everything is always explicit)
///   host             127.0.0.1     -> default port, when the caller has one
///   v6               ::1           -> default port (more than one ':' means an IPv6 literal)
///   host:lo-hi       127.0.0.1:8000-8003 (only through parse_host_port_range)

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace netdx {

struct HostPort {
    std::string host; ///< name or numeric address, without brackets
    std::uint16_t port = 0;
    [[nodiscard]] std::string to_string() const; ///< brackets an IPv6 literal
};

/// Throws ParseError naming the bad token: "bad port '70000' in '1.2.3.4:70000'".
[[nodiscard]] HostPort parse_host_port(std::string_view text, std::string_view default_host,
                                       std::optional<std::uint16_t> default_port = std::nullopt);

/// A host:port to connect to: as parse_host_port, but port 0 (which only means "any" to
/// bind) is refused: "port 0 in '127.0.0.1:0' is not a port to connect to".
[[nodiscard]] HostPort parse_target(std::string_view text, std::string_view default_host,
                                    std::optional<std::uint16_t> default_port = std::nullopt);

/// As parse_host_port but the port may be a range "lo-hi"; returns one HostPort per port.
/// At most `max_ports` ports (a typo like 1-65535 should not silently mean 65535 targets).
/// These are targets: port 0 is refused, as in parse_target.
[[nodiscard]] std::vector<HostPort>
parse_host_port_range(std::string_view text, std::string_view default_host,
                      std::optional<std::uint16_t> default_port = std::nullopt,
                      std::size_t max_ports = 4096);

/// A port number 0-65535, e.g. from a --sport option. `context` names the whole input.
[[nodiscard]] std::uint16_t parse_port(std::string_view token, std::string_view context);

} // namespace netdx
