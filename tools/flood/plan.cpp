#include "plan.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include <netdx/report/units.hpp>
#include <netdx/sys/parse_error.hpp>

namespace netdx::flood::plan {

namespace {

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) {
    return (a + b - 1) / b;
}

} // namespace

Plan make(const Inputs& in) {
    Plan p;
    const std::uint64_t soft = std::min<std::uint64_t>(in.fd_limit.soft, 1u << 30);
    if (soft <= kReservedFds + 1)
        throw ParseError(fmt::format("RLIMIT_NOFILE is {}: too low to open connections", soft));
    p.fds_per_process = soft - kReservedFds;
    const std::uint64_t n = in.connections;

    // Worker processes.
    const std::uint64_t needed = ceil_div(n, p.fds_per_process);
    if (in.processes == "auto") {
        p.processes = static_cast<int>(std::max<std::uint64_t>(needed, 1));
    } else {
        int k = 0;
        const auto* end = in.processes.data() + in.processes.size();
        auto [ptr, ec] = std::from_chars(in.processes.data(), end, k);
        if (ec != std::errc{} || ptr != end || k < 1 || k > 256)
            throw ParseError(
                fmt::format("--processes: bad value '{}' (auto or 1-256)", in.processes));
        if (ceil_div(n, static_cast<std::uint64_t>(k)) > p.fds_per_process)
            throw ParseError(fmt::format(
                "--processes {}: {} connections per process, but one process may open {} "
                "(RLIMIT_NOFILE {}); use --processes {} or more, or auto",
                k, format_count(ceil_div(n, static_cast<std::uint64_t>(k))),
                format_count(p.fds_per_process), format_count(soft), needed));
        p.processes = k;
    }
    if (p.processes > 256)
        throw ParseError(fmt::format("{} connections would need {} worker processes (at most 256)",
                                     format_count(n), p.processes));

    // Families must agree: a v4 source cannot reach a v6 destination.
    for (const auto& s : in.sources)
        for (const auto& t : in.targets)
            if (s.is_v4() != t.ip().is_v4())
                throw ParseError(fmt::format("--source {} and target {} are of different families",
                                             s.to_string(), t.to_string()));

    const PortRange range = in.ports.value_or(PortRange{32768, 60999});
    p.ports_per_pair = std::max<std::uint32_t>(range.size(), 1);
    std::uint64_t destinations = in.targets.size();
    const std::uint64_t sources = std::max<std::size_t>(in.sources.size(), 1);
    if (in.targets.empty()) {
        // The sink listens on enough ports that each (source, sink port) pair uses at most a
        // quarter of the ephemeral range: connect() searches the range for a free port per
        // 4-tuple, and that search slows sharply as a pair fills (60,000 connections over 3
        // ports took 8.5 s here, over 12 pairs 1.9 s). Every source reaches every port, so
        // the sources multiply the pairs. Each sink process listens on every port (those
        // descriptors come first) and gets 10% slack for SO_REUSEPORT's uneven spread.
        const std::uint64_t per_pair = std::max<std::uint64_t>(p.ports_per_pair / 4, 1);
        p.sink_ports =
            static_cast<int>(std::max<std::uint64_t>(1, ceil_div(n, per_pair * sources)));
        if (p.sink_ports > kMaxSinkPorts)
            throw ParseError(fmt::format(
                "{} connections would need {} embedded sink ports (at most {}): add --source "
                "addresses (each multiplies the 4-tuples) or give targets",
                format_count(n), p.sink_ports, kMaxSinkPorts));
        const auto ports = static_cast<std::uint64_t>(p.sink_ports);
        if (p.fds_per_process <= ports * 2)
            throw ParseError(fmt::format("RLIMIT_NOFILE {} is too low for an embedded sink on {} "
                                         "ports; give targets",
                                         format_count(soft), ports));
        p.sink_processes = static_cast<int>(
            std::max<std::uint64_t>(1, ceil_div(n + n / 10, p.fds_per_process - ports)));
        destinations = ports;
    }
    p.pairs = sources * destinations;
    p.capacity = p.pairs * p.ports_per_pair;
    if (n > p.capacity)
        throw ParseError(fmt::format(
            "{} connections cannot fit: {} source address{} x {} destination{} x {} ephemeral "
            "ports ({}-{}) = {} distinct 4-tuples. Add source addresses (--source "
            "127.0.0.2-127.0.0.9 on loopback), more destinations (HOST:LO-HI), or widen "
            "net.ipv4.ip_local_port_range",
            format_count(n), sources, sources == 1 ? "" : "es", destinations,
            destinations == 1 ? "" : "s", format_count(p.ports_per_pair), range.low, range.high,
            format_count(p.capacity)));
    return p;
}

} // namespace netdx::flood::plan
