#include <memory>
#include <poll.h>
#include <stdexcept>
#include <system_error>

#include <nlohmann/json.hpp>

#include <netdx/service/echo_fleet.hpp>

namespace netdx {

namespace {

int serve(const EchoFleet::Options& o, WorkerChannel& ch) {
    if (o.in_worker) o.in_worker();
    std::vector<std::unique_ptr<EchoServer>> servers;
    for (const auto& cfg : o.servers) {
        servers.push_back(std::make_unique<EchoServer>(cfg));
        servers.back()->start();
    }
    ch.event("ready");
    auto counters = [&] {
        EchoStats total;
        for (const auto& s : servers)
            total.add(s->stats());
        return total.to_json().dump();
    };
    auto error = [&] {
        for (const auto& s : servers)
            if (auto e = s->worker_error(); !e.empty()) return e;
        return std::string();
    };
    std::string failed;
    while (!ch.stop_requested() && (failed = error()).empty()) {
        pollfd p{ch.control_fd(), POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(o.report_every / kNanosPerMilli));
        ch.progress(counters());
    }
    for (auto& s : servers)
        s->stop();
    ch.result(counters());
    if (!failed.empty()) {
        ch.error(failed);
        return 1;
    }
    return 0;
}

} // namespace

EchoFleet::EchoFleet(Options options) : name_(options.name) {
    latest_.resize(static_cast<std::size_t>(std::max(options.processes, 0)));
    for (int i = 0; i < options.processes; ++i)
        procs_.spawn([&options](WorkerChannel& ch) { return serve(options, ch); });
}

void EchoFleet::on_message(const WorkerMessage& m) {
    switch (m.kind) {
    case WorkerMessageKind::event:
        if (m.payload == "ready") ++ready_;
        break;
    case WorkerMessageKind::progress:
    case WorkerMessageKind::result: {
        const auto j = nlohmann::json::parse(m.payload, nullptr, false);
        if (!j.is_discarded()) latest_[m.worker] = EchoStats::from_json(j);
        break;
    }
    case WorkerMessageKind::error:
        if (failure_.empty()) failure_ = m.payload;
        break;
    }
}

void EchoFleet::poll() {
    procs_.drain([this](const WorkerMessage& m) { on_message(m); });
    // A worker that closed its report pipe has exited: its share of the port is unserved.
    if (failure_.empty() && procs_.report_fds().size() < procs_.size())
        failure_ = "an echo worker process ended while serving";
}

void EchoFleet::wait_ready(Nanos timeout) {
    const Nanos deadline = monotonic_ns() + timeout;
    while (ready_ < procs_.size() && failure_.empty() && monotonic_ns() < deadline) {
        std::vector<pollfd> fds;
        for (int fd : procs_.report_fds())
            fds.push_back({fd, POLLIN, 0});
        ::poll(fds.data(), fds.size(), 10);
        poll();
    }
    poll();
    if (!failure_.empty()) throw std::runtime_error(name_ + ": " + failure_);
    if (ready_ < procs_.size())
        throw std::system_error(ETIMEDOUT, std::generic_category(),
                                name_ + ": worker processes did not start");
}

EchoStats EchoFleet::stats() const {
    EchoStats total;
    for (const auto& s : latest_)
        total.add(s);
    return total;
}

std::vector<WorkerOutcome> EchoFleet::stop(Nanos grace) {
    procs_.request_stop();
    auto outcomes = procs_.wait_all(grace, [this](const WorkerMessage& m) { on_message(m); });
    // How a worker ended says more than that it did (or than the error it sent).
    for (const auto& o : outcomes)
        if (!o.ok()) {
            failure_ = o.describe();
            break;
        }
    return outcomes;
}

} // namespace netdx
