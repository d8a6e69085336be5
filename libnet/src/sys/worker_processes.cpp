#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>

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

bool WorkerChannel::post(std::string_view line) {
    std::string buf(line);
    buf.push_back('\n');
    // Atomic below PIPE_BUF, so a dropped line is dropped whole, never cut.
    if (buf.size() <= PIPE_BUF) return ::write(reports_.get(), buf.data(), buf.size()) > 0;
    return write_all(reports_.get(), buf);
}

bool WorkerChannel::send(std::string_view line) {
    std::string buf(line);
    buf.push_back('\n');
    return write_all(reports_.get(), buf);
}

WorkerProcesses::~WorkerProcesses() {
    if (children_.empty()) return;
    request_stop();
    wait_all(2 * kNanosPerSecond, [](std::size_t, std::string_view) {});
}

std::optional<WorkerChannel> WorkerProcesses::fork_worker() {
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
        set_nonblocking(reports_write.get());
        return WorkerChannel(index, std::move(control_read), std::move(reports_write));
    }
    set_nonblocking(reports_read.get());
    Child c;
    c.control = std::move(control_write);
    c.reports = std::move(reports_read);
    c.exit.pid = pid;
    children_.push_back(std::move(c));
    return std::nullopt;
}

std::vector<int> WorkerProcesses::report_fds() const {
    std::vector<int> fds;
    for (const auto& c : children_)
        if (c.reports) fds.push_back(c.reports.get());
    return fds;
}

void WorkerProcesses::read_child(std::size_t i,
                                 const std::function<void(std::size_t, std::string_view)>& f) {
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
            f(i, std::string_view(c.partial).substr(start, nl - start));
            start = nl + 1;
        }
        c.partial.erase(0, start);
    }
}

void WorkerProcesses::drain(const std::function<void(std::size_t, std::string_view)>& on_line) {
    for (std::size_t i = 0; i < children_.size(); ++i)
        read_child(i, on_line);
}

void WorkerProcesses::forget() {
    children_.clear();
}

void WorkerProcesses::request_stop() {
    for (auto& c : children_)
        c.control.reset();
}

std::vector<WorkerProcesses::Exit>
WorkerProcesses::wait_all(Nanos grace,
                          const std::function<void(std::size_t, std::string_view)>& on_line,
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
            read_child(i, on_line);
            if (c.reaped) continue;
            int status = 0;
            const pid_t r = ::waitpid(c.exit.pid, &status, WNOHANG);
            if (r == c.exit.pid || (r < 0 && errno == ECHILD)) {
                c.reaped = true;
                c.exit.status = status;
                read_child(i, on_line); // what it wrote just before exiting
                continue;
            }
            all = false;
            if (monotonic_ns() > deadline) {
                ::kill(c.exit.pid, SIGKILL);
                ::waitpid(c.exit.pid, &status, 0);
                c.reaped = true;
                c.exit.status = status;
                c.exit.killed = true;
            }
        }
        if (all) break;
        // Sleep on the report pipes (a line or an exit wakes us), at most 10 ms.
        std::vector<pollfd> fds;
        for (const auto& c : children_)
            if (!c.reaped && c.reports) fds.push_back({c.reports.get(), POLLIN, 0});
        if (fds.empty())
            ::usleep(5'000);
        else
            ::poll(fds.data(), fds.size(), 10);
    }
    std::vector<Exit> exits;
    for (auto& c : children_)
        exits.push_back(c.exit);
    children_.clear();
    return exits;
}

} // namespace netdx
