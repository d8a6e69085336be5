#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <doctest/doctest.h>

#include <netdx/sys/capabilities.hpp>
#include <netdx/sys/clock.hpp>
#include <netdx/sys/fd.hpp>
#include <netdx/sys/limits.hpp>
#include <netdx/sys/net_counters.hpp>
#include <netdx/sys/sysctl.hpp>
#include <netdx/sys/system_error.hpp>
#include <netdx/sys/system_info.hpp>

using namespace netdx;
namespace fs = std::filesystem;

namespace {

/// A throw-away directory tree standing in for / (removed at scope end).
struct FixtureRoot {
    fs::path root;
    FixtureRoot() {
        char tmpl[] = "/tmp/netdx-unit-XXXXXX";
        root = ::mkdtemp(tmpl);
    }
    ~FixtureRoot() { fs::remove_all(root); }
    void write(const std::string& path, const std::string& content) const {
        const auto full = root / path.substr(1);
        fs::create_directories(full.parent_path());
        std::ofstream(full) << content;
    }
};

bool fd_open(int fd) {
    return ::fcntl(fd, F_GETFD) != -1;
}

} // namespace

TEST_CASE("Fd closes on destruction and moves ownership") {
    int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(raw >= 0);
    {
        Fd a(raw);
        CHECK(a.valid());
        Fd b(std::move(a));
        CHECK(!a.valid());
        CHECK(b.get() == raw);
        CHECK(fd_open(raw));
    }
    CHECK(!fd_open(raw));
    int raw2 = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    Fd c(raw2);
    const int released = c.release();
    CHECK(!c.valid());
    CHECK(fd_open(released));
    ::close(released);
}

TEST_CASE("system errors carry their context and errno") {
    try {
        check_syscall("open /nonexistent/file",
                      [] { return ::open("/nonexistent/file", O_RDONLY); });
        FAIL("no exception");
    } catch (const std::system_error& e) {
        CHECK(std::string(e.what()).find("open /nonexistent/file") == 0);
        CHECK(std::string(e.what()).find("No such file") != std::string::npos);
        CHECK(e.code().value() == ENOENT);
    }
    CHECK(errno_name(ECONNREFUSED) == "ECONNREFUSED");
    CHECK(errno_name(EADDRNOTAVAIL) == "EADDRNOTAVAIL");
    CHECK(errno_name(99999) == "E99999");
}

TEST_CASE("retry_eintr retries until the call stops failing with EINTR") {
    int calls = 0;
    const int r = retry_eintr([&] {
        if (++calls < 3) {
            errno = EINTR;
            return -1;
        }
        return 7;
    });
    CHECK(r == 7);
    CHECK(calls == 3);
}

TEST_CASE("the monotonic clock advances and a read is cheap") {
    const auto a = monotonic_ns();
    const auto b = monotonic_ns();
    CHECK(b >= a);
    const double cost = measure_clock_read_cost_ns(2001);
    CHECK(cost > 0);
    CHECK(cost < 10'000); // even a slow clocksource reads well under 10us
}

TEST_CASE("SysfsReader replays a fixture tree and treats missing files as absent") {
    FixtureRoot f;
    f.write("/proc/sys/net/ipv4/ip_local_port_range", "32768\t60999\n");
    f.write("/proc/sys/net/core/somaxconn", "4096\n");
    f.write("/proc/sys/net/ipv4/tcp_tw_reuse", "garbage\n");
    f.write("/sys/devices/system/clocksource/clocksource0/current_clocksource", "  tsc \n");
    SysfsReader reader(f.root.string());
    CHECK(reader.sysctl_int("net.core.somaxconn") == 4096);
    auto range = ephemeral_port_range(reader);
    REQUIRE(range);
    CHECK(range->low == 32768);
    CHECK(range->size() == 28232);
    CHECK(!reader.sysctl_int("net.netfilter.nf_conntrack_max")); // missing: absent, not a crash
    CHECK(!reader.sysctl_int("net.ipv4.tcp_tw_reuse"));          // malformed: absent
    CHECK(reader.read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource") ==
          "tsc");
    CHECK(sysctl_path("net.ipv4.tcp_fin_timeout") == "/proc/sys/net/ipv4/tcp_fin_timeout");
}

TEST_CASE("capabilities are read from a status file") {
    FixtureRoot f;
    // CAP_NET_RAW (13) only.
    f.write("/proc/self/status",
            "Name:\ttest\nCapPrm:\t0000000000002000\nCapEff:\t0000000000002000\n");
    auto caps = read_capabilities(SysfsReader(f.root.string()));
    REQUIRE(caps);
    CHECK(caps->has(Capability::net_raw));
    CHECK(!caps->has(Capability::net_admin));
    f.write("/proc/self/status", "Name:\ttest\n");
    CHECK(!read_capabilities(SysfsReader(f.root.string())));
    CHECK(capability_name(Capability::net_admin) == "CAP_NET_ADMIN");
}

TEST_CASE("limits of this process") {
    const auto lim = nofile_limit();
    CHECK(lim.soft <= lim.hard);
    const auto raised = raise_nofile_to_hard();
    CHECK(raised.soft == raised.hard);
    const auto before = open_fd_count();
    REQUIRE(before);
    int extra = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK(open_fd_count() == *before + 1);
    ::close(extra);
}

TEST_CASE("system info and virtualisation detection from a fixture") {
    FixtureRoot f;
    f.write("/sys/class/dmi/id/sys_vendor", "QEMU\n");
    f.write("/proc/cpuinfo", "model name\t: Test CPU\nflags\t\t: fpu hypervisor\n");
    CHECK(detect_virtualization(SysfsReader(f.root.string())) == "kvm");
    FixtureRoot bare;
    bare.write("/proc/cpuinfo", "model name\t: Test CPU\nflags\t\t: fpu sse\n");
    CHECK(detect_virtualization(SysfsReader(bare.root.string())) == "none");
    const auto info = read_system_info(SysfsReader(f.root.string()));
    CHECK(info.cpu_model == "Test CPU");
    CHECK(info.online_cpus >= 1);
    CHECK(info.kernel.find("Linux") == 0);
}

TEST_CASE("kernel network counters are read as name/value line pairs and compared") {
    FixtureRoot root;
    root.write("/proc/net/netstat",
               "TcpExt: SyncookiesSent ListenOverflows ListenDrops\n"
               "TcpExt: 0 12 12\n"
               "IpExt: InNoRoutes InOctets\n"
               "IpExt: 0 not-a-number\n"); // a malformed pair is skipped, not misread
    root.write("/proc/net/snmp", "Tcp: RtoAlgorithm ActiveOpens \nTcp: 1 500\nUdp: InDatagrams\n");
    const auto before = NetCounters::read(SysfsReader(root.root.string()));
    CHECK(before.get("TcpExt.ListenOverflows") == 12);
    CHECK(before.get("Tcp.ActiveOpens") == 500);
    CHECK_FALSE(before.get("IpExt.InOctets").has_value());
    CHECK_FALSE(before.get("Udp.InDatagrams").has_value()); // a header without values

    root.write("/proc/net/netstat", "TcpExt: SyncookiesSent ListenOverflows ListenDrops\n"
                                    "TcpExt: 3 40 41\n");
    const auto after = NetCounters::read(SysfsReader(root.root.string()));
    CHECK(after.delta(before, "TcpExt.ListenOverflows") == 28);
    CHECK(after.delta(before, "TcpExt.SyncookiesSent") == 3);
    CHECK(after.delta(before, "Tcp.ActiveOpens") == 0); // snmp unchanged in the fixture
    CHECK(after.delta(before, "TcpExt.Nothing") == 0);

    const auto missing = NetCounters::read(SysfsReader("/nonexistent-netdx-root"));
    CHECK(missing.all().empty());
}
