#pragma once
/// `netdx merge`: the results of the agents of one run (netdx-probe or netdx-flood JSON
/// documents, one per agent or shard) made into the result of the whole run, exactly:
///
///   histograms     slot by slot (Histogram::merge): the merged p99 is the p99 of every
///                  sample of every agent, never an average of the agents' p99s
///   counters       summed (sent, lost, established, failures by errno …)
///   derived        recomputed from the merged data through the tools' own definitions:
///                  percentiles and time to N from integer ranks, loss from the summed
///                  counts, memory per connection from the summed growth and peaks
///   settings       must agree (target, mode, sizes), or the files are of different runs
///   limits         the most loaded agent's row (each agent has its own machine)
///
/// Refused, with the file named: unreadable or non-JSON files, another schema version,
/// another tool, another run id, a histogram in another encoding, a duplicate or missing
/// shard, a document that is an error report.

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <netdx/measure/histogram.hpp>
#include <netdx/report/threshold.hpp>

namespace netdx::merge {

struct Input {
    std::string path;
    nlohmann::json doc;
    /// The histograms' "counts" arrays, scanned apart from the DOM (read_input): in `doc`
    /// each is {"netdx_counts": k}, the k-th of these.
    std::vector<Histogram::SlotCounts> counts;
};

/// One agent's line in the per-agent table.
struct Agent {
    std::string file;
    std::string agent;
    nlohmann::json shard;             ///< "i/k" or null
    nlohmann::json start_lateness_ns; ///< number or null
    nlohmann::json clock_max_error_ns;
    bool clock_synchronized = false;
    nlohmann::json count;  ///< probe: samples of the first size; flood: established
    nlohmann::json p99_ns; ///< probe: RTT p99 of the first size; flood: connect p99
};

struct Merged {
    std::string tool; ///< "netdx-probe" or "netdx-flood"
    /// The merged document's sections and "histograms", with the keys of one run's document.
    nlohmann::json doc;
    std::vector<Agent> agents;
    std::vector<std::string> notes;
    /// --fail-if values: one set per size for probe (label "size 64" in a sweep), one for flood.
    std::vector<std::pair<std::string, std::map<std::string, double>>> metrics;
    nlohmann::json run; ///< the merged run block
};

/// The tool whose result a document is (a merged document says which tool it merged).
[[nodiscard]] std::string tool_of(const nlohmann::json& doc);
/// The histogram `doc` (a node of `in.doc`) stands for; throws ParseError naming the file.
[[nodiscard]] Histogram histogram_of(const Input& in, const nlohmann::json& doc,
                                     const std::string& what);

/// Reads and parses `path`; throws ParseError naming the file.
[[nodiscard]] Input read_input(const std::string& path);

/// Throws ParseError saying which file and why when the inputs cannot be merged.
/// `checks` name the percentiles whose metric values must be computed. `partial_ok`: shards
/// may be missing (a step of a merge in stages; the result says which it covers).
[[nodiscard]] Merged merge(const std::vector<Input>& inputs, const std::vector<Threshold>& checks,
                           bool partial_ok = false);

} // namespace netdx::merge
