#pragma once
/// Reading kernel tunables and /proc, /sys files.
///
/// A SysfsReader reads paths below a root ("/" normally). Tests point the root at a fixture
/// tree to replay another machine, including one where files are missing: a missing or
/// unreadable file is "not present" (std::nullopt), never an exception.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace netdx {

class SysfsReader {
public:
    explicit SysfsReader(std::string root = "/") : root_(std::move(root)) {}

    /// Whole file, or nullopt when it does not exist or cannot be read.
    [[nodiscard]] std::optional<std::string> read(std::string_view path) const;
    /// First line without the trailing newline and surrounding white space.
    [[nodiscard]] std::optional<std::string> read_line(std::string_view path) const;
    /// The file parsed as whitespace-separated signed integers ("32768\t60999").
    [[nodiscard]] std::optional<std::vector<std::int64_t>> read_ints(std::string_view path) const;
    /// The first integer of the file.
    [[nodiscard]] std::optional<std::int64_t> read_int(std::string_view path) const;
    /// A sysctl by dotted name ("net.ipv4.tcp_tw_reuse" -> /proc/sys/net/ipv4/tcp_tw_reuse).
    [[nodiscard]] std::optional<std::int64_t> sysctl_int(std::string_view dotted) const;
    [[nodiscard]] std::optional<std::vector<std::int64_t>>
    sysctl_ints(std::string_view dotted) const;
    [[nodiscard]] bool exists(std::string_view path) const;

    [[nodiscard]] const std::string& root() const { return root_; }
    [[nodiscard]] std::string resolve(std::string_view path) const;

private:
    std::string root_;
};

/// "net.ipv4.tcp_tw_reuse" -> "/proc/sys/net/ipv4/tcp_tw_reuse".
[[nodiscard]] std::string sysctl_path(std::string_view dotted);

} // namespace netdx
