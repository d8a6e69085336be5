#include <cmath>
#include <stdexcept>

#include <netdx/measure/pacer.hpp>

namespace netdx {

Pacer::Pacer(double rate, Nanos start, bool poisson, std::uint64_t seed)
    : rate_(rate), interval_ns_(1e9 / rate), poisson_(poisson), next_(start), rng_(seed),
      gap_(1.0) {
    if (!(rate > 0) || !std::isfinite(rate)) throw std::invalid_argument("Pacer: rate must be > 0");
}

Nanos Pacer::next() {
    const Nanos now_slot = next_;
    const double gap = poisson_ ? interval_ns_ * gap_(rng_) : interval_ns_;
    const double whole = std::floor(gap + carry_);
    carry_ = gap + carry_ - whole;
    next_ += static_cast<Nanos>(whole);
    ++issued_;
    return now_slot;
}

} // namespace netdx
