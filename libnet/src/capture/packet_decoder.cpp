#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>

#include <netdx/capture/packet_decoder.hpp>

namespace netdx::capture {

namespace {

constexpr std::uint16_t kEtherIPv4 = 0x0800, kEtherIPv6 = 0x86dd;
constexpr int kMaxVlanTags = 4;       // QinQ and then some; more is garbage
constexpr int kMaxIPv6Extensions = 8; // a bound, so a crafted chain cannot loop

/// Bounds-checked big-endian reads over the captured bytes.
class Bytes {
public:
    explicit Bytes(std::span<const std::byte> d) : d_(d) {}
    [[nodiscard]] std::size_t size() const { return d_.size(); }
    [[nodiscard]] std::uint8_t u8(std::size_t at) const {
        return std::to_integer<std::uint8_t>(d_[at]);
    }
    [[nodiscard]] std::uint16_t u16(std::size_t at) const {
        return static_cast<std::uint16_t>(u8(at) << 8 | u8(at + 1));
    }
    [[nodiscard]] std::uint32_t u32(std::size_t at) const {
        return std::uint32_t{u16(at)} << 16 | u16(at + 2);
    }
    [[nodiscard]] std::uint32_t u32_host(std::size_t at) const {
        std::uint32_t v;
        std::memcpy(&v, d_.data() + at, 4);
        return v;
    }
    [[nodiscard]] const std::uint8_t* ptr(std::size_t at) const {
        return reinterpret_cast<const std::uint8_t*>(d_.data() + at);
    }

private:
    std::span<const std::byte> d_;
};

void parse_options(const Bytes& b, std::size_t at, std::size_t end, TcpOptions& o) {
    while (at < end) {
        const std::uint8_t kind = b.u8(at);
        if (kind == 0) return; // end of options
        if (kind == 1) {       // NOP
            ++at;
            continue;
        }
        if (at + 1 >= end) {
            o.malformed = true;
            return;
        }
        const std::uint8_t len = b.u8(at + 1);
        if (len < 2 || at + len > end) {
            o.malformed = true;
            return;
        }
        switch (kind) {
        case 2:
            if (len == 4) o.mss = b.u16(at + 2);
            break;
        case 3:
            if (len == 3) o.window_scale = b.u8(at + 2);
            break;
        case 4:
            o.sack_permitted = true;
            break;
        case 8:
            if (len == 10) {
                o.ts_value = b.u32(at + 2);
                o.ts_echo = b.u32(at + 6);
            }
            break;
        default:
            break;
        }
        at += len;
    }
}

/// The TCP header at `at`, with `ip_payload` bytes of IP payload (from the IP lengths).
Decoded tcp(const Bytes& b, std::size_t at, std::uint32_t ip_payload, Decoded d) {
    if (b.size() < at + 20) return {Skip::truncated_tcp, {}};
    const std::size_t header = std::size_t{b.u8(at + 12)} >> 4 << 2;
    if (header < 20 || header > ip_payload) return {Skip::bad_tcp, {}};
    auto& t = d.tcp;
    t.sport = b.u16(at);
    t.dport = b.u16(at + 2);
    t.seq = b.u32(at + 4);
    t.ack = b.u32(at + 8);
    t.flags = b.u8(at + 13);
    t.window = b.u16(at + 14);
    t.payload = ip_payload - static_cast<std::uint32_t>(header);
    // Options past the captured bytes are simply not read (a snap-length cut).
    const std::size_t end = std::min(at + header, b.size());
    if (header > 20) parse_options(b, at + 20, end, t.options);
    if (at + header > b.size()) t.options.malformed = true;
    d.skip = Skip::none;
    return d;
}

Decoded ipv4(const Bytes& b, std::size_t at) {
    if (b.size() < at + 20) return {Skip::truncated_ip, {}};
    const std::uint8_t vihl = b.u8(at);
    const std::size_t ihl = std::size_t{vihl & 0x0fu} << 2;
    const std::uint16_t total = b.u16(at + 2);
    if ((vihl >> 4) != 4 || ihl < 20 || total < ihl) return {Skip::bad_ip, {}};
    if (b.size() < at + ihl) return {Skip::truncated_ip, {}};
    if ((b.u16(at + 6) & 0x1fff) != 0) return {Skip::fragment, {}};
    if (b.u8(at + 9) != IPPROTO_TCP) return {Skip::not_tcp, {}};
    Decoded d;
    d.tcp.src = IpAddress::v4(b.u32(at + 12));
    d.tcp.dst = IpAddress::v4(b.u32(at + 16));
    d.tcp.ip_options = ihl > 20;
    d.tcp.ip_len = total;
    return tcp(b, at + ihl, static_cast<std::uint32_t>(total - ihl), d);
}

Decoded ipv6(const Bytes& b, std::size_t at) {
    if (b.size() < at + 40) return {Skip::truncated_ip, {}};
    if ((b.u8(at) >> 4) != 6) return {Skip::bad_ip, {}};
    std::uint32_t payload = b.u16(at + 4); // after the fixed header, extensions included
    std::uint8_t next = b.u8(at + 6);
    Decoded d;
    d.tcp.ip_len = 40 + payload;
    std::array<std::uint8_t, 16> addr{};
    std::memcpy(addr.data(), b.ptr(at + 8), 16);
    d.tcp.src = IpAddress::v6(addr);
    std::memcpy(addr.data(), b.ptr(at + 24), 16);
    d.tcp.dst = IpAddress::v6(addr);
    std::size_t off = at + 40;
    for (int i = 0; next != IPPROTO_TCP; ++i) {
        if (i == kMaxIPv6Extensions) return {Skip::ip_extension, {}};
        std::size_t len = 0;
        switch (next) {
        case IPPROTO_HOPOPTS:
        case IPPROTO_ROUTING:
        case IPPROTO_DSTOPTS:
            if (b.size() < off + 2) return {Skip::truncated_ip, {}};
            len = (std::size_t{b.u8(off + 1)} + 1) * 8;
            break;
        case IPPROTO_FRAGMENT:
            if (b.size() < off + 8) return {Skip::truncated_ip, {}};
            if ((b.u16(off + 2) & 0xfff8) != 0) return {Skip::fragment, {}};
            len = 8;
            break;
        case IPPROTO_AH:
            if (b.size() < off + 2) return {Skip::truncated_ip, {}};
            len = (std::size_t{b.u8(off + 1)} + 2) * 4;
            break;
        case IPPROTO_NONE:
        case IPPROTO_UDP:
        case IPPROTO_ICMPV6:
            return {Skip::not_tcp, {}};
        case IPPROTO_ESP:
            return {Skip::ip_extension, {}};
        default:
            return {Skip::not_tcp, {}};
        }
        if (len > payload) return {Skip::bad_ip, {}};
        next = b.u8(off);
        off += len;
        payload -= static_cast<std::uint32_t>(len);
        d.tcp.ip_options = true;
    }
    return tcp(b, off, payload, d);
}

Decoded by_ethertype(const Bytes& b, std::uint16_t type, std::size_t at) {
    if (type == kEtherIPv4) return ipv4(b, at);
    if (type == kEtherIPv6) return ipv6(b, at);
    return {Skip::not_ip, {}};
}

Decoded by_version(const Bytes& b, std::size_t at) {
    if (b.size() < at + 1) return {Skip::truncated_ip, {}};
    const int v = b.u8(at) >> 4;
    if (v == 4) return ipv4(b, at);
    if (v == 6) return ipv6(b, at);
    return {Skip::bad_ip, {}};
}

} // namespace

bool link_type_supported(int dlt) {
    switch (dlt) {
    case link::null:
    case link::en10mb:
    case link::raw:
    case link::raw_alt:
    case link::loop:
    case link::linux_sll:
    case link::ipv4:
    case link::ipv6:
    case link::linux_sll2:
        return true;
    default:
        return false;
    }
}

std::string_view skip_key(Skip s) {
    static constexpr std::array<std::string_view, kSkipReasons> keys{
        "none",         "link_type",     "truncated_link", "not_ip",
        "truncated_ip", "bad_ip",        "fragment",       "ip_extension",
        "not_tcp",      "truncated_tcp", "bad_tcp",        "bad_timestamp"};
    return keys[static_cast<std::size_t>(s)];
}

std::string_view skip_name(Skip s) {
    switch (s) {
    case Skip::none:
        return "none";
    case Skip::link_type:
        return "unknown link type";
    case Skip::truncated_link:
        return "truncated link header";
    case Skip::not_ip:
        return "not IP";
    case Skip::truncated_ip:
        return "truncated IP header";
    case Skip::bad_ip:
        return "bad IP header";
    case Skip::fragment:
        return "IP fragment";
    case Skip::ip_extension:
        return "IPv6 extension not walked";
    case Skip::not_tcp:
        return "not TCP";
    case Skip::truncated_tcp:
        return "truncated TCP header";
    case Skip::bad_tcp:
        return "bad TCP header";
    case Skip::bad_timestamp:
        return "timestamp out of range (before 1970 or after 2262)";
    }
    return "?";
}

Decoded decode_frame(int dlt, std::span<const std::byte> data) {
    const Bytes b(data);
    switch (dlt) {
    case link::en10mb: {
        if (b.size() < 14) return {Skip::truncated_link, {}};
        std::size_t at = 12;
        std::uint16_t type = b.u16(at);
        for (int tags = 0; type == 0x8100 || type == 0x88a8 || type == 0x9100; ++tags) {
            if (tags == kMaxVlanTags || b.size() < at + 6) return {Skip::truncated_link, {}};
            at += 4;
            type = b.u16(at);
        }
        return by_ethertype(b, type, at + 2);
    }
    case link::linux_sll:
        if (b.size() < 16) return {Skip::truncated_link, {}};
        return by_ethertype(b, b.u16(14), 16);
    case link::linux_sll2:
        if (b.size() < 20) return {Skip::truncated_link, {}};
        return by_ethertype(b, b.u16(0), 20);
    case link::null:
    case link::loop: {
        // NULL: the address family in the capturing host's byte order; LOOP: network order.
        if (b.size() < 4) return {Skip::truncated_link, {}};
        std::uint32_t af = b.u32_host(0);
        if (af > 0xffff) af = __builtin_bswap32(af);
        if (af == AF_INET) return ipv4(b, 4);
        if (af == 10 || af == 24 || af == 28 || af == 30) return ipv6(b, 4); // Linux, BSDs, macOS
        return {Skip::not_ip, {}};
    }
    case link::raw:
    case link::raw_alt:
        return by_version(b, 0);
    case link::ipv4:
        return ipv4(b, 0);
    case link::ipv6:
        return ipv6(b, 0);
    default:
        return {Skip::link_type, {}};
    }
}

} // namespace netdx::capture
