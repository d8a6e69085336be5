#pragma once
/// One event loop per thread, in the spirit of muduo's EventLoop/Channel: it owns a Poller
/// of any backend (made by make_poller, so epoll, poll or io_uring alike), a hashed timing
/// wheel for many timeouts of one length, a set of one-off timers, and an eventfd through
/// which other threads stop it or hand it work. Every networked tool runs on it; none
/// calls epoll_wait itself.
///
///   run_once(max_wait)
///     1. one-off timers that are due, then wheel entries that expired
///     2. wait = min(max_wait, next timer, next wheel tick)      (0 with busy_poll)
///     3. spin policy: while traffic is dense, poll without sleeping for up to `spin`
///     4. poller.wait(wait) -> the watching Channel's on_event() for each event;
///        one-shot backends: a channel still watched is re-armed after its handler;
///        io_uring: each finished operation's Completion too (uring(), completion.hpp)
///     5. functions posted from other threads
///
/// Semantics are level-triggered on every backend but epoll-et and uring-multishot: a
/// handler may read once and return; it is called again while the descriptor stays ready.
/// On those two (edge_triggered() true) an event comes once per wake-up of the file, so a
/// handler must drain to EAGAIN.
///
/// Ownership: the loop owns its poller, wheel, timers and wake-up eventfd, never the watched
/// descriptors nor the Channels. unwatch() a descriptor *before* closing it: an io_uring
/// poll holds its own reference to the file, so a closed but still watched socket lives on.
/// Threads: everything is for the thread that runs the loop, except stop(), stop_requested()
/// and post(), which any thread may call at any time.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include <netdx/net/backends.hpp>
#include <netdx/net/poller.hpp>
#include <netdx/net/timing_wheel.hpp>
#include <netdx/sys/clock.hpp>
#include <netdx/sys/fd.hpp>

namespace netdx {

class UringPoller;

/// What watches a descriptor: the loop calls on_event() on the loop's thread, with
/// ev.token set to the descriptor. The handler may watch, modify and unwatch any
/// descriptor (its own included) and post timers; an event for a descriptor unwatched
/// earlier in the same batch is not delivered.
class Channel {
public:
    virtual void on_event(const PollEvent& ev) = 0;

protected:
    ~Channel() = default; // never owned through a Channel pointer
};

class EventLoop {
public:
    struct Options {
        Backend backend = Backend::epoll;
        /// After serving events, poll without sleeping for up to this long before blocking,
        /// but only while traffic is dense (the last idle gap was shorter than this): it
        /// saves the sleep and wake-up of a ping-pong peer at the price of CPU while that
        /// traffic lasts. sched_yield() between polls lets a peer on the same CPU run.
        Nanos spin = 0;
        /// Never sleep: every wait polls (a latency probe's --busy-poll).
        bool busy_poll = false;
        Nanos wheel_tick = kNanosPerMilli; ///< timing-wheel resolution
        std::size_t wheel_slots = 4096;    ///< one rotation = tick × slots
        std::size_t max_events = 256;      ///< events taken per wait
        /// The loop is made, run and destroyed on one thread (stop() and post() still come
        /// from any): io_uring may then defer its kernel work to the loop's waits
        /// (uring_poller.hpp). Other backends ignore it.
        bool one_thread = false;
    };

    /// Throws std::system_error when the backend cannot be set up (probe_backend first) or
    /// no eventfd can be made.
    explicit EventLoop(Options options);
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // ------------------------------------------------------------- descriptors
    /// `ch` is called for events of `fd` until unwatch(fd); it must outlive that.
    void watch(int fd, std::uint32_t interests, Channel& ch);
    void modify(int fd, std::uint32_t interests);
    /// Idempotent; call before closing the descriptor.
    void unwatch(int fd);
    [[nodiscard]] bool watching(int fd) const;
    /// Registrations are queued by the io_uring backends until the next wait: hand them to
    /// the kernel now (before blocking elsewhere, e.g. in a sleep until a start time).
    void flush() { poller_->flush(); }

    // ------------------------------------------------------------------ timers
    /// Many timeouts of one length class (idle, connect): intrusive, O(1). The handler is
    /// called for each entry that expires (disarmed first: it may re-arm or free it).
    TimingWheel& wheel() { return wheel_; }
    void on_wheel_expiry(std::function<void(TimerEntry&, Nanos now)> handler) {
        wheel_handler_ = std::move(handler);
    }
    /// A one-off timer: fn runs on the loop's thread at or after `when` (monotonic ns).
    struct TimerId {
        Nanos when = 0;
        std::uint64_t seq = 0;
    };
    TimerId run_at(Nanos when, std::function<void()> fn);
    TimerId run_after(Nanos delay, std::function<void()> fn) {
        return run_at(monotonic_ns() + delay, std::move(fn));
    }
    void cancel(TimerId id);

    // ------------------------------------------------------------------ running
    /// One turn (see the diagram); returns how many descriptor events and completions were
    /// served. A
    /// negative max_wait waits until an event, a timer or a wake-up.
    std::size_t run_once(Nanos max_wait);
    /// Turns until stop() (or until `deadline`, monotonic ns, when it is not negative). What
    /// was posted before the stop has run when it returns, even if stop() came before run().
    void run(Nanos deadline = -1);
    /// Any thread: run() returns after the current turn; wakes a blocked wait.
    void stop();
    /// Acquire: a thread that sees the stop also sees what was posted before it.
    [[nodiscard]] bool stop_requested() const { return stop_.load(std::memory_order_acquire); }
    /// Any thread: fn runs on the loop's thread at the end of a turn (a blocked wait wakes).
    void post(std::function<void()> fn);

    /// The time of the last wake-up (monotonic ns): handlers read it instead of the clock.
    [[nodiscard]] Nanos now() const { return now_; }
    [[nodiscard]] std::string_view backend_name() const { return poller_->name(); }
    /// epoll-et, uring-multishot: handlers must drain every ready descriptor to EAGAIN.
    [[nodiscard]] bool edge_triggered() const { return poller_->edge_triggered(); }
    [[nodiscard]] std::size_t watched() const { return watched_; }
    /// The io_uring backends' completion path (accept, receive and send operations, see
    /// completion.hpp), served by run_once beside the descriptor events; nullptr on the
    /// other backends.
    [[nodiscard]] UringPoller* uring() { return uring_; }

private:
    /// One word per descriptor (a flooder holds a million): the channel pointer, whose
    /// alignment leaves its low three bits free for the interests and the armed flag.
    ///
    ///   63                                   3    2       1       0
    ///  +--------------------------------------+-------+-------+------+
    ///  | Channel*                             | armed | write | read |
    ///  +--------------------------------------+-------+-------+------+
    struct Slot {
        static constexpr std::uintptr_t kArmed = 4, kFlags = 7;
        std::uintptr_t bits = 0;
        [[nodiscard]] Channel* channel() const {
            return reinterpret_cast<Channel*>(bits & ~kFlags);
        }
        [[nodiscard]] std::uint32_t interests() const {
            return static_cast<std::uint32_t>(bits & 3);
        }
        [[nodiscard]] bool armed() const { return (bits & kArmed) != 0; }
        void set(Channel* ch, std::uint32_t interests, bool armed) {
            bits = reinterpret_cast<std::uintptr_t>(ch) | (interests & 3) | (armed ? kArmed : 0);
        }
    };
    struct Wakeup final : Channel {
        EventLoop* loop = nullptr;
        void on_event(const PollEvent& ev) override;
    };
    [[nodiscard]] Nanos wait_budget(Nanos max_wait, Nanos now) const;
    void run_timers(Nanos now);
    void run_posted();
    void wake();

    Options options_;
    std::unique_ptr<Poller> poller_;
    UringPoller* uring_ = nullptr; ///< poller_, when it is io_uring
    TimingWheel wheel_;
    std::function<void(TimerEntry&, Nanos)> wheel_handler_;
    std::map<std::pair<Nanos, std::uint64_t>, std::function<void()>> timers_;
    std::uint64_t timer_seq_ = 0;
    std::vector<Slot> slots_; ///< by descriptor
    std::size_t watched_ = 0;
    std::vector<PollEvent> events_;
    Fd wakeup_fd_;
    Wakeup wakeup_;
    std::atomic<bool> stop_{false};
    std::mutex posted_mutex_;
    std::vector<std::function<void()>> posted_;
    std::atomic<bool> has_posted_{false};
    Nanos now_ = 0;
    Nanos idle_since_ = 0;
    bool dense_ = false;
};

/// The backends a tool's --backend offers, by the names users type: "epoll", "poll",
/// "select", "uring" (one-shot polls re-armed by the loop: level semantics), and every exact
/// name of backend_name() ("epoll-et" and "uring-multishot" where the tool's handlers drain).
[[nodiscard]] std::optional<Backend> loop_backend_from_name(std::string_view name);

} // namespace netdx
