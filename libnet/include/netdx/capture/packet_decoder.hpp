#pragma once
/// Decoding one captured frame down to its TCP header, for the link types netdx-trace reads.
/// No allocation, no exceptions: a frame that is not a complete TCP header comes back with
/// the reason, so a tracer counts skips by reason instead of crashing on garbage.
///
///   link layer                          network            transport
///   EN10MB   dst src [802.1Q/ad tags]   IPv4 (options,     TCP header: ports, seq, ack,
///   LINUX_SLL  16-byte cooked header     fragments)        flags, window, options (MSS,
///   LINUX_SLL2 20-byte cooked header    IPv6 (extension    window scale, SACK permitted,
///   NULL/LOOP  4-byte address family     header chain)     timestamps)
///   RAW, IPV4, IPV6   the IP header itself
///
/// The payload length comes from the IP lengths, not from the bytes captured, so a frame cut
/// by the snap length still says how much data it carried. Thread safety: pure functions.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <netdx/net/ip_address.hpp>

namespace netdx::capture {

/// libpcap's DLT_* values (pcap_datalink()).
namespace link {
inline constexpr int null = 0;
inline constexpr int en10mb = 1;
inline constexpr int raw = 12;     ///< DLT_RAW on Linux (LINKTYPE_RAW 101 in files)
inline constexpr int raw_alt = 14; ///< DLT_RAW on OpenBSD
inline constexpr int loop = 108;
inline constexpr int linux_sll = 113;
inline constexpr int ipv4 = 228;
inline constexpr int ipv6 = 229;
inline constexpr int linux_sll2 = 276;
} // namespace link

/// Whether frames of this link type can be decoded.
[[nodiscard]] bool link_type_supported(int dlt);

namespace tcp_flag {
inline constexpr std::uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10,
                              urg = 0x20, ece = 0x40, cwr = 0x80;
} // namespace tcp_flag

struct TcpOptions {
    std::optional<std::uint16_t> mss;
    std::optional<std::uint8_t> window_scale;
    bool sack_permitted = false;
    std::optional<std::uint32_t> ts_value, ts_echo;
    bool malformed = false; ///< an option ran past the header: parsing stopped there
};

struct TcpPacket {
    IpAddress src, dst;
    std::uint16_t sport = 0, dport = 0;
    std::uint32_t seq = 0, ack = 0;
    std::uint8_t flags = 0;
    std::uint16_t window = 0;
    std::uint32_t payload = 0; ///< TCP data bytes, from the IP lengths
    std::uint32_t ip_len = 0;  ///< the IP packet's length (header included), from its header
    bool ip_options = false;   ///< the IPv4 header had options (or IPv6 extension headers)
    TcpOptions options;
};

enum class Skip : std::uint8_t {
    none = 0,
    link_type,      ///< a link type this decoder does not know
    truncated_link, ///< shorter than its link-layer header
    not_ip,         ///< ARP, LLDP, … (not IPv4 or IPv6)
    truncated_ip,   ///< shorter than its IP header
    bad_ip,         ///< wrong version, header length, or total length
    fragment,       ///< a non-first fragment: no TCP header in it
    ip_extension,   ///< an IPv6 extension this decoder cannot walk (ESP), or too many
    not_tcp,        ///< UDP, ICMP, …
    truncated_tcp,  ///< shorter than its TCP header (often the snap length)
    bad_tcp,        ///< a data offset below 5 words or past the IP payload
    bad_timestamp,  ///< the frame's time is before 1970 or past 2262 (not the decoder's: the
                    ///< source's)
};
inline constexpr std::size_t kSkipReasons = 12;

[[nodiscard]] std::string_view skip_name(Skip s);
/// A stable key for machine output: "truncated_tcp", "not_ip" (the enumerator's name).
[[nodiscard]] std::string_view skip_key(Skip s);

struct Decoded {
    Skip skip = Skip::none; ///< none: `tcp` holds the packet
    TcpPacket tcp;
};

/// Decodes one frame: `data` is what was captured (pcap's caplen bytes). The frame's length
/// on the wire is not needed: the IP header says how long the packet was.
[[nodiscard]] Decoded decode_frame(int dlt, std::span<const std::byte> data);

} // namespace netdx::capture
