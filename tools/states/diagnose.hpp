#pragma once
/// The findings netdx-states explains (--explain, and the default summary when something is
/// wrong), each backed by the numbers it comes from.
///
///   CLOSE-WAIT leak      per owner and peer: count, how many are new in the last minute,
///                        oldest idle, what Recv-Q says
///   TIME-WAIT pressure   per (local addr, remote addr, remote port): ports left before
///                        EADDRNOTAVAIL; creation rate from the sockets' ages; tw_reuse
///   orphans              against net.ipv4.tcp_max_orphans
///   accept queues        listeners whose queue is full; the kernel's overflow counter

#include <string>
#include <vector>

#include <netdx/inspect/socket_owners.hpp>
#include <netdx/inspect/tcp_socket.hpp>
#include <netdx/sys/net_counters.hpp>
#include <netdx/sys/sysctl.hpp>

#include "tally.hpp"

namespace netdx::states {

struct Finding {
    enum class Severity { info, warn, problem };
    Severity severity = Severity::info;
    std::string topic; ///< "close-wait", "time-wait", "orphans", "listen"
    std::string text;  ///< one sentence with the numbers
    std::string advice;
    // The same facts as fields, for machines (JSON): what the sentence says.
    std::uint64_t count = 0; ///< sockets the finding is about
    int pid = 0;             ///< their owner (0: none or unknown)
    std::string process;     ///< its comm
    std::string local;       ///< "127.0.0.1:50051"; for a client side, its address
    std::string remote;      ///< "127.0.0.1:7007", or the peer's address alone ("127.0.0.1")
    std::string side;        ///< close-wait: "server" (accepted) or "client" (connected out)
    std::string recv_q;      ///< close-wait: "eof_unread", "eof_read", "data_unread"
};

/// `tally` counts every socket of the result; `records` holds at least its CLOSE-WAIT and
/// LISTEN sockets (the findings that name sockets one by one); `server_side[i]` says which
/// side of its connection records[i] is (see Listeners::side_of).
[[nodiscard]] std::vector<Finding> diagnose(const Tally& tally,
                                            const std::vector<TcpSocket>& records,
                                            const std::vector<bool>& server_side,
                                            const OwnerMap& owners, const SysfsReader& fs,
                                            const NetCounters& counters);

/// "3h", "12m", "45s", "800ms": an age people read.
[[nodiscard]] std::string format_age_ms(std::uint64_t ms);

} // namespace netdx::states
