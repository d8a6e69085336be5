#pragma once
/// What netdx-probe puts on the wire, and how it recognises what comes back: the same for
/// every transport.
///
/// Every message is a slice of one long pattern, so an echo is checked byte for byte without
/// keeping a copy of what was sent. A stream transport (TCP) sends the slice alone: replies
/// come back in order, the n-th echo answers the n-th request. A datagram transport (UDP)
/// puts a header in front, and keeps a window of recent sequence numbers:
///
///   0      4          12          20                 size
///   | NDX1 | sequence | send time | pattern(seq) ... |
///
/// Thread safety: a Pattern is immutable after construction; a SeqWindow belongs to one
/// thread.

#include <cstdint>
#include <cstring>
#include <vector>

#include <netdx/sys/clock.hpp>

#include "engine.hpp"

namespace netdx::probe {

inline constexpr std::uint32_t kMagic = 0x3158444e; // "NDX1"
inline constexpr std::uint64_t kPatternStride =
    251; // prime: consecutive messages differ everywhere

/// The bytes of message `seq`: a slice of one long pattern.
class Pattern {
public:
    explicit Pattern(std::size_t size) : bytes_(size + kPatternStride + 1) {
        for (std::size_t i = 0; i < bytes_.size(); ++i)
            bytes_[i] = static_cast<char>((i * 7 + 3) & 0xff);
    }
    [[nodiscard]] const char* at(std::uint64_t seq) const {
        return bytes_.data() + seq % kPatternStride;
    }

private:
    std::vector<char> bytes_;
};

/// The first byte where a and b differ (they are known to differ).
inline std::size_t first_difference(const char* a, const char* b) {
    std::size_t i = 0;
    while (a[i] == b[i])
        ++i;
    return i;
}

/// Writes datagram `seq` (header and pattern) of `size` bytes into `out`.
inline void fill_datagram(char* out, std::size_t size, std::uint64_t seq, Nanos sent,
                          const Pattern& p) {
    std::memcpy(out + kUdpHeader, p.at(seq) + kUdpHeader, size - kUdpHeader);
    std::memcpy(out, &kMagic, 4);
    std::memcpy(out + 4, &seq, 8);
    std::memcpy(out + 12, &sent, 8);
}

enum class SeqState : std::uint8_t { free, outstanding, received, lost };

/// One request: its number, when it was meant to go (paced runs) and when it went.
struct Request {
    std::uint64_t seq = ~std::uint64_t{0};
    Nanos intended = 0;
    Nanos actual = 0;
    SeqState state = SeqState::free;
};

/// Recent datagram sequence numbers and what became of them (a window of 64Ki).
class SeqWindow {
public:
    SeqWindow() : entries_(65536) {}
    Request& slot(std::uint64_t seq) { return entries_[seq & (entries_.size() - 1)]; }
    Request* find(std::uint64_t seq) {
        Request& e = slot(seq);
        return e.seq == seq ? &e : nullptr;
    }
    [[nodiscard]] const Request* find(std::uint64_t seq) const {
        const Request& e = entries_[seq & (entries_.size() - 1)];
        return e.seq == seq ? &e : nullptr;
    }

private:
    std::vector<Request> entries_;
};

/// What a received datagram is.
enum class Datagram { ours, truncated, previous, foreign, corrupt };

/// Classifies a datagram against the sequence numbers this size sent, [first, next): with
/// `seq` its number when it has one of ours, `corrupt_at` the first differing byte when its
/// body is not the pattern (and corrupt_at stays npos for a number never sent). Shorter than
/// sent but a true prefix: truncated (inetd's echo cuts at its buffer); from before `first`:
/// a late reply to the previous size.
inline Datagram classify_datagram(const char* data, std::size_t n, std::size_t size,
                                  std::uint64_t first, std::uint64_t next, const Pattern& pattern,
                                  std::uint64_t& seq, std::size_t& corrupt_at) {
    corrupt_at = static_cast<std::size_t>(-1);
    std::uint32_t magic = 0;
    if (n < kUdpHeader) return Datagram::foreign;
    std::memcpy(&magic, data, 4);
    std::memcpy(&seq, data + 4, 8);
    if (magic != kMagic) return Datagram::foreign;
    if (seq < first) return Datagram::previous;
    if (seq >= next || n > size) return Datagram::corrupt;
    const std::size_t body = n - kUdpHeader;
    if (std::memcmp(data + kUdpHeader, pattern.at(seq) + kUdpHeader, body) != 0) {
        corrupt_at = kUdpHeader + first_difference(data + kUdpHeader, pattern.at(seq) + kUdpHeader);
        return Datagram::corrupt;
    }
    return n < size ? Datagram::truncated : Datagram::ours;
}

} // namespace netdx::probe
