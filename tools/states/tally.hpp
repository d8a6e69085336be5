#pragma once
/// What netdx-states counts in one pass over the dump, as the records stream in, so that a
/// summary stores nothing per socket: at 100,000 sockets, storing them costs more (page
/// faults on 12 MB of fresh memory) than the kernel's dump itself.
///
///   every socket    -> by_state[], total, orphans
///   TIME-WAIT       -> inbound/outbound, age histogram (60 s - the kernel's timer),
///                      outbound count per (netns, local addr, remote addr, remote port)
///
/// The records a finding needs one by one (CLOSE-WAIT, LISTEN) are kept by the caller.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <tuple>

#include <netdx/inspect/listeners.hpp>
#include <netdx/inspect/tcp_socket.hpp>
#include <netdx/sys/limits.hpp>

namespace netdx::states {

/// TCP_TIMEWAIT_LEN: fixed at 60 s in Linux.
inline constexpr std::uint32_t kTimeWaitMs = 60'000;
/// The TIME-WAIT age histogram's bucket width.
inline constexpr std::uint32_t kAgeBucketMs = 10'000;

struct TimeWaitTally {
    using Pair = std::tuple<std::uint16_t, IpAddress, IpAddress, std::uint16_t>;
    std::uint64_t total = 0;
    std::uint64_t inbound = 0; ///< the server side (see Tally::listeners): we accepted it
    std::array<std::uint64_t, kTimeWaitMs / kAgeBucketMs> by_age{}; ///< [0]: 0–10 s old
    std::map<Pair, std::uint64_t> outbound; ///< (netns, local ip, remote ip, remote port)
};

struct Tally {
    Tally() = default;
    Tally(const Tally&) = delete; // last_count_ points into this tally's map
    Tally& operator=(const Tally&) = delete;
    Tally(Tally&&) = default; // std::map nodes stay put when the map moves
    Tally& operator=(Tally&&) = default;

    /// Which side a TIME-WAIT socket was on: a listener on its local port and address makes
    /// it inbound; the ephemeral range decides for a port nothing listens on.
    std::optional<PortRange> ephemeral;
    const Listeners* listeners = nullptr;
    std::array<std::uint64_t, kTcpStateCount> by_state{};
    std::uint64_t total = 0;
    std::uint64_t orphans = 0;
    TimeWaitTally time_wait;

    /// `netns`: which namespace the socket came from (with --netns all), so pairs of two
    /// namespaces with the same addresses stay apart.
    void add(const TcpSocket& s, std::uint16_t netns = 0);

private:
    // The dump returns a pair's sockets in runs: remember the last pair's counter.
    TimeWaitTally::Pair last_pair_;
    std::uint64_t* last_count_ = nullptr;
};

} // namespace netdx::states
