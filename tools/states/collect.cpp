#include "collect.hpp"

#include <cstdlib>
#include <stdexcept>
#include <sys/socket.h>

#include <fmt/format.h>

#include <netdx/inspect/proc_net_tcp.hpp>
#include <netdx/inspect/sock_diag.hpp>
#include <netdx/net/host_port.hpp>
#include <netdx/sys/parse_error.hpp>
#include <netdx/sys/text.hpp>

namespace netdx::states {

PortRange parse_port_filter(const std::string& text, const char* option) {
    const auto dash = text.find('-');
    const std::string context = fmt::format("{} {}", option, text);
    PortRange r;
    if (dash == std::string::npos) {
        r.low = r.high = parse_port(text, context);
    } else {
        r.low = parse_port(text.substr(0, dash), context);
        r.high = parse_port(text.substr(dash + 1), context);
        if (r.low > r.high)
            throw ParseError(fmt::format("{}: range '{}' runs backwards", option, text));
    }
    return r;
}

/// /proc/net/sockstat: "TCP: inuse N … tw M". Growing a vector of 100,000 records instead
/// copies them over and over.
std::size_t expected_sockets(const std::string& root) {
    std::size_t n = 0;
    const SysfsReader fs(root);
    for (const auto& [path, prefix] :
         {std::pair{"/proc/net/sockstat", "TCP:"}, std::pair{"/proc/net/sockstat6", "TCP6:"}}) {
        const auto text = fs.read(path);
        if (!text) continue;
        for (const auto line : split_lines(*text)) {
            if (!line.starts_with(prefix)) continue;
            const auto w = split_words(line); // TCP: inuse 12 orphan 0 tw 97869 …
            for (std::size_t i = 1; i + 1 < w.size(); i += 2)
                if (w[i] == "inuse" || w[i] == "tw")
                    n += std::strtoull(std::string(w[i + 1]).c_str(), nullptr, 10);
        }
    }
    return std::min<std::size_t>(n + 64, 10'000'000);
}

Listeners collect_listeners(const Filters& f) {
    Listeners out;
    const auto add = [&](const TcpSocket& s) { out.add(s); };
    if (!f.force_proc) {
        bool ok = true;
        for (const int family : {AF_INET, AF_INET6}) {
            DiagRequest req;
            req.family = family;
            req.states = state_bit(TcpState::listen);
            req.tcp_info = false;
            ok = dump_tcp_sockets(req, add).ok && ok;
        }
        if (ok) return out;
        out = Listeners{};
    }
    (void)read_proc_net_tcp(SysfsReader(f.proc_root), state_bit(TcpState::listen), add);
    return out;
}

Collected collect(const Filters& f, const SocketSink& sink) {
    Collected out;
    const Nanos t0 = monotonic_ns();
    bool netlink = !f.force_proc;
    // What the kernel does not filter: orphans-only always; families, ports and prefixes
    // too on the /proc path.
    const auto keep = [&](const TcpSocket& s) {
        if (f.states.orphans_only && s.state == TcpState::fin_wait2 && s.inode != 0) return;
        if (!netlink) {
            const bool v4 = s.local.ip().is_v4();
            if ((v4 && !f.v4) || (!v4 && !f.v6) || !f.where.matches(s)) return;
        }
        ++out.records;
        sink(s);
    };
    if (netlink) {
        out.source = "sock_diag";
        const auto bytecode = compile_diag_filter(f.where);
        bool first = true;
        for (const int family : {AF_INET, AF_INET6}) {
            if ((family == AF_INET && !f.v4) || (family == AF_INET6 && !f.v6)) continue;
            if (!f.where.can_match(family)) continue;
            DiagRequest req;
            req.family = family;
            req.states = f.states.mask;
            req.bytecode = bytecode;
            const auto r = dump_tcp_sockets(req, keep);
            if (!r.ok) {
                // Records already streamed cannot be taken back: fall back only before any.
                if (!first)
                    throw std::runtime_error(fmt::format("sock_diag stopped working: {}", r.error));
                out.note =
                    fmt::format("{}: read /proc/net/tcp and tcp6 instead (no idle times)", r.error);
                netlink = false;
                break;
            }
            first = false;
        }
    }
    if (!netlink) {
        out.source = "/proc/net/tcp";
        const auto r = read_proc_net_tcp(SysfsReader(f.proc_root), f.states.mask, keep);
        if (r.malformed > 0)
            out.note +=
                fmt::format("{}{} malformed line{} skipped, first {}", out.note.empty() ? "" : "; ",
                            r.malformed, r.malformed == 1 ? "" : "s", r.first_malformed);
    }
    out.duration = monotonic_ns() - t0;
    return out;
}

} // namespace netdx::states
