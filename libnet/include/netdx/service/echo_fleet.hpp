#pragma once
/// Echo servers in worker processes of their own, every process serving the same endpoints
/// (the listeners use SO_REUSEPORT, so the kernel spreads connections over the processes):
/// the way past the per-process descriptor limit. netdx-echo --processes N runs N-1 of them
/// beside its own server; netdx-flood's embedded sink is a fleet and nothing else.
///
///   parent (EchoFleet)                       worker i (WorkerProcesses::spawn)
///                                            EchoServer for each config, started
///   wait_ready()      <-- event "ready" ---  serving
///   poll(), stats()   <-- progress stats --  every report_every, latest wins
///   stop()            --- control EOF --->   servers stopped
///                     <-- result stats ----  final counters; error if a server failed
///
/// Ownership: the fleet owns its worker processes (WorkerProcesses) and reaps them in stop()
/// or its destructor. Thread safety: the owning thread only.

#include <functional>
#include <string>
#include <vector>

#include <netdx/service/echo_server.hpp>
#include <netdx/sys/clock.hpp>
#include <netdx/sys/worker_processes.hpp>

namespace netdx {

class EchoFleet {
public:
    struct Options {
        std::string name = "echo workers"; ///< what wait_ready's errors call the fleet
        std::vector<EchoConfig> servers;   ///< one EchoServer per entry, in every process
        int processes = 1;
        Nanos report_every = 100 * kNanosPerMilli;
        /// Run first in each worker: a tool resets its signal state there, and closes what
        /// the worker must not hold (the parent's own listeners).
        std::function<void()> in_worker;
    };

    /// Spawns the workers (they bind and start at once). Throws std::system_error if a fork
    /// fails.
    explicit EchoFleet(Options options);
    EchoFleet(const EchoFleet&) = delete;
    EchoFleet& operator=(const EchoFleet&) = delete;

    /// Waits until every worker serves. Throws std::runtime_error with a worker's own error
    /// ("embedded sink: bind 127.0.0.1:7: …"), or std::system_error (ETIMEDOUT) when they are
    /// not ready within `timeout`.
    void wait_ready(Nanos timeout);
    /// Reads what the workers said, without blocking.
    void poll();
    /// The sum of every worker's latest counters (final ones after stop()).
    [[nodiscard]] EchoStats stats() const;
    /// The first failure a worker reported, or that one ended while serving; after stop(),
    /// how the first worker that did not finish ended. Empty while there is none.
    [[nodiscard]] const std::string& failure() const { return failure_; }
    /// Asks every worker to stop and waits for them (killing those that outlast `grace`).
    std::vector<WorkerOutcome> stop(Nanos grace);
    /// The processes, for a sibling fork that must forget() them.
    [[nodiscard]] WorkerProcesses& processes() { return procs_; }

private:
    void on_message(const WorkerMessage& m);
    std::string name_;
    WorkerProcesses procs_;
    std::vector<EchoStats> latest_;
    std::size_t ready_ = 0;
    std::string failure_;
};

} // namespace netdx
