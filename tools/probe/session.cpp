#include "session.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>

#include <fmt/format.h>

#include <netdx/net/socket.hpp>
#include <netdx/report/units.hpp>

#include "transport.hpp"

namespace netdx::probe {

Session::Session(const Config& config, Shared& shared, Connections& held, int index)
    : cfg(config), shared_(shared), held_(held), index_(index),
      last_interval_(shared.last_interval(config)) {}

int Session::my_connections() const {
    return cfg.connections / cfg.threads + (index_ < cfg.connections % cfg.threads ? 1 : 0);
}

bool Session::stopping(Nanos now) const {
    return shared_.stop.load(std::memory_order_relaxed) || (shared_.end > 0 && now >= shared_.end);
}

bool Session::stop_requested() const {
    return shared_.stop.load(std::memory_order_relaxed);
}

bool Session::failed() const {
    return shared_.failed();
}

bool Session::measuring(Nanos t) const {
    return t >= shared_.measure_from;
}

// ------------------------------------------------------------------------ accounting

/// The interval `now` falls in: from the end of the warm-up, the last interval taking
/// whatever comes after the run's end (replies to its last sends).
std::uint64_t Session::interval_of(Nanos now) const {
    if (now <= shared_.measure_from) return 0;
    const auto k = static_cast<std::uint64_t>((now - shared_.measure_from) / cfg.interval);
    return std::min(k, last_interval_);
}

void Session::tick_interval(Nanos now) {
    if (cfg.interval <= 0) return;
    const auto k = interval_of(now);
    if (k != interval_index_) flush_interval(k);
}

bool Session::take_ticket(Nanos sent_at) {
    if (cfg.count == 0 || sent_at < shared_.measure_from) return true;
    if (shared_.tickets.fetch_sub(1, std::memory_order_relaxed) > 0) return true;
    shared_.tickets.fetch_add(1, std::memory_order_relaxed);
    return false;
}

/// A measured send that will give no sample (lost, truncated) frees its ticket.
void Session::return_ticket(Nanos sent_at) {
    if (cfg.count > 0 && sent_at >= shared_.measure_from)
        shared_.tickets.fetch_add(1, std::memory_order_relaxed);
}

void Session::record(Nanos now, Nanos sent_at, Nanos rtt, Nanos rtt_actual, Nanos lag) {
    if (sent_at < shared_.measure_from) return;
    if (cfg.count > 0 && shared_.recorded.fetch_add(1, std::memory_order_relaxed) + 1 >= cfg.count)
        shared_.stop.store(true, std::memory_order_relaxed);
    ++result.received;
    const auto v = static_cast<std::uint64_t>(std::max<Nanos>(rtt, 0));
    result.rtt.record(v);
    if (rtt_actual >= 0) result.rtt_actual.record(static_cast<std::uint64_t>(rtt_actual));
    if (lag >= 0) result.lag.record(static_cast<std::uint64_t>(lag));
    // Measured time runs from the first measured send, so a late start (connecting) does not
    // dilute the achieved rate.
    if (first_measured_send_ == 0) first_measured_send_ = sent_at;
    result.measured_ns = now - first_measured_send_;
    if (cfg.interval > 0) {
        tick_interval(now);
        interval_.record(v);
        ++interval_sent_;
    }
}

void Session::record_reply(Nanos now, const Request& r) {
    if (cfg.mode == Mode::paced)
        record(now, r.intended, now - r.intended, now - r.actual, r.actual - r.intended);
    else
        record(now, r.actual, now - r.actual);
}

/// Only sends after warm-up count.
void Session::count_sent(Nanos sent_at) {
    if (sent_at >= shared_.measure_from) ++result.sent;
}

void Session::count_lost(Nanos sent_at, Nanos now) {
    if (sent_at < shared_.measure_from) return;
    return_ticket(sent_at);
    ++result.lost;
    if (cfg.interval > 0) {
        tick_interval(now);
        ++interval_lost_;
    }
}

void Session::count_truncated(Nanos sent_at, std::size_t bytes) {
    if (sent_at < shared_.measure_from) return;
    return_ticket(sent_at);
    ++result.truncated;
    result.truncated_to = std::max(result.truncated_to, bytes);
}

void Session::flush_interval(std::uint64_t next) {
    if (cfg.interval <= 0) return;
    if (interval_.count() > 0 || interval_lost_ > 0)
        shared_.intervals.add(interval_index_, interval_, interval_sent_ + interval_lost_,
                              interval_lost_);
    interval_.reset();
    interval_sent_ = interval_lost_ = 0;
    interval_index_ = next;
    shared_.intervals.advance(static_cast<std::size_t>(index_), next);
}

// ------------------------------------------------------------------------ failures

void Session::fail_io(int err, const char* doing) {
    if (err == ECONNRESET || err == EPIPE)
        shared_.fail(Failure::unavailable,
                     fmt::format("{} {}: the peer reset the connection mid-run", doing,
                                 cfg.target.to_string()));
    else
        shared_.fail(Failure::unavailable,
                     fmt::format("{} {}: {}", doing, cfg.target.to_string(), std::strerror(err)));
}

void Session::fail_closed() {
    shared_.fail(Failure::unavailable,
                 fmt::format("{} closed the connection mid-run", cfg.target.to_string()));
}

void Session::fail_no_echo() {
    shared_.fail(Failure::unavailable,
                 fmt::format("no echo from {} within {}", cfg.target.to_string(),
                             format_duration(static_cast<double>(cfg.timeout))));
}

void Session::fail_stalled_sender() {
    shared_.fail(Failure::unavailable,
                 fmt::format("{} stopped reading (send blocked for {})", cfg.target.to_string(),
                             format_duration(static_cast<double>(cfg.timeout))));
}

void Session::fail_corrupt(std::uint64_t seq, std::size_t offset) {
    shared_.fail(
        Failure::corrupt,
        fmt::format("corrupt echo from {}: message {} differs from what was sent at byte {}",
                    cfg.target.to_string(), seq, offset));
}

void Session::fail_corrupt(std::string what) {
    shared_.fail(Failure::corrupt,
                 fmt::format("corrupt echo from {}: {}", cfg.target.to_string(), what));
}

void Session::fail_unavailable(std::string what) {
    shared_.fail(Failure::unavailable, std::move(what));
}

// ------------------------------------------------------------------------ connections

std::vector<Fd> Session::take_connections(const Transport& transport) {
    auto& mine = held_.by_thread[static_cast<std::size_t>(index_)];
    std::vector<Fd> out = std::move(mine);
    mine.clear();
    while (out.size() < static_cast<std::size_t>(my_connections())) {
        Fd fd = open_socket(cfg.target.family(), transport.protocol(), true);
        transport.configure(fd.get());
        if (cfg.busy_poll) {
            const int us = 50; // SO_BUSY_POLL above net.core.busy_read needs CAP_NET_ADMIN
            static_cast<void>(::setsockopt(fd.get(), SOL_SOCKET, SO_BUSY_POLL, &us, sizeof us));
        }
        const int err = connect_with_timeout(fd.get(), cfg.target, cfg.timeout);
        if (err != 0) {
            shared_.fail(Failure::unavailable,
                         fmt::format("connect {}: {}", cfg.target.to_string(), std::strerror(err)));
            return {};
        }
        out.push_back(std::move(fd));
    }
    if (result.socket_options.empty())
        result.socket_options = describe_socket_options(out.front().get(), transport.protocol());
    return out;
}

void Session::keep(std::vector<Fd>&& fds) {
    auto& mine = held_.by_thread[static_cast<std::size_t>(index_)];
    for (auto& fd : fds)
        if (fd) mine.push_back(std::move(fd));
}

std::uint64_t& Session::sequence() {
    return held_.udp_seq[static_cast<std::size_t>(index_)];
}

} // namespace netdx::probe
