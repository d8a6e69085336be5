#pragma once
/// One probe thread's run: the accounting every transport and driver reports to (samples,
/// sends, losses, --count tickets, intervals), the run's failures in the user's words, and
/// the thread's connections (kept from one size of a sweep to the next).
///
/// Every message sent in the measured window ends exactly one way (engine.hpp): a driver or
/// transport calls count_sent() once per send, then exactly one of record_reply(),
/// count_lost(), count_truncated(), or nothing (it was still in flight at the end).
///
/// Thread safety: one Session per probe thread; Shared is what the threads share.

#include <cstdint>
#include <string>
#include <vector>

#include <netdx/measure/histogram.hpp>
#include <netdx/sys/clock.hpp>
#include <netdx/sys/fd.hpp>

#include "engine.hpp"
#include "wire.hpp"

namespace netdx::probe {

class Transport;

class Session {
public:
    Session(const Config& config, Shared& shared, Connections& held, int index);

    const Config& cfg;
    Result result;

    [[nodiscard]] int index() const { return index_; }
    /// When the run began (Shared::start): every thread's schedule counts from it, so their
    /// stripes interleave.
    [[nodiscard]] Nanos run_start() const { return shared_.start; }
    /// This thread's share of --connections.
    [[nodiscard]] int my_connections() const;
    /// The run is over: stopped (Ctrl-C, --count reached, a failure) or past its end.
    [[nodiscard]] bool stopping(Nanos now) const;
    /// Stopped by someone (not by the clock): a blocking read looks at this.
    [[nodiscard]] bool stop_requested() const;
    [[nodiscard]] bool failed() const;
    /// Whether a send at `t` is measured (after the warm-up).
    [[nodiscard]] bool measuring(Nanos t) const;

    // -------------------------------------------------------------------- accounting
    /// Moves this thread's interval on with the clock, even when nothing arrives (a stalled
    /// peer): the main thread prints an interval once every thread is past it.
    void tick_interval(Nanos now);
    /// Count mode: whether a message sent at `sent_at` may go (a warm-up send always may).
    bool take_ticket(Nanos sent_at);
    void count_sent(Nanos sent_at);
    void count_lost(Nanos sent_at, Nanos now);
    void count_truncated(Nanos sent_at, std::size_t bytes);
    /// A whole echo of `r`: paced runs measure from the intended send time (and keep the
    /// actual one and the lag), ping-pong from the actual send.
    void record_reply(Nanos now, const Request& r);
    /// One sample; warm-up samples are dropped. The --count-th ends the run.
    void record(Nanos now, Nanos sent_at, Nanos rtt, Nanos rtt_actual = -1, Nanos lag = -1);
    /// Hands the last interval over (at the end of the run).
    void flush_interval(std::uint64_t next = 0);

    // -------------------------------------------------------------------- failures
    void fail_io(int err, const char* doing);
    void fail_closed();
    void fail_no_echo();
    void fail_stalled_sender();
    void fail_corrupt(std::uint64_t seq, std::size_t offset);
    void fail_corrupt(std::string what);
    void fail_unavailable(std::string what);

    // -------------------------------------------------------------------- connections
    /// This thread's connections: the ones a previous size left, and new ones (configured
    /// by the transport, connected) for the rest. Empty after recording the failure when one
    /// cannot be made.
    std::vector<Fd> take_connections(const Transport& transport);
    /// Hands healthy connections back for the next size.
    void keep(std::vector<Fd>&& fds);
    /// The next UDP sequence number of this thread, carried across sizes.
    [[nodiscard]] std::uint64_t& sequence();

private:
    void return_ticket(Nanos sent_at);
    [[nodiscard]] std::uint64_t interval_of(Nanos now) const;

    Shared& shared_;
    Connections& held_;
    int index_;
    std::uint64_t last_interval_;
    Histogram interval_;
    std::uint64_t interval_index_ = 0;
    std::uint64_t interval_sent_ = 0;
    std::uint64_t interval_lost_ = 0;
    Nanos first_measured_send_ = 0;
};

} // namespace netdx::probe
