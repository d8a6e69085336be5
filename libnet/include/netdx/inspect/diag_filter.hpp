#pragma once
/// A socket filter the kernel runs during a sock_diag dump (INET_DIAG_REQ_BYTECODE), so the
/// sockets that do not match are never copied to user space: ports, port ranges and address
/// prefixes, all required (AND).
///
/// The kernel's filter language is a little program of ops; each op tests one condition and
/// jumps `yes` bytes forward when it holds, `no` bytes when it does not. The socket matches
/// when the program runs off its exact end, and is rejected by a jump 4 bytes past the end:
///
///   offset 0          8          16                       32        (len = 32)
///          | S_GE lo  | S_LE hi  | D_COND family/prefix   |
///   yes:   +8 ------> +8 ------> +16 --------------------> end: match
///   no:    len-0+4    len-8+4    len-16+4                 (all land at len+4: reject)
///
/// Each port test takes two ops (the second only carries the port in its `no` field); an
/// address test is an op, an inet_diag_hostcond and the address bytes. A list of ports is a
/// chain: port i's tests jump past the chain when they hold and on to port i+1 when not, the
/// last one's to the reject. An IPv4 prefix also
/// matches IPv4-mapped addresses (::ffff:a.b.c.d) of IPv6 sockets, as in the kernel.

#include <cstddef>
#include <optional>
#include <vector>

#include <netdx/inspect/tcp_socket.hpp>
#include <netdx/net/address_list.hpp>
#include <netdx/sys/limits.hpp>

namespace netdx {

struct DiagFilter {
    std::optional<PortRange> sport, dport; ///< local and remote port (inclusive range)
    std::optional<Cidr> src, dst;          ///< local and remote address prefix
    /// The local port is one of these (an OR of tests: a server listening on several ports
    /// whose range would take in the clients' ephemeral ports too). Empty: not tested.
    std::vector<std::uint16_t> sport_any;

    [[nodiscard]] bool empty() const {
        return !sport && !dport && !src && !dst && sport_any.empty();
    }
    /// Whether any socket of this address family (AF_INET, AF_INET6) can match: an IPv6
    /// prefix never matches an IPv4 socket, so that dump can be skipped.
    [[nodiscard]] bool can_match(int family) const;
    /// The same test in user space (the /proc fallback, and a check of the kernel's answer).
    [[nodiscard]] bool matches(const TcpSocket& s) const;
};

/// The bytecode (the same for both families); empty when the filter is empty.
[[nodiscard]] std::vector<std::byte> compile_diag_filter(const DiagFilter& filter);

} // namespace netdx
