#include <fmt/format.h>

#include <netdx/net/poll_poller.hpp>
#include <netdx/sys/system_error.hpp>

namespace netdx {

namespace {
short to_poll(std::uint32_t interests) {
    short ev = POLLRDHUP;
    if (interests & interest::read) ev = static_cast<short>(ev | POLLIN);
    if (interests & interest::write) ev = static_cast<short>(ev | POLLOUT);
    return ev;
}
} // namespace

void PollPoller::add(int fd, std::uint32_t interests, std::uint64_t token) {
    if (fd < 0) throw std::system_error(EBADF, std::generic_category(), "poll: add fd -1");
    const auto i = static_cast<std::size_t>(fd);
    if (slot_.size() <= i) slot_.resize(i + 1, -1);
    if (slot_[i] >= 0)
        throw std::system_error(EEXIST, std::generic_category(),
                                fmt::format("poll: add fd {}", fd));
    slot_[i] = static_cast<int>(fds_.size());
    fds_.push_back(pollfd{fd, to_poll(interests), 0});
    tokens_.push_back(token);
}

void PollPoller::modify(int fd, std::uint32_t interests, std::uint64_t token) {
    const auto i = static_cast<std::size_t>(fd);
    if (fd < 0 || i >= slot_.size() || slot_[i] < 0)
        throw std::system_error(ENOENT, std::generic_category(),
                                fmt::format("poll: modify fd {}", fd));
    const auto s = static_cast<std::size_t>(slot_[i]);
    fds_[s].events = to_poll(interests);
    tokens_[s] = token;
}

void PollPoller::remove(int fd) {
    const auto i = static_cast<std::size_t>(fd);
    if (fd < 0 || i >= slot_.size() || slot_[i] < 0) return; // already gone
    const auto s = static_cast<std::size_t>(slot_[i]);
    const auto last = fds_.size() - 1;
    if (s != last) {
        fds_[s] = fds_[last];
        tokens_[s] = tokens_[last];
        slot_[static_cast<std::size_t>(fds_[s].fd)] = static_cast<int>(s);
    }
    fds_.pop_back();
    tokens_.pop_back();
    slot_[i] = -1;
}

std::size_t PollPoller::wait(std::span<PollEvent> out, Nanos timeout) {
    timespec ts{};
    if (timeout >= 0) {
        ts.tv_sec = static_cast<time_t>(timeout / kNanosPerSecond);
        ts.tv_nsec = static_cast<long>(timeout % kNanosPerSecond);
    }
    // ppoll: a nanosecond timeout (poll's is in ms).
    const int n = timed_call(
        [&] { return ::ppoll(fds_.data(), fds_.size(), timeout < 0 ? nullptr : &ts, nullptr); });
    if (n < 0) {
        if (errno == EINTR) return 0;
        throw_errno(fmt::format("poll over {} fds", fds_.size()));
    }
    std::size_t count = 0;
    for (std::size_t s = 0; s < fds_.size() && count < out.size() && n > 0; ++s) {
        const short r = fds_[s].revents;
        if (r == 0) continue;
        out[count++] = PollEvent{tokens_[s], (r & (POLLIN | POLLRDHUP)) != 0, (r & POLLOUT) != 0,
                                 (r & (POLLERR | POLLNVAL)) != 0, (r & (POLLHUP | POLLRDHUP)) != 0};
        if (count == static_cast<std::size_t>(n)) break; // the rest are quiet
    }
    return count;
}

} // namespace netdx
