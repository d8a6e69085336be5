#pragma once
/// io_uring backend: readiness through IORING_OP_POLL_ADD, one-shot or multishot.
///
///   add/modify/remove  queue SQEs (poll add, poll remove); nothing is submitted yet
///   wait               submits what is queued and waits for completions in one
///                      io_uring_submit_and_wait_timeout call, then harvests the CQEs;
///                      with measure_calls() on, that whole cycle is the timed call
///
/// One-shot: a poll completes once (at once if the fd is already ready) and the fd is
/// disarmed until modify() queues a new poll. Multishot (Linux 5.13): the poll stays armed
/// and completes again on each wake-up of the fd; when the kernel drops it (no
/// IORING_CQE_F_MORE) it is re-armed here. Each poll's user_data is (generation << 32 | fd),
/// so a completion of a poll removed or replaced since is recognised and dropped.
///
/// Construction throws std::system_error when the ring cannot be set up (probe first with
/// probe_backend()). One thread uses a poller.

#include <memory>
#include <vector>

#include <netdx/net/poller.hpp>

struct io_uring;

namespace netdx {

class UringPoller final : public Poller {
public:
    explicit UringPoller(bool multishot, unsigned entries = 8192);
    ~UringPoller() override;
    UringPoller(const UringPoller&) = delete;
    UringPoller& operator=(const UringPoller&) = delete;

    void add(int fd, std::uint32_t interests, std::uint64_t token) override;
    void modify(int fd, std::uint32_t interests, std::uint64_t token) override;
    void remove(int fd) override;
    std::size_t wait(std::span<PollEvent> out, Nanos timeout) override;
    void flush() override;
    [[nodiscard]] std::string_view name() const override {
        return multishot_ ? "uring-multishot" : "uring-oneshot";
    }
    [[nodiscard]] bool oneshot() const override { return !multishot_; }
    /// A multishot poll completes on each wake-up of the file (new data), not while it stays
    /// ready: edge semantics, so its users drain like epoll-et's.
    [[nodiscard]] bool edge_triggered() const override { return multishot_; }

private:
    struct Entry {
        std::uint32_t interests = 0;
        std::uint64_t token = 0;
        std::uint32_t generation = 0;
        bool used = false;
        bool armed = false;
    };
    std::size_t submit_and_reap(std::span<PollEvent> out, Nanos timeout);
    void arm(int fd);
    void cancel(int fd);
    struct io_uring_sqe* next_sqe();
    std::unique_ptr<io_uring> ring_;
    bool multishot_;
    std::vector<Entry> entries_; ///< by fd
};

} // namespace netdx
