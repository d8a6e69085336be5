#include <filesystem>
#include <sys/stat.h>

#include <netdx/inspect/cgroups.hpp>
#include <netdx/sys/text.hpp>

namespace netdx {

std::optional<std::string> cgroup2_mount(const SysfsReader& fs) {
    // mountinfo: "36 25 0:31 / /sys/fs/cgroup rw,... shared:9 - cgroup2 cgroup2 rw,..."
    const auto text = fs.read("/proc/self/mountinfo");
    if (!text) return std::nullopt;
    for (const auto line : split_lines(*text)) {
        const auto w = split_words(line);
        for (std::size_t i = 6; i + 1 < w.size(); ++i)
            if (w[i] == "-" && w[i + 1] == "cgroup2" && w.size() > 4) return std::string(w[4]);
    }
    return std::nullopt;
}

std::unordered_map<std::uint64_t, std::string>
cgroup_paths(const std::unordered_set<std::uint64_t>& ids, const SysfsReader& fs) {
    std::unordered_map<std::uint64_t, std::string> out;
    if (ids.empty()) return out;
    const auto mount = cgroup2_mount(fs);
    if (!mount) return out;
    namespace stdfs = std::filesystem;
    const stdfs::path root = fs.resolve(*mount);
    auto visit = [&](const stdfs::path& dir, const std::string& rel) {
        struct stat st {};
        if (::stat(dir.c_str(), &st) != 0) return;
        if (ids.count(static_cast<std::uint64_t>(st.st_ino)))
            out.emplace(static_cast<std::uint64_t>(st.st_ino), rel.empty() ? "/" : rel);
    };
    visit(root, "");
    std::error_code ec;
    for (auto it = stdfs::recursive_directory_iterator(
             root, stdfs::directory_options::skip_permission_denied, ec);
         !ec && it != stdfs::recursive_directory_iterator() && out.size() < ids.size();
         it.increment(ec)) {
        if (!it->is_directory(ec) || it->is_symlink(ec)) {
            continue;
        }
        visit(it->path(), "/" + stdfs::relative(it->path(), root, ec).string());
    }
    return out;
}

} // namespace netdx
