#include <array>
#include <cctype>
#include <string>

#include <netdx/net/tcp_state.hpp>

namespace netdx {

namespace {

constexpr std::array<std::string_view, kTcpStateCount> kNames{
    "unknown", "established", "syn-sent", "syn-recv", "fin-wait-1", "fin-wait-2",  "time-wait",
    "closed",  "close-wait",  "last-ack", "listen",   "closing",    "new-syn-recv"};

} // namespace

std::string normalise_state_name(std::string_view name) {
    std::string out;
    for (char c : name)
        out.push_back(c == '_' ? '-'
                               : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    // "fin-wait1" and "fin-wait-1" both appear in the wild.
    if (out == "fin-wait1") return "fin-wait-1";
    if (out == "fin-wait2") return "fin-wait-2";
    return out;
}

std::string_view state_name(TcpState s) {
    const auto i = static_cast<std::size_t>(s);
    return i < kNames.size() ? kNames[i] : kNames[0];
}

std::optional<TcpState> state_from_name(std::string_view name) {
    const auto n = normalise_state_name(name);
    for (std::size_t i = 1; i < kNames.size(); ++i)
        if (kNames[i] == n) return static_cast<TcpState>(i);
    return std::nullopt;
}

} // namespace netdx
