#pragma once
/// TCP socket enumeration through sock_diag netlink: one SOCK_DIAG_BY_FAMILY dump per address
/// family, the kernel filtering by state, records streamed to a callback as each datagram
/// arrives (nothing is built per socket but the record itself).
///
///   request:  nlmsghdr | inet_diag_req_v2 (family, IPPROTO_TCP, states, ext=INFO)
///             [ | rtattr(INET_DIAG_REQ_BYTECODE: the filter program, see diag_filter.hpp) ]
///   reply:    datagram = nlmsghdr | inet_diag_msg | rtattr(INET_DIAG_INFO: tcp_info)
///                                                 | rtattr(INET_DIAG_CGROUP_ID: u64) ...
///                        nlmsghdr | inet_diag_msg | ...
///             ... until NLMSG_DONE (or NLMSG_ERROR)
///
/// Test seam (after iproute2): DiagDumpParser parses datagrams from any source, so tests
/// replay dumps recorded on a real machine (DiagRecorder's format: per datagram, a 4-byte
/// little-endian length and the bytes).
///
/// Errors: a socket that cannot be opened (no netlink in this kernel or namespace) comes back
/// as a value, so the caller can fall back to /proc/net/tcp; a malformed reply throws
/// std::runtime_error naming the offset. Thread safety: one dump per thread at a time.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <span>
#include <string>
#include <vector>

#include <netdx/inspect/tcp_socket.hpp>

namespace netdx {

using SocketSink = std::function<void(const TcpSocket&)>;

/// Parses reply datagrams of one dump.
class DiagDumpParser {
public:
    explicit DiagDumpParser(SocketSink sink) : sink_(std::move(sink)) {}
    /// Feeds one datagram; returns false once NLMSG_DONE was seen. Throws std::runtime_error
    /// on NLMSG_ERROR (with the kernel's errno) or a truncated message.
    bool feed(std::span<const std::byte> datagram);
    [[nodiscard]] std::uint64_t records() const { return records_; }
    [[nodiscard]] bool done() const { return done_; }

private:
    SocketSink sink_;
    std::uint64_t records_ = 0;
    bool done_ = false;
};

struct DiagRequest {
    int family = 0; ///< AF_INET or AF_INET6
    StateMask states = kAllStates;
    bool tcp_info = true;            ///< ask for INET_DIAG_INFO (idle times); costs ~230 bytes each
    std::vector<std::byte> bytecode; ///< a kernel-side filter (compile_diag_filter), or none
};

struct DiagResult {
    bool ok = false;   ///< false: netlink was not available (see error); nothing was read
    std::string error; ///< why, for a "falling back to /proc/net/tcp" note
    std::uint64_t records = 0;
    std::uint64_t bytes = 0;
};

/// Optional tap on the received datagrams, to record a fixture.
using DatagramTap = std::function<void(std::span<const std::byte>)>;

/// Runs one dump. Throws std::system_error if the dump fails after the socket opened.
DiagResult dump_tcp_sockets(const DiagRequest& request, const SocketSink& sink,
                            const DatagramTap& tap = {});

/// Destroys one socket (SOCK_DESTROY, identified by its 4-tuple and cookie): the kernel
/// sends an RST and frees it. Returns 0 or the errno: EPERM without CAP_NET_ADMIN,
/// EOPNOTSUPP on a kernel without CONFIG_INET_DIAG_DESTROY, ENOENT when it is already gone.
[[nodiscard]] int destroy_tcp_socket(const TcpSocket& socket);

/// Recording format helpers: write one datagram; replay a whole recording into a parser.
void write_recorded_datagram(std::ostream& out, std::span<const std::byte> datagram);
/// Returns the number of datagrams replayed; throws std::runtime_error on a truncated file.
std::size_t replay_recording(std::istream& in, DiagDumpParser& parser);

} // namespace netdx
