#include "workload.hpp"

#include <algorithm>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <netdx/net/socket.hpp>
#include <netdx/report/units.hpp>
#include <netdx/sys/limits.hpp>
#include <netdx/sys/system_error.hpp>

namespace netdx::mux {

std::string_view fd_kind_name(FdKind k) {
    switch (k) {
    case FdKind::pipe:
        return "pipe";
    case FdKind::socketpair:
        return "socketpair";
    case FdKind::eventfd:
        return "eventfd";
    case FdKind::tcp:
        return "tcp";
    }
    return "?";
}

std::optional<FdKind> fd_kind_from_name(std::string_view name) {
    for (const auto k : {FdKind::pipe, FdKind::socketpair, FdKind::eventfd, FdKind::tcp})
        if (fd_kind_name(k) == name) return k;
    return std::nullopt;
}

std::size_t fds_per_source(FdKind k) {
    return k == FdKind::eventfd ? 1 : 2;
}

std::size_t max_sources(FdKind k, std::uint64_t free_fds) {
    const std::uint64_t spare = k == FdKind::tcp ? 1 : 0; // the listener, while connecting
    return free_fds > spare ? static_cast<std::size_t>((free_fds - spare) / fds_per_source(k)) : 0;
}

namespace {

[[noreturn]] void fail(const char* what, std::size_t i, std::size_t n, int err = errno) {
    errno = err;
    throw_errno(fmt::format("make {} {} of {}", what, format_count(i + 1), format_count(n)));
}

} // namespace

FdPool::FdPool(FdKind kind, std::size_t n, Placement placement) : kind_(kind) {
    watched_.reserve(n);
    Fd listener;
    Endpoint server;
    if (kind == FdKind::tcp) {
        listener = open_socket(AF_INET, Protocol::tcp, false);
        const Endpoint any(IpAddress::loopback_v4(), 0);
        bind_to(listener.get(), any);
        listen_on(listener.get(), 4096, any);
        server = local_endpoint_of(listener.get());
    }
    for (std::size_t i = 0; i < n; ++i) {
        int p[2] = {-1, -1};
        switch (kind) {
        case FdKind::pipe:
            if (::pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) fail("pipe", i, n);
            break;
        case FdKind::socketpair:
            if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p) != 0)
                fail("socketpair", i, n);
            break;
        case FdKind::eventfd:
            p[0] = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
            if (p[0] < 0) fail("eventfd", i, n);
            break;
        case FdKind::tcp: {
            // Connect, then accept: the backlog holds the handshake meanwhile.
            Fd client = open_socket(AF_INET, Protocol::tcp, true);
            if (const int err = connect_with_timeout(client.get(), server, kNanosPerSecond))
                fail("tcp connection", i, n, err);
            auto accepted = accept_connection(listener.get());
            if (!accepted.fd) fail("tcp connection (accept)", i, n, accepted.error);
            set_int_option(client.get(), IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
            p[0] = accepted.fd.release();
            p[1] = client.release();
            break;
        }
        }
        watched_.emplace_back(p[0]);
        if (p[1] >= 0) triggers_.emplace_back(p[1]);
    }
    listener.reset();
    if (placement == Placement::high && n > 0) {
        // Move each watched fd to the top of the range: F_DUPFD takes the lowest free
        // number at or above the base.
        const auto top =
            static_cast<std::size_t>(std::min<std::uint64_t>(nofile_limit().soft, 1u << 20));
        if (top < n + 1) throw std::system_error(EMFILE, std::generic_category(), "placement high");
        const int base = static_cast<int>(top - n);
        for (auto& w : watched_) {
            const int moved = ::fcntl(w.get(), F_DUPFD_CLOEXEC, base);
            if (moved < 0)
                throw_errno(fmt::format("move fd {} above {} (--placement high)", w.get(), base));
            w.reset(moved);
        }
    }
}

void FdPool::make_ready(std::size_t i) const {
    if (kind_ == FdKind::eventfd) {
        const std::uint64_t one = 1;
        if (::write(watched_[i].get(), &one, sizeof one) != sizeof one)
            throw_errno("write eventfd");
        return;
    }
    const char byte = 'x';
    if (::write(triggers_[i].get(), &byte, 1) != 1) throw_errno("write trigger");
}

void FdPool::consume(std::size_t i) const {
    char buf[64];
    while (::read(watched_[i].get(), buf, sizeof buf) > 0) {
    }
}

} // namespace netdx::mux
