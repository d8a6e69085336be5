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
};

/// `tally` counts every socket of the result; `records` holds at least its CLOSE-WAIT and
/// LISTEN sockets (the findings that name sockets one by one).
[[nodiscard]] std::vector<Finding> diagnose(const Tally& tally,
                                            const std::vector<TcpSocket>& records,
                                            const OwnerMap& owners, const SysfsReader& fs,
                                            const NetCounters& counters);

/// "3h", "12m", "45s", "800ms": an age people read.
[[nodiscard]] std::string format_age_ms(std::uint64_t ms);

} // namespace netdx::states
