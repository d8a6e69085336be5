#pragma once
/// Shedding a connection when descriptors run out (private to service/), for both TCP paths
/// of the echo server: the pending connection would otherwise keep the listener readable
/// (readiness) or end every accept at once (io_uring), and its client would wait for nothing.

#include <fcntl.h>

#include <netdx/net/socket.hpp>
#include <netdx/sys/fd.hpp>

#include "echo_counters.hpp"

namespace netdx::echo_detail {

/// Gives up `spare` to accept one pending connection and close it at once (counted as
/// refused), then takes the spare back. Returns false when nothing was pending (EAGAIN).
inline bool shed_with_spare(int listen_fd, Fd& spare, Counter& refused) {
    spare.reset();
    Accepted shed = accept_connection(listen_fd);
    const bool had_one = static_cast<bool>(shed.fd);
    refused.add(had_one ? 1 : 0);
    shed.fd.reset();
    spare.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    return had_one || shed.error != EAGAIN;
}

} // namespace netdx::echo_detail
