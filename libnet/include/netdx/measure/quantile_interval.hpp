#pragma once
/// How sure a percentile is: its 95% confidence interval from order statistics, assuming
/// nothing about the distribution. Of n samples, the number below the true p-th percentile
/// is binomial(n, p/100), so the true percentile lies between the samples of rank
///
///   ⌊n·q − z·√(n·q·(1−q))⌋  and  ⌈n·q + z·√(n·q·(1−q))⌉ + 1      (q = p/100, z = 1.96)
///
/// with about 95% probability (the normal approximation of the binomial; ranks clamped to
/// 1 … n). The median's is the familiar n/2 ± 0.98·√n. A CI regression gate compares these
/// intervals, not two points: two runs of one build differ by their noise, and this is it.

#include <cstdint>

#include <netdx/measure/histogram.hpp>

namespace netdx {

struct QuantileInterval {
    std::uint64_t low = 0;   ///< the sample of the lower rank
    std::uint64_t value = 0; ///< the percentile itself (Histogram::percentile)
    std::uint64_t high = 0;  ///< the sample of the upper rank
    std::uint64_t low_rank = 0, high_rank = 0;
};

/// The interval of percentile p (0 < p < 100) of `h`; all zero when `h` is empty.
[[nodiscard]] QuantileInterval quantile_interval(const Histogram& h, double p, double z = 1.96);

} // namespace netdx
