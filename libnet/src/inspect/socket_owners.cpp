#include <charconv>
#include <dirent.h>
#include <string_view>
#include <unistd.h>
#include <vector>

#include <netdx/inspect/socket_owners.hpp>

namespace netdx {

namespace {

std::optional<std::uint64_t> socket_inode(std::string_view link) {
    constexpr std::string_view prefix = "socket:[";
    if (!link.starts_with(prefix) || !link.ends_with(']')) return std::nullopt;
    const auto digits = link.substr(prefix.size(), link.size() - prefix.size() - 1);
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc{} || p != digits.data() + digits.size()) return std::nullopt;
    return v;
}

std::vector<std::string> list_dir(const std::string& path) {
    std::vector<std::string> names;
    DIR* d = ::opendir(path.c_str());
    if (!d) return names;
    while (const dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    ::closedir(d);
    return names;
}

ProcessInfo describe(int pid, const SysfsReader& fs, std::uint64_t fds) {
    ProcessInfo p;
    p.pid = pid;
    p.fds = fds;
    const std::string base = "/proc/" + std::to_string(pid);
    p.comm = fs.read_line(base + "/comm").value_or("?");
    if (auto cmd = fs.read(base + "/cmdline")) {
        for (char& c : *cmd)
            if (c == '\0') c = ' ';
        while (!cmd->empty() && cmd->back() == ' ')
            cmd->pop_back();
        p.cmdline = cmd->substr(0, 200);
    }
    if (auto limits = fs.read(base + "/limits")) {
        const auto at = limits->find("Max open files");
        if (at != std::string::npos) {
            const auto line = std::string_view(*limits).substr(at + 14);
            std::size_t i = line.find_first_not_of(' ');
            std::uint64_t soft = 0;
            if (i != std::string_view::npos) {
                auto [ptr, ec] = std::from_chars(line.data() + i, line.data() + line.size(), soft);
                if (ec == std::errc{}) p.nofile = soft;
            }
        }
    }
    return p;
}

} // namespace

OwnerMap find_owners(const std::unordered_set<std::uint64_t>& inodes, const SysfsReader& fs) {
    OwnerMap map;
    std::size_t wanted = inodes.size() - (inodes.count(0) ? 1 : 0);
    if (wanted == 0) return map; // nothing owned in the result: no /proc scan at all
    char link[256];
    for (const auto& name : list_dir(fs.resolve("/proc"))) {
        int pid = 0;
        auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
        if (ec != std::errc{} || p != name.data() + name.size()) continue;
        const std::string fd_dir = fs.resolve("/proc/" + name + "/fd");
        DIR* d = ::opendir(fd_dir.c_str());
        if (!d) {
            ++map.unreadable;
            continue;
        }
        std::uint64_t fds = 0;
        bool owns = false;
        while (const dirent* e = ::readdir(d)) {
            if (e->d_name[0] == '.') continue;
            ++fds;
            const std::string path = fd_dir + "/" + e->d_name;
            const ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
            if (n <= 0) continue;
            const auto inode = socket_inode(std::string_view(link, static_cast<std::size_t>(n)));
            if (!inode || !inodes.count(*inode)) continue;
            if (map.pid_of.emplace(*inode, pid).second) --wanted;
            owns = true;
        }
        ::closedir(d);
        if (owns) map.processes.emplace(pid, describe(pid, fs, fds));
        if (wanted == 0) break;
    }
    return map;
}

} // namespace netdx
