// libFuzzer target: the frame decoder and the connection tracker on arbitrary input.
//
// Input layout (seeds are made from the fixture captures by run_fuzz.py):
//
//   byte 0        link type, an index into kLinks
//   then frames   [u16 length, little endian][u16 time step in us][length bytes] ...
//
// Everything a record exposes is computed for every connection handed out, so ASan and
// UBSan see the derived fields too. Built with clang (-fsanitize=fuzzer,address,undefined).
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include <netdx/capture/connection_tracker.hpp>
#include <netdx/capture/packet_decoder.hpp>

using namespace netdx;
using namespace netdx::capture;

namespace {

constexpr std::array<int, 10> kLinks{
    link::en10mb, link::linux_sll, link::linux_sll2, link::null,    link::loop,
    link::raw,    link::ipv4,      link::ipv6,       link::raw_alt, 147 /* unsupported */};

volatile std::uint64_t sink_total = 0;

void consume(const Connection& c) {
    std::uint64_t v = c.id + static_cast<std::uint64_t>(c.state()) +
                      static_cast<std::uint64_t>(c.closer()) +
                      static_cast<std::uint64_t>(c.time_wait_side()) +
                      static_cast<std::uint64_t>(c.close_kind()) +
                      static_cast<std::uint64_t>(c.rst_by()) + c.history().size();
    v += static_cast<std::uint64_t>(c.half_close_ns() + c.duration_ns() + c.syn_to_synack(true) +
                                    c.syn_to_synack(false) + c.synack_to_ack() +
                                    c.handshake_ns(true) + c.handshake_ns(false));
    v += c.syn_retransmits() + c.synack_retransmits();
    for (const auto s : {Side::orig, Side::resp}) {
        v += c.address(s).to_string().size() + c.port_of(s);
        v += static_cast<std::uint64_t>(c.fin_ts(s) + c.rst_ts(s));
        v += c.of(s).bytes + c.of(s).packets;
    }
    sink_total = sink_total + v;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const int dlt = kLinks[data[0] % kLinks.size()];
    TrackerOptions opt;
    opt.linger = 1000 * kNanosPerMicro;
    ConnectionTracker tracker(consume, opt);
    tracker.set_observer([](const Connection& c, const TcpPacket& p, Nanos, const PacketEvent& e) {
        sink_total = sink_total + c.history_len + p.payload + (e.retransmission ? 1 : 0);
    });
    Nanos ts = 1'700'000'000LL * kNanosPerSecond;
    std::size_t at = 1;
    while (at + 4 <= size) {
        std::uint16_t len = 0, step = 0;
        std::memcpy(&len, data + at, 2);
        std::memcpy(&step, data + at + 2, 2);
        at += 4;
        const std::size_t n = std::min<std::size_t>(len, size - at);
        ts += Nanos{step} * kNanosPerMicro;
        const auto d =
            decode_frame(dlt, std::span(reinterpret_cast<const std::byte*>(data + at), n));
        if (d.skip == Skip::none) tracker.add(ts, d.tcp);
        sink_total = sink_total + skip_key(d.skip).size();
        at += n;
        if ((step & 0x7) == 7) tracker.expire(ts);
    }
    tracker.finish();
    return 0;
}
