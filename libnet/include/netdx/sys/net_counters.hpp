#pragma once
/// The kernel's network counters (/proc/net/netstat and /proc/net/snmp), read into one map
/// keyed "TcpExt.ListenOverflows", "Tcp.ActiveOpens" …, so a tool can take two snapshots and
/// report what changed while it ran (listen-queue overflows, SYN cookies, TIME_WAIT
/// overflow). Both files are pairs of lines: a header of names, then the values.
///
///   TcpExt: SyncookiesSent SyncookiesRecv ... ListenOverflows ListenDrops ...
///   TcpExt: 0 0 ... 12 12 ...

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <netdx/sys/sysctl.hpp>

namespace netdx {

class NetCounters {
public:
    /// Reads both files below fs's root; counters of a missing file are simply absent.
    [[nodiscard]] static NetCounters read(const SysfsReader& fs = SysfsReader{});
    /// Parses one file's text (header/value line pairs); malformed pairs are skipped.
    void parse(std::string_view text);

    [[nodiscard]] std::optional<std::int64_t> get(std::string_view key) const;
    /// this - earlier for one counter (0 when either lacks it).
    [[nodiscard]] std::int64_t delta(const NetCounters& earlier, std::string_view key) const;
    [[nodiscard]] const std::map<std::string, std::int64_t, std::less<>>& all() const {
        return values_;
    }

private:
    std::map<std::string, std::int64_t, std::less<>> values_;
};

} // namespace netdx
