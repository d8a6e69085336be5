#pragma once
// Non-blocking pipes for the poller and event-loop tests: a readiness source with no
// network in it.
#include <fcntl.h>
#include <string>
#include <unistd.h>

#include <doctest/doctest.h>

#include <netdx/sys/fd.hpp>

namespace netdx::test {

struct Pipe {
    Fd r, w;
};

inline Pipe make_pipe() {
    int p[2];
    REQUIRE(::pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    return Pipe{Fd(p[0]), Fd(p[1])};
}

inline void put(const Pipe& p, std::size_t n = 1) {
    const std::string bytes(n, 'x');
    REQUIRE(::write(p.w.get(), bytes.data(), n) == static_cast<ssize_t>(n));
}

} // namespace netdx::test
