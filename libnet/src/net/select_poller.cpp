#include <algorithm>
#include <sys/select.h>

#include <fmt/format.h>

#include <netdx/net/select_poller.hpp>
#include <netdx/sys/system_error.hpp>

namespace netdx {

namespace {
constexpr int kBits = static_cast<int>(sizeof(unsigned long) * 8);

bool test_bit(const std::vector<unsigned long>& words, int fd) {
    const auto w = static_cast<std::size_t>(fd / kBits);
    return w < words.size() && (words[w] >> (fd % kBits) & 1UL) != 0;
}

void set_bit(std::vector<unsigned long>& words, int fd, bool on) {
    const auto w = static_cast<std::size_t>(fd / kBits);
    if (words.size() <= w) words.resize(w + 1, 0);
    const unsigned long bit = 1UL << (fd % kBits);
    words[w] = on ? (words[w] | bit) : (words[w] & ~bit);
}
} // namespace

void SelectPoller::add(int fd, std::uint32_t interests, std::uint64_t token) {
    if (fd < 0) throw std::system_error(EBADF, std::generic_category(), "select: add fd -1");
    const auto i = static_cast<std::size_t>(fd);
    if (entries_.size() <= i) entries_.resize(i + 1);
    if (entries_[i].used)
        throw std::system_error(EEXIST, std::generic_category(),
                                fmt::format("select: add fd {}", fd));
    entries_[i] = Entry{interests, token, true};
    fds_.push_back(fd);
    max_fd_ = std::max(max_fd_, fd);
    set_bit(read_, fd, (interests & interest::read) != 0);
    set_bit(write_, fd, (interests & interest::write) != 0);
}

void SelectPoller::modify(int fd, std::uint32_t interests, std::uint64_t token) {
    const auto i = static_cast<std::size_t>(fd);
    if (fd < 0 || i >= entries_.size() || !entries_[i].used)
        throw std::system_error(ENOENT, std::generic_category(),
                                fmt::format("select: modify fd {}", fd));
    entries_[i].interests = interests;
    entries_[i].token = token;
    set_bit(read_, fd, (interests & interest::read) != 0);
    set_bit(write_, fd, (interests & interest::write) != 0);
}

void SelectPoller::remove(int fd) {
    const auto i = static_cast<std::size_t>(fd);
    if (fd < 0 || i >= entries_.size() || !entries_[i].used) return; // already gone
    entries_[i].used = false;
    set_bit(read_, fd, false);
    set_bit(write_, fd, false);
    fds_.erase(std::find(fds_.begin(), fds_.end(), fd));
    if (fd == max_fd_) max_fd_ = fds_.empty() ? -1 : *std::max_element(fds_.begin(), fds_.end());
}

std::size_t SelectPoller::wait(std::span<PollEvent> out, Nanos timeout) {
    const auto words = static_cast<std::size_t>(max_fd_ / kBits + 1);
    read_.resize(std::max(read_.size(), words), 0);
    write_.resize(std::max(write_.size(), words), 0);
    read_out_.assign(read_.begin(), read_.begin() + static_cast<std::ptrdiff_t>(words));
    write_out_.assign(write_.begin(), write_.begin() + static_cast<std::ptrdiff_t>(words));
    timespec ts{};
    if (timeout >= 0) {
        ts.tv_sec = static_cast<time_t>(timeout / kNanosPerSecond);
        ts.tv_nsec = static_cast<long>(timeout % kNanosPerSecond);
    }
    // pselect: a nanosecond timeout (select's is in µs).
    const int n = timed_call([&] {
        return ::pselect(max_fd_ + 1, reinterpret_cast<fd_set*>(read_out_.data()),
                         reinterpret_cast<fd_set*>(write_out_.data()), nullptr,
                         timeout < 0 ? nullptr : &ts, nullptr);
    });
    if (n < 0) {
        if (errno == EINTR) return 0;
        throw_errno(fmt::format("select over {} fds (highest {})", fds_.size(), max_fd_));
    }
    std::size_t count = 0;
    if (n == 0) return 0;
    for (const int fd : fds_) {
        if (count == out.size()) break;
        const bool r = test_bit(read_out_, fd), w = test_bit(write_out_, fd);
        if (!r && !w) continue;
        out[count++] = PollEvent{entries_[static_cast<std::size_t>(fd)].token, r, w, false, false};
    }
    return count;
}

} // namespace netdx
