#include <array>
#include <cerrno>
#include <cstring>
#include <istream>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <ostream>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>

#include <netdx/inspect/sock_diag.hpp>
#include <netdx/sys/fd.hpp>
#include <netdx/sys/system_error.hpp>

namespace netdx {

namespace {

template <typename T>
T read_at(std::span<const std::byte> data, std::size_t offset) {
    T v;
    std::memcpy(&v, data.data() + offset, sizeof v); // datagrams need not be aligned for T
    return v;
}

IpAddress address_of(std::uint8_t family, const __be32 (&words)[4]) {
    if (family == AF_INET) return IpAddress::v4(ntohl(words[0]));
    std::array<std::uint8_t, 16> bytes{};
    std::memcpy(bytes.data(), words, 16);
    return IpAddress::v6(bytes);
}

TcpSocket to_socket(const inet_diag_msg& m) {
    TcpSocket s;
    s.state = static_cast<TcpState>(m.idiag_state);
    s.local = SocketAddress(address_of(m.idiag_family, m.id.idiag_src), ntohs(m.id.idiag_sport));
    s.remote = SocketAddress(address_of(m.idiag_family, m.id.idiag_dst), ntohs(m.id.idiag_dport));
    s.recv_q = m.idiag_rqueue;
    s.send_q = m.idiag_wqueue;
    s.uid = m.idiag_uid;
    s.inode = m.idiag_inode;
    s.timer = static_cast<SocketTimer>(m.idiag_timer <= 4 ? m.idiag_timer : 0);
    s.timer_ms = m.idiag_expires;
    s.retransmits = m.idiag_retrans;
    s.cookie = (static_cast<std::uint64_t>(m.id.idiag_cookie[1]) << 32) | m.id.idiag_cookie[0];
    return s;
}

/// Opens a NETLINK_SOCK_DIAG socket and sends one request (`type`: SOCK_DIAG_BY_FAMILY or
/// SOCK_DESTROY) for TCP in `r`'s family, with an optional filter program. Returns 0, or the
/// errno of the failing step in `failed` ("socket" or "sendto").
int send_diag_request(Fd& fd, std::uint16_t type, std::uint16_t flags, inet_diag_req_v2 r,
                      std::span<const std::byte> bytecode, const char*& failed) {
    failed = "socket";
    fd.reset(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!fd) return errno;
    r.sdiag_protocol = IPPROTO_TCP;
    const std::size_t body = NLMSG_ALIGN(NLMSG_LENGTH(sizeof r));
    const std::size_t attr = bytecode.empty() ? 0 : RTA_SPACE(bytecode.size());
    std::vector<std::byte> msg(body + attr);
    nlmsghdr h{};
    h.nlmsg_len = static_cast<std::uint32_t>(msg.size());
    h.nlmsg_type = type;
    h.nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | flags);
    h.nlmsg_seq = 1;
    std::memcpy(msg.data(), &h, sizeof h);
    std::memcpy(msg.data() + NLMSG_HDRLEN, &r, sizeof r);
    if (!bytecode.empty()) {
        rtattr a{};
        a.rta_len = static_cast<unsigned short>(RTA_LENGTH(bytecode.size()));
        a.rta_type = INET_DIAG_REQ_BYTECODE;
        std::memcpy(msg.data() + body, &a, sizeof a);
        std::memcpy(msg.data() + body + RTA_LENGTH(0), bytecode.data(), bytecode.size());
    }
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    failed = "sendto";
    if (retry_eintr([&] {
            return ::sendto(fd.get(), msg.data(), msg.size(), 0,
                            reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
        }) < 0)
        return errno;
    return 0;
}

} // namespace

bool DiagDumpParser::feed(std::span<const std::byte> data) {
    std::size_t off = 0;
    while (off + sizeof(nlmsghdr) <= data.size()) {
        const auto h = read_at<nlmsghdr>(data, off);
        if (h.nlmsg_len < sizeof(nlmsghdr) || off + h.nlmsg_len > data.size())
            throw std::runtime_error(
                fmt::format("sock_diag: truncated netlink message at offset {}", off));
        if (h.nlmsg_type == NLMSG_DONE) {
            done_ = true;
            return false;
        }
        if (h.nlmsg_type == NLMSG_ERROR) {
            int err = 0;
            if (h.nlmsg_len >= sizeof(nlmsghdr) + sizeof(int))
                err = -read_at<int>(data, off + sizeof(nlmsghdr));
            throw std::runtime_error(fmt::format("sock_diag: the kernel answered {} ({})",
                                                 errno_name(err), std::strerror(err)));
        }
        if (h.nlmsg_type == SOCK_DIAG_BY_FAMILY &&
            h.nlmsg_len >= NLMSG_LENGTH(sizeof(inet_diag_msg))) {
            const std::size_t body = off + NLMSG_HDRLEN;
            TcpSocket s = to_socket(read_at<inet_diag_msg>(data, body));
            // Attributes follow the message: tcp_info (idle times) and the cgroup id.
            std::size_t a = body + NLMSG_ALIGN(sizeof(inet_diag_msg));
            const std::size_t end = off + h.nlmsg_len;
            while (a + sizeof(rtattr) <= end) {
                const auto attr = read_at<rtattr>(data, a);
                if (attr.rta_len < sizeof(rtattr) || a + attr.rta_len > end) break;
                const std::size_t payload = a + RTA_LENGTH(0);
                const std::size_t len = attr.rta_len - RTA_LENGTH(0);
                // tcp_info grows across kernels: read the fields we need only if present.
                if (attr.rta_type == INET_DIAG_INFO &&
                    len >= offsetof(tcp_info, tcpi_last_ack_recv) + sizeof(std::uint32_t)) {
                    TcpIdle idle;
                    idle.last_data_sent_ms = read_at<std::uint32_t>(
                        data, payload + offsetof(tcp_info, tcpi_last_data_sent));
                    idle.last_data_recv_ms = read_at<std::uint32_t>(
                        data, payload + offsetof(tcp_info, tcpi_last_data_recv));
                    idle.last_ack_recv_ms = read_at<std::uint32_t>(
                        data, payload + offsetof(tcp_info, tcpi_last_ack_recv));
                    s.idle = idle;
                } else if (attr.rta_type == INET_DIAG_CGROUP_ID && len >= sizeof(std::uint64_t)) {
                    s.cgroup_id = read_at<std::uint64_t>(data, payload);
                }
                a += RTA_ALIGN(attr.rta_len);
            }
            ++records_;
            sink_(s);
        }
        off += NLMSG_ALIGN(h.nlmsg_len);
    }
    return true;
}

DiagResult dump_tcp_sockets(const DiagRequest& request, const SocketSink& sink,
                            const DatagramTap& tap) {
    DiagResult result;
    inet_diag_req_v2 r{};
    r.sdiag_family = static_cast<std::uint8_t>(request.family);
    r.idiag_states = request.states;
    if (request.tcp_info) r.idiag_ext = 1 << (INET_DIAG_INFO - 1);
    Fd fd;
    const char* failed = "";
    if (const int err =
            send_diag_request(fd, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, r, request.bytecode, failed)) {
        result.error =
            std::string_view(failed) == "socket"
                ? fmt::format("cannot open a NETLINK_SOCK_DIAG socket: {}", std::strerror(err))
                : fmt::format("sock_diag request refused: {}", std::strerror(err));
        return result;
    }
    result.ok = true;
    DiagDumpParser parser(sink);
    // 32 KiB per datagram is what the kernel fills at most for a dump; a bigger buffer
    // would only go unused.
    std::vector<std::byte> buf(64 * 1024);
    for (;;) {
        const auto n = retry_eintr([&] { return ::recv(fd.get(), buf.data(), buf.size(), 0); });
        if (n < 0) throw_errno("receive a sock_diag dump");
        if (n == 0) break;
        const std::span<const std::byte> datagram(buf.data(), static_cast<std::size_t>(n));
        result.bytes += static_cast<std::uint64_t>(n);
        if (tap) tap(datagram);
        if (!parser.feed(datagram)) break;
    }
    result.records = parser.records();
    return result;
}

int destroy_tcp_socket(const TcpSocket& socket) {
    inet_diag_req_v2 r{};
    r.sdiag_family = static_cast<std::uint8_t>(socket.local.ip().is_v4() ? AF_INET : AF_INET6);
    r.idiag_states = kAllStates;
    r.id.idiag_sport = htons(socket.local.port());
    r.id.idiag_dport = htons(socket.remote.port());
    std::memcpy(r.id.idiag_src, socket.local.ip().bytes(), socket.local.ip().size());
    std::memcpy(r.id.idiag_dst, socket.remote.ip().bytes(), socket.remote.ip().size());
    r.id.idiag_cookie[0] = static_cast<std::uint32_t>(socket.cookie);
    r.id.idiag_cookie[1] = static_cast<std::uint32_t>(socket.cookie >> 32);
    if (socket.cookie == 0) r.id.idiag_cookie[0] = r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    Fd fd;
    const char* failed = "";
    if (const int err = send_diag_request(fd, SOCK_DESTROY, NLM_F_ACK, r, {}, failed)) return err;
    std::array<std::byte, 4096> buf;
    const auto n = retry_eintr([&] { return ::recv(fd.get(), buf.data(), buf.size(), 0); });
    if (n < static_cast<ssize_t>(sizeof(nlmsghdr) + sizeof(int))) return n < 0 ? errno : EPROTO;
    const std::span<const std::byte> reply(buf.data(), static_cast<std::size_t>(n));
    const auto h = read_at<nlmsghdr>(reply, 0);
    if (h.nlmsg_type != NLMSG_ERROR) return EPROTO;
    return -read_at<int>(reply, sizeof(nlmsghdr)); // the ACK: 0, or -errno
}

void write_recorded_datagram(std::ostream& out, std::span<const std::byte> datagram) {
    const auto n = static_cast<std::uint32_t>(datagram.size());
    const unsigned char len[4] = {static_cast<unsigned char>(n), static_cast<unsigned char>(n >> 8),
                                  static_cast<unsigned char>(n >> 16),
                                  static_cast<unsigned char>(n >> 24)};
    out.write(reinterpret_cast<const char*>(len), 4);
    out.write(reinterpret_cast<const char*>(datagram.data()),
              static_cast<std::streamsize>(datagram.size()));
}

std::size_t replay_recording(std::istream& in, DiagDumpParser& parser) {
    std::size_t count = 0;
    std::vector<std::byte> buf;
    for (;;) {
        unsigned char len[4];
        if (!in.read(reinterpret_cast<char*>(len), 4)) {
            if (in.gcount() == 0) break;
            throw std::runtime_error("sock_diag recording: truncated length");
        }
        const std::uint32_t n = std::uint32_t{len[0]} | (std::uint32_t{len[1]} << 8) |
                                (std::uint32_t{len[2]} << 16) | (std::uint32_t{len[3]} << 24);
        buf.resize(n);
        if (!in.read(reinterpret_cast<char*>(buf.data()), n))
            throw std::runtime_error(
                fmt::format("sock_diag recording: datagram {} truncated", count + 1));
        ++count;
        if (!parser.feed(buf)) break;
    }
    return count;
}

} // namespace netdx
