#include <arpa/inet.h>
#include <cstring>
#include <net/if.h>

#include <fmt/format.h>

#include <netdx/net/ip_address.hpp>
#include <netdx/sys/parse_error.hpp>

namespace netdx {

IpAddress IpAddress::v4(std::uint32_t host_order) {
    IpAddress a;
    a.family_ = Family::v4;
    const std::uint32_t net = htonl(host_order);
    std::memcpy(a.bytes_.data(), &net, 4);
    return a;
}

IpAddress IpAddress::v6(const std::array<std::uint8_t, 16>& bytes, std::uint32_t scope_id) {
    IpAddress a;
    a.family_ = Family::v6;
    a.bytes_ = bytes;
    a.scope_id_ = scope_id;
    return a;
}

std::optional<IpAddress> IpAddress::from_string(std::string_view text) {
    if (text.empty() || text.size() > 63) return std::nullopt;
    std::string s(text);
    IpAddress a;
    if (s.find(':') == std::string::npos) {
        in_addr v4{};
        if (::inet_pton(AF_INET, s.c_str(), &v4) != 1) return std::nullopt;
        a.family_ = Family::v4;
        std::memcpy(a.bytes_.data(), &v4, 4);
        return a;
    }
    std::string scope;
    if (const auto pct = s.find('%'); pct != std::string::npos) {
        scope = s.substr(pct + 1);
        s.resize(pct);
        if (scope.empty()) return std::nullopt;
    }
    in6_addr v6{};
    if (::inet_pton(AF_INET6, s.c_str(), &v6) != 1) return std::nullopt;
    a.family_ = Family::v6;
    std::memcpy(a.bytes_.data(), &v6, 16);
    if (!scope.empty()) {
        a.scope_id_ = ::if_nametoindex(scope.c_str());
        if (a.scope_id_ == 0) {
            // A numeric scope is allowed too ("fe80::1%2").
            char* end = nullptr;
            const unsigned long n = std::strtoul(scope.c_str(), &end, 10);
            if (end == scope.c_str() || *end != '\0' || n == 0 || n > 0xffffffffu)
                return std::nullopt;
            a.scope_id_ = static_cast<std::uint32_t>(n);
        }
    }
    return a;
}

IpAddress IpAddress::parse(std::string_view text) {
    if (auto a = from_string(text)) return *a;
    throw ParseError(fmt::format("bad address '{}'", text));
}

std::uint32_t IpAddress::v4_host_order() const {
    std::uint32_t net = 0;
    std::memcpy(&net, bytes_.data(), 4);
    return ntohl(net);
}

bool IpAddress::is_loopback() const {
    if (is_v4()) return bytes_[0] == 127;
    static constexpr std::array<std::uint8_t, 16> kLoop{0, 0, 0, 0, 0, 0, 0, 0,
                                                        0, 0, 0, 0, 0, 0, 0, 1};
    return bytes_ == kLoop;
}

bool IpAddress::is_unspecified() const {
    for (std::size_t i = 0; i < size(); ++i)
        if (bytes_[i] != 0) return false;
    return true;
}

std::optional<IpAddress> IpAddress::plus(std::uint64_t n) const {
    IpAddress r = *this;
    // Big-endian add with carry over the significant bytes.
    std::uint64_t carry = n;
    for (std::size_t i = size(); i-- > 0 && carry != 0;) {
        const std::uint64_t sum = r.bytes_[i] + (carry & 0xff);
        r.bytes_[i] = static_cast<std::uint8_t>(sum & 0xff);
        carry = (carry >> 8) + (sum >> 8);
    }
    if (carry != 0) return std::nullopt;
    return r;
}

IpAddress IpAddress::masked(unsigned prefix_len) const {
    IpAddress r = *this;
    const std::size_t bits = size() * 8;
    for (std::size_t bit = prefix_len; bit < bits; ++bit)
        r.bytes_[bit / 8] = static_cast<std::uint8_t>(r.bytes_[bit / 8] & ~(0x80u >> (bit % 8)));
    return r;
}

std::string IpAddress::to_string() const {
    char buf[INET6_ADDRSTRLEN + 16] = {};
    ::inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
    std::string s(buf);
    if (is_v6() && scope_id_ != 0) {
        char name[IF_NAMESIZE] = {};
        s += '%';
        s += ::if_indextoname(scope_id_, name) ? std::string(name) : std::to_string(scope_id_);
    }
    return s;
}

} // namespace netdx
