// The connection tracker on hand-built packet sequences with known answers: Zeek's
// conn_state and history for every state, the handshake timed to the nanosecond from the
// first and the last SYN, SYN retransmission intervals, the closer (and FINs that cross),
// half-close, port reuse, midstream starts, the linger, and the index under churn.
#include <map>
#include <random>
#include <set>
#include <vector>

#include <doctest/doctest.h>

#include <netdx/capture/connection_tracker.hpp>

using namespace netdx;
using namespace netdx::capture;

namespace {

constexpr Nanos kT0 = 1'700'000'000LL * kNanosPerSecond;
constexpr Nanos kUs = kNanosPerMicro;
constexpr Nanos kMs = kNanosPerMilli;

namespace f = tcp_flag;

struct Peer {
    IpAddress addr;
    std::uint16_t port;
};

const Peer kClient{IpAddress::loopback_v4(), 40000};
const Peer kServer{IpAddress::loopback_v4(), 8080};

TcpPacket pkt(const Peer& from, const Peer& to, std::uint8_t flags, std::uint32_t seq,
              std::uint32_t ack = 0, std::uint32_t len = 0, std::uint16_t win = 1000) {
    TcpPacket p;
    p.src = from.addr;
    p.dst = to.addr;
    p.sport = from.port;
    p.dport = to.port;
    p.flags = flags;
    p.seq = seq;
    p.ack = ack;
    p.payload = len;
    p.window = win;
    p.ip_len = 52 + len;
    return p;
}

/// Feeds packets; collects what the sink receives.
struct Run {
    std::vector<Connection> out;
    ConnectionTracker tracker{[this](const Connection& c) { out.push_back(c); }};
    Nanos t = kT0;

    Run& at(Nanos when) {
        t = kT0 + when;
        return *this;
    }
    Run& send(const TcpPacket& p) {
        tracker.add(t, p);
        return *this;
    }
    const Connection& only() {
        tracker.finish();
        REQUIRE(out.size() == 1);
        return out.front();
    }
};

// Client 1000, server 5000: a handshake at 0 / 10us / 25us.
void handshake(Run& r) {
    r.at(0).send(pkt(kClient, kServer, f::syn, 1000));
    r.at(10 * kUs).send(pkt(kServer, kClient, f::syn | f::ack, 5000, 1001));
    r.at(25 * kUs).send(pkt(kClient, kServer, f::ack, 1001, 5001));
}

} // namespace

TEST_CASE("a normal close by the client: SF, ShADadFf, the client closes and holds TIME_WAIT") {
    Run r;
    handshake(r);
    r.at(30 * kUs).send(pkt(kClient, kServer, f::ack | f::psh, 1001, 5001, 100));
    r.at(40 * kUs).send(pkt(kServer, kClient, f::ack, 5001, 1101));
    r.at(50 * kUs).send(pkt(kServer, kClient, f::ack | f::psh, 5001, 1101, 300));
    r.at(60 * kUs).send(pkt(kClient, kServer, f::ack, 1101, 5301));
    r.at(70 * kUs).send(pkt(kClient, kServer, f::fin | f::ack, 1101, 5301));
    r.at(80 * kUs).send(pkt(kServer, kClient, f::fin | f::ack, 5301, 1102));
    r.at(90 * kUs).send(pkt(kClient, kServer, f::ack, 1102, 5302));
    const auto& c = r.only();
    CHECK(c.state() == ConnState::SF);
    CHECK(c.history() == "ShADadFf");
    CHECK(c.closer() == Closer::orig);
    CHECK(c.time_wait_side() == Closer::orig);
    CHECK(c.close_kind() == CloseKind::fin);
    CHECK(c.ended == EndReason::closed);
    CHECK(c.address(Side::orig) == kClient.addr);
    CHECK(c.port_of(Side::orig) == 40000);
    CHECK(c.port_of(Side::resp) == 8080);
    CHECK(c.syn_to_synack(true) == 10 * kUs);
    CHECK(c.synack_to_ack() == 15 * kUs);
    CHECK(c.handshake_ns(true) == 25 * kUs);
    CHECK(c.handshake_ns(false) == 25 * kUs);
    CHECK(c.of(Side::orig).bytes == 100);
    CHECK(c.of(Side::resp).bytes == 300);
    CHECK(c.of(Side::orig).packets == 6);
    CHECK(c.of(Side::resp).packets == 4);
    CHECK(c.of(Side::orig).ip_bytes == 6 * 52 + 100);
    CHECK(c.duration_ns() == 90 * kUs);
    CHECK(c.half_close_ns() == 0);
    CHECK(c.of(Side::orig).tcp == TcpState::time_wait);
    CHECK(c.of(Side::resp).tcp == TcpState::closed);
}

TEST_CASE("the server closes first: closer resp, TIME_WAIT on the server") {
    Run r;
    handshake(r);
    r.at(30 * kUs).send(pkt(kServer, kClient, f::fin | f::ack, 5001, 1001));
    r.at(40 * kUs).send(pkt(kClient, kServer, f::fin | f::ack, 1001, 5002));
    r.at(50 * kUs).send(pkt(kServer, kClient, f::ack, 5002, 1002));
    const auto& c = r.only();
    CHECK(c.state() == ConnState::SF);
    CHECK(c.history() == "ShAfFa");
    CHECK(c.closer() == Closer::resp);
    CHECK(c.time_wait_side() == Closer::resp);
    CHECK(c.of(Side::resp).tcp == TcpState::time_wait);
}

TEST_CASE("FINs that cross are a simultaneous close: both sides hold TIME_WAIT") {
    Run r;
    handshake(r);
    // The server's FIN acknowledges only 1001: it was sent before the client's FIN arrived.
    r.at(30 * kUs).send(pkt(kClient, kServer, f::fin | f::ack, 1001, 5001));
    r.at(31 * kUs).send(pkt(kServer, kClient, f::fin | f::ack, 5001, 1001));
    r.at(40 * kUs).send(pkt(kClient, kServer, f::ack, 1002, 5002));
    r.at(41 * kUs).send(pkt(kServer, kClient, f::ack, 5002, 1002));
    const auto& c = r.only();
    CHECK(c.closer() == Closer::both);
    CHECK(c.time_wait_side() == Closer::both);
    CHECK(c.of(Side::orig).tcp == TcpState::time_wait);
    CHECK(c.of(Side::resp).tcp == TcpState::time_wait);
    CHECK(c.state() == ConnState::SF);
}

TEST_CASE("a refused port is REJ with history Sr; a reset by either side is RSTO or RSTR") {
    {
        Run r;
        r.at(0).send(pkt(kClient, kServer, f::syn, 1000));
        r.at(5 * kUs).send(pkt(kServer, kClient, f::rst | f::ack, 0, 1001));
        const auto& c = r.only();
        CHECK(c.state() == ConnState::REJ);
        CHECK(c.history() == "Sr");
        CHECK(c.rst_by() == Closer::resp);
        CHECK(c.close_kind() == CloseKind::rst);
        CHECK(c.handshake_ns(true) == 0);
    }
    {
        Run r;
        handshake(r);
        r.at(50 * kUs).send(pkt(kClient, kServer, f::rst | f::ack, 1001, 5001));
        const auto& c = r.only();
        CHECK(c.state() == ConnState::RSTO);
        CHECK(c.history() == "ShAR");
        CHECK(c.rst_by() == Closer::orig);
        CHECK(c.rst_ts(Side::orig) == kT0 + 50 * kUs);
        CHECK(c.time_wait_side() == Closer::none);
    }
    {
        Run r;
        handshake(r);
        r.at(50 * kUs).send(pkt(kServer, kClient, f::rst | f::ack, 5001, 1001));
        CHECK(r.only().state() == ConnState::RSTR);
    }
}

TEST_CASE("states without a full exchange: S0, SH, SHR, RSTOS0, RSTRH, S1, S2, S3, OTH") {
    auto state_of = [](auto&& feed) {
        Run r;
        feed(r);
        const auto& c = r.only();
        return std::string(conn_state_name(c.state())) + " " + std::string(c.history());
    };
    CHECK(state_of([](Run& r) { r.send(pkt(kClient, kServer, f::syn, 1)); }) == "S0 S");
    CHECK(state_of([](Run& r) {
              r.send(pkt(kClient, kServer, f::syn, 1));
              r.send(pkt(kClient, kServer, f::fin, 2));
          }) == "SH SF");
    CHECK(state_of([](Run& r) {
              r.send(pkt(kServer, kClient, f::syn | f::ack, 9, 2));
              r.send(pkt(kServer, kClient, f::fin | f::ack, 10, 2));
          }) == "SHR ^hf");
    CHECK(state_of([](Run& r) {
              r.send(pkt(kClient, kServer, f::syn, 1));
              r.send(pkt(kClient, kServer, f::rst, 2));
          }) == "RSTOS0 SR");
    CHECK(state_of([](Run& r) {
              r.send(pkt(kServer, kClient, f::syn | f::ack, 9, 2));
              r.send(pkt(kServer, kClient, f::rst, 10));
          }) == "RSTRH ^hr");
    CHECK(state_of([](Run& r) { handshake(r); }) == "S1 ShA");
    CHECK(state_of([](Run& r) {
              handshake(r);
              r.send(pkt(kClient, kServer, f::fin | f::ack, 1001, 5001));
          }) == "S2 ShAF");
    CHECK(state_of([](Run& r) {
              handshake(r);
              r.send(pkt(kServer, kClient, f::fin | f::ack, 5001, 1001));
          }) == "S3 ShAf");
    CHECK(state_of([](Run& r) {
              r.send(pkt(kClient, kServer, f::ack | f::psh, 7, 9, 10));
              r.send(pkt(kServer, kClient, f::ack, 9, 17));
          }) == "OTH Da");
    // A lone RST: reset with nothing before it is OTH, not REJ and not RSTOS0.
    CHECK(state_of([](Run& r) { r.send(pkt(kClient, kServer, f::rst, 5)); }) == "OTH R");
    // SYN and FIN in one packet: Zeek's Q.
    CHECK(state_of([](Run& r) { r.send(pkt(kClient, kServer, f::syn | f::fin, 5)); }) == "SH Q");
}

TEST_CASE("retransmitted SYNs: counted with their intervals, one S letter, the handshake "
          "timed from both ends") {
    Run r;
    r.at(0).send(pkt(kClient, kServer, f::syn, 1000));
    r.at(1000 * kMs).send(pkt(kClient, kServer, f::syn, 1000));
    r.at(3000 * kMs).send(pkt(kClient, kServer, f::syn, 1000));
    r.at(3000 * kMs + 12'345).send(pkt(kServer, kClient, f::syn | f::ack, 5000, 1001));
    r.at(3000 * kMs + 20'000).send(pkt(kClient, kServer, f::ack, 1001, 5001));
    const auto& c = r.only();
    CHECK(c.history() == "ShA");
    CHECK(c.syn_retransmits() == 2);
    const auto gaps = c.retransmit_gaps(Side::orig);
    CHECK(gaps.retransmits == 2);
    CHECK(gaps.first == 1000 * kMs);
    CHECK(gaps.total - gaps.first == 2000 * kMs);
    // From the last SYN the nanoseconds survive; from the first, microseconds are enough.
    CHECK(c.syn_to_synack(true) == 12'345);
    CHECK(c.handshake_ns(true) == 20'000);
    CHECK(c.handshake_ns(false) == 3000 * kMs + 20'000);
    CHECK(c.state() == ConnState::S1);
}

TEST_CASE("retransmitted SYN/ACKs: counted, the first interval and the span kept") {
    Run r;
    r.at(0).send(pkt(kClient, kServer, f::syn, 1000));
    r.at(10 * kUs).send(pkt(kServer, kClient, f::syn | f::ack, 5000, 1001));
    r.at(1000 * kMs).send(pkt(kServer, kClient, f::syn | f::ack, 5000, 1001));
    r.at(3000 * kMs).send(pkt(kServer, kClient, f::syn | f::ack, 5000, 1001));
    r.at(7000 * kMs).send(pkt(kServer, kClient, f::syn | f::ack, 5000, 1001));
    r.at(7000 * kMs + 9 * kUs).send(pkt(kClient, kServer, f::ack, 1001, 5001));
    const auto& c = r.only();
    CHECK(c.history() == "ShA");
    CHECK(c.synack_retransmits() == 3);
    const auto g = c.retransmit_gaps(Side::resp);
    CHECK(g.first == 1000 * kMs - 10 * kUs);
    CHECK(g.total == 7000 * kMs - 10 * kUs);
    CHECK(c.synack_to_ack() == 9 * kUs); // from the last SYN/ACK, the answered one
    CHECK(c.retransmit_gaps(Side::orig).retransmits == 0);
}

TEST_CASE("a retransmitted FIN and retransmitted data: one F, T logged, bytes counted once") {
    Run r;
    handshake(r);
    r.at(30 * kUs).send(pkt(kClient, kServer, f::ack | f::psh, 1001, 5001, 100));
    r.at(40 * kUs).send(pkt(kClient, kServer, f::ack | f::psh, 1001, 5001, 100));
    r.at(50 * kUs).send(pkt(kClient, kServer, f::fin | f::ack, 1101, 5001));
    r.at(60 * kUs).send(pkt(kClient, kServer, f::fin | f::ack, 1101, 5001));
    const auto& c = r.only();
    CHECK(c.history() == "ShADTF");
    CHECK(c.of(Side::orig).bytes == 100);
    CHECK(c.of(Side::orig).retransmits == 1);
}

TEST_CASE("half-close: data after the client's FIN, timed until the server's FIN") {
    Run r;
    handshake(r);
    r.at(100 * kUs).send(pkt(kClient, kServer, f::fin | f::ack, 1001, 5001));
    r.at(110 * kUs).send(pkt(kServer, kClient, f::ack, 5001, 1002));
    r.at(500 * kUs).send(pkt(kServer, kClient, f::ack | f::psh, 5001, 1002, 50));
    r.at(510 * kUs).send(pkt(kClient, kServer, f::ack, 1002, 5051));
    r.at(900 * kUs).send(pkt(kServer, kClient, f::fin | f::ack, 5051, 1002));
    r.at(910 * kUs).send(pkt(kClient, kServer, f::ack, 1002, 5052));
    const auto& c = r.only();
    CHECK(c.closer() == Closer::orig);
    CHECK(c.half_close_ns() == 800 * kUs);
    CHECK(c.state() == ConnState::SF);
}

TEST_CASE("one connection whichever way packets go, even with the same address at both ends") {
    Run r;
    // 127.0.0.1:8080 -> 127.0.0.1:40000 sorts before the reverse: pairing must not care.
    r.send(pkt(kServer, kClient, f::syn, 1));
    r.send(pkt(kClient, kServer, f::syn | f::ack, 7, 2));
    r.send(pkt(kServer, kClient, f::ack, 2, 8));
    const auto& c = r.only();
    CHECK(c.port_of(Side::orig) == 8080);
    CHECK(c.history() == "ShA");
    CHECK(r.tracker.stats().connections == 1);
}

TEST_CASE("a SYN/ACK seen first: the receiver is the originator, flagged with ^") {
    Run r;
    r.send(pkt(kServer, kClient, f::syn | f::ack, 5000, 1001));
    r.send(pkt(kClient, kServer, f::ack, 1001, 5001));
    const auto& c = r.only();
    CHECK(c.port_of(Side::orig) == 40000);
    CHECK(c.has(Connection::flipped));
    CHECK(c.has(Connection::midstream));
    CHECK(c.history() == "^hA");
    CHECK(c.state() == ConnState::S1);
}

TEST_CASE("port reuse: a new SYN after the close starts a new record") {
    Run r;
    handshake(r);
    r.at(30 * kUs).send(pkt(kServer, kClient, f::fin | f::ack, 5001, 1001));
    r.at(40 * kUs).send(pkt(kClient, kServer, f::fin | f::ack, 1001, 5002));
    r.at(50 * kUs).send(pkt(kServer, kClient, f::ack, 5002, 1002));
    r.at(60 * kUs).send(pkt(kClient, kServer, f::syn, 900000));
    r.at(70 * kUs).send(pkt(kServer, kClient, f::syn | f::ack, 700000, 900001));
    r.tracker.finish();
    REQUIRE(r.out.size() == 2);
    CHECK(r.out[0].state() == ConnState::SF);
    CHECK(r.out[0].ended == EndReason::reused);
    CHECK(r.out[1].history() == "Sh");
    CHECK(r.out[1].id == 2);
    CHECK(r.out[1].ended == EndReason::capture_end);
    CHECK(r.tracker.stats().reused == 1);
}

TEST_CASE("the linger: a closed connection waits for late packets, then goes to the sink") {
    Run r;
    handshake(r);
    r.at(30 * kUs).send(pkt(kClient, kServer, f::rst, 1001));
    CHECK(r.out.empty());
    // Still within the default 1 s: the server's late ACK joins the record.
    r.at(500 * kMs).send(pkt(kServer, kClient, f::ack, 5001, 1001));
    CHECK(r.out.empty());
    r.tracker.expire(kT0 + 2 * kNanosPerSecond);
    REQUIRE(r.out.size() == 1);
    CHECK(r.out[0].of(Side::resp).packets == 2);
    CHECK(r.out[0].ended == EndReason::closed);
    CHECK(r.tracker.stats().open == 0);
}

TEST_CASE("IPv6 connections pair and keep their addresses") {
    Run r;
    const Peer c6{*IpAddress::from_string("::1"), 40000};
    const Peer s6{*IpAddress::from_string("::1"), 8080};
    r.send(pkt(c6, s6, f::syn, 1));
    r.send(pkt(s6, c6, f::syn | f::ack, 9, 2));
    const auto& c = r.only();
    CHECK(c.v6);
    CHECK(c.address(Side::orig).to_string() == "::1");
    CHECK(c.history() == "Sh");
}

TEST_CASE("span encoding: exact nanoseconds below 2.1 s, microseconds above") {
    CHECK(decode_span(encode_span(0)) == 0);
    CHECK(decode_span(encode_span(123'456'789)) == 123'456'789);
    CHECK(decode_span(encode_span(2'147'483'647)) == 2'147'483'647);
    CHECK(decode_span(encode_span(5 * kNanosPerSecond + 999)) == 5 * kNanosPerSecond);
    CHECK(decode_span(encode_span(-5)) == 0);
}

TEST_CASE("the index under churn: 20,000 tuples opened and closed in random order, every "
          "packet finds its own record") {
    std::mt19937 rng(7);
    std::map<std::uint32_t, std::uint32_t> packets_by_id; // what the sink received
    std::uint64_t emitted = 0;
    ConnectionTracker t(
        [&](const Connection& c) {
            ++emitted;
            packets_by_id[c.id] = c.of(Side::orig).packets + c.of(Side::resp).packets;
        },
        TrackerOptions{0});
    std::vector<std::uint16_t> open;
    std::set<std::uint16_t> is_open;
    std::map<std::uint16_t, std::uint32_t> sent;
    Nanos now = kT0;
    auto peer = [](std::uint16_t port) { return Peer{IpAddress::v4(0x0a000000u + port), port}; };
    const Peer server{IpAddress::v4(0x0a000001), 80};
    for (int step = 0; step < 60000; ++step) {
        now += kUs;
        const bool close = !open.empty() && (open.size() > 5000 || rng() % 3 == 0);
        if (!close) {
            const auto port = static_cast<std::uint16_t>(1024 + rng() % 60000);
            if (is_open.count(port)) continue;
            is_open.insert(port);
            open.push_back(port);
            t.add(now, pkt(peer(port), server, f::syn, 1));
            t.add(now, pkt(server, peer(port), f::syn | f::ack, 1, 2));
            sent[port] = 2;
        } else {
            const auto i = rng() % open.size();
            const auto port = open[i];
            open[i] = open.back();
            open.pop_back();
            is_open.erase(port);
            t.add(now, pkt(peer(port), server, f::rst, 2));
            ++sent[port];
            t.expire(now + 1);
        }
    }
    CHECK(t.stats().open == open.size());
    t.finish();
    CHECK(emitted == t.stats().connections);
    for (const auto& [id, n] : packets_by_id)
        CHECK(n >= 2);
    // Every closed connection had exactly its own three packets.
    std::uint64_t three = 0;
    for (const auto& [id, n] : packets_by_id)
        three += n == 3;
    CHECK(three == t.stats().connections - open.size());
    // Memory per open connection at the peak stays within the budget.
    CHECK(t.stats().peak_memory_bytes / t.stats().peak_open <= 256 + 64);
    CHECK(sizeof(Connection) <= 224);
}
