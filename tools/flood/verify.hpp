#pragma once
/// The server's side of a flood: which of the connections the workers hold does the server
/// hold too? A completed handshake on the client proves little: when a listener's accept
/// queue is full the kernel drops the final ACK (the server keeps only a SYN-RECV request,
/// or with SYN cookies nothing at all) and the client's socket is ESTABLISHED all the same.
/// For a target on this machine, or in one of its named network namespaces, the server's
/// sockets are counted through sock_diag and matched with ours, 4-tuple by 4-tuple:
///
///   worker i ──(ramp over)──> endpoints file (HeldEndpoints) ──┐
///                                                              ├─> ServerCheck::count()
///   server's namespace: sock_diag dump, sport = target ports ──┘     accepted / queued /
///                                                                    half-open / closing /
///                                                                    missing
///
/// Thread safety: one thread.

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <netdx/inspect/netns.hpp>
#include <netdx/net/endpoint.hpp>
#include <netdx/sys/clock.hpp>

namespace netdx::flood {

/// Where the targets' listeners are, if they are anywhere this process can look.
struct ServerView {
    bool found = false;
    NetnsTarget ns;      ///< path "": this namespace
    std::string where;   ///< "this machine", "network namespace blue"
    std::string why_not; ///< when not found, for the report's note
};

/// Looks for a listener on every target: in this namespace when the target's address is one
/// of its own, else in each named namespace (/run/netns; entering one needs CAP_SYS_ADMIN).
[[nodiscard]] ServerView locate_server(const std::vector<Endpoint>& targets);

/// What the server side of our connections looked like at one moment.
struct ServerCount {
    std::uint64_t ours = 0;      ///< connections the workers held (their client side)
    std::uint64_t accepted = 0;  ///< the server application accepted them (it has the socket)
    std::uint64_t queued = 0;    ///< in a listener's accept queue, not accepted yet
    std::uint64_t half_open = 0; ///< only a SYN-RECV request there: our ACK was dropped
    std::uint64_t closing = 0;   ///< the server has closed them (FIN-WAIT, LAST-ACK, CLOSING)
    std::uint64_t missing = 0;   ///< no socket on the server (a SYN cookie's ACK dropped)
    Nanos at = 0;                ///< when it was counted (monotonic)
    Nanos took = 0;              ///< how long the dump took
};

class ServerCheck {
public:
    ServerCheck(ServerView view, const std::vector<Endpoint>& targets);
    /// Reads the workers' endpoint files (HeldEndpoints): the connections to look for.
    void load(const std::vector<std::string>& files);
    [[nodiscard]] std::uint64_t ours() const { return keys_.size(); }
    /// Dumps the server side now and matches it with ours. Throws std::runtime_error when
    /// the namespace cannot be entered any more or the dump fails.
    [[nodiscard]] ServerCount count() const;
    [[nodiscard]] const ServerView& view() const { return view_; }

private:
    using PairKey = std::tuple<IpAddress, IpAddress, std::uint16_t>; ///< client ip, server ip, port
    ServerView view_;
    std::vector<std::uint16_t> ports_;       ///< the targets' ports, each once
    std::map<PairKey, std::uint32_t> pairs_; ///< -> pair index
    std::vector<std::uint64_t> keys_;        ///< pair << 16 | client port, sorted
};

} // namespace netdx::flood
