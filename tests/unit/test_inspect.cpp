// The inspect layer: TCP states and selections, sock_diag dumps (replayed from a recorded
// population and live on loopback), and the /proc/net/tcp fallback on the same population.
#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/socket.h>
#include <tuple>
#include <unistd.h>
#include <vector>

#include <doctest/doctest.h>

#include <netdx/inspect/proc_net_tcp.hpp>
#include <netdx/inspect/sock_diag.hpp>
#include <netdx/inspect/tcp_state.hpp>
#include <netdx/net/socket.hpp>
#include <netdx/sys/sysctl.hpp>

#include "parse_error_of.hpp"

using namespace netdx;

namespace {

const std::string kFixtures = std::string(NETDX_FIXTURES) + "/sock_diag";

std::vector<TcpSocket> replay_population() {
    std::ifstream in(kFixtures + "/population.bin", std::ios::binary);
    REQUIRE(in);
    std::vector<TcpSocket> out;
    // One recording holds two dumps (IPv4, then IPv6): a parser per dump.
    for (int dump = 0; dump < 2; ++dump) {
        DiagDumpParser parser([&](const TcpSocket& s) { out.push_back(s); });
        CHECK(replay_recording(in, parser) >= 1);
        CHECK(parser.done());
    }
    return out;
}

std::map<TcpState, int> count_states(const std::vector<TcpSocket>& v) {
    std::map<TcpState, int> m;
    for (const auto& s : v)
        ++m[s.state];
    return m;
}

using Key = std::tuple<TcpState, std::string, std::string, std::uint32_t, std::uint64_t>;
std::vector<Key> keys(const std::vector<TcpSocket>& v) {
    std::vector<Key> k;
    for (const auto& s : v)
        k.emplace_back(s.state, s.local.to_string(), s.remote.to_string(), s.recv_q, s.inode);
    std::sort(k.begin(), k.end());
    return k;
}

} // namespace

TEST_CASE("TCP state names and selections") {
    CHECK(state_name(TcpState::time_wait) == "time-wait");
    CHECK(state_name(static_cast<TcpState>(99)) == "unknown");
    CHECK(state_from_name("CLOSE_WAIT") == TcpState::close_wait);
    CHECK(state_from_name("fin-wait2") == TcpState::fin_wait2);
    CHECK_FALSE(state_from_name("half-open").has_value());

    auto sel = parse_state_selection("time-wait,close-wait");
    CHECK(sel.mask == (state_bit(TcpState::time_wait) | state_bit(TcpState::close_wait)));
    CHECK_FALSE(sel.orphans_only);
    sel = parse_state_selection("orphan");
    CHECK(sel.mask == state_bit(TcpState::fin_wait2));
    CHECK(sel.orphans_only);
    CHECK_FALSE(parse_state_selection("orphan,fin-wait-2").orphans_only); // the wider wins
    sel = parse_state_selection("connected");
    CHECK((sel.mask & state_bit(TcpState::listen)) == 0);
    CHECK((sel.mask & state_bit(TcpState::close_wait)) != 0);
    CHECK((sel.mask & state_bit(TcpState::syn_sent)) != 0);
    CHECK((parse_state_selection("synchronized").mask & state_bit(TcpState::syn_sent)) == 0);
    CHECK(parse_state_selection("all").mask == kAllStates);
    CHECK(parse_error_of([] {
              (void)parse_state_selection("time-wait,tw");
          }).starts_with("--state: unknown state 'tw' in 'time-wait,tw' (states: established,"));
    CHECK(parse_error_of([] { (void)parse_state_selection("listen,,"); }) ==
          "--state: empty name in 'listen,,'");
}

TEST_CASE("a recorded sock_diag dump replays to the known population") {
    const auto sockets = replay_population();
    const auto states = count_states(sockets);
    CHECK(sockets.size() == 13);
    CHECK(states.at(TcpState::listen) == 2);
    CHECK(states.at(TcpState::established) == 6);
    CHECK(states.at(TcpState::close_wait) == 2);
    CHECK(states.at(TcpState::fin_wait2) == 2);
    CHECK(states.at(TcpState::time_wait) == 1);

    for (const auto& s : sockets) {
        if (s.state == TcpState::close_wait) {
            CHECK(s.recv_q == 1); // the FIN the server never read
            CHECK(s.local.port() == 7007);
            CHECK(s.inode != 0);
        }
        if (s.state == TcpState::established && s.recv_q > 0) CHECK(s.recv_q == 5);
        if (s.state == TcpState::time_wait) {
            CHECK(s.inode == 0); // nobody owns a TIME-WAIT socket
            CHECK_FALSE(s.orphan());
            CHECK(s.timer == SocketTimer::time_wait);
            CHECK(s.timer_ms > 50'000);
            CHECK(s.timer_ms <= 60'000);
            CHECK(s.remote.to_string() == "[::1]:7008");
        }
        if (s.state == TcpState::established) REQUIRE(s.idle.has_value()); // tcp_info came along
        if (s.state == TcpState::listen) CHECK(s.remote.port() == 0);
    }
}

TEST_CASE("the /proc/net/tcp fallback reads the same population as netlink") {
    std::vector<TcpSocket> from_proc;
    const SysfsReader none("/nonexistent");
    std::ifstream t4(kFixtures + "/root/proc/net/tcp"), t6(kFixtures + "/root/proc/net/tcp6");
    std::stringstream s4, s6;
    s4 << t4.rdbuf();
    s6 << t6.rdbuf();
    auto sink = [&](const TcpSocket& s) { from_proc.push_back(s); };
    auto r4 = parse_proc_net_tcp(s4.str(), kAllStates, sink);
    auto r6 = parse_proc_net_tcp(s6.str(), kAllStates, sink);
    CHECK(r4.records + r6.records == 13);
    CHECK(r4.malformed + r6.malformed == 0);
    CHECK(keys(from_proc) == keys(replay_population()));
    const auto tw = std::find_if(from_proc.begin(), from_proc.end(),
                                 [](const TcpSocket& s) { return s.state == TcpState::time_wait; });
    REQUIRE(tw != from_proc.end());
    CHECK(tw->timer == SocketTimer::time_wait);
    CHECK(tw->timer_ms == 59'750); // 0x1757 ticks at 100 Hz

    // The state filter applies as the kernel's would.
    std::vector<TcpSocket> cw;
    parse_proc_net_tcp(s4.str(), state_bit(TcpState::close_wait),
                       [&](const TcpSocket& s) { cw.push_back(s); });
    CHECK(cw.size() == 2);
}

TEST_CASE("malformed /proc/net/tcp lines are counted and the first one named") {
    const std::string text =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 0100007F:1B5F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 "
        "       0 4242 1 0 100 0 0 10 0\n"
        "   1: 0100007F:ZZZZ 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 "
        "       0 4243 1 0 100 0 0 10 0\n"
        "   2: 0100007F:1B5F 00000000:0000 0A\n"
        "   3: 0100007F:1B5F 00000000:0000 63 00000000:00000000 00:00000000 00000000     0 "
        "       0 4244 1 0 100 0 0 10 0\n";
    std::vector<TcpSocket> got;
    const auto r =
        parse_proc_net_tcp(text, kAllStates, [&](const TcpSocket& s) { got.push_back(s); });
    CHECK(r.records == 1);
    CHECK(r.malformed == 3);
    CHECK(r.first_malformed.find("bad local address '0100007F:ZZZZ'") != std::string::npos);
    REQUIRE(got.size() == 1);
    CHECK(got[0].local.to_string() == "127.0.0.1:7007");
    CHECK(got[0].inode == 4242);
}

TEST_CASE("a truncated recording or netlink error is reported, not misread") {
    std::ifstream in(kFixtures + "/population.bin", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream cut(bytes.substr(0, bytes.size() / 2));
    DiagDumpParser parser([](const TcpSocket&) {});
    CHECK_THROWS_WITH_AS(replay_recording(cut, parser), doctest::Contains("truncated"),
                         std::runtime_error);
}

TEST_CASE("a live dump finds this process's own listening socket") {
    Fd listener = open_socket(AF_INET, Protocol::tcp, false);
    const Endpoint any(IpAddress::loopback_v4(), 0);
    bind_to(listener.get(), any);
    listen_on(listener.get(), 4, any);
    const auto local = local_endpoint_of(listener.get());
    DiagRequest req;
    req.family = AF_INET;
    req.states = state_bit(TcpState::listen);
    bool found = false;
    std::uint64_t others = 0;
    const auto r = dump_tcp_sockets(req, [&](const TcpSocket& s) {
        if (s.local == local) found = true;
        if (s.state != TcpState::listen) ++others; // the kernel filtered by state
    });
    REQUIRE_MESSAGE(r.ok, r.error); // every Linux this runs on has NETLINK_SOCK_DIAG
    CHECK(found);
    CHECK(others == 0);
    CHECK(r.records >= 1);
}
