#include <algorithm>
#include <sys/socket.h>
#include <unordered_set>

#include <fmt/format.h>

#include <netdx/inspect/diag_filter.hpp>
#include <netdx/inspect/port_users.hpp>
#include <netdx/inspect/proc_net_tcp.hpp>
#include <netdx/inspect/sock_diag.hpp>
#include <netdx/inspect/socket_owners.hpp>

namespace netdx {

namespace {

/// Whether a socket bound to `bound` collides with a bind to `wanted` on the same port: the
/// same address, or a wildcard on either side (a v6 wildcard also covers v4 unless
/// IPV6_V6ONLY, which cannot be seen from here: counted as colliding).
bool overlaps(const IpAddress& bound, const IpAddress& wanted) {
    if (bound == wanted) return true;
    if (bound.is_unspecified() || wanted.is_unspecified())
        return bound.is_v4() == wanted.is_v4() || bound.is_v6();
    return false;
}

} // namespace

std::vector<PortUser> find_port_users(const IpAddress& address, std::uint16_t port, bool tcp,
                                      bool udp) {
    std::vector<PortUser> users;
    std::unordered_set<std::uint64_t> inodes;
    std::vector<std::uint64_t> inode_of;
    auto keep = [&](Protocol proto, const TcpSocket& s) {
        if (s.local.port() != port || !overlaps(s.local.ip(), address)) return;
        users.push_back({proto, s.local, 0, {}});
        inode_of.push_back(s.inode);
        if (s.inode != 0) inodes.insert(s.inode);
    };
    if (tcp) {
        DiagFilter f;
        f.sport = PortRange{port, port};
        const auto bytecode = compile_diag_filter(f);
        for (const int family : {AF_INET, AF_INET6}) {
            DiagRequest req;
            req.family = family;
            req.states = state_bit(TcpState::listen);
            req.tcp_info = false;
            req.bytecode = bytecode;
            const auto r =
                dump_tcp_sockets(req, [&](const TcpSocket& s) { keep(Protocol::tcp, s); });
            if (!r.ok) break; // no netlink here: the caller still has the kernel's errno
        }
    }
    if (udp) {
        const SysfsReader fs;
        for (const char* path : {"/proc/net/udp", "/proc/net/udp6"})
            if (const auto text = fs.read(path))
                (void)parse_proc_net_tcp(*text, kAllStates,
                                         [&](const TcpSocket& s) { keep(Protocol::udp, s); });
    }
    const auto owners = find_owners(inodes);
    for (std::size_t i = 0; i < users.size(); ++i) {
        const auto it = owners.pid_of.find(inode_of[i]);
        if (it == owners.pid_of.end()) continue;
        users[i].pid = it->second;
        if (const auto p = owners.processes.find(it->second); p != owners.processes.end())
            users[i].process = p->second.comm;
    }
    // One line per (protocol, address, process): SO_REUSEPORT servers bind one socket per
    // thread.
    std::vector<PortUser> unique;
    for (auto& u : users) {
        const bool seen = std::any_of(unique.begin(), unique.end(), [&](const PortUser& v) {
            return v.protocol == u.protocol && v.local == u.local && v.pid == u.pid;
        });
        if (!seen) unique.push_back(std::move(u));
    }
    return unique;
}

std::string describe_port_users(const std::vector<PortUser>& users) {
    std::string out;
    for (const auto& u : users) {
        if (!out.empty()) out += "; ";
        const char* proto = u.protocol == Protocol::tcp ? "tcp" : "udp";
        out += u.pid != 0 ? fmt::format("pid {} ({}) on {} ({})", u.pid, u.process,
                                        u.local.to_string(), proto)
                          : fmt::format("a process this user cannot see, on {} ({})",
                                        u.local.to_string(), proto);
    }
    return out;
}

} // namespace netdx
