// Every readiness backend reports exactly the ready set, each fd once: hand-built cases with
// pipes, fds above 1024 for select, edge-triggered and one-shot semantics, removal.
#include <algorithm>
#include <fcntl.h>
#include <set>
#include <unistd.h>
#include <vector>

#include <doctest/doctest.h>

#include <netdx/net/backends.hpp>
#include <netdx/sys/fd.hpp>
#include <netdx/sys/limits.hpp>

#include "pipes.hpp"

using namespace netdx;

namespace {

using test::make_pipe;
using test::Pipe;
using test::put;

void drain(const Pipe& p) {
    char buf[256];
    while (::read(p.r.get(), buf, sizeof buf) > 0) {
    }
}

/// Tokens reported by one wait with timeout 0 (io_uring completions may need a moment to
/// post after a write from this thread: a short wait covers that where events are expected).
std::multiset<std::uint64_t> ready(Poller& poller, Nanos timeout = 0) {
    std::vector<PollEvent> ev(64);
    const auto n = poller.wait(ev, timeout);
    std::multiset<std::uint64_t> out;
    for (std::size_t i = 0; i < n; ++i) {
        CHECK(ev[i].readable);
        out.insert(ev[i].token);
    }
    return out;
}

std::vector<Backend> available_backends() {
    std::vector<Backend> out;
    for (const auto b : kAllBackends) {
        const auto p = probe_backend(b);
        if (p.available)
            out.push_back(b);
        else
            MESSAGE(backend_name(b) << " unavailable here: " << p.reason);
    }
    return out;
}

} // namespace

TEST_CASE("backend names round-trip and the basic three are always available") {
    for (const auto b : kAllBackends)
        CHECK(backend_from_name(backend_name(b)) == b);
    CHECK_FALSE(backend_from_name("kqueue").has_value());
    for (const auto b : {Backend::select, Backend::poll, Backend::epoll})
        CHECK(probe_backend(b).available);
}

TEST_CASE("each backend reports exactly the ready set, each fd once") {
    for (const auto b : available_backends()) {
        CAPTURE(backend_name(b));
        auto poller = make_poller(b);
        std::vector<Pipe> pipes;
        for (std::uint64_t i = 0; i < 20; ++i) {
            pipes.push_back(make_pipe());
            poller->add(pipes.back().r.get(), interest::read, 100 + i);
        }
        CHECK(ready(*poller).empty()); // nothing written yet
        const std::set<std::uint64_t> chosen{0, 3, 7, 19};
        for (const auto i : chosen)
            put(pipes[i]);
        const auto got = ready(*poller, 50'000'000);
        std::multiset<std::uint64_t> want;
        for (const auto i : chosen)
            want.insert(100 + i);
        CHECK(got == want);
        for (const auto i : chosen)
            drain(pipes[i]);
        if (poller->oneshot())
            for (const auto i : chosen)
                poller->modify(pipes[i].r.get(), interest::read, 100 + i);
        CHECK(ready(*poller).empty()); // drained: nothing is ready any more
        // A removed fd is never reported, even with data waiting.
        poller->remove(pipes[5].r.get());
        put(pipes[5]);
        put(pipes[6]);
        CHECK(ready(*poller, 50'000'000) == std::multiset<std::uint64_t>{106});
    }
}

TEST_CASE("edge-triggered epoll reports a change once, until the fd is drained") {
    auto poller = make_poller(Backend::epoll_et);
    REQUIRE(poller->edge_triggered());
    auto p = make_pipe();
    poller->add(p.r.get(), interest::read, 1);
    put(p, 2);
    CHECK(ready(*poller).size() == 1);
    CHECK(ready(*poller).empty()); // still readable, but no new edge: level would repeat
    put(p);
    CHECK(ready(*poller).size() == 1); // new data, new edge
    drain(p);
    CHECK(ready(*poller).empty());
    auto level = make_poller(Backend::epoll);
    level->add(p.r.get(), interest::read, 2);
    put(p);
    CHECK(ready(*level).size() == 1);
    CHECK(ready(*level).size() == 1); // level-triggered: reported while readable
}

TEST_CASE("one-shot backends stay quiet after an event until re-armed") {
    for (const auto b : {Backend::epoll_oneshot, Backend::uring_oneshot}) {
        if (!probe_backend(b).available) continue;
        CAPTURE(backend_name(b));
        auto poller = make_poller(b);
        REQUIRE(poller->oneshot());
        auto p = make_pipe();
        poller->add(p.r.get(), interest::read, 9);
        put(p);
        CHECK(ready(*poller, 50'000'000).size() == 1);
        put(p);
        CHECK(ready(*poller, 20'000'000).empty()); // disarmed
        poller->modify(p.r.get(), interest::read, 9);
        CHECK(ready(*poller, 50'000'000).size() == 1); // re-armed, and data is waiting
    }
}

TEST_CASE("one-shot backends: more ready than a wait has room for, the rest come next") {
    // 10 ready, room for 4 per wait: 4, 4, 2, each fd once, none lost or re-armed meanwhile.
    for (const auto b : {Backend::epoll_oneshot, Backend::uring_oneshot}) {
        if (!probe_backend(b).available) continue;
        CAPTURE(backend_name(b));
        auto poller = make_poller(b);
        std::vector<Pipe> pipes;
        for (std::uint64_t i = 0; i < 10; ++i) {
            pipes.push_back(make_pipe());
            poller->add(pipes.back().r.get(), interest::read, i);
            put(pipes.back());
        }
        std::multiset<std::uint64_t> seen;
        std::vector<std::size_t> sizes;
        for (int round = 0; round < 20 && seen.size() < 10; ++round) {
            std::vector<PollEvent> ev(4);
            const auto n = poller->wait(ev, 50'000'000);
            if (n > 0) sizes.push_back(n);
            for (std::size_t i = 0; i < n; ++i)
                seen.insert(ev[i].token);
        }
        CHECK(seen.size() == 10);
        CHECK(std::set<std::uint64_t>(seen.begin(), seen.end()).size() == 10);
        for (const auto n : sizes)
            CHECK(n <= 4);
        std::vector<PollEvent> ev(4);
        CHECK(poller->wait(ev, 20'000'000) == 0); // all disarmed now
    }
}

TEST_CASE("select watches fds above FD_SETSIZE") {
    const auto limit = raise_nofile_to_hard();
    if (limit.soft < 1600) {
        MESSAGE("RLIMIT_NOFILE " << limit.soft << " is too low to place an fd at 1500");
        return;
    }
    auto p = make_pipe();
    Fd high(::fcntl(p.r.get(), F_DUPFD_CLOEXEC, 1500));
    REQUIRE(high.get() >= 1500);
    for (const auto b : {Backend::select, Backend::poll}) {
        auto poller = make_poller(b);
        poller->add(high.get(), interest::read, 77);
        CHECK(ready(*poller).empty());
        put(p);
        CHECK(ready(*poller) == std::multiset<std::uint64_t>{77});
        drain(p);
    }
}
