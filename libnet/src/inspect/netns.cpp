#include <cerrno>
#include <charconv>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <netdx/inspect/netns.hpp>
#include <netdx/sys/fd.hpp>
#include <netdx/sys/parse_error.hpp>

namespace netdx {

NetnsTarget resolve_netns(const std::string& name_or_pid) {
    int pid = 0;
    auto [p, ec] =
        std::from_chars(name_or_pid.data(), name_or_pid.data() + name_or_pid.size(), pid);
    struct stat st {};
    if (ec == std::errc{} && p == name_or_pid.data() + name_or_pid.size()) {
        const auto path = fmt::format("/proc/{}/ns/net", pid);
        if (::stat(path.c_str(), &st) != 0)
            throw ParseError(fmt::format("--netns: no process {}", name_or_pid));
        return {fmt::format("pid {}", pid), path};
    }
    const auto path = "/run/netns/" + name_or_pid;
    if (name_or_pid.find('/') != std::string::npos || ::stat(path.c_str(), &st) != 0)
        throw ParseError(fmt::format("--netns: no namespace '{}' in /run/netns", name_or_pid));
    return {name_or_pid, path};
}

std::vector<NetnsTarget> all_named_netns() {
    std::vector<NetnsTarget> out{{"(this namespace)", ""}};
    if (DIR* d = ::opendir("/run/netns")) {
        while (const dirent* e = ::readdir(d))
            if (e->d_name[0] != '.')
                out.push_back({e->d_name, std::string("/run/netns/") + e->d_name});
        ::closedir(d);
    }
    return out;
}

std::string in_netns(const NetnsTarget& target, const std::function<void()>& fn) {
    if (target.path.empty()) {
        fn();
        return {};
    }
    Fd self(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!self) return fmt::format("cannot open this thread's namespace: {}", std::strerror(errno));
    Fd other(::open(target.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!other) return fmt::format("cannot open {}: {}", target.path, std::strerror(errno));
    if (::setns(other.get(), CLONE_NEWNET) != 0)
        return fmt::format("cannot enter namespace {}: {}{}", target.label, std::strerror(errno),
                           errno == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
    struct Back {
        int fd;
        ~Back() { [[maybe_unused]] int r = ::setns(fd, CLONE_NEWNET); }
    } back{self.get()};
    fn();
    return {};
}

} // namespace netdx
