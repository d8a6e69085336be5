#pragma once
/// netdx-flood's --fail-if metrics: what a check may name, in the tool and in `netdx merge`
/// of its results.

#include <vector>

#include <netdx/report/metric.hpp>

namespace netdx::flood {

inline const std::vector<MetricInfo> kMetrics{
    {"established", Unit::count,
     "connections the server holds (checked on its side where it can be; see --verify)"},
    {"handshakes", Unit::count, "handshakes completed on the client side"},
    {"unconfirmed", Unit::count, "handshakes the server does not hold (queue overflow)"},
    {"unanswered", Unit::count, "--send messages whose echo did not come back"},
    {"failed", Unit::count, "attempts that failed (any errno, timeouts included)"},
    {"timed_out", Unit::count, "attempts without a handshake within --connect-timeout"},
    {"refused", Unit::count, "attempts refused (ECONNREFUSED)"},
    {"closed_by_peer", Unit::count, "held connections the peer closed or reset"},
    {"open_peak", Unit::count, "most connections open at once"},
    {"connect_p50", Unit::ns, "median connect latency"},
    {"connect_p90", Unit::ns, "90th percentile connect latency"},
    {"connect_p99", Unit::ns, "99th percentile connect latency"},
    {"connect_max", Unit::ns, "largest connect latency"},
    {"connect_p", Unit::ns, "any percentile of the connect latency: connect_p99.9", true},
    {"time_to_50", Unit::ns, "time until half the connections were established"},
    {"time_to_90", Unit::ns, "time until 90% were established"},
    {"time_to_100", Unit::ns, "time until all were established"},
    {"rate", Unit::per_second, "achieved connect rate"},
    {"memory_per_conn", Unit::bytes, "user-space memory per held connection"},
    {"echo_p99", Unit::ns, "99th percentile echo round trip (--send)"},
    {"echo_p", Unit::ns, "any percentile of the echo round trip (--send): echo_p50", true},
    {"corrupt_echoes", Unit::count, "echoes that differed from what was sent"},
};

} // namespace netdx::flood
