#pragma once
/// The TCP connection tracker: decoded packets in, one Connection per connection out, handed
/// to a sink as soon as the connection has ended, so memory follows the connections open at
/// once, not the length of the capture.
///
/// Pairing: a packet belongs to the connection whose two (address, port) ends it joins, in
/// either direction, so 127.0.0.1:40000 <-> 127.0.0.1:8080 is one connection whichever way a
/// packet goes. A pure SYN on a 4-tuple whose connection has ended (FINs or a RST) starts a
/// new one (port reuse). There is no idle timeout: a quiet connection stays one record.
///
/// Lifetime of a record:
///
///   first packet --> open --(both FINs acknowledged, or a RST)--> done --linger--> sink
///                      |                                            |
///                      +------(end of input: finish())----> sink <--+-- new SYN on the tuple
///
/// The linger (default 1 s of capture time) keeps a done connection a little longer, so the
/// last ACK or a RST still in flight counts in its record instead of starting a midstream one.
///
/// Storage: records live in fixed chunks that never move; two open-addressing indexes of
/// (hash, slot) pairs find them, one for open records and one for lingering ones, so the
/// one nearly every packet uses stays small. Ownership: the tracker owns its records; a
/// Connection passed to a callback is valid during the call only. Thread safety: one thread.

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include <netdx/capture/connection.hpp>
#include <netdx/capture/packet_decoder.hpp>
#include <netdx/sys/clock.hpp>

namespace netdx::capture {

/// What a packet did, for a per-packet view (the ladder).
struct PacketEvent {
    Side from = Side::orig;
    bool retransmission = false; ///< data, SYN or FIN already seen
    bool new_connection = false; ///< this packet opened the record
};

struct TrackerOptions {
    Nanos linger = kNanosPerSecond;
};

struct TrackerStats {
    std::uint64_t packets = 0;     ///< TCP packets tracked
    std::uint64_t connections = 0; ///< records started
    std::uint64_t open = 0;        ///< records held now (open or lingering)
    std::uint64_t peak_open = 0;
    std::uint64_t reused = 0;            ///< records ended by a new SYN on the same 4-tuple
    std::uint64_t out_of_order_time = 0; ///< packets with a timestamp before the previous one
    std::size_t memory_bytes = 0;        ///< records and index, allocated
    std::size_t peak_memory_bytes = 0;
};

class ConnectionTracker {
public:
    using Sink = std::function<void(const Connection&)>;
    using Observer =
        std::function<void(const Connection&, const TcpPacket&, Nanos ts, const PacketEvent&)>;

    explicit ConnectionTracker(Sink sink, TrackerOptions options = {});
    ~ConnectionTracker();
    ConnectionTracker(const ConnectionTracker&) = delete;
    ConnectionTracker& operator=(const ConnectionTracker&) = delete;

    /// Called after every packet with its connection updated (states after the packet).
    void set_observer(Observer observer) { observer_ = std::move(observer); }

    /// Tracks one packet seen at `ts` (ns since the epoch).
    void add(Nanos ts, const TcpPacket& packet);
    /// Hands out done connections whose linger ended before `now` (live captures call this
    /// when no packet came for a while).
    void expire(Nanos now);
    /// End of input: every record left goes to the sink, oldest first (done ones as closed,
    /// open ones as capture_end).
    void finish();

    [[nodiscard]] const TrackerStats& stats() const { return stats_; }

private:
    struct Index;
    struct Key {
        std::array<std::uint8_t, 16> src{}, dst{};
        std::uint16_t sport = 0, dport = 0;
        bool v6 = false;
    };
    std::uint32_t find(const Key& k, std::uint64_t hash, Side& side) const;
    std::uint32_t find_in(const Index& index, const Key& k, std::uint64_t hash, Side& side) const;
    std::uint32_t create(Nanos ts, const TcpPacket& p, const Key& key, std::uint64_t hash,
                         Side& side);
    void release(std::uint32_t slot, EndReason why);
    Connection& at(std::uint32_t slot);
    const Connection& at(std::uint32_t slot) const;
    void update_memory();

    Sink sink_;
    Observer observer_;
    TrackerOptions options_;
    std::vector<std::unique_ptr<Connection[]>> chunks_;
    std::vector<std::uint32_t> free_;
    std::uint32_t used_ = 0;           ///< slots ever handed out (chunks hold this many)
    std::unique_ptr<Index> index_;     ///< records still open
    std::unique_ptr<Index> lingering_; ///< records done, waiting out their linger
    struct Lingering {
        Nanos until;
        std::uint32_t slot, id;
    };
    std::deque<Lingering> linger_;
    std::uint32_t next_id_ = 1;
    Nanos last_ts_ = 0;
    TrackerStats stats_;
};

} // namespace netdx::capture
