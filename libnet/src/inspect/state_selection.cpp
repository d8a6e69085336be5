#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <netdx/inspect/state_selection.hpp>
#include <netdx/sys/parse_error.hpp>
#include <netdx/sys/text.hpp>

namespace netdx {

namespace {

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

/// Every state's name, in the kernel's order (1-12).
std::vector<std::string_view> state_names() {
    std::vector<std::string_view> out;
    for (int i = 1; i < kTcpStateCount; ++i)
        out.push_back(state_name(static_cast<TcpState>(i)));
    return out;
}

} // namespace

StateSelection parse_state_selection(std::string_view text) {
    StateSelection sel;
    bool orphan = false, other_fin_wait2 = false;
    for (const auto token : split_list(text)) {
        if (token.empty()) throw ParseError(fmt::format("--state: empty name in '{}'", text));
        const auto n = normalise_state_name(token);
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
                                         token, text, fmt::join(state_names(), ", ")));
        }
    }
    // "orphan,fin-wait-2" asks for every FIN-WAIT-2: the wider request wins.
    sel.orphans_only = orphan && !other_fin_wait2;
    return sel;
}

std::vector<std::string_view> state_selection_names() {
    std::vector<std::string_view> out = state_names();
    for (const auto& g : kGroups)
        out.push_back(g.name);
    return out;
}

} // namespace netdx
