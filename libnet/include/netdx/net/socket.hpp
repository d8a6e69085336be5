#pragma once
/// Socket helpers. Unexpected failures throw std::system_error naming what was being done and
/// to which address ("bind 127.0.0.1:7007: Address already in use"); outcomes a caller must
/// expect come back as values:
///
///   call        expected (returned)                          unexpected (thrown)
///   connect     EINPROGRESS ECONNREFUSED ETIMEDOUT           EBADF ENOTSOCK EFAULT …
///               EADDRNOTAVAIL EHOSTUNREACH ENETUNREACH
///               ECONNRESET EAGAIN
///   accept      EAGAIN ECONNABORTED EMFILE ENFILE ENOBUFS     EBADF EINVAL ENOTSOCK …
///               ENOMEM EPROTO EPERM

#include <string>

#include <netdx/net/endpoint.hpp>
#include <netdx/sys/clock.hpp>
#include <netdx/sys/fd.hpp>

namespace netdx {

enum class Protocol { tcp, udp };

/// A new socket for `family` (AF_INET, AF_INET6), close-on-exec, non-blocking if asked.
[[nodiscard]] Fd open_socket(int family, Protocol protocol, bool nonblocking);

/// setsockopt of an int option; throws naming `what` ("TCP_NODELAY").
void set_int_option(int fd, int level, int name, int value, const char* what);
/// getsockopt of an int option (-1 when it cannot be read).
[[nodiscard]] int get_int_option(int fd, int level, int name);

void bind_to(int fd, const Endpoint& local);
void listen_on(int fd, int backlog, const Endpoint& local);
[[nodiscard]] Endpoint local_endpoint_of(int fd);
[[nodiscard]] Endpoint peer_endpoint_of(int fd);

/// Starts a connect; returns 0 (connected), EINPROGRESS or an expected errno.
[[nodiscard]] int start_connect(int fd, const Endpoint& remote);

/// SO_ERROR: the result of a non-blocking connect once the socket is writable.
[[nodiscard]] int pending_error(int fd);

/// Connects a non-blocking socket and waits up to `timeout` for the handshake: 0 when
/// connected, ETIMEDOUT when it did not finish in time, or the expected errno it failed with.
[[nodiscard]] int connect_with_timeout(int fd, const Endpoint& remote, Nanos timeout);

struct Accepted {
    Fd fd;         ///< valid on success
    int error = 0; ///< an expected errno when fd is invalid
};
/// accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC.
[[nodiscard]] Accepted accept_connection(int listen_fd);

/// The socket options actually in effect, as text for reports ("TCP_NODELAY=1 SO_RCVBUF=…").
[[nodiscard]] std::string describe_socket_options(int fd, Protocol protocol);

} // namespace netdx
