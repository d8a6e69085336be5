#include <cstring>
#include <poll.h>

#include <fmt/format.h>
#include <liburing.h>

#include <netdx/net/completion.hpp>
#include <netdx/net/provided_buffers.hpp>
#include <netdx/net/uring_poller.hpp>
#include <netdx/sys/system_error.hpp>

namespace netdx {

namespace {
constexpr std::uint64_t kOperation = std::uint64_t{1} << 63;
constexpr std::uint64_t kIgnored = kOperation; // an operation without a Completion
constexpr std::uint32_t kGenerationMask = 0x7fffffffu;
/// Completions (and events) taken per wait: operations whose completions start more of them
/// (a send finishing inline) must not keep one wait from returning to the loop's timers.
constexpr unsigned kMaxCqesPerWait = 4096;

std::uint64_t user_data(int fd, std::uint32_t generation) {
    return (std::uint64_t{generation & kGenerationMask} << 32) | static_cast<std::uint32_t>(fd);
}
std::uint64_t user_data(Completion& c) {
    return kOperation | reinterpret_cast<std::uintptr_t>(&c);
}
unsigned poll_mask(std::uint32_t interests) {
    unsigned m = POLLRDHUP;
    if (interests & interest::read) m |= POLLIN;
    if (interests & interest::write) m |= POLLOUT;
    return m;
}
} // namespace

UringPoller::UringPoller(bool multishot, unsigned entries, bool one_thread)
    : ring_(std::make_unique<io_uring>()), multishot_(multishot) {
    // COOP_TASKRUN (Linux 5.19): a completion posted while this thread runs in user space
    // waits for its next entry into the kernel instead of interrupting it. Without it every
    // readiness wake-up signals this thread, which costs more than the poll itself once
    // thousands of sockets are watched. DEFER_TASKRUN (6.1, one thread only) goes further:
    // the work behind completions runs only when this thread waits, in one batch (measured
    // at 10,000 connections: 1.2x the echo rate of COOP_TASKRUN alone). Older kernels
    // refuse the flags: set up with fewer.
    std::vector<unsigned> tries;
    if (one_thread)
        tries.push_back(IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER |
                        IORING_SETUP_DEFER_TASKRUN);
    tries.push_back(IORING_SETUP_COOP_TASKRUN);
    tries.push_back(0);
    int rc = -EINVAL;
    for (const unsigned flags : tries) {
        std::memset(ring_.get(), 0, sizeof(io_uring));
        io_uring_params params{};
        params.flags = flags;
        rc = ::io_uring_queue_init_params(entries, ring_.get(), &params);
        if (rc != -EINVAL) break;
    }
    if (rc < 0)
        throw std::system_error(-rc, std::generic_category(),
                                fmt::format("io_uring_queue_init({})", entries));
}

UringPoller::~UringPoller() {
    // Cancel every armed poll and reap the cancellations before the ring goes: otherwise
    // the kernel finishes them later as task work on this thread, which interrupts its next
    // blocking call (epoll_wait and friends return EINTR) long after the ring is gone.
    std::size_t pending = 0;
    try {
        for (std::size_t fd = 0; fd < entries_.size(); ++fd)
            if (entries_[fd].used && entries_[fd].armed) {
                cancel(static_cast<int>(fd));
                pending += 2; // the poll's own -ECANCELED and the remove's answer
            }
        flush();
    } catch (const std::system_error&) {
        // A ring that cannot submit any more: queue_exit below still tears it down.
    }
    const Nanos deadline = monotonic_ns() + 200 * kNanosPerMilli;
    while (pending > 0 && monotonic_ns() < deadline) {
        io_uring_cqe* cqe = nullptr;
        __kernel_timespec ts{0, 10'000'000};
        if (::io_uring_wait_cqe_timeout(ring_.get(), &cqe, &ts) != 0) continue;
        unsigned head = 0, seen = 0;
        io_uring_for_each_cqe(ring_.get(), head, cqe) {
            ++seen;
        }
        ::io_uring_cq_advance(ring_.get(), seen);
        pending = seen >= pending ? 0 : pending - seen;
    }
    ::io_uring_queue_exit(ring_.get());
}

io_uring_sqe* UringPoller::next_sqe() {
    io_uring_sqe* sqe = ::io_uring_get_sqe(ring_.get());
    if (sqe == nullptr) { // the submission queue is full: hand it to the kernel, then retry
        if (const int rc = ::io_uring_submit(ring_.get()); rc < 0)
            throw std::system_error(-rc, std::generic_category(), "io_uring_submit");
        sqe = ::io_uring_get_sqe(ring_.get());
        if (sqe == nullptr)
            throw std::system_error(EBUSY, std::generic_category(), "io_uring_get_sqe");
    }
    return sqe;
}

void UringPoller::arm(int fd) {
    auto& e = entries_[static_cast<std::size_t>(fd)];
    io_uring_sqe* sqe = next_sqe();
    if (multishot_)
        ::io_uring_prep_poll_multishot(sqe, fd, poll_mask(e.interests));
    else
        ::io_uring_prep_poll_add(sqe, fd, poll_mask(e.interests));
    ::io_uring_sqe_set_data64(sqe, user_data(fd, e.generation));
    e.armed = true;
}

void UringPoller::cancel(int fd) {
    auto& e = entries_[static_cast<std::size_t>(fd)];
    if (e.armed) {
        io_uring_sqe* sqe = next_sqe();
        ::io_uring_prep_poll_remove(sqe, user_data(fd, e.generation));
        ::io_uring_sqe_set_data64(sqe, kIgnored); // its own completion is ignored
    }
    e.armed = false;
    ++e.generation; // completions of the old poll are stale from now on
}

void UringPoller::add(int fd, std::uint32_t interests, std::uint64_t token) {
    if (fd < 0) throw std::system_error(EBADF, std::generic_category(), "io_uring: add fd -1");
    const auto i = static_cast<std::size_t>(fd);
    if (entries_.size() <= i) entries_.resize(i + 1);
    auto& e = entries_[i];
    if (e.used)
        throw std::system_error(EEXIST, std::generic_category(),
                                fmt::format("io_uring: add fd {}", fd));
    e.used = true;
    e.interests = interests;
    e.token = token;
    arm(fd);
}

void UringPoller::modify(int fd, std::uint32_t interests, std::uint64_t token) {
    const auto i = static_cast<std::size_t>(fd);
    if (fd < 0 || i >= entries_.size() || !entries_[i].used)
        throw std::system_error(ENOENT, std::generic_category(),
                                fmt::format("io_uring: modify fd {}", fd));
    // Like EPOLL_CTL_MOD, a modify re-registers (and so re-evaluates readiness): an armed
    // poll is removed and replaced, a disarmed one (one-shot, after its event) re-armed.
    auto& e = entries_[i];
    if (e.armed) cancel(fd);
    e.interests = interests;
    e.token = token;
    arm(fd);
}

void UringPoller::remove(int fd) {
    const auto i = static_cast<std::size_t>(fd);
    if (fd < 0 || i >= entries_.size() || !entries_[i].used) return;
    cancel(fd);
    entries_[i].used = false;
}

void UringPoller::accept_multishot(int listen_fd, Completion& c) {
    io_uring_sqe* sqe = next_sqe();
    ::io_uring_prep_multishot_accept(sqe, listen_fd, nullptr, nullptr,
                                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    ::io_uring_sqe_set_data64(sqe, user_data(c));
}

void UringPoller::recv_multishot(int fd, const ProvidedBuffers& buffers, Completion& c) {
    io_uring_sqe* sqe = next_sqe();
    ::io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = buffers.group();
    ::io_uring_sqe_set_data64(sqe, user_data(c));
}

void UringPoller::send(int fd, const void* data, std::size_t len, Completion& c) {
    io_uring_sqe* sqe = next_sqe();
    ::io_uring_prep_send(sqe, fd, data, len, MSG_NOSIGNAL);
    ::io_uring_sqe_set_data64(sqe, user_data(c));
}

void UringPoller::cancel(Completion& c) {
    io_uring_sqe* sqe = next_sqe();
    ::io_uring_prep_cancel64(sqe, user_data(c), IORING_ASYNC_CANCEL_ALL);
    ::io_uring_sqe_set_data64(sqe, kIgnored);
}

void UringPoller::flush() {
    if (const int rc = ::io_uring_submit(ring_.get()); rc < 0)
        throw std::system_error(-rc, std::generic_category(), "io_uring_submit");
}

std::size_t UringPoller::wait(std::span<PollEvent> out, Nanos timeout) {
    // The whole cycle is the "kernel call" measure_calls() times: submitting what is queued
    // (one-shot re-arms), waiting, and reaping the completions. The reaping is io_uring's
    // counterpart of epoll_wait copying events out, and when completions are already posted
    // (the task work ran in the writer's write()) the submit is no system call at all: a
    // span around it alone would be the two clock reads and nothing else.
    return timed_call([&] { return submit_and_reap(out, timeout); });
}

std::size_t UringPoller::submit_and_reap(std::span<PollEvent> out, Nanos timeout) {
    io_uring_cqe* cqe = nullptr;
    int rc = 0;
    if (timeout < 0) {
        rc = ::io_uring_submit_and_wait(ring_.get(), 1);
    } else {
        __kernel_timespec ts{};
        ts.tv_sec = timeout / kNanosPerSecond;
        ts.tv_nsec = timeout % kNanosPerSecond;
        rc = ::io_uring_submit_and_wait_timeout(ring_.get(), &cqe, 1, &ts, nullptr);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN)
        throw std::system_error(-rc, std::generic_category(), "io_uring_submit_and_wait");
    std::size_t count = 0;
    last_completions_ = 0;
    unsigned head = 0, seen = 0;
    io_uring_for_each_cqe(ring_.get(), head, cqe) {
        // A full `out` leaves the rest in the completion queue for the next wait. (Reaping
        // them and re-arming their polls instead made every wait pay for every ready
        // socket while reporting 256: 0.15x of epoll at 10,000 connections.)
        if (count == out.size() || seen == kMaxCqesPerWait) break;
        ++seen;
        const std::uint64_t data = ::io_uring_cqe_get_data64(cqe);
        if ((data & kOperation) != 0) {
            if (data == kIgnored) continue; // a cancellation's or poll remove's own answer
            // The handler may start operations (queued, or submitted when the queue is
            // full: their completions join this same iteration) but the entry it was
            // called for is only released with the cq_advance below.
            auto* c =
                reinterpret_cast<Completion*>(static_cast<std::uintptr_t>(data & ~kOperation));
            CompletionEvent ev;
            ev.res = cqe->res;
            ev.more = (cqe->flags & IORING_CQE_F_MORE) != 0;
            if ((cqe->flags & IORING_CQE_F_BUFFER) != 0)
                ev.buffer = static_cast<int>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
            ++last_completions_;
            c->on_complete(ev);
            continue;
        }
        const int fd = static_cast<int>(data & 0xffffffffu);
        const auto gen = static_cast<std::uint32_t>(data >> 32);
        if (fd < 0 || static_cast<std::size_t>(fd) >= entries_.size()) continue;
        auto& e = entries_[static_cast<std::size_t>(fd)];
        if (!e.used || (e.generation & kGenerationMask) != gen) continue; // removed or replaced
        const bool more = multishot_ && (cqe->flags & IORING_CQE_F_MORE) != 0;
        if (!more) e.armed = false;
        if (cqe->res == -ECANCELED) continue;
        const unsigned r = cqe->res < 0 ? POLLERR : static_cast<unsigned>(cqe->res);
        out[count++] = PollEvent{e.token, (r & (POLLIN | POLLRDHUP)) != 0, (r & POLLOUT) != 0,
                                 (r & (POLLERR | POLLNVAL)) != 0, (r & (POLLHUP | POLLRDHUP)) != 0};
        if (multishot_ && !e.armed) arm(fd); // the kernel dropped the multishot poll
    }
    ::io_uring_cq_advance(ring_.get(), seen);
    return count;
}

} // namespace netdx
