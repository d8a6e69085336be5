#pragma once
/// Lists of addresses for source-address options:
///   127.0.0.2                 one address
///   127.0.0.2-127.0.0.9       an inclusive range (same family, low <= high)
///   127.0.0.0/29              every address in a CIDR block (network and broadcast included:
///                             on loopback every one of them is usable)
///   a,b,c                     any mix of the above, comma-separated, duplicates removed

#include <cstddef>
#include <string_view>
#include <vector>

#include <netdx/net/ip_address.hpp>

namespace netdx {

struct Cidr {
    IpAddress network; ///< already masked
    unsigned prefix_len = 0;

    /// "10.0.0.0/8", "::1/128", or a bare address (full-length prefix). Throws ParseError.
    [[nodiscard]] static Cidr parse(std::string_view text);
    [[nodiscard]] bool contains(const IpAddress& ip) const;
    [[nodiscard]] std::string to_string() const;
};

/// Expands the list; throws ParseError naming the bad part, or when it would expand to more
/// than `max_addresses` addresses.
[[nodiscard]] std::vector<IpAddress> parse_address_list(std::string_view text,
                                                        std::size_t max_addresses = 65536);

} // namespace netdx
