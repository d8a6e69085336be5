// Splitting a run: integer shares that always add up, stripes that unite to the one
// schedule, and the shard a batch system hands a process.
#include <map>
#include <optional>
#include <set>
#include <string>

#include <doctest/doctest.h>

#include <netdx/sys/parse_error.hpp>
#include <netdx/sys/shard.hpp>

#include "parse_error_of.hpp"

using namespace netdx;

TEST_CASE("shares sum to N for every N up to 1,000 and k up to 64, and differ by at most one") {
    for (std::uint64_t n = 0; n <= 1'000; ++n)
        for (unsigned k = 1; k <= 64; ++k) {
            std::uint64_t sum = 0, lo = UINT64_MAX, hi = 0;
            for (unsigned i = 0; i < k; ++i) {
                const auto s = share(n, i, k);
                sum += s;
                lo = std::min(lo, s);
                hi = std::max(hi, s);
            }
            REQUIRE(sum == n);
            REQUIRE(hi - lo <= 1);
        }
    CHECK(share(10, 0, 3) == 3);
    CHECK(share(10, 1, 3) == 3);
    CHECK(share(10, 2, 3) == 4);
    CHECK(share(UINT64_MAX, 1, 2) == UINT64_MAX / 2 + 1); // no overflow in (i+1)·N
}

TEST_CASE("the parts of a stripe are its slots, each once, as many as the share says") {
    for (std::uint64_t n = 0; n <= 300; ++n)
        for (unsigned k = 1; k <= 17; ++k) {
            const Stripe whole{0, 1, n};
            std::set<std::uint64_t> seen;
            for (unsigned i = 0; i < k; ++i) {
                const Stripe p = whole.part(i, k);
                REQUIRE(p.count == share(n, i, k));
                REQUIRE(p.stride == k);
                for (std::uint64_t m = 0; m < p.count; ++m)
                    REQUIRE(seen.insert(p.slot(m)).second);
            }
            REQUIRE(seen.size() == n);
            if (n > 0) REQUIRE(*seen.rbegin() == n - 1);
        }
    // Nested: 3 machines × 4 workers of 1,000 slots.
    std::set<std::uint64_t> seen;
    for (unsigned i = 0; i < 3; ++i)
        for (unsigned w = 0; w < 4; ++w) {
            const Stripe p = Stripe{0, 1, 1'000}.part(i, 3).part(w, 4);
            for (std::uint64_t m = 0; m < p.count; ++m)
                REQUIRE(seen.insert(p.slot(m)).second);
        }
    CHECK(seen.size() == 1'000);
    // Unbounded: residue i, every k-th.
    const Stripe u = Stripe{}.part(2, 5);
    CHECK(u.first == 2);
    CHECK(u.stride == 5);
    CHECK_FALSE(u.bounded());
    CHECK_THROWS_AS((void)Stripe{}.part(5, 5), std::invalid_argument);
}

TEST_CASE("--shard i/k: a bad token is named") {
    CHECK(parse_shard("0/3") == Shard{0, 3});
    CHECK(parse_shard("2/3") == Shard{2, 3});
    CHECK(parse_error_of([] { (void)parse_shard("3/3"); }).find("'3/3'") != std::string::npos);
    CHECK(parse_error_of([] { (void)parse_shard("3/3"); }).find("below 3") != std::string::npos);
    CHECK(parse_error_of([] { (void)parse_shard("1/0"); }).find("count must be") !=
          std::string::npos);
    CHECK(parse_error_of([] { (void)parse_shard("a/3"); }).find("'a/3'") != std::string::npos);
    CHECK(parse_error_of([] { (void)parse_shard("3"); }).find("expected i/k") != std::string::npos);
    CHECK(parse_error_of([] { (void)parse_shard("-1/3"); }).find("'-1/3'") != std::string::npos);
}

TEST_CASE("--shard auto reads NETDX_SHARD, then Slurm, then a Kubernetes Indexed Job") {
    std::map<std::string, std::string> vars;
    const EnvLookup env = [&](const char* name) -> std::optional<std::string> {
        const auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
    CHECK(parse_error_of([&] { (void)shard_from_environment(env); }).find("none of") !=
          std::string::npos);
    vars["JOB_COMPLETION_INDEX"] = "4";
    CHECK(parse_error_of([&] {
              (void)shard_from_environment(env);
          }).find("NETDX_SHARD_COUNT is not") != std::string::npos);
    vars["NETDX_SHARD_COUNT"] = "5";
    CHECK(shard_from_environment(env) == Shard{4, 5});
    vars["SLURM_PROCID"] = "1";
    CHECK(parse_error_of([&] { (void)shard_from_environment(env); }).find("SLURM_NTASKS is not") !=
          std::string::npos);
    vars["SLURM_NTASKS"] = "2";
    CHECK(shard_from_environment(env) == Shard{1, 2});
    vars["SLURM_PROCID"] = "2";
    CHECK(parse_error_of([&] {
              (void)shard_from_environment(env);
          }).find("SLURM_PROCID=2 SLURM_NTASKS=2") != std::string::npos);
    vars["NETDX_SHARD"] = "0/7";
    CHECK(shard_from_environment(env) == Shard{0, 7});
    vars["NETDX_SHARD"] = "x";
    CHECK(parse_error_of([&] { (void)shard_from_environment(env); }).find("NETDX_SHARD: ") == 0);
}
