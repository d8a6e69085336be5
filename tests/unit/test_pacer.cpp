// The open-loop schedule: constant spacing exact over long runs, Poisson spacing at its mean
// rate, and skip_to giving up exactly the sends a sender that fell behind can no longer make.
#include <algorithm>
#include <cstdlib>
#include <vector>

#include <doctest/doctest.h>

#include <netdx/measure/pacer.hpp>

using namespace netdx;

TEST_CASE("a constant schedule keeps the exact rate, fractions of a nanosecond carried") {
    Pacer p(3.0, 1000); // every 333,333,333.3 ns
    Nanos last = 0;
    for (int i = 0; i < 3'000; ++i)
        last = p.next();
    // The 3,000th send: 2,999 gaps of 333,333,333.33 ns; after 1,000 s within a nanosecond.
    CHECK(last == 1000 + 999'666'666'666);
    CHECK(std::abs(p.peek() - (1000 + 1'000'000'000'000)) <= 1);
    CHECK(p.issued() == 3'000);
}

TEST_CASE("skip_to gives up exactly the sends scheduled before now") {
    Pacer p(1000.0, 0); // every 1 ms
    CHECK(p.skip_to(0) == 0);
    CHECK(p.skip_to(-5) == 0);
    CHECK(p.skip_to(1) == 1); // the one at 0
    CHECK(p.peek() == 1'000'000);
    CHECK(p.skip_to(5'000'000) == 4); // 1, 2, 3 and 4 ms; 5 ms is not before now
    CHECK(p.peek() == 5'000'000);
    CHECK(p.skip_to(7'500'000) == 3); // 5, 6, 7 ms
    CHECK(p.peek() == 8'000'000);
    CHECK(p.skipped() == 8);
    CHECK(p.next() == 8'000'000);
    CHECK(p.issued() == 1); // skipped sends are not issued
}

TEST_CASE("skip_to at a rate the machine cannot reach stays bounded and exact") {
    Pacer p(1e9, 0); // one per ns
    CHECK(p.skip_to(2'000'000'000) == 2'000'000'000ULL);
    CHECK(p.peek() == 2'000'000'000);
}

TEST_CASE("Poisson arrivals keep the mean rate, and skipping keeps it too") {
    Pacer p(10'000.0, 0, true, 42); // mean gap 100 us
    Nanos t = 0;
    for (int i = 0; i < 100'000; ++i)
        t = p.next();
    const double rate = 100'000.0 / (static_cast<double>(t) / 1e9);
    CHECK(rate == doctest::Approx(10'000).epsilon(0.02));
    // Ten seconds skipped: about 100,000 sends given up, and the schedule resumes at now.
    const Nanos now = t + 10'000'000'000;
    const auto skipped = p.skip_to(now);
    CHECK(static_cast<double>(skipped) == doctest::Approx(100'000).epsilon(0.02));
    CHECK(p.peek() >= now);
}

TEST_CASE("striped pacers together are the one schedule, slot for slot") {
    // 7,000/s in all (a gap of 142,857.14 ns): one pacer, or 3 machines of which the second
    // runs 2 worker processes, each with 2 threads. The union of their sends is the one
    // pacer's, to the nanosecond, and no two senders share an instant.
    constexpr std::uint64_t n = 1'001;
    std::vector<Nanos> single;
    Pacer one(7'000.0, 5'000, Stripe{0, 1, n});
    for (std::uint64_t i = 0; i < n; ++i)
        single.push_back(one.next());
    std::vector<Nanos> united;
    const Stripe all{0, 1, n};
    for (unsigned shard = 0; shard < 3; ++shard) {
        const Stripe machine = all.part(shard, 3);
        const unsigned workers = shard == 1 ? 2 : 1;
        for (unsigned w = 0; w < workers; ++w) {
            const Stripe worker = machine.part(w, workers);
            for (unsigned t = 0; t < 2; ++t) {
                const Stripe thread = worker.part(t, 2);
                Pacer p(7'000.0, 5'000, thread);
                for (std::uint64_t i = 0; i < thread.count; ++i)
                    united.push_back(p.next());
            }
        }
    }
    std::sort(united.begin(), united.end());
    CHECK(united == single);
    CHECK(std::adjacent_find(united.begin(), united.end()) == united.end());
}

TEST_CASE("a striped pacer skips exactly its own slots") {
    Pacer p(1'000.0, 0, Stripe{1, 4, Stripe::kUnbounded}); // slots 1, 5, 9 … ms
    CHECK(p.next() == 1'000'000);
    CHECK(p.peek() == 5'000'000);
    CHECK(p.skip_to(20'000'000) == 4); // 5, 9, 13, 17
    CHECK(p.peek() == 21'000'000);
    CHECK(p.skip_to(21'000'000) == 0);
    CHECK(p.rate() == doctest::Approx(250.0));
}

TEST_CASE("striped Poisson senders add up to the whole rate") {
    double sum = 0;
    for (unsigned i = 0; i < 4; ++i) {
        Pacer p(10'000.0, 0, Stripe{}.part(i, 4), true, 100 + i);
        Nanos t = 0;
        for (int k = 0; k < 25'000; ++k)
            t = p.next();
        sum += 25'000.0 / (static_cast<double>(t) / 1e9);
    }
    CHECK(sum == doctest::Approx(10'000).epsilon(0.03));
}
