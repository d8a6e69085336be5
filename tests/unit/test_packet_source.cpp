// libpcap sources: a capture file written here with nanosecond timestamps read back exactly,
// with a BPF filter, a copy written with -w semantics, and the errors (missing file, bad
// filter, truncated record, unknown interface); a live capture on loopback when privileged.
#include <cstdio>
#include <fstream>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <doctest/doctest.h>
#include <pcap/pcap.h>

#include <netdx/capture/packet_decoder.hpp>
#include <netdx/capture/packet_source.hpp>

using namespace netdx;
using namespace netdx::capture;

namespace {

/// An Ethernet + IPv4 + TCP frame from `sport` to `dport` (20-byte headers, no payload).
std::vector<u_char> frame(std::uint16_t sport, std::uint16_t dport, std::uint8_t flags) {
    std::vector<u_char> f(14 + 20 + 20, 0);
    f[12] = 0x08; // IPv4
    u_char* ip = f.data() + 14;
    ip[0] = 0x45;
    ip[3] = 40; // total length
    ip[8] = 64;
    ip[9] = 6; // TCP
    ip[12] = 127, ip[15] = 1, ip[16] = 127, ip[19] = 1;
    u_char* tcp = ip + 20;
    tcp[0] = static_cast<u_char>(sport >> 8), tcp[1] = static_cast<u_char>(sport);
    tcp[2] = static_cast<u_char>(dport >> 8), tcp[3] = static_cast<u_char>(dport);
    tcp[12] = 0x50;
    tcp[13] = flags;
    return f;
}

struct TempFile {
    std::string path;
    explicit TempFile(const char* suffix)
        : path(std::string("/tmp/netdx-capture-") + std::to_string(::getpid()) + suffix) {}
    ~TempFile() { std::remove(path.c_str()); }
};

/// Writes three frames with nanosecond timestamps 1.000000001 s apart.
void write_capture(const std::string& path) {
    pcap_t* dead =
        ::pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
    REQUIRE(dead != nullptr);
    pcap_dumper_t* d = ::pcap_dump_open(dead, path.c_str());
    REQUIRE(d != nullptr);
    const std::uint16_t ports[3][2] = {{40000, 7007}, {40001, 9999}, {7007, 40000}};
    for (int i = 0; i < 3; ++i) {
        auto f = frame(ports[i][0], ports[i][1], tcp_flag::syn);
        pcap_pkthdr h{};
        h.ts.tv_sec = 1700000000 + i;
        h.ts.tv_usec = 123456789 + i; // nanoseconds, in this precision
        h.caplen = h.len = static_cast<bpf_u_int32>(f.size());
        ::pcap_dump(reinterpret_cast<u_char*>(d), &h, f.data());
    }
    ::pcap_dump_close(d);
    ::pcap_close(dead);
}

std::vector<Frame> read_all(PacketSource& src, std::vector<std::vector<std::byte>>& keep) {
    std::vector<Frame> out;
    Frame f;
    while (src.next(f) == PacketSource::Next::frame) {
        keep.emplace_back(f.data.begin(), f.data.end());
        out.push_back(f);
    }
    return out;
}

} // namespace

TEST_CASE("a capture file is read back to the nanosecond, filtered, and copied") {
    TempFile file(".pcap"), copy(".copy.pcap");
    write_capture(file.path);
    auto src = PacketSource::open_file(file.path);
    CHECK(src.link_type() == link::en10mb);
    CHECK(src.link_type_name() == "EN10MB");
    CHECK(src.resolution_ns() == 1);
    src.dump_to(copy.path);
    std::vector<std::vector<std::byte>> keep;
    const auto frames = read_all(src, keep);
    REQUIRE(frames.size() == 3);
    CHECK(frames[0].timestamp == 1700000000LL * 1'000'000'000 + 123456789);
    CHECK(frames[2].timestamp - frames[1].timestamp == 1'000'000'001);
    CHECK(frames[1].wire_len == 54);
    const auto d = decode_frame(src.link_type(), keep[1]);
    REQUIRE(d.skip == Skip::none);
    CHECK(d.tcp.dport == 9999);

    auto filtered = PacketSource::open_file(file.path);
    filtered.set_filter("tcp port 7007");
    std::vector<std::vector<std::byte>> keep2;
    CHECK(read_all(filtered, keep2).size() == 2); // the 9999 one is filtered out

    src = PacketSource::open_file(copy.path); // the copy holds what was read, all three
    std::vector<std::vector<std::byte>> keep3;
    const auto copied = read_all(src, keep3);
    REQUIRE(copied.size() == 3);
    CHECK(copied[0].timestamp == frames[0].timestamp);
}

TEST_CASE("a microsecond pcap (tcpdump's default) gives the same instants in ns, not 1000x") {
    TempFile file(".us.pcap");
    pcap_t* dead = ::pcap_open_dead(DLT_EN10MB, 65535); // microsecond precision
    REQUIRE(dead != nullptr);
    pcap_dumper_t* d = ::pcap_dump_open(dead, file.path.c_str());
    REQUIRE(d != nullptr);
    for (int i = 0; i < 2; ++i) {
        auto f = frame(40000, 7007, tcp_flag::syn);
        pcap_pkthdr h{};
        h.ts.tv_sec = 1700000000;
        h.ts.tv_usec = 21 + 999'000 * i; // 21 us, then 999.021 ms
        h.caplen = h.len = static_cast<bpf_u_int32>(f.size());
        ::pcap_dump(reinterpret_cast<u_char*>(d), &h, f.data());
    }
    ::pcap_dump_close(d);
    ::pcap_close(dead);
    auto src = PacketSource::open_file(file.path);
    CHECK(src.resolution_ns() == 1000);
    std::vector<std::vector<std::byte>> keep;
    const auto frames = read_all(src, keep);
    REQUIRE(frames.size() == 2);
    CHECK(frames[0].timestamp_ok);
    CHECK(frames[0].timestamp == 1700000000LL * 1'000'000'000 + 21'000);
    CHECK(frames[1].timestamp - frames[0].timestamp == 999'000'000);
}

TEST_CASE("capture errors say what failed") {
    try {
        (void)PacketSource::open_file("/nonexistent/x.pcap");
        FAIL("opened a missing file");
    } catch (const CaptureError& e) {
        CHECK(std::string(e.what()).find("/nonexistent/x.pcap") != std::string::npos);
        CHECK(e.kind() == CaptureError::Kind::bad_input);
    }
    TempFile file(".pcap");
    write_capture(file.path);
    auto src = PacketSource::open_file(file.path);
    try {
        src.set_filter("tcp port");
        FAIL("accepted a bad filter");
    } catch (const CaptureError& e) {
        CHECK(std::string(e.what()).find("filter 'tcp port'") != std::string::npos);
    }
    // Cut the file in the middle of its last record: the first two frames, then an error.
    {
        std::ifstream in(file.path, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), {});
        std::ofstream(file.path, std::ios::binary | std::ios::trunc)
            .write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 20));
    }
    auto cut = PacketSource::open_file(file.path);
    Frame f;
    CHECK(cut.next(f) == PacketSource::Next::frame);
    CHECK(cut.next(f) == PacketSource::Next::frame);
    CHECK(cut.next(f) == PacketSource::Next::error);
    CHECK_FALSE(cut.error().empty());
    // Not a capture at all.
    { std::ofstream(file.path, std::ios::trunc) << "this is not a capture file\n"; }
    CHECK_THROWS_AS((void)PacketSource::open_file(file.path), CaptureError);
    try {
        (void)PacketSource::open_live({"netdx-no-such-if0"});
        FAIL("opened a missing interface");
    } catch (const CaptureError& e) {
        CHECK(std::string(e.what()).find("netdx-no-such-if0") != std::string::npos);
        CHECK(e.kind() != CaptureError::Kind::bad_input);
    }
}

TEST_CASE("a live capture on loopback (root only)") {
    if (::geteuid() != 0) {
        MESSAGE("not root: live capture not tested here (CI runs as root)");
        return;
    }
    LiveOptions o;
    o.interface = "lo";
    o.timeout_ms = 20;
    auto src = PacketSource::open_live(o);
    CHECK(src.live());
    CHECK(src.link_type() == link::en10mb); // Linux loopback is Ethernet-framed
    src.set_filter("udp port 9");
    // Send a datagram to the discard port on loopback and see it.
    const int s = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(9);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool seen = false;
    for (int i = 0; i < 50 && !seen; ++i) {
        ::sendto(s, "x", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
        Frame f;
        const auto r = src.next(f);
        seen = r == PacketSource::Next::frame;
        if (seen) CHECK(decode_frame(src.link_type(), f.data).skip == Skip::not_tcp);
    }
    ::close(s);
    CHECK(seen);
    CHECK(src.stats().received >= 1);
}
