#pragma once
/// netdx-probe's --fail-if metrics: what a check may name, in the tool and in `netdx merge`
/// of its results.

#include <vector>

#include <netdx/report/metric.hpp>

namespace netdx::probe {

inline const std::vector<MetricInfo> kMetrics{
    {"min", Unit::ns, "smallest RTT"},
    {"mean", Unit::ns, "mean RTT"},
    {"stddev", Unit::ns, "standard deviation of the RTT"},
    {"p50", Unit::ns, "median RTT"},
    {"p90", Unit::ns, "90th percentile RTT"},
    {"p99", Unit::ns, "99th percentile RTT"},
    {"p999", Unit::ns, "99.9th percentile RTT (the same as p99.9)"},
    {"p9999", Unit::ns, "99.99th percentile RTT (the same as p99.99)"},
    {"p", Unit::ns, "any percentile of the RTT: p95, p99.5, p99.9 (whatever -p lists)", true},
    {"max", Unit::ns, "largest RTT"},
    {"count", Unit::count, "samples measured"},
    {"loss", Unit::percent, "UDP requests without a reply within --timeout"},
    {"lost", Unit::count, "UDP requests lost"},
    {"late", Unit::count, "UDP replies after their request was counted lost"},
    {"duplicates", Unit::count, "duplicate UDP replies"},
    {"reordered", Unit::count, "UDP replies out of order"},
    {"errors", Unit::count, "failed attempts (connect mode)"},
    {"truncated", Unit::count, "UDP replies shorter than the request"},
    {"skipped", Unit::count, "paced sends skipped: the probe fell behind --rate"},
    {"uncorrected_p", Unit::ns, "paced: a percentile from the actual send time (uncorrected_p99)",
     true},
    {"lag_p", Unit::ns, "paced: a percentile of how late sends were (lag_p99)", true},
};

} // namespace netdx::probe
