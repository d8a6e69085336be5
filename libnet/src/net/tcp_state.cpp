#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include <fmt/format.h>

#include <netdx/inspect/tcp_state.hpp>
#include <netdx/sys/parse_error.hpp>
#include <netdx/sys/text.hpp>

namespace netdx {

namespace {

constexpr std::array<std::string_view, kTcpStateCount> kNames{
    "unknown", "established", "syn-sent", "syn-recv", "fin-wait-1", "fin-wait-2",  "time-wait",
    "closed",  "close-wait",  "last-ack", "listen",   "closing",    "new-syn-recv"};

struct Group {
    std::string_view name;
    StateMask mask;
};

constexpr StateMask bits(std::initializer_list<TcpState> states) {
    StateMask m = 0;
    for (auto s : states)
        m |= state_bit(s);
    return m;
}

constexpr StateMask kConnected =
    kAllStates & ~bits({TcpState::listen, TcpState::closed, TcpState::new_syn_recv});

const std::array<Group, 5> kGroups{{
    {"all", kAllStates},
    {"connected", kConnected},
    {"synchronized", kConnected & ~bits({TcpState::syn_sent, TcpState::syn_recv})},
    {"teardown", bits({TcpState::fin_wait1, TcpState::fin_wait2, TcpState::closing,
                       TcpState::last_ack, TcpState::time_wait, TcpState::close_wait})},
    {"orphan", bits({TcpState::fin_wait2})},
}};

std::string normalise(std::string_view name) {
    std::string out;
    for (char c : name)
        out.push_back(c == '_' ? '-'
                               : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    // "fin-wait1" and "fin-wait-1" both appear in the wild.
    if (out == "fin-wait1") return "fin-wait-1";
    if (out == "fin-wait2") return "fin-wait-2";
    return out;
}

} // namespace

std::string_view state_name(TcpState s) {
    const auto i = static_cast<std::size_t>(s);
    return i < kNames.size() ? kNames[i] : kNames[0];
}

std::optional<TcpState> state_from_name(std::string_view name) {
    const auto n = normalise(name);
    for (std::size_t i = 1; i < kNames.size(); ++i)
        if (kNames[i] == n) return static_cast<TcpState>(i);
    return std::nullopt;
}

StateSelection parse_state_selection(std::string_view text) {
    StateSelection sel;
    bool orphan = false, other_fin_wait2 = false;
    for (const auto token : split_list(text)) {
        if (token.empty()) throw ParseError(fmt::format("--state: empty name in '{}'", text));
        const auto n = normalise(token);
        const auto group = std::find_if(kGroups.begin(), kGroups.end(),
                                        [&](const Group& g) { return g.name == n; });
        if (group != kGroups.end()) {
            sel.mask |= group->mask;
            if (group->name == "orphan")
                orphan = true;
            else if (group->mask & state_bit(TcpState::fin_wait2))
                other_fin_wait2 = true;
        } else if (auto s = state_from_name(token)) {
            sel.mask |= state_bit(*s);
            if (*s == TcpState::fin_wait2) other_fin_wait2 = true;
        } else {
            throw ParseError(fmt::format("--state: unknown state '{}' in '{}' (states: {}, or "
                                         "groups all, connected, synchronized, teardown, orphan)",
                                         token, text,
                                         fmt::join(kNames.begin() + 1, kNames.end(), ", ")));
        }
    }
    // "orphan,fin-wait-2" asks for every FIN-WAIT-2: the wider request wins.
    sel.orphans_only = orphan && !other_fin_wait2;
    return sel;
}

std::vector<std::string_view> state_selection_names() {
    std::vector<std::string_view> out(kNames.begin() + 1, kNames.end());
    for (const auto& g : kGroups)
        out.push_back(g.name);
    return out;
}

} // namespace netdx
