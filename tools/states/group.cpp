#include "group.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <unordered_map>

#include <fmt/format.h>

#include <netdx/net/address_list.hpp>
#include <netdx/report/units.hpp>
#include <netdx/sys/parse_error.hpp>
#include <netdx/sys/text.hpp>

namespace netdx::states {

namespace {

/// The network part of `ip` with `prefix` bits (at most the address's length).
Cidr network_of(const IpAddress& ip, int prefix) {
    const auto keep = std::min(static_cast<unsigned>(prefix), static_cast<unsigned>(ip.size() * 8));
    return Cidr{ip.masked(keep), keep};
}

} // namespace

std::vector<GroupKey> parse_group_keys(const std::string& text) {
    static const std::map<std::string, GroupKey::Kind> kKinds{
        {"state", GroupKey::Kind::state},     {"lport", GroupKey::Kind::lport},
        {"rport", GroupKey::Kind::rport},     {"laddr", GroupKey::Kind::laddr},
        {"raddr", GroupKey::Kind::raddr},     {"rnet", GroupKey::Kind::rnet},
        {"lnet", GroupKey::Kind::lnet},       {"tuple", GroupKey::Kind::tuple},
        {"process", GroupKey::Kind::process}, {"uid", GroupKey::Kind::uid},
        {"cgroup", GroupKey::Kind::cgroup}};
    std::vector<GroupKey> keys;
    for (const auto item : split_list(text)) {
        const std::string token(item);
        GroupKey k;
        k.name = token;
        const auto slash = token.find('/');
        const auto it = kKinds.find(token.substr(0, slash));
        if (it == kKinds.end())
            throw ParseError(
                fmt::format("--group-by: unknown key '{}' in '{}' (keys: state, lport, "
                            "rport, laddr, raddr, rnet/N, lnet/N, tuple, process, uid, cgroup)",
                            token, text));
        k.kind = it->second;
        const bool net = k.kind == GroupKey::Kind::rnet || k.kind == GroupKey::Kind::lnet;
        if (slash != std::string::npos) {
            const auto digits = token.substr(slash + 1);
            auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), k.prefix);
            if (!net || ec != std::errc{} || p != digits.data() + digits.size() || k.prefix < 0 ||
                k.prefix > 128)
                throw ParseError(fmt::format("--group-by: bad key '{}' in '{}'", token, text));
        } else if (net) {
            k.name += "/24";
        }
        keys.push_back(k);
    }
    return keys;
}

bool needs_owners(const std::vector<GroupKey>& keys) {
    return std::any_of(keys.begin(), keys.end(),
                       [](const GroupKey& k) { return k.kind == GroupKey::Kind::process; });
}

std::string key_text(const GroupKey& key, const TcpSocket& s, const KeyContext& ctx) {
    switch (key.kind) {
    case GroupKey::Kind::state:
        return std::string(state_name(s.state));
    case GroupKey::Kind::lport:
        return std::to_string(s.local.port());
    case GroupKey::Kind::rport:
        return std::to_string(s.remote.port());
    case GroupKey::Kind::laddr:
        return s.local.ip().to_string();
    case GroupKey::Kind::raddr:
        return s.remote.ip().to_string();
    case GroupKey::Kind::rnet:
        return network_of(s.remote.ip(), key.prefix).to_string();
    case GroupKey::Kind::lnet:
        return network_of(s.local.ip(), key.prefix).to_string();
    case GroupKey::Kind::tuple:
        return fmt::format("{} {}", s.local.to_string(), s.remote.to_string());
    case GroupKey::Kind::process: {
        if (s.inode == 0) return s.state == TcpState::time_wait ? "- (time-wait)" : "- (orphan)";
        if (!ctx.owners) return "?";
        const auto it = ctx.owners->pid_of.find(s.inode);
        if (it == ctx.owners->pid_of.end()) return "? (not visible)";
        const auto p = ctx.owners->processes.find(it->second);
        return fmt::format("{} {}", it->second,
                           p == ctx.owners->processes.end() ? "?" : p->second.comm);
    }
    case GroupKey::Kind::uid:
        return std::to_string(s.uid);
    case GroupKey::Kind::cgroup: {
        // Only full sockets carry a cgroup: not TIME-WAIT, not request sockets.
        if (s.cgroup_id == 0) return s.state == TcpState::time_wait ? "- (time-wait)" : "-";
        if (ctx.cgroups)
            if (const auto it = ctx.cgroups->find(s.cgroup_id); it != ctx.cgroups->end())
                return it->second;
        return fmt::format("id {}", s.cgroup_id);
    }
    }
    return "?";
}

namespace {

/// A compact binary form of one key for one socket, appended to `out`: grouping compares
/// these, and formats text only once per group (100,000 sockets, a few hundred groups).
void append_raw(std::string& out, const GroupKey& key, const TcpSocket& s, const OwnerMap* owners) {
    auto put = [&](const void* p, std::size_t n) { out.append(static_cast<const char*>(p), n); };
    auto put_ip = [&](const IpAddress& ip) {
        const auto n = static_cast<char>(ip.size());
        out.push_back(n);
        put(ip.bytes(), ip.size());
    };
    auto put_u32 = [&](std::uint32_t v) { put(&v, sizeof v); };
    switch (key.kind) {
    case GroupKey::Kind::state:
        out.push_back(static_cast<char>(s.state));
        return;
    case GroupKey::Kind::lport:
        put_u32(s.local.port());
        return;
    case GroupKey::Kind::rport:
        put_u32(s.remote.port());
        return;
    case GroupKey::Kind::laddr:
        put_ip(s.local.ip());
        return;
    case GroupKey::Kind::raddr:
        put_ip(s.remote.ip());
        return;
    case GroupKey::Kind::rnet:
    case GroupKey::Kind::lnet: {
        // The masked address: sockets of one network share it.
        put_ip(
            network_of(key.kind == GroupKey::Kind::rnet ? s.remote.ip() : s.local.ip(), key.prefix)
                .network);
        return;
    }
    case GroupKey::Kind::tuple:
        put_ip(s.local.ip());
        put_u32(s.local.port());
        put_ip(s.remote.ip());
        put_u32(s.remote.port());
        return;
    case GroupKey::Kind::process: {
        std::int64_t who = -1; // no owner
        if (s.inode != 0) {
            who = -2; // owner not visible
            if (owners)
                if (const auto it = owners->pid_of.find(s.inode); it != owners->pid_of.end())
                    who = it->second;
        } else if (s.state == TcpState::time_wait) {
            who = -3;
        }
        put(&who, sizeof who);
        return;
    }
    case GroupKey::Kind::uid:
        put_u32(s.uid);
        return;
    case GroupKey::Kind::cgroup:
        put(&s.cgroup_id, sizeof s.cgroup_id);
        out.push_back(static_cast<char>(s.state == TcpState::time_wait));
        return;
    }
}

} // namespace

Grouper::Grouper(std::vector<GroupKey> keys, const OwnerMap* owners)
    : keys_(std::move(keys)), owners_(owners) {}

void Grouper::add(const TcpSocket& s) {
    raw_.clear();
    for (const auto& k : keys_)
        append_raw(raw_, k, s, owners_);
    ++total_;
    // Neighbours in a dump often share a key (same peer, same state): skip the hash then.
    if (last_ == nullptr || raw_ != last_raw_) {
        auto it = acc_.find(raw_);
        if (it == acc_.end()) it = acc_.emplace(raw_, Acc{0, s}).first;
        last_ = &it->second; // unordered_map nodes stay put when it rehashes
        last_raw_ = raw_;
    }
    ++last_->count;
}

std::unordered_set<std::uint64_t> Grouper::cgroup_ids() const {
    std::unordered_set<std::uint64_t> ids;
    for (const auto& k : keys_)
        if (k.kind == GroupKey::Kind::cgroup)
            for (const auto& [raw, a] : acc_)
                if (a.first.cgroup_id != 0) ids.insert(a.first.cgroup_id);
    return ids;
}

Grouped Grouper::result(std::size_t top, const KeyContext& ctx) const {
    const auto& keys = keys_;
    Grouped g;
    g.total = total_;
    g.groups = acc_.size();
    g.rows.reserve(acc_.size());
    for (const auto& [r, a] : acc_) {
        GroupRow row;
        row.count = a.count;
        for (const auto& k : keys)
            row.keys.push_back(key_text(k, a.first, ctx));
        g.rows.push_back(std::move(row));
    }
    // By count, then by key text, so equal counts come out in a stable, readable order.
    std::sort(g.rows.begin(), g.rows.end(), [](const GroupRow& a, const GroupRow& b) {
        return a.count != b.count ? a.count > b.count : a.keys < b.keys;
    });
    if (top > 0 && g.rows.size() > top) {
        GroupRow rest;
        const auto hidden = g.rows.size() - top;
        for (std::size_t i = top; i < g.rows.size(); ++i)
            rest.count += g.rows[i].count;
        rest.keys.assign(keys.size(), "");
        rest.keys[0] =
            fmt::format("({} more group{})", format_count(hidden), hidden == 1 ? "" : "s");
        g.rows.resize(top);
        g.rows.push_back(rest);
    }
    return g;
}

} // namespace netdx::states
