#include <csignal>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/eventfd.h>
#include <unistd.h>
#include <vector>

#include <doctest/doctest.h>

#include <netdx/sys/worker_processes.hpp>

using namespace netdx;

namespace {

/// Posts progress until told to stop, then sends a long result and exits with 10 + its index.
int serve_until_stopped(WorkerChannel& ch) {
    for (int i = 0; !ch.stop_requested() && i < 500; ++i) { // bounded: 5 s at most
        ch.progress(std::to_string(ch.index()));
        pollfd p{ch.control_fd(), POLLIN, 0};
        ::poll(&p, 1, 10);
    }
    ch.result(std::to_string(ch.index()) + " " + std::string(100'000, 'x'));
    return 10 + ch.index();
}

std::vector<WorkerOutcome> run_one(const WorkerProcesses::Work& work,
                                   std::vector<std::string>* events = nullptr) {
    WorkerProcesses group;
    group.spawn(work);
    return group.wait_all(5 * kNanosPerSecond, [&](const WorkerMessage& m) {
        if (events && m.kind == WorkerMessageKind::event) events->emplace_back(m.payload);
    });
}

} // namespace

TEST_CASE("workers report typed messages and stop when the control pipe closes") {
    WorkerProcesses group;
    for (int i = 0; i < 3; ++i)
        CHECK(group.spawn(serve_until_stopped) == static_cast<std::size_t>(i));
    REQUIRE(group.size() == 3);

    std::vector<int> progress(3), results(3);
    auto on_message = [&](const WorkerMessage& m) {
        REQUIRE(m.worker < 3);
        if (m.kind == WorkerMessageKind::progress) {
            CHECK(m.payload == std::to_string(m.worker)); // whole, and from its own worker
            ++progress[m.worker];
        } else {
            REQUIRE(m.kind == WorkerMessageKind::result);
            CHECK(m.payload.size() == 2 + 100'000); // a long message arrives whole, not cut
            ++results[m.worker];
        }
    };
    for (int round = 0; round < 200 && (progress[0] == 0 || progress[1] == 0 || progress[2] == 0);
         ++round) {
        ::usleep(10'000);
        group.drain(on_message);
    }
    for (std::size_t i = 0; i < 3; ++i)
        CHECK(progress[i] > 0);

    // Each child must see EOF on its own control pipe: if a later sibling had inherited the
    // write end, the first children would run their full 5 s and be killed.
    group.request_stop();
    const auto outcomes = group.wait_all(30 * kNanosPerSecond, on_message);
    REQUIRE(outcomes.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(outcomes[i].index == i);
        CHECK(outcomes[i].how == WorkerOutcome::How::exited);
        CHECK(outcomes[i].exit_code == 10 + static_cast<int>(i));
        CHECK(outcomes[i].sent_result);
        CHECK(results[i] == 1);
    }
    CHECK(group.size() == 0);
}

TEST_CASE("a worker that ignores the stop is killed after the grace period") {
    WorkerProcesses group;
    group.spawn([](WorkerChannel&) {
        ::sleep(30); // ignores its control pipe
        return 0;
    });
    group.request_stop();
    const auto outcomes = group.wait_all(200 * kNanosPerMilli, [](const WorkerMessage&) {});
    REQUIRE(outcomes.size() == 1);
    CHECK(outcomes[0].how == WorkerOutcome::How::killed);
    CHECK(outcomes[0].describe().find("did not stop when asked, and was killed") !=
          std::string::npos);
}

TEST_CASE("how a worker ended is classified once") {
    SUBCASE("finished: exit 0, with its result") {
        const auto o = run_one([](WorkerChannel& ch) {
            ch.result("{}");
            return 0;
        });
        CHECK(o.at(0).how == WorkerOutcome::How::finished);
        CHECK(o.at(0).ok());
        CHECK(o.at(0).sent_result);
    }
    SUBCASE("failed: an exception becomes an error message and exit 1") {
        const auto o = run_one([](WorkerChannel&) -> int { throw std::runtime_error("no route"); });
        CHECK(o.at(0).how == WorkerOutcome::How::failed);
        CHECK(o.at(0).exit_code == 1);
        CHECK(o.at(0).error == "no route");
        CHECK(o.at(0).describe().find("failed: no route") != std::string::npos);
    }
    SUBCASE("failed: an error message, whatever the exit status") {
        const auto o = run_one([](WorkerChannel& ch) {
            ch.error("line one\nline two"); // one message: the newline travels as a space
            return 3;
        });
        CHECK(o.at(0).how == WorkerOutcome::How::failed);
        CHECK(o.at(0).exit_code == 3);
        CHECK(o.at(0).error == "line one line two");
    }
    SUBCASE("exited: non-zero without a word") {
        const auto o = run_one([](WorkerChannel&) { return 4; });
        CHECK(o.at(0).how == WorkerOutcome::How::exited);
        CHECK(o.at(0).describe().find("exited 4 without saying why") != std::string::npos);
    }
    SUBCASE("crashed: a signal that was not ours") {
        const auto o = run_one([](WorkerChannel&) {
            ::signal(SIGTERM, SIG_DFL);
            ::raise(SIGTERM);
            return 0;
        });
        CHECK(o.at(0).how == WorkerOutcome::How::crashed);
        CHECK(o.at(0).signal == SIGTERM);
        CHECK(o.at(0).describe().find("died of signal 15") != std::string::npos);
    }
    SUBCASE("events arrive in order, and always") {
        std::vector<std::string> events;
        const auto o = run_one(
            [](WorkerChannel& ch) {
                for (int i = 0; i < 1000; ++i)
                    ch.event("e" + std::to_string(i));
                return 0;
            },
            &events);
        CHECK(o.at(0).ok());
        REQUIRE(events.size() == 1000);
        CHECK(events.front() == "e0");
        CHECK(events.back() == "e999");
    }
}

TEST_CASE("progress is dropped whole when the parent is slow, never cut") {
    // The child says on an eventfd of its own when its first progress message was dropped;
    // the parent reads nothing before that, so the pipe is surely full.
    const int dropped_fd = ::eventfd(0, EFD_CLOEXEC);
    REQUIRE(dropped_fd >= 0);
    WorkerProcesses group;
    group.spawn([&](WorkerChannel& ch) {
        const std::string payload(1000, 'p');
        // Until the first drop, then 100 more tries whatever they give: a bounded amount of
        // work however fast the parent reads once it starts (a bound on drops alone made a
        // slow machine send 100,000 messages while the parent kept the pipe from filling).
        int sent = 0, dropped = 0, after = 0;
        for (int i = 0; i < 100'000 && after < 100; ++i) {
            if (ch.progress(payload)) {
                ++sent;
            } else if (++dropped == 1) {
                const std::uint64_t one = 1;
                (void)::write(dropped_fd, &one, sizeof one);
            }
            if (dropped > 0) ++after;
        }
        ch.result(std::to_string(sent));
        return 0;
    });
    pollfd p{dropped_fd, POLLIN, 0};
    REQUIRE(::poll(&p, 1, 10'000) == 1);
    std::size_t whole = 0, cut = 0;
    std::string result;
    const auto o = group.wait_all(10 * kNanosPerSecond, [&](const WorkerMessage& m) {
        if (m.kind == WorkerMessageKind::progress) (m.payload.size() == 1000 ? whole : cut) += 1;
        if (m.kind == WorkerMessageKind::result) result = std::string(m.payload);
    });
    ::close(dropped_fd);
    CHECK(o.at(0).ok());
    CHECK(cut == 0);
    REQUIRE_FALSE(result.empty());
    CHECK(whole == std::stoul(result)); // every message it did not drop arrived, whole
    CHECK(whole > 0);
}
