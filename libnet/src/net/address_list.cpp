#include <algorithm>
#include <charconv>
#include <set>

#include <fmt/format.h>

#include <netdx/net/address_list.hpp>
#include <netdx/sys/parse_error.hpp>
#include <netdx/sys/text.hpp>

namespace netdx {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

/// Number of addresses from lo to hi inclusive, or nullopt if more than `cap`.
std::optional<std::uint64_t> span(const IpAddress& lo, const IpAddress& hi, std::uint64_t cap) {
    // Compare the high bytes: any difference above the low 8 bytes is certainly > cap.
    std::uint64_t diff = 0;
    for (std::size_t i = 0; i < lo.size(); ++i) {
        const int d = int(hi.bytes()[i]) - int(lo.bytes()[i]);
        if (lo.size() - i > 8) {
            if (d != 0) return std::nullopt;
            continue;
        }
        diff = diff * 256 + static_cast<std::uint64_t>(static_cast<std::int64_t>(d));
    }
    if (diff >= cap) return std::nullopt;
    return diff + 1;
}

} // namespace

Cidr Cidr::parse(std::string_view text) {
    text = trim(text);
    const auto slash = text.find('/');
    const auto addr_text = text.substr(0, slash);
    auto ip = IpAddress::from_string(addr_text);
    if (!ip) throw ParseError(fmt::format("bad address '{}' in '{}'", addr_text, text));
    const unsigned max_len = static_cast<unsigned>(ip->size() * 8);
    unsigned len = max_len;
    if (slash != std::string_view::npos) {
        const auto len_text = text.substr(slash + 1);
        auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
        if (len_text.empty() || ec != std::errc{} || end != len_text.data() + len_text.size() ||
            len > max_len)
            throw ParseError(
                fmt::format("bad prefix length '/{}' in '{}' (0-{})", len_text, text, max_len));
    }
    return Cidr{ip->masked(len), len};
}

bool Cidr::contains(const IpAddress& ip) const {
    return ip.family() == network.family() && ip.masked(prefix_len) == network;
}

std::string Cidr::to_string() const {
    return fmt::format("{}/{}", network.to_string(), prefix_len);
}

std::vector<IpAddress> parse_address_list(std::string_view text, std::size_t max_addresses) {
    std::vector<IpAddress> out;
    std::set<IpAddress> seen;
    auto add = [&](const IpAddress& ip, std::string_view part) {
        if (seen.insert(ip).second) out.push_back(ip);
        if (out.size() > max_addresses)
            throw ParseError(
                fmt::format("'{}' expands past the limit of {} addresses", part, max_addresses));
    };
    if (trim(text).empty()) throw ParseError("empty address list");
    for (const auto item : split_list(text)) {
        const auto part = trim(item);
        if (part.empty()) throw ParseError(fmt::format("empty item in address list '{}'", text));
        IpAddress first;
        std::uint64_t count = 1;
        if (part.find('/') != std::string_view::npos) {
            const Cidr cidr = Cidr::parse(part);
            const unsigned host_bits =
                static_cast<unsigned>(cidr.network.size() * 8) - cidr.prefix_len;
            if (host_bits >= 63 || (std::uint64_t{1} << host_bits) > max_addresses)
                throw ParseError(
                    fmt::format("'{}' has more than {} addresses", part, max_addresses));
            first = cidr.network;
            count = std::uint64_t{1} << host_bits;
        } else if (const auto dash = part.find('-'); dash != std::string_view::npos) {
            const auto lo_text = trim(part.substr(0, dash));
            const auto hi_text = trim(part.substr(dash + 1));
            auto lo = IpAddress::from_string(lo_text);
            if (!lo) throw ParseError(fmt::format("bad address '{}' in range '{}'", lo_text, part));
            auto hi = IpAddress::from_string(hi_text);
            if (!hi) throw ParseError(fmt::format("bad address '{}' in range '{}'", hi_text, part));
            if (lo->family() != hi->family())
                throw ParseError(fmt::format("range '{}' mixes IPv4 and IPv6", part));
            if (*hi < *lo) throw ParseError(fmt::format("range '{}' runs backwards", part));
            auto n = span(*lo, *hi, max_addresses);
            if (!n)
                throw ParseError(
                    fmt::format("range '{}' has more than {} addresses", part, max_addresses));
            first = *lo;
            count = *n;
        } else {
            auto ip = IpAddress::from_string(part);
            if (!ip) throw ParseError(fmt::format("bad address '{}'", part));
            first = *ip;
        }
        for (std::uint64_t i = 0; i < count; ++i)
            add(*first.plus(i), part);
    }
    return out;
}

} // namespace netdx
