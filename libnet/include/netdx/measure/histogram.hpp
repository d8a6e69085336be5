#pragma once
/// Latency histogram, HDR-style (log-linear), values in nanoseconds.
///
/// Layout: values are grouped by power of two ("buckets"); each bucket is split linearly into
/// 1024 sub-buckets, so a value is stored with a relative error below 1/1024 (< 0.1%, i.e.
/// three significant digits). Bucket 0 covers [0, 2048) with width 1; bucket b >= 1 covers
/// [1024·2^b, 2048·2^b) with width 2^b:
///
///   value:  0 ........ 2047 | 2048 ... 4095 | 4096 ... 8191 | ...  | up to highest
///   width:  1               | 2             | 4             | ...
///   slots:  2048            | 1024          | 1024          | ...
///
/// record() is O(1) (a count-leading-zeros, a shift and integer adds: no division), merge()
/// adds counts. min and max are exact; mean and standard deviation come from exact 128-bit
/// sums of the values and of their squares; percentiles come from the bucket containing
/// the requested rank, reported as that bucket's midpoint clamped to [min, max], so they are
/// within half a bucket (< 0.05%) of the exact sample. Values above highest() are counted in
/// the top bucket and reported by saturated().
///
/// Thread safety: none; use one histogram per thread and merge.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace netdx {

/// 128-bit sums: a GNU extension (__extension__ keeps -Wpedantic quiet about it).
__extension__ typedef unsigned __int128 Uint128;

class Histogram {
public:
    /// Tracks 0 .. highest_trackable ns (default: one hour) at three significant digits.
    Histogram() : Histogram(kDefaultHighest) {}
    explicit Histogram(std::uint64_t highest_trackable);
    static constexpr std::uint64_t kDefaultHighest = 3'600'000'000'000; ///< one hour in ns

    void record(std::uint64_t value_ns) { record_n(value_ns, 1); }
    void record_n(std::uint64_t value_ns, std::uint64_t count);
    /// Adds every count of `other`; it must have the same highest() (throws otherwise).
    void merge(const Histogram& other);
    void reset();

    [[nodiscard]] std::uint64_t count() const { return total_; }
    [[nodiscard]] bool empty() const { return total_ == 0; }
    [[nodiscard]] std::uint64_t min() const { return total_ ? min_ : 0; }
    [[nodiscard]] std::uint64_t max() const { return max_; }
    [[nodiscard]] double mean() const;
    [[nodiscard]] double stddev() const;
    [[nodiscard]] std::uint64_t saturated() const { return saturated_; }
    [[nodiscard]] std::uint64_t highest() const { return highest_; }

    /// The value at percentile p (0..100): the smallest recorded value v such that at least
    /// p% of the samples are <= v (the "nearest rank" definition), to within 0.05%.
    [[nodiscard]] std::uint64_t percentile(double p) const;

    /// The rank-th smallest sample (1-based; the first is min(), the count-th max(), exactly),
    /// to within half a slot. For "the k-th of N" questions (time to the 501st connection)
    /// ranks stay integers: a percentile round trip through doubles can land one rank off.
    [[nodiscard]] std::uint64_t value_at_rank(std::uint64_t rank) const;

    /// Number of samples a percentile needs to be more than the max: p99.99 needs 10,000.
    [[nodiscard]] static std::uint64_t samples_needed(double p);

    struct Bucket {
        std::uint64_t low;  ///< lowest value in the slot
        std::uint64_t high; ///< highest value in the slot
        std::uint64_t count;
    };
    /// Non-empty slots in increasing value order.
    [[nodiscard]] std::vector<Bucket> nonzero_buckets() const;

    /// JSON: {"encoding":"netdx-hdr-v1","unit":"ns","highest":…,"count":…,"min":…,"max":…,
    /// "mean":…,"stddev":…,"sum":"…","sum_squares":"…","saturated":…,
    /// "counts":[[slot,count],…]} (sums as decimal strings: 128-bit integers do not fit JSON) —
    /// sparse, exact, and from_json(to_json(h)) == h, so histograms from many runs or machines can
    /// be merged.
    [[nodiscard]] nlohmann::json to_json() const;
    /// Throws std::invalid_argument on a malformed document.
    [[nodiscard]] static Histogram from_json(const nlohmann::json& doc);
    /// The same, with the (slot, count) pairs of "counts" given apart: for a reader that
    /// scanned them itself from the text (a DOM node per pair costs more than the rest of a
    /// document), such as netdx merge reading a thousand files. `doc`'s own counts are ignored.
    using SlotCounts = std::vector<std::pair<std::uint64_t, std::uint64_t>>;
    [[nodiscard]] static Histogram from_json(const nlohmann::json& doc, const SlotCounts& counts);

    /// HdrHistogram's percentile-distribution text format (as HistogramLogProcessor and the
    /// plotters read it), values scaled by 1/`unit_ratio` (1000 = microseconds).
    [[nodiscard]] std::string percentile_distribution(double unit_ratio = 1000.0,
                                                      int ticks_per_half = 5) const;

    bool operator==(const Histogram& other) const;

private:
    [[nodiscard]] std::size_t slot_of(std::uint64_t value) const;
    [[nodiscard]] std::uint64_t slot_low(std::size_t slot) const;
    [[nodiscard]] std::uint64_t slot_high(std::size_t slot) const;

    std::uint64_t highest_;
    std::vector<std::uint64_t> counts_;
    std::uint64_t total_ = 0;
    std::uint64_t min_ = UINT64_MAX;
    std::uint64_t max_ = 0;
    Uint128 sum_ = 0;         ///< exact sum of the recorded values
    Uint128 sum_squares_ = 0; ///< exact sum of their squares
    std::uint64_t saturated_ = 0;
};

} // namespace netdx
