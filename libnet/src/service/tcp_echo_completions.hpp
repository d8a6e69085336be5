#pragma once
/// netdx-echo's TCP on io_uring's completion path (private to service/): one multishot
/// accept, one multishot receive per connection into provided buffers, sends submitted in
/// the loop's batch. Same contract as the readiness path in echo_server.cpp: bytes echoed in
/// order, at most about write_buffer unsent bytes per connection, idle connections closed
/// by the loop's wheel, --max-connections, descriptor exhaustion shed with a spare.
///
/// One connection:
///
///   recv completes with n bytes in buffer b
///     └─► copy into `sending` (no send in flight: submit it) or append to `next`;
///         give b back at once, so buffers are never held by slow peers
///   unsent >= write_buffer ─► cancel the receive (paused) until the sends drain
///   send completes ─► rest of `sending` again, or swap in `next` and send that
///   recv 0 (FIN) ─► close once every byte was sent
///   close ─► cancel receive and send; the connection is freed (and its descriptor
///            closed) only when both operations have completed for the last time
///
///   sending: [ sent | in flight, untouched by us until its completion ]
///   next:    [ arrived while a send was in flight ]
///
/// Threads: everything runs on the worker's loop thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <netdx/net/completion.hpp>
#include <netdx/net/event_loop.hpp>
#include <netdx/net/provided_buffers.hpp>
#include <netdx/net/timing_wheel.hpp>
#include <netdx/service/echo_server.hpp>
#include <netdx/sys/fd.hpp>

#include "echo_counters.hpp"

namespace netdx::echo_detail {

class TcpEchoCompletions {
public:
    /// `loop` must run an io_uring backend; `listen_fd` stays the caller's (and open until
    /// shutdown() returns). Throws std::system_error when the buffers cannot be registered.
    TcpEchoCompletions(EventLoop& loop, const EchoConfig& config, EchoCounters& counters,
                       std::atomic<std::uint64_t>& shared_now, int listen_fd);
    ~TcpEchoCompletions();
    TcpEchoCompletions(const TcpEchoCompletions&) = delete;
    TcpEchoCompletions& operator=(const TcpEchoCompletions&) = delete;

    /// Arms the accept and takes over the loop's wheel (idle timeouts).
    void start();
    /// Stops accepting, closes every connection and turns the loop until the kernel has
    /// ended all their operations, for at most `budget`.
    void shutdown(Nanos budget);

private:
    struct Conn;
    struct Accept final : Completion {
        TcpEchoCompletions* owner = nullptr;
        void on_complete(const CompletionEvent& ev) override { owner->on_accept(ev); }
    };
    void on_accept(const CompletionEvent& ev);
    void on_recv(Conn& c, const CompletionEvent& ev);
    void on_send(Conn& c, const CompletionEvent& ev);
    void on_idle(Conn& c, Nanos now);
    void take(Conn& c, const char* data, std::size_t n);
    void submit_send(Conn& c);
    void arm_recv(Conn& c);
    void close(Conn& c, Counter* reason);
    void free_if_done(Conn& c);

    EventLoop& loop_;
    UringPoller& ring_;
    const EchoConfig& cfg_;
    EchoCounters& n_;
    std::atomic<std::uint64_t>& shared_now_;
    int listen_fd_;
    ProvidedBuffers buffers_;
    Accept accept_;
    bool accepting_ = false; ///< the accept operation has not ended
    bool stopping_ = false;
    Fd spare_; ///< given up to accept and shed a connection when descriptors run out
    std::vector<std::unique_ptr<Conn>> conns_; ///< by descriptor
    std::size_t live_ = 0;                     ///< connections not freed yet
};

} // namespace netdx::echo_detail
