#include "demo.hpp"

#include <chrono>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include <netdx/net/endpoint.hpp>
#include <netdx/net/socket.hpp>

namespace netdx::trace {

namespace {

const IpAddress kLoopback = IpAddress::loopback_v4();

void pause() {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

Fd connect_to(std::uint16_t port, int* error = nullptr) {
    Fd fd = open_socket(AF_INET, Protocol::tcp, true);
    const int err = connect_with_timeout(fd.get(), Endpoint(kLoopback, port), 2 * kNanosPerSecond);
    if (error) *error = err;
    return fd;
}

/// Waits for the listener's next connection (accept_connection does not block).
Fd accept_one(int listen_fd) {
    pollfd p{listen_fd, POLLIN, 0};
    ::poll(&p, 1, 2000);
    return std::move(accept_connection(listen_fd).fd);
}

/// Reads until `want` bytes or EOF (want 0: until EOF), 2 s at most.
void read_some(int fd, std::size_t want) {
    char buf[256];
    std::size_t got = 0;
    for (int i = 0; i < 200; ++i) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 10) <= 0) continue;
        const auto n = ::read(fd, buf, sizeof buf);
        if (n <= 0) return;
        got += static_cast<std::size_t>(n);
        if (want != 0 && got >= want) return;
    }
}

void write_text(int fd, std::string_view s) {
    [[maybe_unused]] const auto n = ::write(fd, s.data(), s.size());
}

} // namespace

Demo::Demo() : listener_(open_socket(AF_INET, Protocol::tcp, true)) {
    listen_on(listener_.get(), 16, Endpoint(kLoopback, 0));
    port_ = local_endpoint_of(listener_.get()).port();
    // A port that was free a moment ago: bound, never listened on, released.
    Fd probe = open_socket(AF_INET, Protocol::tcp, true);
    bind_to(probe.get(), Endpoint(kLoopback, 0));
    closed_port_ = local_endpoint_of(probe.get()).port();
}

std::string Demo::filter() const {
    return fmt::format("tcp and host 127.0.0.1 and (port {} or port {})", port_, closed_port_);
}

void Demo::run() {
    // 1. The client closes first: it will hold TIME_WAIT.
    {
        Fd c = connect_to(port_);
        Fd s = accept_one(listener_.get());
        write_text(c.get(), "hello");
        read_some(s.get(), 5);
        write_text(s.get(), "hello");
        read_some(c.get(), 5);
        pause();
        c.reset();
        read_some(s.get(), 0);
    }
    pause();
    // 2. The server closes first: TIME_WAIT moves to the server.
    {
        Fd c = connect_to(port_);
        Fd s = accept_one(listener_.get());
        write_text(s.get(), "bye\r\n");
        pause();
        s.reset();
        read_some(c.get(), 0);
    }
    pause();
    // 3. Refused: nothing listens there; the kernel answers the SYN with a RST.
    {
        int err = 0;
        Fd c = connect_to(closed_port_, &err);
    }
    pause();
    // 4. The client aborts: SO_LINGER 0 turns close() into a RST.
    {
        Fd c = connect_to(port_);
        Fd s = accept_one(listener_.get());
        write_text(c.get(), "ping");
        read_some(s.get(), 4);
        pause();
        ::linger l{1, 0};
        ::setsockopt(c.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
        c.reset();
        pause();
    }
    finished_.store(true);
}

} // namespace netdx::trace
