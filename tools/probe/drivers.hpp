#pragma once
/// The modes of netdx-probe, each a driver that decides when requests go and hands the
/// how to a Transport (transport.hpp):
///
///   drive_pingpong   one connection, one request in flight: the lowest-overhead path,
///                    blocking (or, with --busy-poll, spinning) reads, no event loop
///   drive_loop       many connections or requests in flight (ping-pong: a reply sends the
///                    next), or paced (an open-loop schedule, coordinated omission
///                    corrected), on an EventLoop of --backend
///   drive_connect    connection set-up latency, paced; TCP only, no transport
///
/// Each runs on the calling probe thread and reports through the Session.

#include "session.hpp"
#include "transport.hpp"

namespace netdx::probe {

void drive_pingpong(Session& session, Transport& transport);
void drive_loop(Session& session, Transport& transport);
void drive_connect(Session& session);

} // namespace netdx::probe
