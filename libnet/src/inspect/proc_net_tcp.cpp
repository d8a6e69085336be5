#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>

#include <netdx/inspect/proc_net_tcp.hpp>
#include <netdx/sys/text.hpp>

namespace netdx {

namespace {

template <typename T>
bool parse_num(std::string_view s, T& out, int base) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
    return ec == std::errc{} && p == s.data() + s.size();
}

/// "0100007F:1B5F" or the 32-hex-digit IPv6 form.
bool parse_endpoint(std::string_view s, SocketAddress& out) {
    const auto colon = s.find(':');
    if (colon == std::string_view::npos) return false;
    const auto addr = s.substr(0, colon);
    std::uint16_t port = 0;
    if (!parse_num(s.substr(colon + 1), port, 16)) return false;
    // Each 8-digit group is one 32-bit word of the address as the kernel holds it (network
    // order), printed as a number in this machine's order: its bytes in memory are the
    // address bytes, whatever the endianness.
    if (addr.size() != 8 && addr.size() != 32) return false;
    std::array<std::uint8_t, 16> bytes{};
    for (std::size_t word = 0; word < addr.size() / 8; ++word) {
        std::uint32_t w = 0;
        if (!parse_num(addr.substr(word * 8, 8), w, 16)) return false;
        std::memcpy(bytes.data() + word * 4, &w, 4);
    }
    if (addr.size() == 8) {
        std::uint32_t host = 0;
        for (std::size_t k = 0; k < 4; ++k)
            host = (host << 8) | bytes[k];
        out = SocketAddress(IpAddress::v4(host), port);
    } else {
        out = SocketAddress(IpAddress::v6(bytes), port);
    }
    return true;
}

/// One data line; returns an error text, or "" when parsed.
std::string parse_line(std::string_view line, long ticks, TcpSocket& s) {
    const auto w = split_words(line);
    if (w.size() < 10) return fmt::format("{} fields, expected at least 10", w.size());
    if (!parse_endpoint(w[1], s.local)) return fmt::format("bad local address '{}'", w[1]);
    if (!parse_endpoint(w[2], s.remote)) return fmt::format("bad remote address '{}'", w[2]);
    unsigned st = 0;
    if (!parse_num(w[3], st, 16) || st < 1 || st >= kTcpStateCount)
        return fmt::format("bad state '{}'", w[3]);
    s.state = static_cast<TcpState>(st);
    const auto q = w[4].find(':');
    if (q == std::string_view::npos || !parse_num(w[4].substr(0, q), s.send_q, 16) ||
        !parse_num(w[4].substr(q + 1), s.recv_q, 16))
        return fmt::format("bad queues '{}'", w[4]);
    const auto t = w[5].find(':');
    unsigned timer = 0;
    std::uint64_t when = 0;
    if (t == std::string_view::npos || !parse_num(w[5].substr(0, t), timer, 16) ||
        !parse_num(w[5].substr(t + 1), when, 16))
        return fmt::format("bad timer '{}'", w[5]);
    s.timer = static_cast<SocketTimer>(timer <= 4 ? timer : 0);
    s.timer_ms = static_cast<std::uint32_t>(when * 1000 / static_cast<std::uint64_t>(ticks));
    unsigned retrans = 0;
    if (!parse_num(w[6], retrans, 16)) return fmt::format("bad retransmits '{}'", w[6]);
    s.retransmits = static_cast<std::uint8_t>(std::min(retrans, 255u));
    if (!parse_num(w[7], s.uid, 10)) return fmt::format("bad uid '{}'", w[7]);
    if (!parse_num(w[9], s.inode, 10)) return fmt::format("bad inode '{}'", w[9]);
    return {};
}

} // namespace

ProcParseResult parse_proc_net_tcp(std::string_view text, StateMask states, const SocketSink& sink,
                                   long ticks_per_second) {
    ProcParseResult r;
    const auto lines = split_lines(text);
    // The first line names the columns.
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const auto line = lines[i];
        if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
        TcpSocket s;
        const auto err = parse_line(line, ticks_per_second > 0 ? ticks_per_second : 100, s);
        if (!err.empty()) {
            if (r.malformed++ == 0) r.first_malformed = fmt::format("'{}': {}", line, err);
            continue;
        }
        if (!(states & state_bit(s.state))) continue;
        ++r.records;
        sink(s);
    }
    return r;
}

ProcParseResult read_proc_net_tcp(const SysfsReader& fs, StateMask states, const SocketSink& sink) {
    ProcParseResult total;
    const long ticks = ::sysconf(_SC_CLK_TCK);
    for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        const auto text = fs.read(path);
        if (!text) continue;
        auto r = parse_proc_net_tcp(*text, states, sink, ticks);
        total.records += r.records;
        if (r.malformed && total.malformed == 0)
            total.first_malformed = fmt::format("{}: {}", path, r.first_malformed);
        total.malformed += r.malformed;
    }
    return total;
}

} // namespace netdx
