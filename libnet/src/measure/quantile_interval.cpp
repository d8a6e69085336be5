#include <algorithm>
#include <cmath>

#include <netdx/measure/quantile_interval.hpp>

namespace netdx {

QuantileInterval quantile_interval(const Histogram& h, double p, double z) {
    QuantileInterval r;
    const std::uint64_t n = h.count();
    if (n == 0) return r;
    const double q = std::clamp(p / 100.0, 0.0, 1.0);
    const double nq = static_cast<double>(n) * q;
    const double half = z * std::sqrt(static_cast<double>(n) * q * (1.0 - q));
    const auto clamp_rank = [n](double rank) {
        return static_cast<std::uint64_t>(std::clamp(rank, 1.0, static_cast<double>(n)));
    };
    r.low_rank = clamp_rank(std::floor(nq - half));
    r.high_rank = clamp_rank(std::ceil(nq + half) + 1);
    r.low = h.value_at_rank(r.low_rank);
    r.high = h.value_at_rank(r.high_rank);
    r.value = h.percentile(p);
    return r;
}

} // namespace netdx
