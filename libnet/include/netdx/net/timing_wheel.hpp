#pragma once
/// Hashed timing wheel for many timeouts of one length class (idle and connect timeouts):
/// O(1) to arm, cancel and expire, no timer syscall per entry.
///
///          tick 0   tick 1   tick 2         tick N-1
///         +-------+-------+-------+- ... -+-------+
///  slots  | list  | list  | list  |       | list  |   an entry sits in slot
///         +-------+-------+-------+- ... -+-------+   deadline_tick % N
///             ^ cursor advances one slot per tick; entries whose deadline is a later
///               rotation stay put (they are checked again N ticks on)
///
/// Entries are intrusive (the owner embeds a TimerEntry), so arming allocates nothing. For
/// idle timeouts the owner need not touch the wheel on every message: it records its last
/// activity and, when its entry expires, re-arms for the remaining time (see Rearm).
///
/// Thread safety: none; one wheel per event-loop thread.

#include <cstdint>
#include <vector>

#include <netdx/sys/clock.hpp>

namespace netdx {

struct TimerEntry {
    TimerEntry* prev = nullptr;
    TimerEntry* next = nullptr;
    std::uint64_t deadline_tick = 0;
    bool armed = false;
};

class TimingWheel {
public:
    /// `tick`: resolution; `slots`: wheel size (one rotation = tick × slots).
    TimingWheel(Nanos tick, std::size_t slots, Nanos now);
    TimingWheel(const TimingWheel&) = delete;
    TimingWheel& operator=(const TimingWheel&) = delete;

    /// Arms (or re-arms) `e` to expire `delay` after `now` (rounded up to a tick).
    void arm(TimerEntry& e, Nanos now, Nanos delay);
    void cancel(TimerEntry& e);
    /// Calls on_expire(TimerEntry&) for each entry due at or before `now`; the entry is
    /// disarmed before the call, so the callback may re-arm or destroy it.
    template <typename F>
    void advance(Nanos now, F&& on_expire);

    /// Time until the next tick boundary (for the poller's timeout); -1 when nothing is armed.
    [[nodiscard]] Nanos next_wait(Nanos now) const;
    [[nodiscard]] std::size_t armed_count() const { return armed_; }
    [[nodiscard]] Nanos tick() const { return tick_; }

private:
    void link(TimerEntry& e);
    void unlink(TimerEntry& e);

    Nanos tick_;
    Nanos origin_;
    std::uint64_t current_ = 0;     ///< ticks already expired
    std::vector<TimerEntry> heads_; ///< sentinel per slot (circular lists)
    std::size_t armed_ = 0;
};

template <typename F>
void TimingWheel::advance(Nanos now, F&& on_expire) {
    const auto target = static_cast<std::uint64_t>((now - origin_) / tick_);
    const std::uint64_t slots = heads_.size();
    // Never walk more than one rotation: later ticks map onto the same slots again.
    if (target > current_ + slots) current_ = target - slots;
    while (current_ < target) {
        ++current_;
        TimerEntry& head = heads_[current_ % slots];
        TimerEntry* e = head.next;
        while (e != &head) {
            TimerEntry* next = e->next;
            if (e->deadline_tick <= current_) {
                unlink(*e);
                on_expire(*e);
            }
            e = next;
        }
    }
}

} // namespace netdx
