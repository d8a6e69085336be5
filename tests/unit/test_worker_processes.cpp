#include <poll.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <doctest/doctest.h>

#include <netdx/sys/worker_processes.hpp>

using namespace netdx;

namespace {

/// Child body: posts progress until told to stop, then sends a final line and exits
/// with 10 + its index.
[[noreturn]] void serve_until_stopped(WorkerChannel& ch) {
    for (int i = 0; !ch.stop_requested() && i < 500; ++i) { // bounded: 5 s at most
        ch.post("progress " + std::to_string(ch.index()));
        pollfd p{ch.control_fd(), POLLIN, 0};
        ::poll(&p, 1, 10);
    }
    ch.send("final " + std::to_string(ch.index()) + " " + std::string(100'000, 'x'));
    ::_exit(10 + ch.index());
}

} // namespace

TEST_CASE("worker processes report lines and stop when the control pipe closes") {
    WorkerProcesses group;
    for (int i = 0; i < 3; ++i)
        if (auto ch = group.fork_worker()) serve_until_stopped(*ch);
    REQUIRE(group.size() == 3);

    std::vector<int> progress(3), finals(3);
    auto on_line = [&](std::size_t i, std::string_view line) {
        if (line.starts_with("progress ")) {
            CHECK(line == "progress " + std::to_string(i)); // lines arrive whole, per child
            ++progress[i];
        } else {
            REQUIRE(line.starts_with("final "));
            CHECK(line.size() == 8 + 100'000); // a long line arrives whole, not cut
            ++finals[i];
        }
    };
    for (int round = 0; round < 200 && (progress[0] == 0 || progress[1] == 0 || progress[2] == 0);
         ++round) {
        ::usleep(10'000);
        group.drain(on_line);
    }
    for (int i = 0; i < 3; ++i)
        CHECK(progress[static_cast<std::size_t>(i)] > 0);

    // Each child must see EOF on its own control pipe: if a later sibling had inherited the
    // write end, the first children would run their full 5 s and be killed.
    const Nanos t0 = monotonic_ns();
    group.request_stop();
    const auto exits = group.wait_all(3 * kNanosPerSecond, on_line);
    CHECK(monotonic_ns() - t0 < 2 * kNanosPerSecond);
    REQUIRE(exits.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK_FALSE(exits[i].killed);
        REQUIRE(WIFEXITED(exits[i].status));
        CHECK(WEXITSTATUS(exits[i].status) == 10 + static_cast<int>(i));
        CHECK(finals[i] == 1);
    }
    CHECK(group.size() == 0);
}

TEST_CASE("a worker that ignores the stop is killed after the grace period") {
    WorkerProcesses group;
    if (auto ch = group.fork_worker()) {
        ::sleep(30); // ignores its control pipe
        ::_exit(0);
    }
    group.request_stop();
    const auto exits = group.wait_all(200 * kNanosPerMilli, [](std::size_t, std::string_view) {});
    REQUIRE(exits.size() == 1);
    CHECK(exits[0].killed);
    CHECK(WIFSIGNALED(exits[0].status));
}
