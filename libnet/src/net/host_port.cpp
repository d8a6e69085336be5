#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include <netdx/net/host_port.hpp>
#include <netdx/sys/parse_error.hpp>

namespace netdx {

namespace {

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

struct Split {
    std::string_view host;
    std::string_view port; ///< empty when absent
    bool bracketed = false;
};

Split split_host_port(std::string_view text) {
    if (text.empty()) throw ParseError("empty address");
    if (text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos)
            throw ParseError(fmt::format("missing ']' in '{}'", text));
        Split s{text.substr(1, close - 1), {}, true};
        const auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':')
                throw ParseError(fmt::format("unexpected '{}' after ']' in '{}'", rest, text));
            s.port = rest.substr(1);
            if (s.port.empty())
                throw ParseError(fmt::format("missing port after ':' in '{}'", text));
        }
        if (s.host.empty()) throw ParseError(fmt::format("empty address in '{}'", text));
        return s;
    }
    const auto colons = std::count(text.begin(), text.end(), ':');
    if (colons > 1) return {text, {}, false}; // an unbracketed IPv6 literal: no port possible
    if (colons == 0) {
        if (all_digits(text)) return {{}, text, false}; // bare port
        if (text.find('-') != std::string_view::npos && all_digits(text.substr(0, text.find('-'))))
            return {{}, text, false}; // bare port range
        return {text, {}, false};
    }
    const auto colon = text.find(':');
    Split s{text.substr(0, colon), text.substr(colon + 1), false};
    if (s.port.empty()) throw ParseError(fmt::format("missing port after ':' in '{}'", text));
    return s;
}

std::uint16_t port_in(std::string_view token, std::string_view whole) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (!all_digits(token) || ec != std::errc{} || end != token.data() + token.size() ||
        value > 65535)
        throw ParseError(fmt::format("bad port '{}' in '{}'", token, whole));
    return static_cast<std::uint16_t>(value);
}

} // namespace

std::string HostPort::to_string() const {
    if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

std::uint16_t parse_port(std::string_view token, std::string_view context) {
    return port_in(token, context);
}

HostPort parse_host_port(std::string_view text, std::string_view default_host,
                         std::optional<std::uint16_t> default_port) {
    const Split s = split_host_port(text);
    if (s.port.find('-') != std::string_view::npos)
        throw ParseError(
            fmt::format("bad port '{}' in '{}' (a range is not allowed here)", s.port, text));
    HostPort hp;
    hp.host = s.host.empty() ? std::string(default_host) : std::string(s.host);
    if (!s.port.empty())
        hp.port = port_in(s.port, text);
    else if (default_port)
        hp.port = *default_port;
    else
        throw ParseError(fmt::format("missing port in '{}' (expected host:port)", text));
    return hp;
}

namespace {
void refuse_port_zero(std::uint16_t port, std::string_view text) {
    if (port == 0)
        throw ParseError(fmt::format("port 0 in '{}' is not a port to connect to", text));
}
} // namespace

HostPort parse_target(std::string_view text, std::string_view default_host,
                      std::optional<std::uint16_t> default_port) {
    auto hp = parse_host_port(text, default_host, default_port);
    refuse_port_zero(hp.port, text);
    return hp;
}

std::vector<HostPort> parse_host_port_range(std::string_view text, std::string_view default_host,
                                            std::optional<std::uint16_t> default_port,
                                            std::size_t max_ports) {
    const Split s = split_host_port(text);
    const std::string host = s.host.empty() ? std::string(default_host) : std::string(s.host);
    if (s.port.empty()) {
        if (!default_port)
            throw ParseError(fmt::format("missing port in '{}' (expected host:port)", text));
        refuse_port_zero(*default_port, text);
        return {HostPort{host, *default_port}};
    }
    const auto dash = s.port.find('-');
    if (dash == std::string_view::npos) {
        const auto port = port_in(s.port, text);
        refuse_port_zero(port, text);
        return {HostPort{host, port}};
    }
    const auto lo = port_in(s.port.substr(0, dash), text);
    refuse_port_zero(lo, text);
    const auto hi = port_in(s.port.substr(dash + 1), text);
    if (lo > hi)
        throw ParseError(fmt::format("bad port range '{}' in '{}' (low > high)", s.port, text));
    if (static_cast<std::size_t>(hi - lo) + 1 > max_ports)
        throw ParseError(
            fmt::format("port range '{}' in '{}' has {} ports, more than the {} allowed", s.port,
                        text, hi - lo + 1, max_ports));
    std::vector<HostPort> out;
    for (unsigned p = lo; p <= hi; ++p)
        out.push_back({host, static_cast<std::uint16_t>(p)});
    return out;
}

} // namespace netdx
