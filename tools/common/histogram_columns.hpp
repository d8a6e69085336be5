#pragma once
/// The one place a histogram becomes report columns and --fail-if values, so each statistic
/// of a distribution is spelt once:
///
///   statistic       field key             title              metric (--fail-if)
///   min             <key>min_ns           <title>min         <metric>min
///   mean, stddev    <key>mean_ns …        <title>mean …      <metric>mean …
///   percentile P    <key>p99_9_ns         <title>p99.9       <metric>p99_9 (or p99.9)
///   max             <key>max_ns           <title>max         <metric>max
///
/// An empty histogram gives null cells (JSON null, "-" in tables) and no metric values, so a
/// check on it fails as "no value" instead of passing on a zero.

#include <map>
#include <string>
#include <vector>

#include <netdx/measure/histogram.hpp>
#include <netdx/report/metric.hpp>
#include <netdx/report/result.hpp>
#include <netdx/report/threshold.hpp>

namespace netdx::cli {

struct HistogramStat {
    enum class Kind { min, mean, stddev, percentile, max };
    Kind kind = Kind::percentile;
    double p = 0; ///< for percentiles

    static HistogramStat min() { return {Kind::min, 0}; }
    static HistogramStat mean() { return {Kind::mean, 0}; }
    static HistogramStat stddev() { return {Kind::stddev, 0}; }
    static HistogramStat percentile(double p) { return {Kind::percentile, p}; }
    static HistogramStat max() { return {Kind::max, 0}; }
};

struct HistogramColumns {
    std::string key_prefix;    ///< "" or "connect_", "uncorrected_" …
    std::string title_prefix;  ///< "" or "connect ", "uncorrected " …
    std::string metric_prefix; ///< as key_prefix; the family is "<metric_prefix>p"
    std::vector<HistogramStat> stats;
    Unit unit = Unit::ns;

    /// "<key_prefix>p99_9_ns": the field key of one statistic.
    [[nodiscard]] std::string key(const HistogramStat& s) const;
    [[nodiscard]] std::string title(const HistogramStat& s) const;
    [[nodiscard]] std::string metric(const HistogramStat& s) const;
    [[nodiscard]] Field field(const HistogramStat& s) const { return {key(s), title(s), unit}; }

    /// The fields, in the order of `stats`.
    void add_fields(std::vector<Field>& out) const;
    /// A table row's cells for `h`, in the same order.
    void add_cells(Row& row, const Histogram& h) const;
    /// A record section: each statistic as one field and its value.
    void add_to(Section& record, const Histogram& h) const;
    /// The metric values of `h`: every statistic's, and any percentile of the family that a
    /// check names ("p95" with no -p 95 still has its value).
    void add_metrics(std::map<std::string, double>& out, const Histogram& h,
                     const std::vector<Threshold>& checks) const;
    /// The catalog entry of the family: "<metric_prefix>p<P>".
    [[nodiscard]] MetricInfo family(std::string description) const {
        return {metric_prefix + "p", unit, std::move(description), true};
    }
};

} // namespace netdx::cli
