#include <array>

#include <netdx/capture/conn_state.hpp>
#include <netdx/sys/text.hpp>

namespace netdx::capture {

namespace {

struct StateText {
    std::string_view name, meaning;
};

constexpr std::array<StateText, kConnStates> kStates{{
    {"S0", "connection attempt seen, no reply"},
    {"S1", "established, not terminated"},
    {"SF", "normal establishment and termination"},
    {"REJ", "connection attempt rejected"},
    {"S2", "established, close attempt by originator seen (but no reply from responder)"},
    {"S3", "established, close attempt by responder seen (but no reply from originator)"},
    {"RSTO", "established, originator aborted (sent a RST)"},
    {"RSTR", "responder sent a RST"},
    {"RSTOS0", "originator sent a SYN followed by a RST, never saw a SYN/ACK from the responder"},
    {"RSTRH", "responder sent a SYN/ACK followed by a RST, never saw a SYN from the originator"},
    {"SH", "originator sent a SYN followed by a FIN, never saw a SYN/ACK from the responder"},
    {"SHR", "responder sent a SYN/ACK followed by a FIN, never saw a SYN from the originator"},
    {"OTH", "no SYN seen, just midstream traffic"},
}};

/// Zeek's /^\^?S[^HAFGIQ]*R.*/ on the history.
bool syn_then_rst_without_reply(std::string_view h) {
    std::size_t i = 0;
    if (i < h.size() && h[i] == '^') ++i;
    if (i >= h.size() || h[i] != 'S') return false;
    for (++i; i < h.size(); ++i) {
        const char c = h[i];
        if (c == 'R') return true;
        if (c == 'H' || c == 'A' || c == 'F' || c == 'G' || c == 'I' || c == 'Q') return false;
    }
    return false;
}

} // namespace

std::string_view conn_state_name(ConnState s) {
    return kStates[static_cast<std::size_t>(s)].name;
}

std::string_view conn_state_meaning(ConnState s) {
    return kStates[static_cast<std::size_t>(s)].meaning;
}

bool conn_state_from_name(std::string_view name, ConnState& out) {
    for (std::size_t i = 0; i < kStates.size(); ++i) {
        if (equals_ignore_case(kStates[i].name, name)) {
            out = static_cast<ConnState>(i);
            return true;
        }
    }
    return false;
}

ConnState derive_conn_state(ZeekEndpoint os, ZeekEndpoint rs, bool any_bytes,
                            std::string_view history) {
    using Z = ZeekEndpoint;
    const bool o_inactive = os == Z::inactive || os == Z::partial;
    const bool r_inactive = rs == Z::inactive || rs == Z::partial;
    if (rs == Z::reset) {
        if (os == Z::syn_sent || os == Z::syn_ack_sent || (os == Z::reset && !any_bytes))
            return ConnState::REJ;
        return o_inactive ? ConnState::RSTRH : ConnState::RSTR;
    }
    if (os == Z::reset) {
        if (r_inactive)
            return syn_then_rst_without_reply(history) ? ConnState::RSTOS0 : ConnState::OTH;
        return ConnState::RSTO;
    }
    if (rs == Z::closed && os == Z::closed) return ConnState::SF;
    if (os == Z::closed) return r_inactive ? ConnState::SH : ConnState::S2;
    if (rs == Z::closed) return o_inactive ? ConnState::SHR : ConnState::S3;
    if (os == Z::syn_sent && rs == Z::inactive) return ConnState::S0;
    if (os == Z::established && rs == Z::established) return ConnState::S1;
    return ConnState::OTH;
}

} // namespace netdx::capture
