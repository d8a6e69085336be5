// The capture layer's frame decoder: every link type netdx-trace reads, IPv4 options and
// fragments, IPv6 extension chains, TCP options, and frames cut short or made of garbage,
// which must come back as a named skip and never read out of bounds (ASan runs this too).
#include <cstdint>
#include <netinet/in.h>
#include <random>
#include <sys/socket.h>
#include <vector>

#include <doctest/doctest.h>

#include <netdx/capture/packet_decoder.hpp>

using namespace netdx;
using namespace netdx::capture;

namespace {

using Bytes = std::vector<std::uint8_t>;

void put16(Bytes& b, std::uint16_t v) {
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
}
void put32(Bytes& b, std::uint32_t v) {
    put16(b, static_cast<std::uint16_t>(v >> 16));
    put16(b, static_cast<std::uint16_t>(v));
}

/// A TCP header: SYN with MSS 65495, window scale 7, SACK permitted and timestamps.
Bytes tcp_header(std::uint8_t flags, std::uint16_t sport = 40000, std::uint16_t dport = 7007,
                 bool options = true) {
    Bytes opts;
    if (options) {
        opts = {2, 4,  0xff, 0xd7,                         // MSS 65495
                4, 2,                                      // SACK permitted
                8, 10, 0,    0,    0x30, 0x39, 0, 0, 0, 0, // TS 12345, 0
                1,                                         // NOP
                3, 3,  7};                                 // window scale 7
    }
    Bytes t;
    put16(t, sport);
    put16(t, dport);
    put32(t, 1000); // seq
    put32(t, 0);    // ack
    t.push_back(static_cast<std::uint8_t>((20 + opts.size()) / 4 << 4));
    t.push_back(flags);
    put16(t, 65535);
    put32(t, 0); // checksum, urgent
    t.insert(t.end(), opts.begin(), opts.end());
    return t;
}

Bytes ipv4(const Bytes& l4, std::uint32_t payload = 0, std::uint8_t proto = IPPROTO_TCP,
           const Bytes& ip_options = {}, std::uint16_t frag = 0) {
    Bytes b;
    const auto ihl = 20 + ip_options.size();
    b.push_back(static_cast<std::uint8_t>(0x40 | ihl / 4));
    b.push_back(0);
    put16(b, static_cast<std::uint16_t>(ihl + l4.size() + payload));
    put32(b, 0);
    b[6] = static_cast<std::uint8_t>(frag >> 8);
    b[7] = static_cast<std::uint8_t>(frag);
    b.push_back(64);
    b.push_back(proto);
    put16(b, 0);
    put32(b, 0x7f000001); // 127.0.0.1
    put32(b, 0x7f000002); // 127.0.0.2
    b.insert(b.end(), ip_options.begin(), ip_options.end());
    b.insert(b.end(), l4.begin(), l4.end());
    return b; // the payload itself is not captured: a snap-length cut
}

Bytes ipv6(const Bytes& l4, std::uint32_t payload = 0, const Bytes& ext = {},
           std::uint8_t first_next = IPPROTO_TCP) {
    Bytes b{0x60, 0, 0, 0};
    put16(b, static_cast<std::uint16_t>(ext.size() + l4.size() + payload));
    b.push_back(first_next);
    b.push_back(64);
    for (int i = 0; i < 15; ++i)
        b.push_back(0);
    b.push_back(1); // ::1
    for (int i = 0; i < 15; ++i)
        b.push_back(0);
    b.push_back(2); // ::2
    b.insert(b.end(), ext.begin(), ext.end());
    b.insert(b.end(), l4.begin(), l4.end());
    return b;
}

Bytes with_link(int dlt, const Bytes& ip, std::uint16_t ethertype, int vlan_tags = 0) {
    Bytes b;
    switch (dlt) {
    case link::en10mb:
        b.assign(12, 0xaa);
        for (int i = 0; i < vlan_tags; ++i) {
            put16(b, i == 0 && vlan_tags > 1 ? 0x88a8 : 0x8100);
            put16(b, static_cast<std::uint16_t>(100 + i));
        }
        put16(b, ethertype);
        break;
    case link::linux_sll:
        b.assign(14, 0);
        put16(b, ethertype);
        break;
    case link::linux_sll2:
        put16(b, ethertype);
        b.resize(20, 0);
        break;
    case link::null: {
        const std::uint32_t af = ethertype == 0x0800 ? AF_INET : AF_INET6;
        const auto* p = reinterpret_cast<const std::uint8_t*>(&af); // host order
        b.assign(p, p + 4);
        break;
    }
    case link::loop:
        put32(b, ethertype == 0x0800 ? AF_INET : 24); // network order; 24: a BSD's AF_INET6
        break;
    default:
        break;
    }
    b.insert(b.end(), ip.begin(), ip.end());
    return b;
}

Decoded decode(int dlt, const Bytes& b) {
    return decode_frame(dlt, std::as_bytes(std::span(b)));
}

} // namespace

TEST_CASE("every supported link type decodes the same TCP SYN") {
    const auto v4 = ipv4(tcp_header(tcp_flag::syn), 0);
    const auto v6 = ipv6(tcp_header(tcp_flag::syn), 0);
    struct Case {
        int dlt;
        Bytes frame;
    };
    const std::vector<Case> cases = {
        {link::en10mb, with_link(link::en10mb, v4, 0x0800)},
        {link::en10mb, with_link(link::en10mb, v4, 0x0800, 1)},
        {link::en10mb, with_link(link::en10mb, v6, 0x86dd, 2)}, // QinQ
        {link::linux_sll, with_link(link::linux_sll, v4, 0x0800)},
        {link::linux_sll2, with_link(link::linux_sll2, v6, 0x86dd)},
        {link::null, with_link(link::null, v4, 0x0800)},
        {link::null, with_link(link::null, v6, 0x86dd)},
        {link::loop, with_link(link::loop, v6, 0x86dd)},
        {link::raw, v4},
        {link::raw, v6},
        {link::ipv4, v4},
        {link::ipv6, v6},
    };
    for (const auto& c : cases) {
        CAPTURE(c.dlt);
        CHECK(link_type_supported(c.dlt));
        const auto d = decode(c.dlt, c.frame);
        REQUIRE(d.skip == Skip::none);
        CHECK(d.tcp.sport == 40000);
        CHECK(d.tcp.dport == 7007);
        CHECK(d.tcp.seq == 1000);
        CHECK(d.tcp.flags == tcp_flag::syn);
        CHECK(d.tcp.window == 65535);
        CHECK(d.tcp.options.mss == 65495); // not 4294967255, as tcptrace prints it
        CHECK(d.tcp.options.window_scale == 7);
        CHECK(d.tcp.options.sack_permitted);
        CHECK(d.tcp.options.ts_value == 12345);
        CHECK(d.tcp.options.ts_echo == 0u);
        CHECK_FALSE(d.tcp.options.malformed);
        CHECK(d.tcp.src.to_string() == (d.tcp.src.is_v4() ? "127.0.0.1" : "::1"));
        CHECK(d.tcp.dst.to_string() == (d.tcp.dst.is_v4() ? "127.0.0.2" : "::2"));
    }
    CHECK_FALSE(link_type_supported(105)); // 802.11
    CHECK(decode(105, cases[0].frame).skip == Skip::link_type);
}

TEST_CASE("payload length comes from the IP header, so a snap-length cut keeps it") {
    const auto frame = with_link(
        link::en10mb, ipv4(tcp_header(tcp_flag::ack | tcp_flag::psh, 1, 2, false), 1400), 0x0800);
    const auto d = decode(link::en10mb, frame); // 1,400 bytes on the wire were not captured
    REQUIRE(d.skip == Skip::none);
    CHECK(d.tcp.payload == 1400);
    const auto d6 = decode(link::ipv6, ipv6(tcp_header(tcp_flag::ack, 1, 2, false), 512));
    REQUIRE(d6.skip == Skip::none);
    CHECK(d6.tcp.payload == 512);
}

TEST_CASE("IPv4 options, fragments, other protocols and bad headers") {
    const Bytes ip_opts{0x94, 0x04, 0, 0}; // router alert
    auto d = decode(link::ipv4, ipv4(tcp_header(tcp_flag::syn), 0, IPPROTO_TCP, ip_opts));
    REQUIRE(d.skip == Skip::none);
    CHECK(d.tcp.ip_options);
    CHECK(d.tcp.options.mss == 65495);
    CHECK(decode(link::ipv4, ipv4(tcp_header(0), 0, IPPROTO_TCP, {}, 0x2000)).skip ==
          Skip::none); // MF, offset 0
    CHECK(decode(link::ipv4, ipv4(tcp_header(0), 0, IPPROTO_TCP, {}, 0x0010)).skip ==
          Skip::fragment);
    CHECK(decode(link::ipv4, ipv4(Bytes(8, 0), 0, IPPROTO_UDP)).skip == Skip::not_tcp);
    auto bad = ipv4(tcp_header(0));
    bad[0] = 0x44; // IHL 4 words
    CHECK(decode(link::ipv4, bad).skip == Skip::bad_ip);
    bad = ipv4(tcp_header(0));
    bad[2] = 0;
    bad[3] = 10; // total length below the header
    CHECK(decode(link::ipv4, bad).skip == Skip::bad_ip);
    bad = ipv4(tcp_header(0));
    bad[20 + 12] = 0x40; // TCP data offset 4 words
    CHECK(decode(link::ipv4, bad).skip == Skip::bad_tcp);
    bad = ipv4(tcp_header(0, 1, 2, false));
    bad[20 + 12] = 0xf0; // 60-byte header in a 20-byte payload
    CHECK(decode(link::ipv4, bad).skip == Skip::bad_tcp);
    CHECK(decode(link::en10mb, with_link(link::en10mb, Bytes(28, 0), 0x0806)).skip ==
          Skip::not_ip); // ARP
    CHECK(decode(link::raw, Bytes{0x50, 0, 0, 0}).skip == Skip::bad_ip);
}

TEST_CASE("IPv6 extension chains are walked, bounded, or named") {
    const Bytes hop{IPPROTO_DSTOPTS, 0, 1, 4, 0, 0, 0, 0}; // hop-by-hop, 8 bytes, next: dst opts
    const Bytes dst{IPPROTO_TCP, 0, 1, 4, 0, 0, 0, 0};     // destination options, next: TCP
    Bytes chain = hop;
    chain.insert(chain.end(), dst.begin(), dst.end());
    auto d = decode(link::ipv6, ipv6(tcp_header(tcp_flag::syn), 0, chain, IPPROTO_HOPOPTS));
    REQUIRE(d.skip == Skip::none);
    CHECK(d.tcp.ip_options);
    CHECK(d.tcp.dport == 7007);
    const Bytes first_frag{IPPROTO_TCP, 0, 0, 1, 0, 0, 0, 1}; // offset 0, M=1
    CHECK(decode(link::ipv6, ipv6(tcp_header(0), 0, first_frag, IPPROTO_FRAGMENT)).skip ==
          Skip::none);
    const Bytes later_frag{IPPROTO_TCP, 0, 0x01, 0x00, 0, 0, 0, 1}; // offset 32
    CHECK(decode(link::ipv6, ipv6(tcp_header(0), 0, later_frag, IPPROTO_FRAGMENT)).skip ==
          Skip::fragment);
    CHECK(decode(link::ipv6, ipv6(Bytes(16, 0), 0, {}, IPPROTO_ESP)).skip == Skip::ip_extension);
    CHECK(decode(link::ipv6, ipv6(Bytes(8, 0), 0, {}, IPPROTO_UDP)).skip == Skip::not_tcp);
    // A chain of destination options pointing at each other, longer than the bound.
    Bytes loop;
    for (int i = 0; i < 12; ++i) {
        const Bytes one{IPPROTO_DSTOPTS, 0, 1, 4, 0, 0, 0, 0};
        loop.insert(loop.end(), one.begin(), one.end());
    }
    CHECK(decode(link::ipv6, ipv6(tcp_header(0), 0, loop, IPPROTO_DSTOPTS)).skip ==
          Skip::ip_extension);
}

TEST_CASE("every cut of a frame is a named skip or a packet, never a read past the end") {
    const Bytes nops{1, 1, 1, 0}; // IPv4 options: three NOPs and an end
    const std::vector<std::pair<int, Bytes>> frames = {
        {link::en10mb, with_link(link::en10mb, ipv4(tcp_header(tcp_flag::syn)), 0x0800, 1)},
        {link::linux_sll2, with_link(link::linux_sll2, ipv6(tcp_header(tcp_flag::syn)), 0x86dd)},
        {link::null,
         with_link(link::null, ipv4(tcp_header(tcp_flag::syn), 0, IPPROTO_TCP, nops), 0x0800)},
    };
    for (const auto& [dlt, full] : frames) {
        std::size_t packets = 0;
        for (std::size_t n = 0; n <= full.size(); ++n) {
            const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
            const auto d = decode(dlt, cut);
            if (d.skip == Skip::none) {
                ++packets;
                // Only the options can be missing: then they say so.
                CHECK(d.tcp.options.malformed == (n < full.size()));
            } else {
                CHECK(skip_name(d.skip) != "none");
            }
        }
        CHECK(packets >= 1); // the whole frame
        CHECK(packets < full.size());
    }
}

TEST_CASE("garbage frames of every link type never crash") {
    std::mt19937 rng(42);
    const int dlts[] = {link::null,      link::en10mb, link::raw,  link::loop,
                        link::linux_sll, link::ipv4,   link::ipv6, link::linux_sll2};
    std::size_t decoded = 0;
    for (int round = 0; round < 20000; ++round) {
        Bytes b(rng() % 120);
        for (auto& x : b)
            x = static_cast<std::uint8_t>(rng());
        if (!b.empty() && round % 2) b[0] = static_cast<std::uint8_t>(0x45); // look like IPv4
        const auto d = decode(dlts[static_cast<std::size_t>(round) % 8], b);
        decoded += d.skip == Skip::none;
    }
    CHECK(decoded < 20000);
}
