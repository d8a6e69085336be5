#pragma once
// Counts over every connection handed out by the tracker: by conn_state, by closer, the
// handshake times as histograms, retransmissions, resets, refusals.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <netdx/capture/connection.hpp>
#include <netdx/measure/histogram.hpp>
#include <netdx/report/result.hpp>

namespace netdx::trace {

struct Summary {
    std::uint64_t connections = 0;
    std::array<std::uint64_t, capture::kConnStates> by_state{};
    std::array<std::uint64_t, 4> by_closer{}; ///< indexed by capture::Closer
    std::array<std::uint64_t, 4> time_wait{}; ///< who holds TIME_WAIT, by capture::Closer
    std::uint64_t syn_retransmitted = 0;      ///< connections whose SYN was sent again
    std::uint64_t syn_retransmissions = 0, synack_retransmissions = 0;
    std::uint64_t data_retransmissions = 0;
    std::uint64_t reset = 0, rst_by_orig = 0, rst_by_resp = 0;
    std::uint64_t open_at_end = 0, reused = 0, midstream = 0, half_closed = 0;
    Histogram handshake;       ///< from the last SYN to the ACK
    Histogram handshake_first; ///< from the first SYN (retransmission waits included)
    Histogram syn_synack, synack_ack;

    void add(const capture::Connection& c);

    /// Report sections (states, closers, handshake, problems) and the --fail-if metrics.
    /// The sections, and the metric values for --fail-if (any percentile `checks` names).
    void to_report(Report& report, std::map<std::string, double>& metrics,
                   const std::vector<Threshold>& checks) const;
};

/// The metrics --fail-if may name.
[[nodiscard]] std::vector<MetricInfo> trace_metrics();

} // namespace netdx::trace
