#include <dirent.h>
#include <limits>
#include <sys/resource.h>

#include <netdx/sys/limits.hpp>
#include <netdx/sys/system_error.hpp>

namespace netdx {

namespace {
std::uint64_t from_rlim(rlim_t v) {
    return v == RLIM_INFINITY ? std::numeric_limits<std::uint64_t>::max()
                              : static_cast<std::uint64_t>(v);
}
} // namespace

FdLimit nofile_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) throw_errno("getrlimit(RLIMIT_NOFILE)");
    return {from_rlim(rl.rlim_cur), from_rlim(rl.rlim_max)};
}

FdLimit raise_nofile_to_hard() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) throw_errno("getrlimit(RLIMIT_NOFILE)");
    if (rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &rl) != 0)
            throw_errno("raising RLIMIT_NOFILE soft limit to the hard limit");
    }
    return nofile_limit();
}

std::optional<std::uint64_t> open_fd_count() {
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) return std::nullopt;
    std::uint64_t n = 0;
    while (const dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] != '.') ++n;
    }
    ::closedir(dir);
    return n > 0 ? n - 1 : 0; // the directory stream's own descriptor
}

std::optional<PortRange> ephemeral_port_range(const SysfsReader& fs) {
    auto v = fs.sysctl_ints("net.ipv4.ip_local_port_range");
    if (!v || v->size() != 2 || (*v)[0] < 0 || (*v)[1] > 65535) return std::nullopt;
    return PortRange{static_cast<std::uint32_t>((*v)[0]), static_cast<std::uint32_t>((*v)[1])};
}

} // namespace netdx
