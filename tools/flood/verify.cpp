#include "verify.hpp"

#include <algorithm>
#include <stdexcept>
#include <sys/socket.h>

#include <fmt/format.h>

#include <netdx/inspect/diag_filter.hpp>
#include <netdx/inspect/listeners.hpp>
#include <netdx/inspect/sock_diag.hpp>
#include <netdx/net/socket.hpp>
#include <netdx/sys/fd.hpp>

#include "engine.hpp"

namespace netdx::flood {

namespace {

/// ::ffff:a.b.c.d as a.b.c.d: a dual-stack listener's IPv4 connections are IPv6 sockets.
IpAddress unmapped(const IpAddress& ip) {
    if (!ip.is_v6()) return ip;
    const auto* b = ip.bytes();
    for (int i = 0; i < 10; ++i)
        if (b[i] != 0) return ip;
    if (b[10] != 0xff || b[11] != 0xff) return ip;
    return IpAddress::v4(std::uint32_t{b[12]} << 24 | std::uint32_t{b[13]} << 16 |
                         std::uint32_t{b[14]} << 8 | b[15]);
}

/// Whether `ip` is an address of the namespace this thread is in: binding to it works.
bool local_address(const IpAddress& ip) {
    const Endpoint probe(ip, 0);
    Fd fd(::socket(probe.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    return fd && ::bind(fd.get(), probe.sockaddr_ptr(), probe.sockaddr_len()) == 0;
}

/// Whether every target has a listener here, with its address one of this namespace's.
bool all_listening_here(const std::vector<Endpoint>& targets) {
    Listeners listeners;
    for (const int family : {AF_INET, AF_INET6}) {
        DiagRequest req;
        req.family = family;
        req.states = state_bit(TcpState::listen);
        req.tcp_info = false;
        if (!dump_tcp_sockets(req, [&](const TcpSocket& s) { listeners.add(s); }).ok) return false;
    }
    return std::all_of(targets.begin(), targets.end(), [&](const Endpoint& t) {
        return local_address(t.ip()) && listeners.listening(SocketAddress(t));
    });
}

} // namespace

ServerView locate_server(const std::vector<Endpoint>& targets) {
    ServerView v;
    if (targets.empty()) {
        v.why_not = "no targets";
        return v;
    }
    if (all_listening_here(targets)) {
        v.found = true;
        v.where = "this machine";
        return v;
    }
    std::string refused;
    for (const auto& ns : all_named_netns()) {
        if (ns.path.empty()) continue; // this namespace: looked at above
        bool here = false;
        const auto err = in_netns(ns, [&] { here = all_listening_here(targets); });
        if (!err.empty()) {
            if (refused.empty()) refused = err;
            continue;
        }
        if (here) {
            v.found = true;
            v.ns = ns;
            v.where = "network namespace " + ns.label;
            return v;
        }
    }
    v.why_not = refused.empty()
                    ? "no listener for the target on this machine or in its named network "
                      "namespaces"
                    : "no listener for the target here, and other namespaces cannot be "
                      "searched (" +
                          refused + ")";
    return v;
}

ServerCheck::ServerCheck(ServerView view, const std::vector<Endpoint>& targets)
    : view_(std::move(view)) {
    for (const auto& t : targets)
        if (std::find(ports_.begin(), ports_.end(), t.port()) == ports_.end())
            ports_.push_back(t.port());
}

void ServerCheck::load(const std::vector<std::string>& files) {
    keys_.clear();
    for (const auto& path : files) {
        const auto held = HeldEndpoints::read(path);
        std::vector<std::uint32_t> global(held.pairs.size());
        for (std::size_t i = 0; i < held.pairs.size(); ++i) {
            const auto& p = held.pairs[i];
            const PairKey key{unmapped(p.local), unmapped(p.target.ip()), p.target.port()};
            const auto [it, fresh] =
                pairs_.try_emplace(key, static_cast<std::uint32_t>(pairs_.size()));
            global[i] = it->second;
        }
        for (const auto& [pair, port] : held.conns)
            if (pair < global.size()) keys_.push_back(std::uint64_t{global[pair]} << 16 | port);
    }
    std::sort(keys_.begin(), keys_.end());
}

ServerCount ServerCheck::count() const {
    ServerCount c;
    c.ours = keys_.size();
    c.at = monotonic_ns();
    std::vector<bool> seen(keys_.size(), false);
    // Every state a server socket of ours can be in but LISTEN and TIME-WAIT (those are not
    // a connection the server holds, nor one it never had).
    const StateMask states = kAllStates & ~state_bit(TcpState::listen) &
                             ~state_bit(TcpState::time_wait) & ~state_bit(TcpState::closed);
    // The kernel keeps the server's sockets only (their local port is a target's): a range
    // of the targets' ports would take in our own clients' ephemeral ports too.
    DiagFilter f;
    auto sorted = ports_;
    std::sort(sorted.begin(), sorted.end());
    if (sorted.back() - sorted.front() + 1u == sorted.size())
        f.sport = PortRange{sorted.front(), sorted.back()}; // consecutive (the embedded sink)
    else
        f.sport_any = ports_;
    const auto bytecode = compile_diag_filter(f);
    std::string error;
    auto sink = [&](const TcpSocket& s) {
        const PairKey pk{unmapped(s.remote.ip()), unmapped(s.local.ip()), s.local.port()};
        const auto it = pairs_.find(pk);
        if (it == pairs_.end()) return;
        const std::uint64_t key = std::uint64_t{it->second} << 16 | s.remote.port();
        const auto pos = std::lower_bound(keys_.begin(), keys_.end(), key);
        if (pos == keys_.end() || *pos != key) return; // another client's connection
        const auto i = static_cast<std::size_t>(pos - keys_.begin());
        if (seen[i]) return;
        seen[i] = true;
        switch (s.state) {
        case TcpState::established:
        case TcpState::close_wait:
            ++(s.inode != 0 ? c.accepted : c.queued);
            break;
        case TcpState::syn_recv:
        case TcpState::new_syn_recv:
            ++c.half_open;
            break;
        default: // FIN-WAIT-1/2, CLOSING, LAST-ACK: the server closed it
            ++c.closing;
            break;
        }
    };
    const auto dump = [&] {
        for (const int family : {AF_INET, AF_INET6}) {
            DiagRequest req;
            req.family = family;
            req.states = states;
            req.tcp_info = false;
            req.bytecode = bytecode;
            const auto r = dump_tcp_sockets(req, sink);
            if (!r.ok) error = r.error;
        }
    };
    const auto err = view_.ns.path.empty() ? std::string() : in_netns(view_.ns, dump);
    if (view_.ns.path.empty()) dump();
    if (!err.empty()) throw std::runtime_error("server-side check: " + err);
    if (!error.empty()) throw std::runtime_error("server-side check: sock_diag: " + error);
    c.missing = c.ours - c.accepted - c.queued - c.half_open - c.closing;
    c.took = monotonic_ns() - c.at;
    return c;
}

} // namespace netdx::flood
