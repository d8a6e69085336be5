#include <fmt/format.h>

#include <netdx/net/epoll_poller.hpp>
#include <netdx/sys/system_error.hpp>

namespace netdx {

EpollPoller::EpollPoller(Trigger trigger) : trigger_(trigger), buffer_(256) {
    const int fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) throw_errno("epoll_create1");
    epoll_.reset(fd);
}

std::uint32_t EpollPoller::to_epoll(std::uint32_t interests) const {
    std::uint32_t ev = EPOLLRDHUP;
    if (interests & interest::read) ev |= EPOLLIN;
    if (interests & interest::write) ev |= EPOLLOUT;
    if (trigger_ == Trigger::edge) ev |= EPOLLET;
    if (trigger_ == Trigger::oneshot) ev |= EPOLLONESHOT;
    return ev;
}

void EpollPoller::control(int op, int fd, std::uint32_t interests, std::uint64_t token) {
    epoll_event ev{};
    ev.events = to_epoll(interests);
    ev.data.u64 = token;
    if (::epoll_ctl(epoll_.get(), op, fd, &ev) != 0)
        throw_errno(fmt::format("epoll_ctl {} fd {}", op == EPOLL_CTL_ADD ? "ADD" : "MOD", fd));
}

void EpollPoller::add(int fd, std::uint32_t interests, std::uint64_t token) {
    control(EPOLL_CTL_ADD, fd, interests, token);
}

void EpollPoller::modify(int fd, std::uint32_t interests, std::uint64_t token) {
    control(EPOLL_CTL_MOD, fd, interests, token);
}

void EpollPoller::remove(int fd) {
    // ENOENT/EBADF: already gone (closing an fd removes it); nothing to undo.
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr) != 0 && errno != ENOENT &&
        errno != EBADF)
        throw_errno(fmt::format("epoll_ctl DEL fd {}", fd));
}

std::size_t EpollPoller::wait(std::span<PollEvent> out, Nanos timeout) {
    if (buffer_.size() < out.size()) buffer_.resize(out.size());
    // epoll_pwait2 (Linux 5.11) takes a nanosecond timeout; epoll_wait rounds up to a
    // millisecond, too coarse for pacing. Fall back for good when the kernel lacks it.
    const bool sub_second = timeout > 0 && timeout < kNanosPerSecond;
    int n = -1;
    bool waited = false;
    if (sub_second && have_pwait2_) {
        timespec ts{0, static_cast<long>(timeout)};
        n = timed_call([&] {
            return ::epoll_pwait2(epoll_.get(), buffer_.data(), static_cast<int>(out.size()), &ts,
                                  nullptr);
        });
        waited = n >= 0 || errno != ENOSYS;
        have_pwait2_ = waited;
    }
    if (!waited) {
        const int ms =
            timeout < 0 ? -1 : static_cast<int>((timeout + kNanosPerMilli - 1) / kNanosPerMilli);
        n = timed_call([&] {
            return ::epoll_wait(epoll_.get(), buffer_.data(), static_cast<int>(out.size()), ms);
        });
    }
    if (n < 0) {
        if (errno == EINTR) return 0;
        throw_errno("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
        const auto& e = buffer_[static_cast<std::size_t>(i)];
        out[static_cast<std::size_t>(i)] = PollEvent{
            e.data.u64, (e.events & (EPOLLIN | EPOLLRDHUP)) != 0, (e.events & EPOLLOUT) != 0,
            (e.events & EPOLLERR) != 0, (e.events & (EPOLLHUP | EPOLLRDHUP)) != 0};
    }
    return static_cast<std::size_t>(n);
}

} // namespace netdx
