#pragma once
/// Frames from libpcap: a capture file (pcap or pcapng, timestamps kept to the nanosecond) or
/// a live interface (immediate mode, nanosecond timestamps where the platform has them), with
/// an optional BPF filter and an optional copy of what was read written to a file (-w).
///
/// Errors are thrown as CaptureError, with libpcap's own message and the step that failed
/// ("open capture file x.pcap: truncated dump file ..."); a missing privilege is its own
/// kind, so a tool can exit 77 and name the capability. A frame that cannot be read
/// mid-file (truncated record, a pcapng interface of another link type) is Next::error with
/// the message: the caller decides whether to stop.
///
/// Ownership: the source owns its pcap_t and dump file. Thread safety: one thread reads;
/// break_loop() may be called from another thread or a signal handler.

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

#include <netdx/sys/clock.hpp>

struct pcap;
struct pcap_dumper;

namespace netdx::capture {

class CaptureError : public std::runtime_error {
public:
    /// output: the -w copy could not be created (the input itself is fine).
    enum class Kind { permission, no_such_device, bad_input, output, other };
    CaptureError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
    [[nodiscard]] Kind kind() const { return kind_; }

private:
    Kind kind_;
};

struct Frame {
    /// Since the epoch, in ns whatever the file's resolution (a µs file gives multiples of
    /// 1000). Valid only with `timestamp_ok`.
    Nanos timestamp = 0;
    /// False when the frame's time cannot be held in 64-bit ns since 1970 (before 1970 or
    /// after 2262: a pcapng if_tsoffset or a garbage record): `timestamp` is then 0, and the
    /// caller skips the frame rather than compute with a wrapped time.
    bool timestamp_ok = true;
    std::span<const std::byte> data;
    std::uint32_t wire_len = 0; ///< data.size() is the captured length
};

struct LiveOptions {
    std::string interface;
    int snaplen = 256; ///< enough for link + IP + TCP headers with options
    bool promiscuous = false;
    int buffer_bytes = 4 << 20;
    int timeout_ms = 100; ///< how often next() returns timeout when nothing arrives
};

struct CaptureStats {
    std::uint64_t received = 0; ///< ps_recv
    std::uint64_t dropped = 0;  ///< ps_drop: the kernel's buffer was full
    std::uint64_t if_dropped = 0;
};

class PacketSource {
public:
    [[nodiscard]] static PacketSource open_file(const std::string& path);
    [[nodiscard]] static PacketSource open_live(const LiveOptions& options);

    PacketSource(PacketSource&&) noexcept;
    PacketSource& operator=(PacketSource&&) noexcept;
    ~PacketSource();

    /// Compiles and installs a BPF filter (tcpdump syntax); throws naming the expression.
    void set_filter(const std::string& expression);
    /// Also writes every frame read to `path` (pcap, same precision and link type),
    /// flushed when the source ends, fails, or is destroyed.
    void dump_to(const std::string& path);

    enum class Next { frame, timeout, end, error };
    /// The next frame (valid until the next call), timeout (live, nothing yet), end (of
    /// the file, or break_loop()), or error (see error()).
    Next next(Frame& out);

    [[nodiscard]] int link_type() const;
    [[nodiscard]] std::string link_type_name() const;
    /// The finest time step the source records, in ns: 1000 for a microsecond pcap (what
    /// tcpdump writes by default) or a live capture the kernel stamps in µs, 1 for a
    /// nanosecond pcap, the interfaces' if_tsresol for pcapng (the coarsest of them). Frame
    /// timestamps are ns either way; this says how many of their digits are real.
    [[nodiscard]] Nanos resolution_ns() const { return resolution_ns_; }
    [[nodiscard]] bool live() const { return live_; }
    [[nodiscard]] const std::string& error() const { return error_; }
    /// Live captures only (files have no drops).
    [[nodiscard]] CaptureStats stats() const;
    void break_loop();

private:
    struct Closer {
        void operator()(pcap* p) const;
        void operator()(pcap_dumper* d) const;
    };
    PacketSource(pcap* p, Nanos resolution, bool live);
    std::unique_ptr<pcap, Closer> pcap_;
    std::unique_ptr<pcap_dumper, Closer> dump_;
    /// What pcap_pkthdr's tv_usec counts: ns when libpcap was asked for nanosecond
    /// precision (files always are; a live capture when the kernel can), else µs.
    Nanos frac_unit_ns_ = 1;
    Nanos resolution_ns_ = 1;
    bool live_ = false;
    int timeout_ms_ = 100; ///< live: how long next() waits before returning timeout
    std::string error_;
};

} // namespace netdx::capture
