#pragma once
/// Child processes that work for a parent and report to it in lines: the way past limits
/// that are per process (RLIMIT_NOFILE cannot be raised past its hard limit, but every
/// process has its own).
///
///   parent                                   child i (forked)
///   control pipe, write end  ------------->  read end: EOF means "stop" (also when the
///                                            parent dies, so no worker outlives it)
///   report pipe, read end    <-------------  write end: newline-terminated lines
///
/// A child sees only its own two pipe ends: the ends of the children forked before it are
/// closed in it, or one child would keep another's control pipe open.
///
/// Ownership: the group owns the pipes and reaps its children (the destructor closes the
/// control pipes and waits, killing after a grace period). Thread safety: the owning thread
/// only. The library forks but never exits: the caller's child branch ends with _exit().

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include <netdx/sys/clock.hpp>
#include <netdx/sys/fd.hpp>

namespace netdx {

/// The child's side: its index, the stop signal and the report pipe.
class WorkerChannel {
public:
    WorkerChannel(int index, Fd control, Fd reports);
    [[nodiscard]] int index() const { return index_; }
    /// Readable (EOF) when the parent asks to stop; for the child's poll/epoll set.
    [[nodiscard]] int control_fd() const { return control_.get(); }
    /// True once the parent closed the control pipe (never blocks).
    [[nodiscard]] bool stop_requested() const;
    /// A progress line (without newline). Never blocks: when the pipe is full (the parent is
    /// slow to read) the line is dropped, since a later one supersedes it. False if dropped.
    bool post(std::string_view line);
    /// A line that must arrive (a final result): blocks until written. False if the parent
    /// is gone.
    bool send(std::string_view line);

private:
    int index_;
    Fd control_;
    Fd reports_;
};

class WorkerProcesses {
public:
    struct Exit {
        pid_t pid = -1;
        int status = 0;      ///< as from waitpid
        bool killed = false; ///< did not stop within the grace period and was killed
    };

    WorkerProcesses() = default;
    ~WorkerProcesses();
    WorkerProcesses(const WorkerProcesses&) = delete;
    WorkerProcesses& operator=(const WorkerProcesses&) = delete;

    /// Forks one more worker. In the parent: nullopt. In the child: its channel; the caller
    /// runs its work and ends with _exit(). Throws std::system_error if pipe or fork fails.
    std::optional<WorkerChannel> fork_worker();

    [[nodiscard]] std::size_t size() const { return children_.size(); }
    [[nodiscard]] pid_t pid(std::size_t i) const { return children_[i].exit.pid; }

    /// Report pipes to wait on (one per live child).
    [[nodiscard]] std::vector<int> report_fds() const;

    /// Reads what the children have written, without blocking, and calls
    /// on_line(index, line) for each complete line in order.
    void drain(const std::function<void(std::size_t, std::string_view)>& on_line);

    /// Closes the control pipes: every child sees EOF and should finish.
    void request_stop();

    /// In a process forked from the owner for other work (a worker of another group): closes
    /// this group's pipe ends here without stopping or waiting, so this process does not keep
    /// the group's children from seeing their stop.
    void forget();

    /// Waits for every child to exit, draining their lines meanwhile; children still alive
    /// after `grace` are killed (SIGKILL). `stop_now`, polled every 10 ms, asks them to stop
    /// (request_stop) once it returns true: a tool's Ctrl-C reaches workers that are in the
    /// middle of their work. Returns one Exit per child, in fork order.
    std::vector<Exit> wait_all(Nanos grace,
                               const std::function<void(std::size_t, std::string_view)>& on_line,
                               const std::function<bool()>& stop_now = {});

private:
    struct Child {
        Fd control; ///< write end; closing it tells the child to stop
        Fd reports; ///< read end, non-blocking
        std::string partial;
        bool reaped = false;
        Exit exit; ///< its pid from the fork, its status once reaped
    };
    void read_child(std::size_t i, const std::function<void(std::size_t, std::string_view)>& f);
    std::vector<Child> children_;
};

} // namespace netdx
