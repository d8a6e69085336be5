#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <fmt/format.h>

#include <netdx/sys/system_error.hpp>
#include <netdx/sys/worker_processes.hpp>

namespace netdx {

namespace {

void set_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) { // the pipe is non-blocking: wait until it drains
                pollfd p{fd, POLLOUT, 0};
                ::poll(&p, 1, 100);
                continue;
            }
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

} // namespace

WorkerChannel::WorkerChannel(int index, Fd control, Fd reports)
    : index_(index), control_(std::move(control)), reports_(std::move(reports)) {}

bool WorkerChannel::stop_requested() const {
    pollfd p{control_.get(), POLLIN, 0};
    return ::poll(&p, 1, 0) > 0; // nothing is ever written: readable means EOF
}

bool WorkerChannel::send(WorkerMessageKind kind, std::string_view payload, bool may_drop) {
    std::string buf(worker_message_kind_name(kind));
    buf.push_back(' ');
    for (char ch : payload)
        buf.push_back(ch == '\n' ? ' ' : ch);
    buf.push_back('\n');
    // Atomic below PIPE_BUF, so a dropped message is dropped whole, never cut.
    if (may_drop && buf.size() <= PIPE_BUF)
        return ::write(reports_.get(), buf.data(), buf.size()) > 0;
    return write_all(reports_.get(), buf);
}

bool WorkerChannel::progress(std::string_view payload) {
    return send(WorkerMessageKind::progress, payload, true);
}
bool WorkerChannel::event(std::string_view payload) {
    return send(WorkerMessageKind::event, payload, false);
}
bool WorkerChannel::result(std::string_view payload) {
    return send(WorkerMessageKind::result, payload, false);
}
bool WorkerChannel::error(std::string_view message) {
    return send(WorkerMessageKind::error, message, false);
}

std::string_view worker_message_kind_name(WorkerMessageKind k) {
    switch (k) {
    case WorkerMessageKind::progress:
        return "progress";
    case WorkerMessageKind::event:
        return "event";
    case WorkerMessageKind::result:
        return "result";
    case WorkerMessageKind::error:
        return "error";
    }
    return "event";
}

WorkerOutcome classify_worker_exit(std::size_t index, pid_t pid, int status, bool killed,
                                   std::string error, bool sent_result) {
    WorkerOutcome o;
    o.index = index;
    o.pid = pid;
    o.error = std::move(error);
    o.sent_result = sent_result;
    if (WIFEXITED(status)) o.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) o.signal = WTERMSIG(status);
    if (killed)
        o.how = WorkerOutcome::How::killed;
    else if (!o.error.empty())
        o.how = WorkerOutcome::How::failed;
    else if (o.signal != 0)
        o.how = WorkerOutcome::How::crashed;
    else if (o.exit_code != 0)
        o.how = WorkerOutcome::How::exited;
    else
        o.how = WorkerOutcome::How::finished;
    return o;
}

std::string WorkerOutcome::describe() const {
    const auto who = fmt::format("worker {} (pid {})", index, pid);
    switch (how) {
    case How::finished:
        return who + " finished";
    case How::failed:
        return fmt::format("{} failed: {}", who, error);
    case How::exited:
        return fmt::format("{} exited {} without saying why", who, exit_code);
    case How::crashed:
        return fmt::format("{} died of signal {} ({})", who, signal, ::strsignal(signal));
    case How::killed:
        return who + " did not stop when asked, and was killed";
    }
    return who;
}

WorkerProcesses::~WorkerProcesses() {
    if (children_.empty()) return;
    request_stop();
    wait_all(2 * kNanosPerSecond, [](const WorkerMessage&) {});
}

std::size_t WorkerProcesses::spawn(const Work& work) {
    int control[2];
    int reports[2];
    if (::pipe2(control, O_CLOEXEC) != 0) throw_errno("pipe for a worker process");
    if (::pipe2(reports, O_CLOEXEC) != 0) {
        ::close(control[0]);
        ::close(control[1]);
        throw_errno("pipe for a worker process");
    }
    Fd control_read(control[0]), control_write(control[1]);
    Fd reports_read(reports[0]), reports_write(reports[1]);
    const pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork a worker process");
    if (pid == 0) {
        const int index = static_cast<int>(children_.size());
        children_.clear(); // the siblings' pipe ends: only the parent may hold them
        control_write.reset();
        reports_read.reset();
        set_nonblocking(reports_write.get());
        WorkerChannel channel(index, std::move(control_read), std::move(reports_write));
        int code = 1;
        try {
            code = work(channel);
        } catch (const std::exception& e) {
            channel.error(e.what());
        } catch (...) {
            channel.error("unknown exception");
        }
        ::_exit(code);
    }
    set_nonblocking(reports_read.get());
    Child c;
    c.control = std::move(control_write);
    c.reports = std::move(reports_read);
    c.pid = pid;
    children_.push_back(std::move(c));
    return children_.size() - 1;
}

std::vector<int> WorkerProcesses::report_fds() const {
    std::vector<int> fds;
    for (const auto& c : children_)
        if (c.reports) fds.push_back(c.reports.get());
    return fds;
}

void WorkerProcesses::read_child(std::size_t i, const WorkerMessageHandler& f) {
    Child& c = children_[i];
    char buf[16384];
    while (c.reports) {
        const ssize_t n = ::read(c.reports.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) c.reports.reset(); // the child closed its end (it exited)
            break;
        }
        c.partial.append(buf, static_cast<std::size_t>(n));
        std::size_t start = 0, nl;
        while ((nl = c.partial.find('\n', start)) != std::string::npos) {
            const auto line = std::string_view(c.partial).substr(start, nl - start);
            start = nl + 1;
            const auto sp = line.find(' ');
            const auto name = line.substr(0, sp);
            WorkerMessage m{i, WorkerMessageKind::event,
                            sp == std::string_view::npos ? std::string_view{}
                                                         : line.substr(sp + 1)};
            if (name == "progress")
                m.kind = WorkerMessageKind::progress;
            else if (name == "result")
                m.kind = WorkerMessageKind::result;
            else if (name == "error")
                m.kind = WorkerMessageKind::error;
            else if (name != "event") // not from a WorkerChannel: passed on whole
                m.payload = line;
            if (m.kind == WorkerMessageKind::error) c.error = std::string(m.payload);
            if (m.kind == WorkerMessageKind::result) c.sent_result = true;
            f(m);
        }
        c.partial.erase(0, start);
    }
}

void WorkerProcesses::drain(const WorkerMessageHandler& on_message) {
    for (std::size_t i = 0; i < children_.size(); ++i)
        read_child(i, on_message);
}

void WorkerProcesses::forget() {
    children_.clear();
}

void WorkerProcesses::request_stop() {
    for (auto& c : children_)
        c.control.reset();
}

std::vector<WorkerOutcome> WorkerProcesses::wait_all(Nanos grace,
                                                     const WorkerMessageHandler& on_message,
                                                     const std::function<bool()>& stop_now) {
    const Nanos deadline = monotonic_ns() + grace;
    bool stop_sent = false;
    for (;;) {
        if (!stop_sent && stop_now && stop_now()) {
            request_stop();
            stop_sent = true;
        }
        bool all = true;
        for (std::size_t i = 0; i < children_.size(); ++i) {
            Child& c = children_[i];
            read_child(i, on_message);
            if (c.reaped) continue;
            int status = 0;
            const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
            if (r == c.pid || (r < 0 && errno == ECHILD)) {
                c.reaped = true;
                c.status = status;
                read_child(i, on_message); // what it wrote just before exiting
                continue;
            }
            all = false;
            if (monotonic_ns() > deadline) {
                ::kill(c.pid, SIGKILL);
                ::waitpid(c.pid, &status, 0);
                c.reaped = true;
                c.status = status;
                c.killed = true;
            }
        }
        if (all) break;
        // Sleep on the report pipes (a message or an exit wakes us), at most 10 ms.
        std::vector<pollfd> fds;
        for (const auto& c : children_)
            if (!c.reaped && c.reports) fds.push_back({c.reports.get(), POLLIN, 0});
        if (fds.empty())
            ::usleep(5'000);
        else
            ::poll(fds.data(), fds.size(), 10);
    }
    std::vector<WorkerOutcome> out;
    for (std::size_t i = 0; i < children_.size(); ++i) {
        auto& c = children_[i];
        out.push_back(
            classify_worker_exit(i, c.pid, c.status, c.killed, std::move(c.error), c.sent_result));
    }
    children_.clear();
    return out;
}

} // namespace netdx
