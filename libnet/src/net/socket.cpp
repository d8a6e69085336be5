#include <algorithm>
#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include <netdx/net/socket.hpp>
#include <netdx/sys/system_error.hpp>

namespace netdx {

Fd open_socket(int family, Protocol protocol, bool nonblocking) {
    int type = (protocol == Protocol::tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC;
    if (nonblocking) type |= SOCK_NONBLOCK;
    const int fd = ::socket(family, type, 0);
    if (fd < 0)
        throw_errno(fmt::format("socket({}, {})", family == AF_INET6 ? "AF_INET6" : "AF_INET",
                                protocol == Protocol::tcp ? "TCP" : "UDP"));
    return Fd(fd);
}

void set_int_option(int fd, int level, int name, int value, const char* what) {
    if (::setsockopt(fd, level, name, &value, sizeof value) != 0)
        throw_errno(fmt::format("setsockopt {}={}", what, value));
}

int get_int_option(int fd, int level, int name) {
    int value = 0;
    socklen_t len = sizeof value;
    if (::getsockopt(fd, level, name, &value, &len) != 0) return -1;
    return value;
}

void bind_to(int fd, const Endpoint& local) {
    if (::bind(fd, local.sockaddr_ptr(), local.sockaddr_len()) != 0)
        throw_errno(fmt::format("bind {}", local.to_string()));
}

void listen_on(int fd, int backlog, const Endpoint& local) {
    if (::listen(fd, backlog) != 0) throw_errno(fmt::format("listen {}", local.to_string()));
}

Endpoint local_endpoint_of(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) throw_errno("getsockname");
    return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

Endpoint peer_endpoint_of(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) throw_errno("getpeername");
    return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

int start_connect(int fd, const Endpoint& remote) {
    const int rc =
        retry_eintr([&] { return ::connect(fd, remote.sockaddr_ptr(), remote.sockaddr_len()); });
    if (rc == 0) return 0;
    switch (errno) {
    case EINPROGRESS:
    case ECONNREFUSED:
    case ETIMEDOUT:
    case EADDRNOTAVAIL:
    case EADDRINUSE:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ECONNRESET:
    case EAGAIN:
    case ENOBUFS:
    case EPERM: // a firewall rule
        return errno;
    default:
        throw_errno(fmt::format("connect {}", remote.to_string()));
    }
}

int pending_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
    return err;
}

int connect_with_timeout(int fd, const Endpoint& remote, Nanos timeout) {
    int err = start_connect(fd, remote);
    if (err != EINPROGRESS) return err;
    pollfd p{fd, POLLOUT, 0};
    const int ms = static_cast<int>(std::max<Nanos>(timeout / kNanosPerMilli, 1));
    const int rc = retry_eintr([&] { return ::poll(&p, 1, ms); });
    if (rc < 0) throw_errno(fmt::format("poll while connecting to {}", remote.to_string()));
    return rc == 0 ? ETIMEDOUT : pending_error(fd);
}

Accepted accept_connection(int listen_fd) {
    for (;;) {
        const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) return {Fd(fd), 0};
        switch (errno) {
        case EINTR:
            continue;
        case EAGAIN:
        case ECONNABORTED:
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
        case EPROTO:
        case EPERM:
            return {Fd(), errno};
        default:
            throw_errno("accept");
        }
    }
}

std::string describe_socket_options(int fd, Protocol protocol) {
    std::string s;
    if (protocol == Protocol::tcp)
        s += fmt::format("TCP_NODELAY={} ", get_int_option(fd, IPPROTO_TCP, TCP_NODELAY));
    s += fmt::format("SO_RCVBUF={} SO_SNDBUF={}", get_int_option(fd, SOL_SOCKET, SO_RCVBUF),
                     get_int_option(fd, SOL_SOCKET, SO_SNDBUF));
    const int busy = get_int_option(fd, SOL_SOCKET, SO_BUSY_POLL);
    if (busy > 0) s += fmt::format(" SO_BUSY_POLL={}us", busy);
    return s;
}

} // namespace netdx
