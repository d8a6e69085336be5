#include <cmath>
#include <stdexcept>

#include <netdx/measure/pacer.hpp>

namespace netdx {

Pacer::Pacer(double rate, Nanos start, bool poisson, std::uint64_t seed)
    : Pacer(rate, start, Stripe{}, poisson, seed) {}

Pacer::Pacer(double rate, Nanos start, Stripe stripe, bool poisson, std::uint64_t seed)
    : rate_(rate / static_cast<double>(stripe.stride == 0 ? 1 : stripe.stride)),
      interval_ns_(1e9 / rate_), slot_ns_(1e9L / static_cast<long double>(rate)), stripe_(stripe),
      start_(start), poisson_(poisson), next_(start), rng_(seed), gap_(1.0) {
    if (!(rate > 0) || !std::isfinite(rate)) throw std::invalid_argument("Pacer: rate must be > 0");
    if (stripe.stride == 0) throw std::invalid_argument("Pacer: stride must be > 0");
    if (!poisson_) next_ = slot_time(0);
}

Nanos Pacer::slot_time(std::uint64_t m) const {
    const long double j = static_cast<long double>(stripe_.first) +
                          static_cast<long double>(m) * static_cast<long double>(stripe_.stride);
    return start_ + static_cast<Nanos>(std::floor(j * slot_ns_));
}

Nanos Pacer::next() {
    const Nanos now_slot = next_;
    ++issued_;
    if (!poisson_) {
        next_ = slot_time(++m_);
        return now_slot;
    }
    const double gap = interval_ns_ * gap_(rng_);
    const double whole = std::floor(gap + carry_);
    carry_ = gap + carry_ - whole;
    next_ += static_cast<Nanos>(whole);
    return now_slot;
}

std::uint64_t Pacer::skip_to(Nanos now) {
    if (now <= next_) return 0;
    std::uint64_t n = 0;
    if (poisson_) {
        const double behind = static_cast<double>(now - next_);
        std::poisson_distribution<std::uint64_t> arrivals(behind / interval_ns_);
        n = 1 + arrivals(rng_); // the one due at next_, and those after it before now
        next_ = now;
        carry_ = 0;
        next(); // a first gap from now
        --issued_;
    } else {
        // The first slot at or after now: estimate from the index, then step to it exactly.
        const long double behind = static_cast<long double>(now - next_);
        std::uint64_t m =
            m_ + static_cast<std::uint64_t>(std::floor(behind / (slot_ns_ * stripe_.stride)));
        while (m > m_ && slot_time(m - 1) >= now)
            --m;
        while (slot_time(m) < now)
            ++m;
        n = m - m_;
        m_ = m;
        next_ = slot_time(m_);
    }
    skipped_ += n;
    return n;
}

} // namespace netdx
