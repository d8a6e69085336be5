#pragma once
/// Readiness notification, one class per backend (muduo's Poller). This header is the
/// interface; EpollPoller is the backend the servers use, SelectPoller, PollPoller and
/// UringPoller are netdx-mux's other subjects; backends.hpp makes one by name and says
/// whether it works here.
///
/// Ownership: a Poller owns its kernel object (epoll fd …), never the watched descriptors.
/// Thread safety: one thread uses a poller (the one running its loop).

#include <cstdint>
#include <span>
#include <string_view>

#include <netdx/sys/clock.hpp>

namespace netdx {

namespace interest {
inline constexpr std::uint32_t read = 1u << 0;
inline constexpr std::uint32_t write = 1u << 1;
} // namespace interest

struct PollEvent {
    std::uint64_t token = 0; ///< what the caller registered the fd with
    bool readable = false;
    bool writable = false;
    bool error = false;  ///< EPOLLERR: read SO_ERROR
    bool hangup = false; ///< EPOLLHUP / EPOLLRDHUP
};

class Poller {
public:
    virtual ~Poller() = default;
    virtual void add(int fd, std::uint32_t interests, std::uint64_t token) = 0;
    virtual void modify(int fd, std::uint32_t interests, std::uint64_t token) = 0;
    virtual void remove(int fd) = 0;
    /// Waits up to `timeout` (negative: forever, 0: poll); fills `out`, returns how many.
    /// An interrupting signal returns 0 (the caller checks its flags).
    virtual std::size_t wait(std::span<PollEvent> out, Nanos timeout) = 0;
    [[nodiscard]] virtual std::string_view name() const = 0;
    /// Hands queued registrations to the kernel now (io_uring queues them until the next
    /// wait); the others register at once and do nothing here.
    virtual void flush() {}
    /// One-shot backends (epoll EPOLLONESHOT, io_uring one-shot poll) disarm an fd once it
    /// has reported an event: the caller re-arms it with modify().
    [[nodiscard]] virtual bool oneshot() const { return false; }
    /// Edge-triggered backends report a readiness change once: the caller must drain the fd
    /// to EAGAIN, or it never reports again.
    [[nodiscard]] virtual bool edge_triggered() const { return false; }

    /// Timing the kernel call alone (netdx-mux): when on, wait() reads the clock around its
    /// system call and last_call_ns() is that span (clock reads included); the rest of
    /// wait() is dispatch, turning the kernel's answer into PollEvents. io_uring's call is
    /// its whole submit-wait-reap cycle (see uring_poller.hpp): its completions are read
    /// from shared memory, often with no system call. Off by default: servers do not pay
    /// for two clock reads per wait.
    void measure_calls(bool on) { measure_ = on; }
    [[nodiscard]] Nanos last_call_ns() const { return last_call_; }

protected:
    /// For backends: brackets the system call.
    template <typename F>
    auto timed_call(F&& call) {
        if (!measure_) return call();
        const Nanos t0 = monotonic_ns();
        auto r = call();
        last_call_ = monotonic_ns() - t0;
        return r;
    }

private:
    bool measure_ = false;
    Nanos last_call_ = 0;
};

} // namespace netdx
