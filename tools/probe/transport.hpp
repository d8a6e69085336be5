#pragma once
/// A transport: how one protocol's requests go out on connected sockets and how their
/// echoes are checked and matched, apart from the mode that decides when to send (the
/// drivers: drivers.hpp). One file per transport (tcp_transport.cpp, udp_transport.cpp),
/// one line each in make_transport(); adding one (Unix sockets, TLS) touches nothing else.
///
///   driver (ping-pong, paced)             transport
///   take_connections --configure(fd)-->   socket options before connect
///   attach(fds, want_write)               per-connection state
///   send(ci, intended, actual)    ---->   request out (queued if the socket is full)
///   readable(ci, replied)         ---->   reads, checks, calls replied(ci) per request ended
///   writable(ci)                  ---->   queued bytes out
///   expire(now, lost)             ---->   requests past --timeout: lost, or the run fails
///   owes(ci) / settle(ci)         ---->   after the run: read back what is owed, so the
///                                         connection can serve the next size
///   exchange(fd, t0)              ---->   one request on one blocking socket (the
///                                         lowest-overhead ping-pong), answered or not
///
/// Every request ends one way (session.hpp): the transport calls the Session's count_*()
/// and record_reply(). Thread safety: one transport per probe thread.

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include <netdx/net/socket.hpp>
#include <netdx/sys/clock.hpp>

#include "session.hpp"

namespace netdx::probe {

class Transport {
public:
    /// Connection `ci` was answered for one request (true: go on; false: the run failed).
    using Replied = std::function<bool(std::size_t ci)>;
    /// Connection `ci` needs (or no longer needs) to hear when it can write.
    using WantWrite = std::function<void(std::size_t ci, bool on)>;

    enum class Exchange {
        answered, ///< the echo came back whole (recorded), or ended otherwise (lost, truncated)
        stopped,  ///< the run stopped meanwhile; the socket is still clean
        unclean,  ///< stopped mid-echo and the rest did not come: do not keep the socket
        failed,   ///< the run failed (the session says why)
    };

    virtual ~Transport() = default;
    [[nodiscard]] virtual Protocol protocol() const = 0;
    /// Options a new socket gets before it connects (TCP_NODELAY …).
    virtual void configure(int fd) const = 0;

    // ----------------------------------------------- one request on a blocking socket
    /// Sends one request on `fd` and waits for its end (--timeout, or a stop). With
    /// --busy-poll the socket is non-blocking and polled; else it blocks with a short
    /// timeout so stops and --timeout are noticed.
    virtual Exchange exchange(int fd, Nanos t0) = 0;

    // ----------------------------------------------- many requests, on an event loop
    /// The connections of this run, by index; they stay open until the run ends.
    virtual void attach(const std::vector<int>& fds, WantWrite want_write) = 0;
    /// One request on connection `ci`. False: the run failed.
    virtual bool send(std::size_t ci, Nanos intended, Nanos actual) = 0;
    virtual bool readable(std::size_t ci, const Replied& replied) = 0;
    virtual bool writable(std::size_t ci) = 0;
    /// Requests past --timeout at `now`: lost (then lost(ci)) or the run's failure.
    virtual bool expire(Nanos now, const Replied& lost) = 0;
    /// When expire() next has something to do; -1: nothing is waiting.
    [[nodiscard]] virtual Nanos next_expiry() const = 0;
    /// Requests on `ci` not answered yet.
    [[nodiscard]] virtual std::size_t outstanding(std::size_t ci) const = 0;
    /// Whether a paced send may go on `ci`: under the --inflight cap and within the bytes
    /// the transport queues for a slow socket.
    [[nodiscard]] virtual bool has_room(std::size_t ci) const = 0;

    // ----------------------------------------------- after the run
    /// Whether `ci` still owes something (echo bytes to read, queued bytes to write).
    [[nodiscard]] virtual bool owes(std::size_t ci) const = 0;
    /// Moves what `ci` owes along without measuring. False: it cannot be kept.
    virtual bool settle(std::size_t ci, bool readable, bool writable) = 0;
};

/// The transport for `cfg.protocol`, reporting to `session`.
[[nodiscard]] std::unique_ptr<Transport> make_transport(Session& session);

// One factory per transport file.
[[nodiscard]] std::unique_ptr<Transport> make_tcp_transport(Session& session);
[[nodiscard]] std::unique_ptr<Transport> make_udp_transport(Session& session);

} // namespace netdx::probe
