#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <fmt/format.h>

#include <netdx/net/event_loop.hpp>
#include <netdx/net/uring_poller.hpp>
#include <netdx/sys/system_error.hpp>

namespace netdx {

static_assert(alignof(Channel) >= 8, "Slot keeps three flags in a Channel pointer's low bits");
static_assert(interest::read == 1 && interest::write == 2, "Slot packs the interests in 2 bits");

namespace {
/// Timers that come due while timers run (one re-arming itself at once) wait for the next
/// turn past this many, so descriptor events are never starved.
constexpr int kTimersPerTurn = 1024;
} // namespace

EventLoop::EventLoop(Options options)
    : options_(options), poller_(options.one_thread && (options.backend == Backend::uring_oneshot ||
                                                        options.backend == Backend::uring_multishot)
                                     ? std::make_unique<UringPoller>(
                                           options.backend == Backend::uring_multishot, 8192, true)
                                     : make_poller(options.backend)),
      wheel_(options.wheel_tick, options.wheel_slots, monotonic_ns()),
      events_(std::max<std::size_t>(options.max_events, 1)) {
    if (options.backend == Backend::uring_oneshot || options.backend == Backend::uring_multishot)
        uring_ = static_cast<UringPoller*>(poller_.get());
    const int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0) throw_errno("eventfd for an event loop");
    wakeup_fd_.reset(efd);
    wakeup_.loop = this;
    watch(efd, interest::read, wakeup_);
    poller_->flush();
    now_ = idle_since_ = monotonic_ns();
}

EventLoop::~EventLoop() {
    // The poller goes first: its destructor cancels what io_uring still polls, the
    // eventfd among them, before the descriptor closes.
    poller_.reset();
}

void EventLoop::watch(int fd, std::uint32_t interests, Channel& ch) {
    if (fd < 0) throw std::system_error(EBADF, std::generic_category(), "event loop: watch fd -1");
    const auto i = static_cast<std::size_t>(fd);
    if (slots_.size() <= i) slots_.resize(std::max(i + 1, slots_.size() * 2));
    Slot& s = slots_[i];
    if (s.channel() != nullptr)
        throw std::system_error(EEXIST, std::generic_category(),
                                fmt::format("event loop: fd {} is watched already", fd));
    poller_->add(fd, interests, static_cast<std::uint64_t>(fd));
    s.set(&ch, interests, true);
    ++watched_;
}

void EventLoop::modify(int fd, std::uint32_t interests) {
    const auto i = static_cast<std::size_t>(fd);
    if (fd < 0 || i >= slots_.size() || slots_[i].channel() == nullptr)
        throw std::system_error(ENOENT, std::generic_category(),
                                fmt::format("event loop: modify fd {}, which is not watched", fd));
    Slot& s = slots_[i];
    // A one-shot backend disarmed after its event is re-armed by this call whatever the
    // interests; on the others an unchanged set needs no system call.
    if (s.interests() == interests && s.armed() && !poller_->oneshot()) return;
    poller_->modify(fd, interests, static_cast<std::uint64_t>(fd));
    s.set(s.channel(), interests, true);
}

void EventLoop::unwatch(int fd) {
    const auto i = static_cast<std::size_t>(fd);
    if (fd < 0 || i >= slots_.size() || slots_[i].channel() == nullptr) return;
    poller_->remove(fd);
    slots_[i] = {};
    --watched_;
}

bool EventLoop::watching(int fd) const {
    const auto i = static_cast<std::size_t>(fd);
    return fd >= 0 && i < slots_.size() && slots_[i].channel() != nullptr;
}

EventLoop::TimerId EventLoop::run_at(Nanos when, std::function<void()> fn) {
    const TimerId id{when, ++timer_seq_};
    timers_.emplace(std::pair{id.when, id.seq}, std::move(fn));
    return id;
}

void EventLoop::cancel(TimerId id) {
    timers_.erase({id.when, id.seq});
}

void EventLoop::run_timers(Nanos now) {
    for (int n = 0; n < kTimersPerTurn && !timers_.empty(); ++n) {
        auto it = timers_.begin();
        if (it->first.first > now) break;
        auto fn = std::move(it->second);
        timers_.erase(it);
        fn();
    }
}

Nanos EventLoop::wait_budget(Nanos max_wait, Nanos now) const {
    if (options_.busy_poll || stop_requested() || has_posted_.load(std::memory_order_relaxed))
        return 0;
    Nanos wait = max_wait;
    auto at_most = [&wait](Nanos w) {
        if (w >= 0 && (wait < 0 || w < wait)) wait = w;
    };
    if (!timers_.empty()) at_most(std::max<Nanos>(timers_.begin()->first.first - now, 0));
    if (wheel_.armed_count() > 0) at_most(wheel_.next_wait(now));
    return wait;
}

std::size_t EventLoop::run_once(Nanos max_wait) {
    now_ = monotonic_ns();
    run_timers(now_);
    if (wheel_.armed_count() > 0)
        wheel_.advance(now_, [this](TimerEntry& e) {
            if (wheel_handler_) wheel_handler_(e, now_);
        });
    const Nanos wait = wait_budget(max_wait, now_);
    std::size_t n = 0, completed = 0;
    // Completions are served inside wait(), as the ring is reaped; they count as work done.
    auto poll = [&](Nanos timeout) {
        n = poller_->wait(events_, timeout);
        if (uring_ != nullptr) completed = uring_->last_completions();
        return n + completed;
    };
    const bool spins = options_.spin > 0;
    bool served = false;
    if (spins && dense_ && wait != 0) {
        // Only while the previous idle gap was within the budget: sparse traffic never spins.
        const Nanos until = now_ + (wait > 0 ? std::min(wait, options_.spin) : options_.spin);
        while (!(served = poll(0) > 0) && !stop_requested() && monotonic_ns() < until)
            ::sched_yield(); // a runnable peer on this CPU runs instead of waiting for us
    }
    if (!served) poll(wait);
    now_ = monotonic_ns();
    if (spins) dense_ = now_ - idle_since_ <= options_.spin;
    const bool oneshot = poller_->oneshot();
    for (std::size_t k = 0; k < n; ++k) {
        const auto fd = static_cast<std::size_t>(events_[k].token);
        if (fd >= slots_.size() || slots_[fd].channel() == nullptr) continue; // unwatched since
        Slot& s = slots_[fd];
        if (oneshot) s.set(s.channel(), s.interests(), false);
        s.channel()->on_event(events_[k]);
        // Still watched and not re-armed by its handler: a one-shot poll is armed again. (The
        // handler may have grown slots_: index again.)
        Slot& after = slots_[fd];
        if (oneshot && after.channel() != nullptr && !after.armed()) {
            poller_->modify(static_cast<int>(fd), after.interests(), fd);
            after.set(after.channel(), after.interests(), true);
        }
    }
    if (has_posted_.load(std::memory_order_acquire)) run_posted();
    if (spins) idle_since_ = monotonic_ns();
    return n + completed;
}

void EventLoop::run(Nanos deadline) {
    while (!stop_requested()) {
        if (deadline < 0) {
            run_once(-1);
            continue;
        }
        const Nanos left = deadline - monotonic_ns();
        if (left <= 0) break;
        run_once(left);
    }
    // A stop that came with (or before) a post: the posted work still runs, on this thread.
    if (has_posted_.load(std::memory_order_acquire)) run_posted();
}

void EventLoop::stop() {
    stop_.store(true, std::memory_order_release);
    wake();
}

void EventLoop::post(std::function<void()> fn) {
    {
        std::lock_guard lock(posted_mutex_);
        posted_.push_back(std::move(fn));
    }
    has_posted_.store(true, std::memory_order_release);
    wake();
}

void EventLoop::run_posted() {
    std::vector<std::function<void()>> todo;
    {
        std::lock_guard lock(posted_mutex_);
        todo.swap(posted_);
        has_posted_.store(false, std::memory_order_relaxed);
    }
    for (auto& fn : todo)
        fn();
}

void EventLoop::wake() {
    const std::uint64_t one = 1;
    // EAGAIN: the counter is already non-zero, so the loop is woken anyway.
    [[maybe_unused]] const auto n = ::write(wakeup_fd_.get(), &one, sizeof one);
}

void EventLoop::Wakeup::on_event(const PollEvent&) {
    std::uint64_t v = 0;
    [[maybe_unused]] const auto n = ::read(loop->wakeup_fd_.get(), &v, sizeof v);
}

std::optional<Backend> loop_backend_from_name(std::string_view name) {
    if (name == "uring") return Backend::uring_oneshot; // level semantics, like epoll's
    return backend_from_name(name);
}

} // namespace netdx
