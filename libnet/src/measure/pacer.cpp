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

std::uint64_t Pacer::skip_to(Nanos now) {
    if (now <= next_) return 0;
    const double behind = static_cast<double>(now - next_);
    std::uint64_t n = 0;
    if (poisson_) {
        std::poisson_distribution<std::uint64_t> arrivals(behind / interval_ns_);
        n = 1 + arrivals(rng_); // the one due at next_, and those after it before now
        next_ = now;
        carry_ = 0;
        next(); // a first gap from now
        --issued_;
    } else {
        // Sends at next_ + k * interval for k = 0, 1, ... that fall before now.
        const double k = std::ceil(behind / interval_ns_);
        n = static_cast<std::uint64_t>(k);
        const double target = static_cast<double>(next_) + carry_ + k * interval_ns_;
        next_ = static_cast<Nanos>(std::floor(target));
        carry_ = target - std::floor(target);
        if (next_ < now) { // rounding: one more
            next_ += static_cast<Nanos>(interval_ns_);
            ++n;
        }
    }
    skipped_ += n;
    return n;
}

} // namespace netdx
