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
/// Completions (completion.hpp), on the same ring: accept_multishot, recv_multishot into
/// ProvidedBuffers, send and cancel start operations whose results wait() hands to their
/// Completion as it reaps, beside the polls' PollEvents. Operations are queued like polls
/// and submitted in one batch by the next wait() (or flush()).
///
///   user_data  bit 63 = 0: a poll   [0 | generation:31 | fd:32]
///              bit 63 = 1: an op    [1 | Completion*:63]       (pointer 0: ignore)
///
/// Construction throws std::system_error when the ring cannot be set up (probe first with
/// probe_backend()). One thread uses a poller.

#include <cstddef>
#include <memory>
#include <vector>

#include <netdx/net/poller.hpp>

struct io_uring;

namespace netdx {

class Completion;
class ProvidedBuffers;

class UringPoller final : public Poller {
public:
    /// `one_thread`: the ring is made, used and destroyed on one thread, so the kernel may
    /// keep its task work until that thread waits (IORING_SETUP_SINGLE_ISSUER |
    /// DEFER_TASKRUN, Linux 6.1): completions are then posted in batches at each wait
    /// instead of interrupting the thread as they come. Any other thread touching the ring
    /// gets EEXIST.
    explicit UringPoller(bool multishot, unsigned entries = 8192, bool one_thread = false);
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

    // ------------------------------------------------------------ completions
    /// Multishot accept (Linux 5.19): each connection completes with its descriptor (res,
    /// accepted SOCK_NONBLOCK | SOCK_CLOEXEC) and more set while the accept stays armed.
    void accept_multishot(int listen_fd, Completion& c);
    /// Multishot receive into `buffers` (Linux 6.0): each completion has the bytes (res) and
    /// the buffer they are in; 0 is the peer's FIN, -ENOBUFS the group ran dry (both end it).
    void recv_multishot(int fd, const ProvidedBuffers& buffers, Completion& c);
    /// One send of [data, data + len); the bytes must stay untouched until its completion.
    void send(int fd, const void* data, std::size_t len, Completion& c);
    /// Asks the kernel to end every operation started with `c`; each still completes, with
    /// -ECANCELED or with its result if it finished first.
    void cancel(Completion& c);
    /// How many completions the last wait() delivered besides the events it returned.
    [[nodiscard]] std::size_t last_completions() const { return last_completions_; }
    /// The ring, to register ProvidedBuffers with.
    [[nodiscard]] io_uring& ring() { return *ring_; }

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
    std::size_t last_completions_ = 0;
};

} // namespace netdx
