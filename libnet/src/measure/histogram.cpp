#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <netdx/measure/histogram.hpp>

namespace netdx {

namespace {
constexpr unsigned kSubBits = 10;                  // 1024 sub-buckets per half
constexpr std::uint64_t kSubHalf = 1u << kSubBits; // 1024
constexpr std::uint64_t kSubCount = kSubHalf * 2;  // 2048
constexpr std::uint64_t kSubMask = kSubCount - 1;  // 2047
} // namespace

Histogram::Histogram(std::uint64_t highest_trackable) : highest_(highest_trackable) {
    if (highest_ < kSubCount) highest_ = kSubCount;
    counts_.assign(slot_of(highest_) + 1, 0);
}

std::size_t Histogram::slot_of(std::uint64_t v) const {
    // Bucket index: how many doublings above 2048 the value's top bit lies.
    const unsigned top = 64u - static_cast<unsigned>(std::countl_zero(v | kSubMask)); // >= 11
    const unsigned bucket = top - (kSubBits + 1);
    const std::uint64_t sub = v >> bucket; // in [1024, 2048) for bucket >= 1, [0, 2048) for 0
    return static_cast<std::size_t>((std::uint64_t{bucket} << kSubBits) + sub);
}

std::uint64_t Histogram::slot_low(std::size_t slot) const {
    const std::uint64_t s = slot;
    if (s < kSubCount) return s;
    const std::uint64_t bucket = (s >> kSubBits) - 1;
    const std::uint64_t sub = (s & (kSubHalf - 1)) + kSubHalf;
    return sub << bucket;
}

std::uint64_t Histogram::slot_high(std::size_t slot) const {
    const std::uint64_t s = slot;
    if (s < kSubCount) return s;
    const std::uint64_t bucket = (s >> kSubBits) - 1;
    return slot_low(slot) + (std::uint64_t{1} << bucket) - 1;
}

void Histogram::record_n(std::uint64_t value, std::uint64_t n) {
    if (n == 0) return;
    if (value > highest_) [[unlikely]] {
        saturated_ += n;
        value = highest_;
    }
    counts_[slot_of(value)] += n;
    total_ += n;
    const auto v = static_cast<Uint128>(value);
    sum_ += v * n;
    sum_squares_ += v * v * n;
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
}

void Histogram::merge(const Histogram& other) {
    if (other.highest_ != highest_)
        throw std::invalid_argument(
            fmt::format("cannot merge histograms with different ranges ({} ns vs {} ns)", highest_,
                        other.highest_));
    for (std::size_t i = 0; i < counts_.size(); ++i)
        counts_[i] += other.counts_[i];
    total_ += other.total_;
    sum_ += other.sum_;
    sum_squares_ += other.sum_squares_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    saturated_ += other.saturated_;
}

void Histogram::reset() {
    std::fill(counts_.begin(), counts_.end(), 0);
    total_ = 0;
    min_ = UINT64_MAX;
    max_ = 0;
    sum_ = sum_squares_ = 0;
    saturated_ = 0;
}

double Histogram::mean() const {
    if (total_ == 0) return 0.0;
    return static_cast<double>(static_cast<long double>(sum_) / static_cast<long double>(total_));
}

double Histogram::stddev() const {
    if (total_ < 2) return 0.0;
    // Population variance (sum(x^2) - sum(x)^2 / n) / n, in long double from exact integer sums.
    const auto n = static_cast<long double>(total_);
    const auto s = static_cast<long double>(sum_);
    const long double var = (static_cast<long double>(sum_squares_) - s * s / n) / n;
    return var > 0 ? static_cast<double>(std::sqrt(var)) : 0.0;
}

namespace {

std::string u128_to_string(Uint128 v) {
    if (v == 0) return "0";
    std::string s;
    while (v != 0) {
        s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
        v /= 10;
    }
    return s;
}

Uint128 u128_from_string(const std::string& s) {
    if (s.empty() || s.size() > 39) throw std::invalid_argument("histogram: bad 128-bit sum");
    Uint128 v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') throw std::invalid_argument("histogram: bad 128-bit sum");
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    return v;
}

} // namespace

std::uint64_t Histogram::value_at_rank(std::uint64_t rank) const {
    // rank is 1-based: the rank-th smallest sample.
    if (total_ == 0) return 0;
    if (rank <= 1) return min_;
    if (rank >= total_) return max_;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
        seen += counts_[i];
        if (seen >= rank) {
            const std::uint64_t lo = slot_low(i), hi = slot_high(i);
            const std::uint64_t mid = lo + (hi - lo) / 2;
            return std::clamp(mid, min_, max_);
        }
    }
    return max_;
}

std::uint64_t Histogram::percentile(double p) const {
    if (total_ == 0) return 0;
    if (p <= 0) return min_;
    if (p >= 100) return max_;
    auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total_)));
    rank = std::clamp<std::uint64_t>(rank, 1, total_);
    return value_at_rank(rank);
}

std::uint64_t Histogram::samples_needed(double p) {
    if (p <= 0 || p >= 100) return 1;
    return static_cast<std::uint64_t>(std::ceil(100.0 / (100.0 - p) - 1e-9));
}

std::vector<Histogram::Bucket> Histogram::nonzero_buckets() const {
    std::vector<Bucket> out;
    for (std::size_t i = 0; i < counts_.size(); ++i)
        if (counts_[i] != 0) out.push_back({slot_low(i), slot_high(i), counts_[i]});
    return out;
}

nlohmann::json Histogram::to_json() const {
    nlohmann::json counts = nlohmann::json::array();
    for (std::size_t i = 0; i < counts_.size(); ++i)
        if (counts_[i] != 0) counts.push_back({i, counts_[i]});
    return {{"encoding", "netdx-hdr-v1"},
            {"unit", "ns"},
            {"highest", highest_},
            {"count", total_},
            {"min", min()},
            {"max", max_},
            {"mean", mean()},
            {"stddev", stddev()},
            {"sum", u128_to_string(sum_)},
            {"sum_squares", u128_to_string(sum_squares_)},
            {"saturated", saturated_},
            {"counts", std::move(counts)}};
}

Histogram Histogram::from_json(const nlohmann::json& doc) {
    try {
        SlotCounts pairs;
        const auto& counts = doc.at("counts");
        pairs.reserve(counts.size());
        for (const auto& pair : counts)
            pairs.emplace_back(pair.at(0).get<std::uint64_t>(), pair.at(1).get<std::uint64_t>());
        return from_json(doc, pairs);
    } catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(fmt::format("histogram: malformed JSON ({})", e.what()));
    }
}

Histogram Histogram::from_json(const nlohmann::json& doc, const SlotCounts& pairs) {
    try {
        if (doc.at("encoding").get<std::string>() != "netdx-hdr-v1")
            throw std::invalid_argument("histogram: unknown encoding");
        Histogram h(doc.at("highest").get<std::uint64_t>());
        std::uint64_t total = 0;
        for (const auto& [slot, n] : pairs) {
            if (slot >= h.counts_.size())
                throw std::invalid_argument("histogram: slot out of range");
            h.counts_[slot] += n;
            total += n;
        }
        h.total_ = doc.at("count").get<std::uint64_t>();
        if (total != h.total_)
            throw std::invalid_argument("histogram: counts do not add up to count");
        h.min_ = h.total_ ? doc.at("min").get<std::uint64_t>() : UINT64_MAX;
        h.max_ = doc.at("max").get<std::uint64_t>();
        h.sum_ = u128_from_string(doc.at("sum").get<std::string>());
        h.sum_squares_ = u128_from_string(doc.at("sum_squares").get<std::string>());
        h.saturated_ = doc.value("saturated", std::uint64_t{0});
        return h;
    } catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(fmt::format("histogram: malformed JSON ({})", e.what()));
    }
}

std::string Histogram::percentile_distribution(double unit_ratio, int ticks_per_half) const {
    // Same layout as HdrHistogram's outputPercentileDistribution: percentile ticks that halve
    // the remaining distance to 100% with `ticks_per_half` steps per halving.
    std::string out = fmt::format("{:>12} {:>14} {:>10} {:>14}\n\n", "Value", "Percentile",
                                  "TotalCount", "1/(1-Percentile)");
    if (total_ > 0) {
        double p = 0;
        int ticks = ticks_per_half;
        std::uint64_t last_rank = 0;
        for (;;) {
            auto rank = std::clamp<std::uint64_t>(
                static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total_))), 1,
                total_);
            const double value = static_cast<double>(value_at_rank(rank)) / unit_ratio;
            const double q = static_cast<double>(rank) / static_cast<double>(total_);
            if (rank != last_rank || p == 0) {
                if (q < 1.0)
                    out += fmt::format("{:12.3f} {:2.12f} {:10d} {:14.2f}\n", value, q, rank,
                                       1.0 / (1.0 - q));
                else
                    out += fmt::format("{:12.3f} {:2.12f} {:10d}\n",
                                       static_cast<double>(max_) / unit_ratio, 1.0, total_);
            }
            last_rank = rank;
            if (rank >= total_) break;
            const double remaining = 100.0 - p;
            const double half = remaining / 2.0;
            p += half / ticks;
            if (--ticks == 0) ticks = ticks_per_half; // next halving interval
            if (100.0 - p < 1e-9) p = 100.0;
        }
    }
    out += fmt::format("#[Mean    = {:12.3f}, StdDeviation   = {:12.3f}]\n", mean() / unit_ratio,
                       stddev() / unit_ratio);
    out += fmt::format("#[Max     = {:12.3f}, Total count    = {:12d}]\n",
                       static_cast<double>(max_) / unit_ratio, total_);
    out += fmt::format("#[Buckets = {:12d}, SubBuckets     = {:12d}]\n", counts_.size() / kSubHalf,
                       kSubCount);
    return out;
}

bool Histogram::operator==(const Histogram& other) const {
    return highest_ == other.highest_ && total_ == other.total_ && min() == other.min() &&
           max_ == other.max_ && saturated_ == other.saturated_ && sum_ == other.sum_ &&
           sum_squares_ == other.sum_squares_ && counts_ == other.counts_;
}

} // namespace netdx
