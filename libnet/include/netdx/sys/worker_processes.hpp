#pragma once
/// Child processes that work for a parent and report to it in typed messages: the way past
/// limits that are per process (RLIMIT_NOFILE cannot be raised past its hard limit, but every
/// process has its own). netdx-echo --processes, netdx-flood's workers and its embedded sink
/// (both through service/echo_fleet.hpp for the echo servers) and netdx-mux's runs use it.
///
///   parent                                   child i (forked by spawn)
///   control pipe, write end  ------------->  read end: EOF means "stop" (also when the
///                                            parent dies, so no worker outlives it)
///   report pipe, read end    <-------------  write end: one message per line,
///                                            "<kind> <payload>\n"
///
///   kind      delivery                      meaning
///   progress  dropped when the pipe is full the latest state; a later one supersedes it
///   event     always                        something happened ("ready", "held")
///   result    always                        the worker's final answer
///   error     always                        why it failed (it exits non-zero after)
///
/// A child sees only its own two pipe ends: the ends of the children spawned before it are
/// closed in it, or one child would keep another's control pipe open.
///
/// How a worker ended is classified once, here (WorkerOutcome), for every tool:
///   finished  exit status 0
///   failed    it sent an error message (whatever its exit status)
///   exited    a non-zero exit status without an error message
///   crashed   a signal ended it (and not ours)
///   killed    it did not stop within the grace period, and the group killed it
///
/// Ownership: the group owns the pipes and reaps its children (the destructor closes the
/// control pipes and waits, killing after a grace period). Thread safety: the owning thread
/// only. The library forks, and ends the children it forked with _exit() when their work
/// returns (never the caller's own process, and never through exit(), which would run the
/// parent's atexit handlers and flush its stdio buffers a second time).

#include <functional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include <netdx/sys/clock.hpp>
#include <netdx/sys/fd.hpp>

namespace netdx {

enum class WorkerMessageKind { progress, event, result, error };
[[nodiscard]] std::string_view worker_message_kind_name(WorkerMessageKind k);

/// One message from worker `worker` (its spawn index). The payload is valid during the call.
struct WorkerMessage {
    std::size_t worker = 0;
    WorkerMessageKind kind = WorkerMessageKind::event;
    std::string_view payload;
};
using WorkerMessageHandler = std::function<void(const WorkerMessage&)>;

/// The child's side: its index, the stop signal and the report pipe. A payload is one line:
/// newlines in it are sent as spaces.
class WorkerChannel {
public:
    WorkerChannel(int index, Fd control, Fd reports);
    [[nodiscard]] int index() const { return index_; }
    /// Readable (EOF) when the parent asks to stop; for the child's poll/epoll set.
    [[nodiscard]] int control_fd() const { return control_.get(); }
    /// True once the parent closed the control pipe (never blocks).
    [[nodiscard]] bool stop_requested() const;
    /// Never blocks: when the pipe is full (the parent is slow to read) the message is
    /// dropped whole. False if dropped.
    bool progress(std::string_view payload);
    /// These block until written. False if the parent is gone.
    bool event(std::string_view payload);
    bool result(std::string_view payload);
    bool error(std::string_view message);

private:
    bool send(WorkerMessageKind kind, std::string_view payload, bool may_drop);
    int index_;
    Fd control_;
    Fd reports_;
};

/// How one worker ended.
struct WorkerOutcome {
    enum class How { finished, failed, exited, crashed, killed };
    std::size_t index = 0;
    pid_t pid = -1;
    How how = How::finished;
    int exit_code = 0;        ///< for finished, failed (when it exited), exited
    int signal = 0;           ///< for crashed (and failed, when a signal ended it after its error)
    std::string error;        ///< the error message it sent, if any
    bool sent_result = false; ///< a result message arrived
    [[nodiscard]] bool ok() const { return how == How::finished; }
    /// "worker 2 (pid 4242) exited 3 without saying why", "… did not stop when asked, and was
    /// killed", "… died of signal 11 (Segmentation fault)", "… failed: <its error>".
    [[nodiscard]] std::string describe() const;
};
/// Classifies a waitpid status (and what the worker said) into an outcome.
[[nodiscard]] WorkerOutcome classify_worker_exit(std::size_t index, pid_t pid, int status,
                                                 bool killed, std::string error, bool sent_result);

class WorkerProcesses {
public:
    /// A worker's work, run in the child. Its return value is the child's exit status; an
    /// exception is sent as an error message and the child exits 1.
    using Work = std::function<int(WorkerChannel&)>;

    WorkerProcesses() = default;
    ~WorkerProcesses();
    WorkerProcesses(const WorkerProcesses&) = delete;
    WorkerProcesses& operator=(const WorkerProcesses&) = delete;

    /// Forks one more worker running `work`; returns its index (in the parent: the child
    /// never returns from here). Throws std::system_error if pipe or fork fails.
    std::size_t spawn(const Work& work);

    [[nodiscard]] std::size_t size() const { return children_.size(); }
    [[nodiscard]] pid_t pid(std::size_t i) const { return children_[i].pid; }

    /// Report pipes to wait on (one per child that has not closed its end).
    [[nodiscard]] std::vector<int> report_fds() const;

    /// Reads what the children have written, without blocking, and calls on_message for
    /// each complete message in order.
    void drain(const WorkerMessageHandler& on_message);

    /// Closes the control pipes: every child sees EOF and should finish.
    void request_stop();

    /// In a process forked from the owner for other work (a worker of another group): closes
    /// this group's pipe ends here without stopping or waiting, so this process does not keep
    /// the group's children from seeing their stop.
    void forget();

    /// Waits for every child to exit, passing their messages on meanwhile; children still
    /// alive after `grace` are killed (SIGKILL). `stop_now`, polled every 10 ms, asks them to
    /// stop (request_stop) once it returns true: a tool's Ctrl-C reaches workers that are in
    /// the middle of their work. Returns one outcome per child, in spawn order.
    std::vector<WorkerOutcome> wait_all(Nanos grace, const WorkerMessageHandler& on_message,
                                        const std::function<bool()>& stop_now = {});

private:
    struct Child {
        Fd control; ///< write end; closing it tells the child to stop
        Fd reports; ///< read end, non-blocking
        std::string partial;
        pid_t pid = -1;
        bool reaped = false;
        bool killed = false;
        int status = 0;
        std::string error;
        bool sent_result = false;
    };
    void read_child(std::size_t i, const WorkerMessageHandler& f);
    std::vector<Child> children_;
};

} // namespace netdx
