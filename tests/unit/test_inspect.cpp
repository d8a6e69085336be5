// The inspect layer: TCP states and selections, sock_diag dumps (replayed from a recorded
// population and live on loopback), kernel filter programs, cgroup paths, and the
// /proc/net/tcp fallback on the same population.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <linux/inet_diag.h>
#include <map>
#include <optional>
#include <sstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>
#include <vector>

#include <doctest/doctest.h>

#include <netdx/inspect/cgroups.hpp>
#include <netdx/inspect/diag_filter.hpp>
#include <netdx/inspect/proc_net_tcp.hpp>
#include <netdx/inspect/sock_diag.hpp>
#include <netdx/inspect/state_selection.hpp>
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

namespace {

/// The kernel's filter interpreter (net/ipv4/inet_diag.c, inet_diag_bc_run and the checks of
/// inet_diag_bc_audit), written from its documented semantics, to run compiled programs
/// against sockets here. Returns nullopt when the kernel would refuse the program (EINVAL).
std::optional<bool> kernel_would_match(const std::vector<std::byte>& code, const TcpSocket& s) {
    struct Op {
        std::uint8_t code, yes;
        std::uint16_t no;
    };
    auto op_at = [&](std::size_t at) {
        Op o{};
        std::memcpy(&o, code.data() + at, sizeof o);
        return o;
    };
    const auto len = static_cast<long>(code.size());
    // Audit: every jump lands on the program, 4-aligned, or exactly 4 past its end.
    for (long at = 0; at < len;) {
        const auto o = op_at(static_cast<std::size_t>(at));
        const long left = len - at;
        if (o.yes < 4 || o.yes > left + 4 || (o.yes & 3) || o.no > left + 4 || (o.no & 3))
            return std::nullopt;
        at += o.yes;
    }
    long at = 0;
    while (at < len) {
        const auto o = op_at(static_cast<std::size_t>(at));
        bool yes = true;
        auto port_arg = [&] { return op_at(static_cast<std::size_t>(at) + 4).no; };
        auto prefix = [&](const SocketAddress& a) {
            std::uint8_t family = 0, prefix_len = 0;
            std::memcpy(&family, code.data() + at + 4, 1);
            std::memcpy(&prefix_len, code.data() + at + 5, 1);
            const std::size_t n = family == AF_INET ? 4 : 16;
            const std::uint8_t* want = reinterpret_cast<const std::uint8_t*>(code.data()) + at + 12;
            const std::uint8_t* have = a.ip().bytes();
            if ((family == AF_INET) != a.ip().is_v4()) {
                static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0,    0,
                                                             0, 0, 0, 0, 0xff, 0xff};
                if (family != AF_INET || std::memcmp(have, kMapped, 12) != 0) return false;
                have += 12;
            }
            for (unsigned bit = 0; bit < prefix_len && bit < n * 8; ++bit) {
                const auto mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
                if ((want[bit / 8] & mask) != (have[bit / 8] & mask)) return false;
            }
            return true;
        };
        switch (o.code) {
        case INET_DIAG_BC_S_GE:
            yes = s.local.port() >= port_arg();
            break;
        case INET_DIAG_BC_S_LE:
            yes = s.local.port() <= port_arg();
            break;
        case INET_DIAG_BC_D_GE:
            yes = s.remote.port() >= port_arg();
            break;
        case INET_DIAG_BC_D_LE:
            yes = s.remote.port() <= port_arg();
            break;
        case INET_DIAG_BC_S_COND:
            yes = prefix(s.local);
            break;
        case INET_DIAG_BC_D_COND:
            yes = prefix(s.remote);
            break;
        case INET_DIAG_BC_JMP: // always takes `no`
            yes = false;
            break;
        default:
            return std::nullopt;
        }
        at += yes ? o.yes : o.no;
    }
    return at == len;
}

TcpSocket socket_between(const char* local, std::uint16_t lport, const char* remote,
                         std::uint16_t rport) {
    TcpSocket s;
    s.state = TcpState::established;
    s.local = SocketAddress(IpAddress::parse(local), lport);
    s.remote = SocketAddress(IpAddress::parse(remote), rport);
    return s;
}

} // namespace

TEST_CASE("the kernel filter program matches exactly what the user-space filter matches") {
    const std::vector<TcpSocket> sockets = {
        socket_between("127.0.0.1", 7007, "127.0.0.1", 40000),
        socket_between("127.0.0.1", 40000, "127.0.0.1", 7007),
        socket_between("10.1.2.3", 8080, "192.168.7.9", 65535),
        socket_between("10.1.2.3", 1, "192.168.8.1", 0),
        socket_between("::1", 7007, "::1", 50000),
        socket_between("::ffff:10.9.9.9", 8000, "::ffff:192.168.7.200", 443),
        socket_between("2001:db8::5", 8100, "2001:db8:1::7", 443),
    };
    std::vector<DiagFilter> filters(1); // the empty filter first: it compiles to nothing
    auto cidr = [](const char* t) { return Cidr::parse(t); };
    for (const auto& sport : {std::optional<PortRange>{}, std::optional(PortRange{7007, 7007}),
                              std::optional(PortRange{8000, 8100}), std::optional(PortRange{0, 1})})
        for (const auto& dst : {std::optional<Cidr>{}, std::optional(cidr("192.168.7.0/24")),
                                std::optional(cidr("::1/128")), std::optional(cidr("0.0.0.0/0")),
                                std::optional(cidr("2001:db8::/32"))}) {
            DiagFilter f;
            f.sport = sport;
            f.dst = dst;
            f.dport = dst ? std::optional(PortRange{400, 50000}) : std::nullopt;
            f.src = sport && sport->low == 8000 ? std::optional(cidr("10.0.0.0/8")) : std::nullopt;
            filters.push_back(f);
        }
    // A list of local ports, alone and with the others (a flood's server-side check).
    for (const auto& ports : {std::vector<std::uint16_t>{7007}, std::vector<std::uint16_t>{1, 8080},
                              std::vector<std::uint16_t>{40000, 8100, 7007, 2, 3, 4, 5, 6, 7, 8, 9,
                                                         10, 11, 12, 13, 14, 15}}) {
        DiagFilter f;
        f.sport_any = ports;
        filters.push_back(f);
        f.dst = cidr("192.168.7.0/24");
        filters.push_back(f);
    }
    CHECK(compile_diag_filter(filters[0]).empty());
    std::size_t matched = 0;
    for (const auto& f : filters) {
        const auto code = compile_diag_filter(f);
        for (const auto& s : sockets) {
            const bool want = f.matches(s);
            matched += want;
            if (code.empty()) {
                CHECK(want);
                continue;
            }
            const auto got = kernel_would_match(code, s);
            REQUIRE(got.has_value()); // the kernel's audit would accept the program
            CHECK_MESSAGE(*got == want, s.local.to_string() << " " << s.remote.to_string());
        }
    }
    CHECK(matched > sockets.size()); // the grid is not all-reject
    CHECK(filters[0].empty());
    // A v4 prefix matches v4-mapped addresses, as the kernel does; a v6 one no IPv4 socket.
    DiagFilter mapped;
    mapped.dst = cidr("192.168.7.0/24");
    CHECK(mapped.matches(sockets[5]));
    DiagFilter v6;
    v6.src = cidr("2001:db8::/32");
    CHECK_FALSE(v6.can_match(AF_INET));
    CHECK(v6.can_match(AF_INET6));
}

TEST_CASE("a live dump with a port filter returns only the matching sockets") {
    std::vector<Fd> listeners;
    std::vector<std::uint16_t> ports;
    for (int i = 0; i < 3; ++i) {
        listeners.push_back(open_socket(AF_INET, Protocol::tcp, false));
        const Endpoint any(IpAddress::loopback_v4(), 0);
        bind_to(listeners.back().get(), any);
        listen_on(listeners.back().get(), 4, any);
        ports.push_back(local_endpoint_of(listeners.back().get()).port());
    }
    DiagFilter f;
    f.sport = PortRange{ports[1], ports[1]};
    DiagRequest req;
    req.family = AF_INET;
    req.states = state_bit(TcpState::listen);
    req.bytecode = compile_diag_filter(f);
    std::vector<std::uint16_t> seen;
    const auto r =
        dump_tcp_sockets(req, [&](const TcpSocket& s) { seen.push_back(s.local.port()); });
    REQUIRE_MESSAGE(r.ok, r.error);
    CHECK(seen == std::vector<std::uint16_t>{ports[1]}); // the kernel dropped the other two

    // A list: the kernel accepts the chained program and keeps exactly the listed two.
    DiagFilter any;
    any.sport_any = {ports[2], 1, ports[0]};
    req.bytecode = compile_diag_filter(any);
    seen.clear();
    const auto r2 =
        dump_tcp_sockets(req, [&](const TcpSocket& s) { seen.push_back(s.local.port()); });
    REQUIRE_MESSAGE(r2.ok, r2.error);
    std::sort(seen.begin(), seen.end());
    auto want = std::vector<std::uint16_t>{ports[0], ports[2]};
    std::sort(want.begin(), want.end());
    CHECK(seen == want);
}

TEST_CASE("cgroup ids resolve to paths below the cgroup2 mount") {
    char tmpl[] = "/tmp/netdx-cgroups-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    const std::string root = tmpl;
    std::filesystem::create_directories(root + "/proc/self");
    std::filesystem::create_directories(root + "/sys/fs/cgroup/unified/system.slice/web.service");
    {
        std::ofstream m(root + "/proc/self/mountinfo");
        m << "25 30 0:23 / /sys rw,nosuid - sysfs sysfs rw\n"
             "35 25 0:30 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw\n";
    }
    const SysfsReader fs(root);
    CHECK(cgroup2_mount(fs) == "/sys/fs/cgroup/unified");
    auto ino = [&](const std::string& rel) {
        struct stat st {};
        REQUIRE(::stat((root + "/sys/fs/cgroup/unified" + rel).c_str(), &st) == 0);
        return static_cast<std::uint64_t>(st.st_ino);
    };
    const auto web = ino("/system.slice/web.service");
    const auto top = ino("");
    const auto paths = cgroup_paths({web, top, 999'999'999'999}, fs);
    CHECK(paths.at(web) == "/system.slice/web.service");
    CHECK(paths.at(top) == "/");
    CHECK(paths.count(999'999'999'999) == 0); // a removed cgroup: absent, not an error
    CHECK(cgroup_paths({web}, SysfsReader(root + "/nowhere")).empty());
    std::filesystem::remove_all(root);
}
