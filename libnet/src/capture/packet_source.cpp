#include <array>
#include <cstdio>
#include <cstring>
#include <limits>
#include <poll.h>

#include <fmt/format.h>
#include <pcap/pcap.h>

#include <netdx/capture/packet_source.hpp>

namespace netdx::capture {

void PacketSource::Closer::operator()(pcap* p) const {
    ::pcap_close(p);
}
void PacketSource::Closer::operator()(pcap_dumper* d) const {
    ::pcap_dump_close(d);
}

namespace {

/// 10^e (e <= 18), or 2^e for binary resolutions, as ns per tick (at least 1).
Nanos ns_per_tick(std::uint8_t tsresol) {
    if (tsresol & 0x80) { // 2^-(v&0x7f) s
        const int e = tsresol & 0x7f;
        return e >= 30 ? 1 : std::max<Nanos>(1, kNanosPerSecond >> e);
    }
    Nanos ticks_per_s = 1;
    for (int i = 0; i < tsresol && ticks_per_s < kNanosPerSecond; ++i)
        ticks_per_s *= 10;
    return std::max<Nanos>(1, kNanosPerSecond / ticks_per_s);
}

std::uint32_t load32(const unsigned char* p, bool swap) {
    std::uint32_t v = 0;
    std::memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}
std::uint16_t load16(const unsigned char* p, bool swap) {
    std::uint16_t v = 0;
    std::memcpy(&v, p, 2);
    return swap ? __builtin_bswap16(v) : v;
}

/// The file's own timestamp resolution, from its header: a pcap's magic says µs or ns; a
/// pcapng's interface blocks carry if_tsresol (µs when absent). libpcap converts every
/// timestamp to the precision it was opened with and does not say what the file had.
Nanos file_resolution(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return 1;
    std::array<unsigned char, 1 << 16> head{};
    const std::size_t n = std::fread(head.data(), 1, head.size(), f);
    std::fclose(f);
    if (n < 4) return 1;
    const std::uint32_t magic = load32(head.data(), false);
    if (magic == 0xa1b2c3d4u || magic == 0xd4c3b2a1u) return kNanosPerMicro;
    if (magic == 0xa1b23c4du || magic == 0x4d3cb2a1u) return 1;
    if (magic != 0x0a0d0d0au || n < 12) return 1;
    const bool swap = load32(head.data() + 8, false) == 0x4d3c2b1au;
    // Blocks: type, total length, body, total length. Interface descriptions come before
    // the packets that use them; the walk stops at the first packet or the buffer's end.
    Nanos coarsest = 0;
    std::size_t off = 0;
    while (off + 12 <= n) {
        const std::uint32_t type = load32(head.data() + off, swap);
        const std::uint32_t len = load32(head.data() + off + 4, swap);
        if (len < 12 || len % 4 != 0 || off + len > n) break;
        if (type == 6 || type == 3 || type == 2) break; // enhanced, simple, obsolete packet
        if (type == 1 && len >= 20) {                   // interface description
            Nanos tick = kNanosPerMicro;                // no if_tsresol: 10^-6
            std::size_t o = off + 16;
            const std::size_t end = off + len - 4;
            while (o + 4 <= end) {
                const std::uint16_t code = load16(head.data() + o, swap);
                const std::uint16_t olen = load16(head.data() + o + 2, swap);
                if (code == 0) break;
                if (code == 9 && olen >= 1 && o + 5 <= end) tick = ns_per_tick(head[o + 4]);
                o += 4 + ((olen + 3u) & ~3u);
            }
            coarsest = std::max(coarsest, tick);
        }
        off += len;
    }
    return coarsest > 0 ? coarsest : kNanosPerMicro;
}

/// tv_sec values whose ns count fits an int64 (1970 to 2262).
constexpr std::int64_t kMaxSeconds = std::numeric_limits<Nanos>::max() / kNanosPerSecond - 1;

} // namespace

PacketSource::PacketSource(pcap* p, Nanos resolution, bool live)
    : pcap_(p), resolution_ns_(resolution), live_(live) {}
PacketSource::PacketSource(PacketSource&&) noexcept = default;
PacketSource& PacketSource::operator=(PacketSource&&) noexcept = default;
PacketSource::~PacketSource() = default;

PacketSource PacketSource::open_file(const std::string& path) {
    char err[PCAP_ERRBUF_SIZE] = {};
    pcap* p =
        ::pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
    if (p == nullptr)
        throw CaptureError(CaptureError::Kind::bad_input,
                           fmt::format("open capture file {}: {}", path, err));
    // Opened with nanosecond precision, libpcap hands out ns in tv_usec whatever the file
    // holds (it scales a µs file up itself); the file's own resolution is only reported.
    PacketSource src(p, path == "-" ? 1 : file_resolution(path), false);
    src.frac_unit_ns_ = ::pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1000;
    return src;
}

PacketSource PacketSource::open_live(const LiveOptions& o) {
    char err[PCAP_ERRBUF_SIZE] = {};
    pcap* p = ::pcap_create(o.interface.c_str(), err);
    if (p == nullptr)
        throw CaptureError(CaptureError::Kind::other,
                           fmt::format("capture on {}: {}", o.interface, err));
    PacketSource src(p, kNanosPerMicro, true);
    ::pcap_set_snaplen(p, o.snaplen);
    ::pcap_set_promisc(p, o.promiscuous ? 1 : 0);
    ::pcap_set_timeout(p, o.timeout_ms);
    ::pcap_set_buffer_size(p, o.buffer_bytes);
    ::pcap_set_immediate_mode(p, 1); // every frame as it comes, not in batches
    ::pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO); // where the kernel can
    const int rc = ::pcap_activate(p);
    if (rc < 0) {
        const std::string why = rc == PCAP_ERROR ? ::pcap_geterr(p) : ::pcap_statustostr(rc);
        const auto kind = rc == PCAP_ERROR_PERM_DENIED      ? CaptureError::Kind::permission
                          : rc == PCAP_ERROR_NO_SUCH_DEVICE ? CaptureError::Kind::no_such_device
                                                            : CaptureError::Kind::other;
        throw CaptureError(kind, fmt::format("capture on {}: {}", o.interface, why));
    }
    // libpcap's own read timeout does not return in immediate mode on every kernel
    // (TPACKET_V2 polls again): read without blocking and wait in poll() here instead.
    if (::pcap_setnonblock(p, 1, err) != 0)
        throw CaptureError(CaptureError::Kind::other,
                           fmt::format("capture on {}: non-blocking mode: {}", o.interface, err));
    src.timeout_ms_ = o.timeout_ms;
    const bool nano = ::pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
    src.frac_unit_ns_ = nano ? 1 : kNanosPerMicro;
    src.resolution_ns_ = nano ? 1 : kNanosPerMicro;
    return src;
}

void PacketSource::set_filter(const std::string& expression) {
    bpf_program prog{};
    if (::pcap_compile(pcap_.get(), &prog, expression.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
        throw CaptureError(CaptureError::Kind::bad_input,
                           fmt::format("filter '{}': {}", expression, ::pcap_geterr(pcap_.get())));
    const int rc = ::pcap_setfilter(pcap_.get(), &prog);
    ::pcap_freecode(&prog);
    if (rc != 0)
        throw CaptureError(
            CaptureError::Kind::other,
            fmt::format("install filter '{}': {}", expression, ::pcap_geterr(pcap_.get())));
}

void PacketSource::dump_to(const std::string& path) {
    pcap_dumper* d = ::pcap_dump_open(pcap_.get(), path.c_str());
    if (d == nullptr)
        throw CaptureError(CaptureError::Kind::output,
                           fmt::format("write {}: {}", path, ::pcap_geterr(pcap_.get())));
    dump_.reset(d);
}

PacketSource::Next PacketSource::next(Frame& out) {
    pcap_pkthdr* h = nullptr;
    const u_char* bytes = nullptr;
    int rc = ::pcap_next_ex(pcap_.get(), &h, &bytes);
    if (rc == 0 && live_) {
        pollfd pfd{::pcap_get_selectable_fd(pcap_.get()), POLLIN, 0};
        if (::poll(&pfd, 1, timeout_ms_) > 0) rc = ::pcap_next_ex(pcap_.get(), &h, &bytes);
    }
    if (rc == 0) return Next::timeout;
    if (rc < 0) {
        // The end (or a stop): what was copied is complete on disk from here.
        if (dump_) ::pcap_dump_flush(dump_.get());
        if (rc == PCAP_ERROR_BREAK) return Next::end;
        error_ = ::pcap_geterr(pcap_.get());
        return Next::error;
    }
    const std::int64_t sec = h->ts.tv_sec;
    const std::int64_t frac = h->ts.tv_usec;
    out.timestamp_ok =
        sec >= 0 && sec <= kMaxSeconds && frac >= 0 && frac < kNanosPerSecond / frac_unit_ns_;
    out.timestamp = out.timestamp_ok ? sec * kNanosPerSecond + frac * frac_unit_ns_ : 0;
    out.data = std::span(reinterpret_cast<const std::byte*>(bytes), h->caplen);
    out.wire_len = h->len;
    if (dump_) ::pcap_dump(reinterpret_cast<u_char*>(dump_.get()), h, bytes);
    return Next::frame;
}

int PacketSource::link_type() const {
    return ::pcap_datalink(pcap_.get());
}

std::string PacketSource::link_type_name() const {
    const char* n = ::pcap_datalink_val_to_name(link_type());
    return n ? n : fmt::format("DLT {}", link_type());
}

CaptureStats PacketSource::stats() const {
    CaptureStats s;
    pcap_stat ps{};
    if (live_ && ::pcap_stats(pcap_.get(), &ps) == 0) {
        s.received = ps.ps_recv;
        s.dropped = ps.ps_drop;
        s.if_dropped = ps.ps_ifdrop;
    }
    return s;
}

void PacketSource::break_loop() {
    ::pcap_breakloop(pcap_.get());
}

} // namespace netdx::capture
