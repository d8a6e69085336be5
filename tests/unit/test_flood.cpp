// netdx-flood's pure parts: the plan (processes, sink, capacity) and the merge of results.
#include <cstdlib>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <netdx/net/endpoint.hpp>
#include <netdx/net/ip_address.hpp>

#include "engine.hpp"
#include "parse_error_of.hpp"
#include "plan.hpp"

using namespace netdx;
using namespace netdx::flood;

namespace {

plan::Inputs inputs(std::uint64_t n) {
    plan::Inputs in;
    in.connections = n;
    in.fd_limit = {20'000, 20'000};
    in.ports = PortRange{32768, 60999}; // 28,232 ports
    return in;
}

Endpoint ep(const char* ip, std::uint16_t port) {
    return Endpoint(IpAddress::parse(ip), port);
}

} // namespace

TEST_CASE("the plan spreads connections over enough processes for RLIMIT_NOFILE") {
    auto in = inputs(10'000);
    in.targets = {ep("127.0.0.1", 7007)};
    auto p = plan::make(in);
    CHECK(p.processes == 1);
    CHECK(p.fds_per_process == 20'000 - plan::kReservedFds);
    CHECK(p.capacity == 28'232);
    CHECK(p.sink_processes == 0);

    in.connections = 60'000;
    in.targets = {ep("127.0.0.1", 7007), ep("127.0.0.1", 7008), ep("127.0.0.1", 7009)};
    p = plan::make(in);
    CHECK(p.processes == 4); // 60,000 / 19,936 per process
    CHECK(p.pairs == 3);
    CHECK(p.capacity == 3 * 28'232);

    in.processes = "2";
    CHECK(parse_error_of([&] { (void)plan::make(in); }) ==
          "--processes 2: 30,000 connections per process, but one process may open 19,936 "
          "(RLIMIT_NOFILE 20,000); use --processes 4 or more, or auto");
    in.processes = "0";
    CHECK(parse_error_of([&] { (void)plan::make(in); }) ==
          "--processes: bad value '0' (auto or 1-256)");
    in.processes = "6";
    CHECK(plan::make(in).processes == 6);
}

TEST_CASE("the plan refuses a flood the 4-tuples cannot hold, with the numbers and the fix") {
    auto in = inputs(30'000);
    in.targets = {ep("127.0.0.1", 7007)};
    CHECK(parse_error_of([&] { (void)plan::make(in); }) ==
          "30,000 connections cannot fit: 1 source address x 1 destination x 28,232 ephemeral "
          "ports (32768-60999) = 28,232 distinct 4-tuples. Add source addresses (--source "
          "127.0.0.2-127.0.0.9 on loopback), more destinations (HOST:LO-HI), or widen "
          "net.ipv4.ip_local_port_range");
    in.sources = {IpAddress::parse("127.0.0.2"), IpAddress::parse("127.0.0.3")};
    const auto p = plan::make(in);
    CHECK(p.pairs == 2);
    CHECK(p.capacity == 2 * 28'232);

    in.targets = {ep("::1", 7007)};
    CHECK(parse_error_of([&] { (void)plan::make(in); }) ==
          "--source 127.0.0.2 and target [::1]:7007 are of different families");
}

TEST_CASE("the embedded sink gets ports to keep each pair under a quarter of the range") {
    auto in = inputs(60'000);
    const auto p = plan::make(in);
    CHECK(p.sink_ports == 9);     // 60,000 / (28,232 / 4)
    CHECK(p.sink_processes == 4); // 66,000 / 19,936, for SO_REUSEPORT's uneven spread
    CHECK(p.capacity == 9 * 28'232);
    CHECK(plan::make(inputs(10)).sink_ports == 1);
    in.ports = PortRange{40000, 40009};
    in.connections = 20;
    CHECK(plan::make(in).sink_ports == 10);
}

TEST_CASE("sources multiply the sink's pairs: the README's 500,000 over 32 sources fits") {
    // It was refused ("would need 71 sink ports; give targets"): the plan divided N by a
    // quarter of the range per port, as if each port had one source.
    auto in = inputs(500'000);
    for (int i = 2; i <= 33; ++i)
        in.sources.push_back(IpAddress::parse(fmt::format("127.0.0.{}", i)));
    const auto p = plan::make(in);
    CHECK(p.sink_ports == 3); // 500,000 / (32 sources x 7,058)
    CHECK(p.pairs == 32 * 3);
    CHECK(p.capacity == 96 * 28'232);
    // And a million from one command: 142 ports from one source.
    const auto m = plan::make(inputs(1'000'000));
    CHECK(m.sink_ports == 142);
    CHECK(m.processes == 51);      // 1,000,000 / 19,936 descriptors each
    CHECK(m.sink_processes == 56); // 1,100,000 / (19,936 - 142 listeners)
    auto narrow = inputs(30'000);
    narrow.ports = PortRange{40000, 40099}; // 25 per pair: 1,200 ports
    CHECK(parse_error_of([&] { (void)plan::make(narrow); })
              .find("1200 embedded sink ports (at "
                    "most 1024)") != std::string::npos);
}

TEST_CASE("results from workers merge exactly, and survive the JSON between processes") {
    Result a, b;
    a.progress.established = 3;
    a.progress.fds_peak = 100;
    a.progress.failures["connect ECONNREFUSED"] = 2;
    b.progress.established = 4;
    b.progress.fds_peak = 70;
    b.progress.failures["connect ECONNREFUSED"] = 1;
    b.progress.failures["socket EMFILE"] = 5;
    for (std::uint64_t v : {1000u, 2000u, 3000u})
        a.connect_latency.record(v);
    for (std::uint64_t v : {4000u, 5000u, 6000u, 7000u})
        b.connect_latency.record(v);
    a.pair_peak["* -> 127.0.0.1:7007"] = 3;
    b.pair_peak["* -> 127.0.0.1:7007"] = 4;

    Result m = Result::from_json(a.to_json());
    m.merge(Result::from_json(b.to_json()));
    CHECK(m.progress.established == 7);
    CHECK(m.progress.fds_peak == 100); // per process: the largest, not a sum
    CHECK(m.progress.failures.at("connect ECONNREFUSED") == 3);
    CHECK(m.progress.failures.at("socket EMFILE") == 5);
    CHECK(m.connect_latency.count() == 7);
    CHECK(m.connect_latency.min() == 1000);
    CHECK(m.connect_latency.max() == b.connect_latency.max());
    CHECK(m.pair_peak.at("* -> 127.0.0.1:7007") == 7);
}

TEST_CASE("time to N% is the k-th connection, k an integer rank end to end") {
    // N = 1001: 50% is the 501st; through a percentile of the 1001 samples it came out 502.
    CHECK(plan::rank_of(1001, 50) == 501);
    CHECK(plan::rank_of(1001, 90) == 901);
    CHECK(plan::rank_of(1001, 100) == 1001);
    CHECK(plan::rank_of(1000, 50) == 500);
    CHECK(plan::rank_of(1, 50) == 1);
    Histogram h(3'600 * kNanosPerSecond);
    for (std::uint64_t i = 1; i <= 1001; ++i)
        h.record(i * 1000); // the i-th connection at i us
    // Rank 501, within the histogram's half-slot (the next rank would be 1,000 ns off).
    CHECK(std::llabs(static_cast<long long>(h.value_at_rank(plan::rank_of(1001, 50))) - 501'000) <
          300);
    CHECK(h.value_at_rank(1) == h.min());
    CHECK(h.value_at_rank(1001) == h.max()); // the last one exactly, not its slot's middle
}
