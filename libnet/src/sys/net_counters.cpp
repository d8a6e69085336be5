#include <charconv>
#include <vector>

#include <netdx/sys/net_counters.hpp>
#include <netdx/sys/text.hpp>

namespace netdx {

NetCounters NetCounters::read(const SysfsReader& fs) {
    NetCounters c;
    for (const char* path : {"/proc/net/snmp", "/proc/net/netstat"})
        if (auto text = fs.read(path)) c.parse(*text);
    return c;
}

void NetCounters::parse(std::string_view text) {
    const auto lines = split_lines(text);
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
        const auto names = split_words(lines[i]);
        const auto values = split_words(lines[i + 1]);
        // A pair: same prefix ("TcpExt:"), same number of words, the second all numbers.
        if (names.size() < 2 || names.size() != values.size() || names[0] != values[0] ||
            names[0].back() != ':')
            continue;
        const auto prefix = names[0].substr(0, names[0].size() - 1);
        bool numeric = true;
        std::vector<std::int64_t> parsed(values.size());
        for (std::size_t k = 1; k < values.size() && numeric; ++k) {
            const auto v = values[k];
            auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), parsed[k]);
            numeric = ec == std::errc{} && p == v.data() + v.size();
        }
        if (!numeric) continue;
        for (std::size_t k = 1; k < names.size(); ++k)
            values_[std::string(prefix) + "." + std::string(names[k])] = parsed[k];
        ++i; // the value line is consumed
    }
}

std::optional<std::int64_t> NetCounters::get(std::string_view key) const {
    const auto it = values_.find(key);
    if (it == values_.end()) return std::nullopt;
    return it->second;
}

std::int64_t NetCounters::delta(const NetCounters& earlier, std::string_view key) const {
    const auto now = get(key);
    const auto then = earlier.get(key);
    return now && then ? *now - *then : 0;
}

} // namespace netdx
