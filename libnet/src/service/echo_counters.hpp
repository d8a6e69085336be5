#pragma once
/// An echo worker's counters (private to service/): each is written by the worker's thread
/// and read by any thread through EchoServer::stats().

#include <atomic>
#include <cstdint>

#include <netdx/service/echo_server.hpp>

namespace netdx::echo_detail {

/// Relaxed is enough for a counter one thread writes, and a plain load+store avoids a
/// locked instruction on the hot path.
struct Counter {
    std::atomic<std::uint64_t> v{0};
    void add(std::uint64_t n) {
        v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void sub(std::uint64_t n) {
        v.store(v.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t get() const { return v.load(std::memory_order_relaxed); }
};

struct EchoCounters {
    Counter current, total, refused, idle_closed, reset, tcp_bytes, tcp_reads, udp_datagrams,
        udp_replies, udp_bytes, udp_rate_limited, udp_send_errors;

    [[nodiscard]] EchoStats snapshot() const {
        EchoStats s;
        s.connections_current = current.get();
        s.connections_total = total.get();
        s.connections_refused = refused.get();
        s.connections_idle_closed = idle_closed.get();
        s.connections_reset = reset.get();
        s.tcp_bytes = tcp_bytes.get();
        s.tcp_reads = tcp_reads.get();
        s.udp_datagrams = udp_datagrams.get();
        s.udp_replies = udp_replies.get();
        s.udp_bytes = udp_bytes.get();
        s.udp_rate_limited = udp_rate_limited.get();
        s.udp_send_errors = udp_send_errors.get();
        return s;
    }
};

} // namespace netdx::echo_detail
