#include <cstdio>
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

PacketSource::PacketSource(pcap* p, bool nano, bool live) : pcap_(p), nano_(nano), live_(live) {}
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
    // libpcap hands out nanoseconds either way; the file's own precision is in its magic
    // (a microsecond pcap says so; pcapng and stdin count as nanosecond).
    bool nano = true;
    if (path != "-") {
        if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
            std::uint32_t magic = 0;
            if (std::fread(&magic, sizeof magic, 1, f) == 1)
                nano = magic != 0xa1b2c3d4u && magic != 0xd4c3b2a1u;
            std::fclose(f);
        }
    }
    return PacketSource(p, nano, false);
}

PacketSource PacketSource::open_live(const LiveOptions& o) {
    char err[PCAP_ERRBUF_SIZE] = {};
    pcap* p = ::pcap_create(o.interface.c_str(), err);
    if (p == nullptr)
        throw CaptureError(CaptureError::Kind::other,
                           fmt::format("capture on {}: {}", o.interface, err));
    PacketSource src(p, false, true);
    ::pcap_set_snaplen(p, o.snaplen);
    ::pcap_set_promisc(p, o.promiscuous ? 1 : 0);
    ::pcap_set_timeout(p, o.timeout_ms);
    ::pcap_set_buffer_size(p, o.buffer_bytes);
    ::pcap_set_immediate_mode(p, 1); // every frame as it comes, not in batches
    src.nano_ = ::pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO) == 0;
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
        throw CaptureError(CaptureError::Kind::other,
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
    // With nanosecond precision tv_usec holds nanoseconds.
    const Nanos frac = nano_ ? h->ts.tv_usec : Nanos{h->ts.tv_usec} * 1000;
    out.timestamp = Nanos{h->ts.tv_sec} * kNanosPerSecond + frac;
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
