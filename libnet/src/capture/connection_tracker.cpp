#include <algorithm>
#include <cstring>

#include <netdx/capture/connection_tracker.hpp>

namespace netdx::capture {

namespace {

constexpr std::uint32_t kChunk = 1024; ///< records per chunk (chunks never move)
constexpr std::uint32_t kNone = 0xffffffffu;

std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/// One end's hash; a connection's is the sum of its two ends', the same in both directions.
/// Every byte goes through the mixer, so clustered addresses spread as well as random ones.
std::uint64_t end_hash(const std::uint8_t* a16, std::uint16_t port) {
    std::uint64_t lo = 0, hi = 0;
    std::memcpy(&lo, a16, 8);
    std::memcpy(&hi, a16 + 8, 8);
    return mix(lo ^ mix(hi ^ (std::uint64_t{port} << 48 | 0x9e3779b97f4a7c15ULL >> 16)));
}

std::uint64_t packet_hash(const std::array<std::uint8_t, 16>& s, std::uint16_t sp,
                          const std::array<std::uint8_t, 16>& d, std::uint16_t dp, bool v6) {
    return end_hash(s.data(), sp) + end_hash(d.data(), dp) + (v6 ? 0x51ed27 : 0);
}

void to16(const IpAddress& a, std::array<std::uint8_t, 16>& out) {
    out.fill(0);
    std::memcpy(out.data(), a.bytes(), a.size());
}

std::uint32_t gap_us(Nanos d) {
    return static_cast<std::uint32_t>(std::clamp<Nanos>(d / kNanosPerMicro, 0, 0xffffffffLL));
}

bool seq_after(std::uint32_t a, std::uint32_t b) {
    return static_cast<std::int32_t>(a - b) > 0;
}
bool seq_at_or_after(std::uint32_t a, std::uint32_t b) {
    return static_cast<std::int32_t>(a - b) >= 0;
}

void add_letter(Connection& c, Side s, char upper) {
    if (c.history_len >= Connection::kHistoryMax) {
        c.flags |= Connection::history_truncated;
        return;
    }
    c.letters[c.history_len++] = s == Side::orig ? upper : static_cast<char>(upper - 'A' + 'a');
}

/// Logs `letter` the first time; returns whether it had been logged before.
bool check_history(Connection& c, Side s, std::uint8_t bit, char letter) {
    auto& e = c.of(s);
    if ((e.history_seen & bit) != 0) return true;
    e.history_seen |= bit;
    add_letter(c, s, letter);
    return false;
}

/// Zeek's scaled letters (t, g, w): logged at the 1st, 10th, 100th … occurrence.
template <typename Counter>
void scaled(Connection& c, Side s, Counter& counter, char letter) {
    if (counter == static_cast<Counter>(~Counter{0})) return;
    ++counter;
    for (std::uint64_t t = 1; t <= counter; t *= 10)
        if (t == counter) {
            add_letter(c, s, letter);
            return;
        }
}

/// Zeek's update_history(): one letter per kind of packet, repeated for SYN, FIN and RST
/// only when the sequence number moved.
void update_history(Connection& c, Side s, const TcpPacket& p) {
    using namespace tcp_flag;
    auto& e = c.of(s);
    const int bits =
        ((p.flags & syn) ? 1 : 0) + ((p.flags & fin) ? 1 : 0) + ((p.flags & rst) ? 1 : 0);
    if (bits > 1) {
        if ((p.flags & fin) && (p.flags & rst))
            check_history(c, s, history_bit::fin_rst, 'I');
        else
            check_history(c, s, history_bit::multi_flag, 'Q');
        return;
    }
    if (bits == 1) {
        if (p.flags & syn) {
            const bool synack = (p.flags & ack) != 0;
            const std::uint8_t bit = synack ? history_bit::synack : history_bit::syn;
            if (check_history(c, s, bit, synack ? 'H' : 'S') && p.seq != e.isn)
                add_letter(c, s, synack ? 'H' : 'S');
        }
        if (p.flags & fin) {
            const std::uint32_t at = p.seq + p.payload;
            if (check_history(c, s, history_bit::fin, 'F') && at != e.fin_seq)
                add_letter(c, s, 'F');
        }
        if (p.flags & rst) {
            if (check_history(c, s, history_bit::rst, 'R') && p.seq != e.last_rst_seq)
                add_letter(c, s, 'R');
            e.last_rst_seq = p.seq;
        }
        return;
    }
    if (p.payload > 0)
        check_history(c, s, history_bit::data, 'D');
    else if (p.flags & ack)
        check_history(c, s, history_bit::ack, 'A');
}

/// Zeek's endpoint state machine (TCP_Analyzer::UpdateStateMachine), for the sender.
void update_zeek(Connection& c, Side s, const TcpPacket& p) {
    using namespace tcp_flag;
    using Z = ZeekEndpoint;
    auto& e = c.of(s);
    auto& peer = c.of(other(s));
    const bool is_orig = s == Side::orig;
    switch (e.zeek) {
    case Z::inactive:
        if (p.flags & syn) {
            if (is_orig) {
                e.zeek = (p.flags & ack) ? Z::syn_ack_sent : Z::syn_sent;
            } else {
                if (peer.zeek == Z::syn_sent) peer.zeek = Z::established;
                e.zeek = Z::established;
            }
        }
        if (p.flags & fin) e.zeek = Z::closed;
        if (p.flags & rst) e.zeek = Z::reset;
        if (e.zeek == Z::inactive) {
            if (!is_orig && p.payload == 0 && c.side[0].zeek == Z::syn_sent) {
                // an ACK of the SYN before the SYN/ACK: not a partial connection
            } else if ((p.flags & ack) && peer.zeek == Z::established) {
                e.zeek = Z::established; // the SYN was missed, the SYN/ACK was not
            } else {
                e.zeek = Z::partial;
            }
        }
        break;
    case Z::syn_sent:
    case Z::syn_ack_sent:
        if (p.flags & fin) e.zeek = Z::closed;
        if (p.flags & rst) e.zeek = Z::reset;
        break;
    case Z::partial:
    case Z::established:
        if ((p.flags & syn) && e.zeek == Z::partial && peer.zeek == Z::inactive && !(p.flags & ack))
            e.zeek = Z::syn_sent;
        if ((p.flags & fin) && !(p.flags & rst)) e.zeek = Z::closed;
        if (p.flags & rst) e.zeek = Z::reset;
        break;
    case Z::closed:
        if (p.flags & rst) e.zeek = Z::reset;
        break;
    case Z::reset:
        break;
    }
}

/// The textbook states (RFC 9293) both sides are in after the packet, as seen from the
/// capture point: a packet counts as received when it is seen.
void update_tcp_states(Connection& c, Side s, const TcpPacket& p, bool first_fin) {
    using namespace tcp_flag;
    auto& x = c.of(s).tcp;
    auto& ye = c.of(other(s));
    auto& y = ye.tcp;
    if (p.flags & rst) {
        x = y = TcpState::closed;
        return;
    }
    if ((p.flags & syn) && !(p.flags & ack)) {
        x = TcpState::syn_sent;
        if (y == TcpState::closed) y = TcpState::listen;
    } else if (p.flags & syn) {
        x = TcpState::syn_recv;
        if (y == TcpState::syn_sent) y = TcpState::established;
    }
    // What its ACK field acknowledges of the other side.
    if ((p.flags & ack) && ye.has(SideState::seq_known)) {
        if (y == TcpState::syn_recv && seq_at_or_after(p.ack, ye.isn + 1))
            y = TcpState::established;
        if (ye.has(SideState::fin) && seq_at_or_after(p.ack, ye.fin_seq + 1)) {
            if (y == TcpState::fin_wait1)
                y = TcpState::fin_wait2;
            else if (y == TcpState::closing)
                y = TcpState::time_wait;
            else if (y == TcpState::last_ack)
                y = TcpState::closed;
        }
    }
    if ((p.flags & fin) && first_fin) {
        if (!ye.has(SideState::fin)) {
            x = TcpState::fin_wait1;
            if (y == TcpState::established || y == TcpState::syn_recv) y = TcpState::close_wait;
        } else if ((p.flags & ack) && seq_at_or_after(p.ack, ye.fin_seq + 1)) {
            x = TcpState::last_ack;
            y = TcpState::time_wait;
        } else {
            x = y = TcpState::closing; // the FINs crossed
        }
    }
}

/// The sender's sequence space: its ISN, SYN and SYN/ACK timing and options, new and
/// retransmitted data, zero windows. Returns where its data starts (after a SYN's number).
std::uint32_t track_sequence(Connection& c, Side s, const TcpPacket& p, Nanos ts, PacketEvent& ev) {
    using namespace tcp_flag;
    auto& e = c.of(s);
    const auto& peer = c.of(other(s));
    // The SYN and the FIN take one sequence number each.
    const bool is_syn = (p.flags & syn) != 0;
    if (!e.has(SideState::seq_known)) {
        e.bits |= SideState::seq_known;
        e.isn = is_syn ? p.seq : p.seq - 1; // midstream: as if the SYN came just before
        e.seq_end = is_syn ? p.seq + 1 : p.seq;
    }
    if (is_syn) {
        if (p.seq != e.isn && !e.has(SideState::syn)) e.isn = p.seq;
        if (e.has(SideState::syn) && p.seq == e.isn) ev.retransmission = true;
        if (e.has(SideState::syn) && p.seq != e.isn) { // a new attempt's ISN (Zeek: SYN_seq_jump)
            e.isn = p.seq;
            e.seq_end = p.seq + 1;
        }
        e.bits |= SideState::syn;
        const auto& o = p.options;
        if (o.mss) e.mss = *o.mss;
        if (o.window_scale) e.wscale = *o.window_scale;
        if (o.sack_permitted) e.bits |= SideState::sack;
        if (o.ts_value) e.bits |= SideState::timestamps;
        if (!(p.flags & ack) && !(p.flags & rst)) {
            if (s == Side::orig) {
                if (c.syns == 0) c.syn_first_off = encode_span(ts - c.first_ts);
                if (c.syns == 1 && c.synacks == 0) e.first_gap_us = gap_us(ts - c.syn_first_ts());
                if (c.syns < 0xffff) ++c.syns;
                if (c.synacks == 0) c.syn_last_off = encode_span(ts - c.syn_first_ts());
            }
        } else if ((p.flags & ack) && !(p.flags & rst) && s == Side::resp) {
            if (c.synacks == 0) {
                if (c.syns == 0) c.flags |= Connection::synack_before_syn;
                c.synack_first_off = encode_span(ts - (c.syns ? c.syn_last_ts() : c.first_ts));
            }
            if (c.synacks == 1 && !c.has(Connection::handshake_acked))
                e.first_gap_us = gap_us(ts - c.synack_first_ts());
            if (c.synacks < 0xffff) ++c.synacks;
            if (!c.has(Connection::handshake_acked))
                c.synack_last_off = encode_span(ts - c.synack_first_ts());
        }
    }
    const std::uint32_t begin = p.seq + (is_syn ? 1 : 0);
    if (p.payload > 0) {
        const std::uint32_t end = begin + p.payload;
        if (!seq_after(end, e.seq_end)) {
            ev.retransmission = true;
            scaled(c, s, e.retransmits, 'T');
        } else {
            e.bytes += seq_after(e.seq_end, begin) ? end - e.seq_end : p.payload;
            e.seq_end = end;
            if (peer.has(SideState::fin)) e.bits |= SideState::data_after_peer_fin;
        }
    }
    if (!(p.flags & (syn | rst)) && p.window == 0) scaled(c, s, e.zero_windows, 'W');
    return begin;
}

/// What the packet's ACK field says of the other side: the end of the handshake, data the
/// capture never showed (a gap), the other side's FIN acknowledged.
void track_acknowledgment(Connection& c, Side s, const TcpPacket& p, Nanos ts) {
    using namespace tcp_flag;
    auto& peer = c.of(other(s));
    if (!(p.flags & ack) || (p.flags & rst) || !peer.has(SideState::seq_known)) return;
    if (s == Side::orig && !c.has(Connection::handshake_acked) && c.synacks > 0 &&
        !(p.flags & syn) && p.ack == peer.isn + 1) {
        c.ack_off = encode_span(ts - c.synack_last_ts());
        c.flags |= Connection::handshake_acked;
    }
    const std::uint32_t gap = p.ack - peer.seq_end;
    if (gap != 0 && gap < (1u << 30)) {
        scaled(c, other(s), peer.gaps, 'G');
        peer.bytes += gap;
        peer.seq_end = p.ack;
    }
    if (peer.has(SideState::fin) && seq_at_or_after(p.ack, peer.fin_seq + 1))
        peer.bits |= SideState::fin_acked;
}

/// FIN and RST: who closed first, whether the FINs crossed, retransmitted FINs. Returns
/// whether this is the sender's first FIN.
bool track_close(Connection& c, Side s, const TcpPacket& p, std::uint32_t begin, Nanos ts,
                 PacketEvent& ev) {
    using namespace tcp_flag;
    auto& e = c.of(s);
    const auto& peer = c.of(other(s));
    bool first_fin = false;
    if (p.flags & fin) {
        const std::uint32_t at_seq = begin + p.payload;
        if (e.has(SideState::fin) && at_seq == e.fin_seq) {
            ev.retransmission = true;
        } else if (!e.has(SideState::fin)) {
            first_fin = true;
            e.fin_seq = at_seq;
            e.fin_off = encode_span(ts - c.first_ts);
            e.bits |= SideState::fin;
            if (peer.has(SideState::fin)) {
                // The FINs crossed when this one does not acknowledge the other's.
                if (!(p.flags & ack) || !seq_at_or_after(p.ack, peer.fin_seq + 1))
                    c.flags |= Connection::simultaneous;
            } else if (s == Side::resp) {
                c.flags |= Connection::resp_closed_first;
            }
        }
        if (seq_after(at_seq + 1, e.seq_end)) e.seq_end = at_seq + 1;
    }
    if ((p.flags & rst) && !e.has(SideState::rst)) {
        e.bits |= SideState::rst;
        e.rst_off = encode_span(ts - c.first_ts);
    }
    return first_fin;
}

} // namespace

/// Open addressing with linear probing; an entry is (low 32 bits of the hash) << 32 | slot + 1,
/// 0 when empty. Deletion shifts the following entries back (no tombstones).
struct ConnectionTracker::Index {
    std::vector<std::uint64_t> entries = std::vector<std::uint64_t>(1024, 0);
    std::size_t count = 0;

    [[nodiscard]] std::size_t mask() const { return entries.size() - 1; }

    void insert(std::uint64_t hash, std::uint32_t slot) {
        if ((count + 1) * 4 > entries.size() * 3) grow();
        put(static_cast<std::uint32_t>(hash), slot);
        ++count;
    }
    void put(std::uint32_t h32, std::uint32_t slot) {
        std::size_t i = h32 & mask();
        while (entries[i] != 0)
            i = (i + 1) & mask();
        entries[i] = std::uint64_t{h32} << 32 | (slot + 1);
    }
    void grow() {
        std::vector<std::uint64_t> old(entries.size() * 2, 0);
        old.swap(entries);
        for (const auto e : old)
            if (e != 0) put(static_cast<std::uint32_t>(e >> 32), static_cast<std::uint32_t>(e) - 1);
    }
    void erase(std::uint64_t hash, std::uint32_t slot) {
        const std::uint64_t want = (hash & 0xffffffffULL) << 32 | (slot + 1);
        std::size_t i = static_cast<std::uint32_t>(hash) & mask();
        while (entries[i] != want) {
            if (entries[i] == 0) return;
            i = (i + 1) & mask();
        }
        // Backward shift: move each following entry into the hole when its home allows.
        std::size_t hole = i;
        for (std::size_t j = (i + 1) & mask(); entries[j] != 0; j = (j + 1) & mask()) {
            const std::size_t home = static_cast<std::uint32_t>(entries[j] >> 32) & mask();
            const bool movable =
                hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
            if (movable) {
                entries[hole] = entries[j];
                hole = j;
            }
        }
        entries[hole] = 0;
        --count;
    }
};

ConnectionTracker::ConnectionTracker(Sink sink, TrackerOptions options)
    : sink_(std::move(sink)), options_(options), index_(std::make_unique<Index>()),
      lingering_(std::make_unique<Index>()) {
    update_memory();
}

ConnectionTracker::~ConnectionTracker() = default;

Connection& ConnectionTracker::at(std::uint32_t slot) {
    return chunks_[slot / kChunk][slot % kChunk];
}

const Connection& ConnectionTracker::at(std::uint32_t slot) const {
    return chunks_[slot / kChunk][slot % kChunk];
}

void ConnectionTracker::update_memory() {
    stats_.memory_bytes =
        chunks_.size() * kChunk * sizeof(Connection) +
        (index_->entries.size() + lingering_->entries.size()) * sizeof(std::uint64_t) +
        free_.capacity() * sizeof(std::uint32_t);
    stats_.peak_memory_bytes = std::max(stats_.peak_memory_bytes, stats_.memory_bytes);
}

std::uint32_t ConnectionTracker::find(const Key& k, std::uint64_t hash, Side& side) const {
    const auto slot = find_in(*index_, k, hash, side);
    return slot != kNone ? slot : find_in(*lingering_, k, hash, side);
}

std::uint32_t ConnectionTracker::find_in(const Index& index, const Key& k, std::uint64_t hash,
                                         Side& side) const {
    const auto& e = index.entries;
    const auto h32 = static_cast<std::uint32_t>(hash);
    for (std::size_t i = h32 & index.mask(); e[i] != 0; i = (i + 1) & index.mask()) {
        if (static_cast<std::uint32_t>(e[i] >> 32) != h32) continue;
        const auto slot = static_cast<std::uint32_t>(e[i]) - 1;
        const Connection& c = at(slot);
        if (c.v6 != k.v6) continue;
        if (c.port[0] == k.sport && c.port[1] == k.dport && c.addr[0] == k.src &&
            c.addr[1] == k.dst) {
            side = Side::orig;
            return slot;
        }
        if (c.port[0] == k.dport && c.port[1] == k.sport && c.addr[0] == k.dst &&
            c.addr[1] == k.src) {
            side = Side::resp;
            return slot;
        }
    }
    return kNone;
}

std::uint32_t ConnectionTracker::create(Nanos ts, const TcpPacket& p, const Key& key,
                                        std::uint64_t hash, Side& side) {
    std::uint32_t slot = 0;
    if (!free_.empty()) {
        slot = free_.back();
        free_.pop_back();
    } else {
        if (used_ % kChunk == 0) chunks_.push_back(std::make_unique<Connection[]>(kChunk));
        slot = used_++;
    }
    Connection& c = at(slot);
    c = Connection{};
    const bool syn = (p.flags & tcp_flag::syn) != 0, ack = (p.flags & tcp_flag::ack) != 0;
    // The originator sent the first SYN; a SYN/ACK seen first was sent by the responder.
    const bool flip = syn && ack;
    side = flip ? Side::resp : Side::orig;
    c.addr[0] = flip ? key.dst : key.src;
    c.addr[1] = flip ? key.src : key.dst;
    c.port[0] = flip ? key.dport : key.sport;
    c.port[1] = flip ? key.sport : key.dport;
    c.v6 = key.v6;
    if (!(syn && !ack)) c.flags |= Connection::midstream;
    if (flip) {
        c.flags |= Connection::flipped;
        c.letters[c.history_len++] = '^';
    }
    if (!syn) c.side[0].tcp = c.side[1].tcp = TcpState::established; // joined midstream
    c.id = next_id_++;
    c.first_ts = ts;
    index_->insert(hash, slot);
    ++stats_.connections;
    stats_.peak_open = std::max(stats_.peak_open, ++stats_.open);
    update_memory();
    return slot;
}

void ConnectionTracker::release(std::uint32_t slot, EndReason why) {
    Connection& c = at(slot);
    c.ended = why;
    if (why == EndReason::reused) ++stats_.reused;
    sink_(c);
    const auto hash = packet_hash(c.addr[0], c.port[0], c.addr[1], c.port[1], c.v6);
    (c.has(Connection::done) ? lingering_ : index_)->erase(hash, slot);
    c.id = 0; // a stale linger entry no longer matches
    free_.push_back(slot);
    --stats_.open;
}

void ConnectionTracker::expire(Nanos now) {
    while (!linger_.empty() && linger_.front().until <= now) {
        const auto l = linger_.front();
        linger_.pop_front();
        if (at(l.slot).id == l.id) release(l.slot, EndReason::closed);
    }
}

void ConnectionTracker::finish() {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> left; // (id, slot)
    for (std::uint32_t s = 0; s < used_; ++s)
        if (at(s).id != 0) left.emplace_back(at(s).id, s);
    std::sort(left.begin(), left.end());
    for (const auto& [id, slot] : left)
        release(slot, at(slot).has(Connection::done) ? EndReason::closed : EndReason::capture_end);
    linger_.clear();
}

void ConnectionTracker::add(Nanos ts, const TcpPacket& p) {
    using namespace tcp_flag;
    ++stats_.packets;
    if (ts < last_ts_)
        ++stats_.out_of_order_time;
    else
        last_ts_ = ts;
    if (!linger_.empty()) expire(ts);

    Key key;
    to16(p.src, key.src);
    to16(p.dst, key.dst);
    key.sport = p.sport;
    key.dport = p.dport;
    key.v6 = p.src.is_v6();
    const std::uint64_t hash = packet_hash(key.src, p.sport, key.dst, p.dport, key.v6);
    Side s = Side::orig;
    PacketEvent ev;
    std::uint32_t slot = find(key, hash, s);
    const bool pure_syn = (p.flags & (syn | ack | rst | fin)) == syn;
    if (slot != kNone && pure_syn) {
        const Connection& old = at(slot);
        const bool ended = old.has(Connection::done) || old.side[0].has(SideState::rst) ||
                           old.side[1].has(SideState::rst) ||
                           (old.side[0].has(SideState::fin) && old.side[1].has(SideState::fin));
        if (ended && p.seq != old.of(s).isn) {
            release(slot, EndReason::reused);
            slot = kNone;
        }
    }
    if (slot == kNone) {
        slot = create(ts, p, key, hash, s);
        ev.new_connection = true;
    }
    ev.from = s;
    Connection& c = at(slot);
    auto& e = c.of(s);
    c.last_ts = std::max(c.last_ts, ts);
    ++e.packets;
    e.ip_bytes += p.ip_len;

    update_history(c, s, p);
    update_zeek(c, s, p);

    const std::uint32_t begin = track_sequence(c, s, p, ts, ev);
    track_acknowledgment(c, s, p, ts);
    const bool first_fin = track_close(c, s, p, begin, ts, ev);
    update_tcp_states(c, s, p, first_fin);

    if (!c.has(Connection::done)) {
        const bool reset = (p.flags & rst) != 0;
        const bool fins =
            c.side[0].has(SideState::fin_acked) && c.side[1].has(SideState::fin_acked);
        if (reset || fins) {
            c.flags |= Connection::done;
            linger_.push_back({ts + options_.linger, slot, c.id});
            // Open and lingering records are indexed apart: the open ones, which nearly
            // every packet looks up, stay few and in cache however fast connections close.
            index_->erase(hash, slot);
            lingering_->insert(hash, slot);
        }
    }
    if (observer_) observer_(c, p, ts, ev);
}

} // namespace netdx::capture
