#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>
#include <sys/stat.h>

#include <netdx/sys/sysctl.hpp>

namespace netdx {

std::string sysctl_path(std::string_view dotted) {
    std::string path = "/proc/sys/";
    for (char c : dotted)
        path.push_back(c == '.' ? '/' : c);
    return path;
}

std::string SysfsReader::resolve(std::string_view path) const {
    if (root_.empty() || root_ == "/") return std::string(path);
    std::string full = root_;
    if (full.back() == '/') full.pop_back();
    if (path.empty() || path.front() != '/') full.push_back('/');
    full.append(path);
    return full;
}

std::optional<std::string> SysfsReader::read(std::string_view path) const {
    std::ifstream in(resolve(path), std::ios::binary);
    if (!in) return std::nullopt;
    std::string data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) return std::nullopt;
    return data;
}

std::optional<std::string> SysfsReader::read_line(std::string_view path) const {
    auto data = read(path);
    if (!data) return std::nullopt;
    std::string line = data->substr(0, data->find('\n'));
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) return std::string{};
    const auto last = line.find_last_not_of(" \t\r");
    return line.substr(first, last - first + 1);
}

std::optional<std::vector<std::int64_t>> SysfsReader::read_ints(std::string_view path) const {
    auto data = read(path);
    if (!data) return std::nullopt;
    std::vector<std::int64_t> values;
    std::istringstream in(*data);
    std::string token;
    while (in >> token) {
        std::int64_t v = 0;
        auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
        if (ec != std::errc{} || end != token.data() + token.size()) return std::nullopt;
        values.push_back(v);
    }
    if (values.empty()) return std::nullopt;
    return values;
}

std::optional<std::int64_t> SysfsReader::read_int(std::string_view path) const {
    auto values = read_ints(path);
    if (!values) return std::nullopt;
    return values->front();
}

std::optional<std::int64_t> SysfsReader::sysctl_int(std::string_view dotted) const {
    return read_int(sysctl_path(dotted));
}

std::optional<std::vector<std::int64_t>> SysfsReader::sysctl_ints(std::string_view dotted) const {
    return read_ints(sysctl_path(dotted));
}

bool SysfsReader::exists(std::string_view path) const {
    struct stat st {};
    return ::stat(resolve(path).c_str(), &st) == 0;
}

} // namespace netdx
