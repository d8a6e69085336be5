#include <stdexcept>

#include <netdx/net/timing_wheel.hpp>

namespace netdx {

TimingWheel::TimingWheel(Nanos tick, std::size_t slots, Nanos now)
    : tick_(tick > 0 ? tick : 1), origin_(now), heads_(slots > 0 ? slots : 1) {
    for (auto& h : heads_)
        h.prev = h.next = &h;
}

void TimingWheel::link(TimerEntry& e) {
    TimerEntry& head = heads_[e.deadline_tick % heads_.size()];
    e.prev = head.prev;
    e.next = &head;
    head.prev->next = &e;
    head.prev = &e;
    e.armed = true;
    ++armed_;
}

void TimingWheel::unlink(TimerEntry& e) {
    e.prev->next = e.next;
    e.next->prev = e.prev;
    e.prev = e.next = nullptr;
    e.armed = false;
    --armed_;
}

void TimingWheel::arm(TimerEntry& e, Nanos now, Nanos delay) {
    if (e.armed) unlink(e);
    if (delay < 0) delay = 0;
    // Round up: an entry never fires before its delay has passed.
    const auto due = static_cast<std::uint64_t>((now - origin_ + delay + tick_ - 1) / tick_);
    e.deadline_tick = due > current_ ? due : current_ + 1;
    link(e);
}

void TimingWheel::cancel(TimerEntry& e) {
    if (e.armed) unlink(e);
}

Nanos TimingWheel::next_wait(Nanos now) const {
    if (armed_ == 0) return -1;
    const Nanos next_boundary = origin_ + static_cast<Nanos>(current_ + 1) * tick_;
    return next_boundary > now ? next_boundary - now : 0;
}

} // namespace netdx
