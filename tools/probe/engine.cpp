#include "engine.hpp"

#include <algorithm>
#include <limits>
#include <memory>
#include <pthread.h>
#include <sched.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <thread>

#include <netdx/sys/system_error.hpp>

#include "drivers.hpp"
#include "session.hpp"
#include "transport.hpp"

namespace netdx::probe {

void Result::merge(const Result& o) {
    rtt.merge(o.rtt);
    rtt_actual.merge(o.rtt_actual);
    lag.merge(o.lag);
    sent += o.sent;
    received += o.received;
    lost += o.lost;
    truncated += o.truncated;
    unfinished += o.unfinished;
    late += o.late;
    duplicates += o.duplicates;
    reordered += o.reordered;
    foreign += o.foreign;
    skipped += o.skipped;
    refused += o.refused;
    timeouts += o.timeouts;
    truncated_to = std::max(truncated_to, o.truncated_to);
    for (const auto& [k, v] : o.errors)
        errors[k] += v;
    cpus.insert(cpus.end(), o.cpus.begin(), o.cpus.end());
    if (socket_options.empty()) socket_options = o.socket_options;
    measured_ns = std::max(measured_ns, o.measured_ns);
}

std::uint64_t Result::error_count() const {
    std::uint64_t n = 0;
    for (const auto& [k, v] : errors)
        n += v;
    return n;
}

double Result::loss_percent() const {
    const auto asked = received + lost;
    return asked ? 100.0 * static_cast<double>(lost) / static_cast<double>(asked) : 0.0;
}

void IntervalCollector::begin(std::size_t threads) {
    std::lock_guard lock(mutex_);
    slots_.clear();
    past_.assign(threads, 0);
    end_ = 0;
}

void IntervalCollector::add(std::uint64_t index, const Histogram& h, std::uint64_t sent,
                            std::uint64_t lost) {
    std::lock_guard lock(mutex_);
    auto& slot = slots_[index];
    slot.rtt.merge(h);
    slot.sent += sent;
    slot.lost += lost;
    end_ = std::max(end_, index + 1);
}

void IntervalCollector::advance(std::size_t thread, std::uint64_t index) {
    std::lock_guard lock(mutex_);
    if (thread < past_.size()) past_[thread] = std::max(past_[thread], index);
}

bool IntervalCollector::complete(std::uint64_t index) const {
    std::lock_guard lock(mutex_);
    return std::all_of(past_.begin(), past_.end(), [&](std::uint64_t p) { return p > index; });
}

IntervalCollector::Slot IntervalCollector::take(std::uint64_t index) {
    std::lock_guard lock(mutex_);
    auto it = slots_.find(index);
    if (it == slots_.end()) return {};
    Slot s = std::move(it->second);
    slots_.erase(it);
    return s;
}

std::uint64_t IntervalCollector::end() const {
    std::lock_guard lock(mutex_);
    return end_;
}

void Shared::begin(const Config& config, Nanos now) {
    start = now;
    measure_from = start + config.warmup;
    end = config.duration > 0 ? measure_from + config.duration : 0;
    tickets.store(config.count > 0 ? static_cast<std::int64_t>(config.count) : 0);
    recorded.store(0);
    intervals.begin(static_cast<std::size_t>(config.threads));
}

void Shared::fail(Failure f, std::string text) {
    {
        std::lock_guard lock(failure_mutex);
        if (failure == Failure::none) {
            failure = f;
            failure_text = std::move(text);
        }
    }
    stop.store(true, std::memory_order_relaxed);
}

bool Shared::failed() const {
    std::lock_guard lock(const_cast<std::mutex&>(failure_mutex));
    return failure != Failure::none;
}

std::uint64_t Shared::last_interval(const Config& config) const {
    if (config.interval <= 0 || config.duration <= 0)
        return std::numeric_limits<std::uint64_t>::max();
    return static_cast<std::uint64_t>((config.duration - 1) / config.interval);
}

namespace {

void pin(const Config& cfg, int index) {
    if (cfg.cpus.empty()) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<unsigned>(cfg.cpus[static_cast<std::size_t>(index) % cfg.cpus.size()]),
            &set);
    if (::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) != 0)
        throw system_error(errno, "pinning a probe thread (--cpu)");
}

/// One probe thread: the driver of its mode over the transport of its protocol.
void run_thread(Session& s, Shared& shared, Connections& held) {
    const Config& cfg = s.cfg;
    try {
        pin(cfg, s.index());
        // Paced sends need wake-ups on time: no timer slack (50us by default) for this thread.
        if (cfg.mode != Mode::pingpong) ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
        if (cfg.mode == Mode::connect) {
            drive_connect(s);
        } else {
            const auto transport = make_transport(s);
            if (cfg.mode == Mode::pingpong && s.my_connections() == 1 && cfg.inflight == 1)
                drive_pingpong(s, *transport);
            else
                drive_loop(s, *transport);
        }
    } catch (const std::system_error& e) {
        shared.fail(Failure::system, e.what());
    }
    // A failed run leaves its sockets in no known state: the next size opens new ones.
    if (shared.failed()) held.by_thread[static_cast<std::size_t>(s.index())].clear();
    s.flush_interval();
    shared.intervals.advance(static_cast<std::size_t>(s.index()),
                             std::numeric_limits<std::uint64_t>::max());
    // A connect that failed is answered too: by an error.
    auto& r = s.result;
    const auto done =
        r.received + r.lost + r.truncated + (cfg.mode == Mode::connect ? r.error_count() : 0);
    r.unfinished = r.sent > done ? r.sent - done : 0;
    const int cpu = ::sched_getcpu();
    if (cpu >= 0) r.cpus.push_back(cpu);
}

} // namespace

std::unique_ptr<Transport> make_transport(Session& session) {
    // The transports, one line each.
    switch (session.cfg.protocol) {
    case Protocol::tcp:
        return make_tcp_transport(session);
    case Protocol::udp:
        return make_udp_transport(session);
    }
    throw std::logic_error("no transport for this protocol");
}

Result run(const Config& config, Shared& shared, Connections& connections) {
    const auto threads = static_cast<std::size_t>(config.threads);
    connections.by_thread.resize(threads);
    connections.udp_seq.resize(threads, 0);
    std::vector<std::unique_ptr<Session>> sessions;
    for (int i = 0; i < config.threads; ++i)
        sessions.push_back(std::make_unique<Session>(config, shared, connections, i));
    std::vector<std::thread> pool;
    for (auto& s : sessions)
        pool.emplace_back(
            [&shared, &connections, raw = s.get()] { run_thread(*raw, shared, connections); });
    for (auto& t : pool)
        t.join();
    Result total;
    for (auto& s : sessions)
        total.merge(s->result);
    return total;
}

} // namespace netdx::probe
