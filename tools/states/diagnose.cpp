#include "diagnose.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include <netdx/report/units.hpp>
#include <netdx/sys/limits.hpp>

namespace netdx::states {

namespace {

/// The most common Recv-Q of the group, read: its class key and the sentence.
std::pair<std::string, std::string>
recv_q_reading(const std::map<std::uint32_t, std::uint64_t>& recv_qs) {
    // The FIN takes one sequence number: Recv-Q 1 is the unread EOF itself.
    std::uint32_t common = 0;
    std::uint64_t most = 0;
    for (const auto& [q, n] : recv_qs)
        if (n > most) {
            most = n;
            common = q;
        }
    if (common == 0) return {"eof_read", "Recv-Q 0: it read the EOF but never called close()"};
    if (common == 1)
        return {"eof_unread",
                "Recv-Q 1: it never read the EOF (the 1 is the peer's FIN), so it is not "
                "reading this socket at all"};
    return {"data_unread", fmt::format("Recv-Q {}: {} unread bytes plus the FIN, it stopped "
                                       "reading",
                                       common, common - 1)};
}

void close_wait(const std::vector<TcpSocket>& sockets, const std::vector<bool>& server_side,
                const OwnerMap& owners, std::vector<Finding>& out) {
    struct Group {
        std::uint64_t count = 0;
        std::uint64_t oldest_idle_ms = 0;
        std::uint64_t recent = 0; ///< idle under a minute: the leak's growth
        bool idle_known = false;
        std::map<std::uint32_t, std::uint64_t> recv_qs;
    };
    // (pid, side, local, remote): an outgoing connection's peer is its remote address and
    // port; an incoming one's remote port is the client's ephemeral port, so it groups by
    // our listening address and port and the client's address.
    std::map<std::tuple<int, bool, std::string, std::string>, Group> groups;
    for (std::size_t i = 0; i < sockets.size(); ++i) {
        const auto& s = sockets[i];
        if (s.state != TcpState::close_wait) continue;
        const auto it = owners.pid_of.find(s.inode);
        const int pid = it == owners.pid_of.end() ? 0 : it->second;
        const bool server = i < server_side.size() && server_side[i];
        auto& g = server ? groups[{pid, true, s.local.to_string(), s.remote.ip().to_string()}]
                         : groups[{pid, false, s.local.ip().to_string(), s.remote.to_string()}];
        ++g.count;
        ++g.recv_qs[s.recv_q];
        if (s.idle) {
            g.idle_known = true;
            g.oldest_idle_ms = std::max<std::uint64_t>(g.oldest_idle_ms, s.idle->last_data_recv_ms);
            // The peer's FIN is the last thing a CLOSE-WAIT socket receives (besides ACKs of
            // what it still sends): idle under a minute means it got there within a minute.
            if (std::min(s.idle->last_data_recv_ms, s.idle->last_ack_recv_ms) < 60'000) ++g.recent;
        }
    }
    for (const auto& [key, g] : groups) {
        const auto& [pid, server, local, remote] = key;
        const std::string peer = server ? fmt::format("it accepted on {} from {}", local, remote)
                                        : "it opened to " + remote;
        Finding f;
        f.topic = "close-wait";
        f.count = g.count;
        f.pid = pid;
        f.local = local;
        f.remote = remote;
        f.side = server ? "server" : "client";
        // A few CLOSE-WAIT sockets for a moment are normal; many, or old ones, are a leak.
        f.severity = g.count >= 10 || g.oldest_idle_ms >= 60'000 ? Finding::Severity::problem
                                                                 : Finding::Severity::warn;
        std::string who = "an unknown process (run as root to see owners)";
        std::string fds;
        if (pid != 0) {
            const auto p = owners.processes.find(pid);
            f.process = p == owners.processes.end() ? "" : p->second.comm;
            who = fmt::format("pid {} ({})", pid, p == owners.processes.end() ? "?" : f.process);
            if (p != owners.processes.end() && p->second.nofile)
                fds = fmt::format("; it has {} of {} descriptors open", format_count(p->second.fds),
                                  format_count(*p->second.nofile));
        }
        std::string idle;
        if (g.idle_known)
            idle = fmt::format(", {} of them new in the last minute, oldest idle {}",
                               format_count(g.recent), format_age_ms(g.oldest_idle_ms));
        const auto [recv_q_class, recv_q_text] = recv_q_reading(g.recv_qs);
        f.recv_q = recv_q_class;
        f.text =
            fmt::format("{} holds {} CLOSE-WAIT socket{} {}{}: {}{}", who, format_count(g.count),
                        g.count == 1 ? "" : "s", peer, idle, recv_q_text, fds);
        f.advice = "The peer closed and the application has not: the kernel never times "
                   "CLOSE-WAIT out. Fix the code path that drops the socket without close() "
                   "(error paths, pools that do not notice EOF). Killing the socket (ss -K) "
                   "does not release the process's descriptor.";
        out.push_back(std::move(f));
    }
}

void time_wait(const Tally& tally, const std::optional<PortRange>& ephemeral, const SysfsReader& fs,
               const NetCounters& counters, std::vector<Finding>& out) {
    const auto& tw = tally.time_wait;
    const std::uint64_t total = tw.total, inbound = tw.inbound;
    const std::uint64_t young = tw.by_age[0]; // under 10 s old: the creation rate
    if (total == 0) return;
    const double rate = static_cast<double>(young) / 10.0;
    const auto reuse = fs.sysctl_int("net.ipv4.tcp_tw_reuse");
    const auto timestamps = fs.sysctl_int("net.ipv4.tcp_timestamps");
    const auto overflow = counters.get("TcpExt.TCPTimeWaitOverflow");
    const auto buckets = fs.sysctl_int("net.ipv4.tcp_max_tw_buckets");
    const std::uint64_t range = ephemeral ? ephemeral->size() : 28'232;

    std::uint64_t worst = 0;
    std::string worst_key;
    Finding f;
    for (const auto& [k, n] : tw.outbound)
        if (n > worst) {
            worst = n;
            f.local = std::get<1>(k).to_string();
            f.remote = SocketAddress(std::get<2>(k), std::get<3>(k)).to_string();
            worst_key = fmt::format("{} -> {}", f.local, f.remote);
        }
    f.topic = "time-wait";
    f.count = total;
    f.severity = worst * 2 > range ? Finding::Severity::problem : Finding::Severity::info;
    f.text = fmt::format(
        "{} TIME-WAIT ({} outbound, {} inbound), created at about {} (from those under 10 s "
        "old), so about {} if that rate goes on",
        format_count(total), format_count(total - inbound), format_count(inbound),
        format_rate(rate), format_count(static_cast<std::uint64_t>(rate * 60)));
    if (worst > 0)
        f.text += fmt::format("; the busiest outbound pair {} uses {} of {} ephemeral ports "
                              "({:.0f}%)",
                              worst_key, format_count(worst), format_count(range),
                              100.0 * static_cast<double>(worst) / static_cast<double>(range));
    if (reuse)
        f.text += fmt::format("; tcp_tw_reuse={} ({}), tcp_timestamps={}", *reuse,
                              *reuse == 1   ? "outbound connections may reuse them"
                              : *reuse == 2 ? "reuse on loopback only"
                                            : "no reuse",
                              timestamps.value_or(-1));
    if (overflow && *overflow > 0 && buckets)
        f.text += fmt::format("; the kernel dropped {} TIME-WAIT entries since boot "
                              "(tcp_max_tw_buckets {})",
                              format_count(static_cast<std::uint64_t>(*overflow)),
                              format_count(static_cast<std::uint64_t>(*buckets)));
    f.advice = worst * 2 > range
                   ? "This pair is running out of source ports (EADDRNOTAVAIL next): reuse "
                     "connections (keep-alive, pools), add source addresses or destination "
                     "ports, or set tcp_tw_reuse=1 (outbound only, needs timestamps). Never "
                     "tcp_tw_recycle (gone since Linux 4.12); tcp_fin_timeout does not shorten "
                     "TIME-WAIT; SO_LINGER 0 trades TIME-WAIT for lost data."
                   : "A large TIME-WAIT count alone is harmless: each holds a little memory "
                     "and, for outbound connections, one port of its 4-tuple for 60 s.";
    out.push_back(std::move(f));
}

void orphans(const Tally& tally, const SysfsReader& fs, std::vector<Finding>& out) {
    const std::uint64_t n = tally.orphans;
    if (n == 0) return;
    const auto max = fs.sysctl_int("net.ipv4.tcp_max_orphans");
    Finding f;
    f.topic = "orphans";
    f.count = n;
    f.severity = max && n * 2 > static_cast<std::uint64_t>(*max) ? Finding::Severity::problem
                                                                 : Finding::Severity::info;
    f.text = fmt::format(
        "{} orphaned sockets (closed by their process, still finishing: "
        "FIN-WAIT, CLOSING, LAST-ACK){}",
        format_count(n),
        max ? fmt::format(" of tcp_max_orphans {}", format_count(static_cast<std::uint64_t>(*max)))
            : "");
    f.advice = "Orphans in FIN-WAIT-2 wait tcp_fin_timeout for the peer's FIN; past "
               "tcp_max_orphans the kernel resets new orphans.";
    out.push_back(std::move(f));
}

void listeners(const std::vector<TcpSocket>& sockets, const NetCounters& counters,
               std::vector<Finding>& out) {
    for (const auto& s : sockets) {
        if (s.state != TcpState::listen || s.send_q == 0 || s.recv_q < s.send_q) continue;
        Finding f;
        f.topic = "listen";
        f.count = s.recv_q;
        f.local = s.local.to_string();
        f.severity = Finding::Severity::problem;
        f.text = fmt::format("listener {} has a full accept queue ({} of {})", s.local.to_string(),
                             format_count(s.recv_q), format_count(s.send_q));
        if (const auto o = counters.get("TcpExt.ListenOverflows"); o && *o > 0)
            f.text += fmt::format("; the kernel counted {} listen-queue overflows since boot",
                                  format_count(static_cast<std::uint64_t>(*o)));
        f.advice = "The application accepts too slowly or its backlog is too small: new "
                   "SYNs are dropped. Accept faster or raise listen()'s backlog and "
                   "net.core.somaxconn.";
        out.push_back(std::move(f));
    }
}

} // namespace

std::string format_age_ms(std::uint64_t ms) {
    if (ms >= 3'600'000) return fmt::format("{}h{:02}m", ms / 3'600'000, ms / 60'000 % 60);
    if (ms >= 60'000) return fmt::format("{}m{:02}s", ms / 60'000, ms / 1000 % 60);
    if (ms >= 1000) return fmt::format("{}s", ms / 1000);
    return fmt::format("{}ms", ms);
}

std::vector<Finding> diagnose(const Tally& tally, const std::vector<TcpSocket>& sockets,
                              const std::vector<bool>& server_side, const OwnerMap& owners,
                              const SysfsReader& fs, const NetCounters& counters) {
    std::vector<Finding> out;
    const auto& ephemeral = tally.ephemeral;
    close_wait(sockets, server_side, owners, out);
    time_wait(tally, ephemeral, fs, counters, out);
    orphans(tally, fs, out);
    listeners(sockets, counters, out);
    std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
        return static_cast<int>(a.severity) > static_cast<int>(b.severity);
    });
    return out;
}

} // namespace netdx::states
