#pragma once
// The ladder view: a connection's packets drawn as arrows between two columns (the two
// ends), with flags, sequence numbers relative to each side's ISN, times, retransmissions,
// and the TCP state each side is in after each packet.
//
//   time          delta     127.0.0.1:41234                             127.0.0.1:8080
//   0.000000000             SYN_SENT     -- SYN seq=0 mss=65495 ---->   LISTEN
//   0.000021000   +21us     ESTABLISHED  <---- SYN/ACK seq=0 ack=1 --   SYN_RCVD
//
// Column widths come from the longest label and address of the ladder, so nothing breaks
// the alignment.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <netdx/capture/connection_tracker.hpp>
#include <netdx/net/ip_address.hpp>

namespace netdx::trace {

/// Which connections get a ladder. Terms (comma-separated): #N (connection number), PORT
/// (either end), ADDR, ADDR:PORT or [V6]:PORT (either end), a conn_state (REJ, SF …), rst,
/// retransmission. Terms of one kind are alternatives, kinds must all match:
/// "7001,7002,REJ" is a refused connection on either port. Empty: all.
class LadderFilter {
public:
    /// Throws ParseError naming the bad term.
    [[nodiscard]] static LadderFilter parse(std::string_view text);
    /// Terms known while the connection is open (number, ports, addresses).
    [[nodiscard]] bool may_match(const capture::Connection& c) const;
    /// Every term, on the finished record.
    [[nodiscard]] bool matches(const capture::Connection& c) const;

private:
    struct Term {
        enum class Kind { id, port, address, endpoint, state, rst, retransmission } kind;
        std::uint64_t number = 0;
        IpAddress address;
        capture::ConnState state = capture::ConnState::OTH;
    };
    [[nodiscard]] static bool term_matches(const Term& t, const capture::Connection& c);
    [[nodiscard]] bool check(const capture::Connection& c, bool final) const;
    std::vector<Term> terms_;
};

class LadderRecorder {
public:
    /// `max_ladders`: how many connections to draw (0: all); `max_steps`: packets drawn per
    /// connection (the rest are counted).
    LadderRecorder(LadderFilter filter, std::uint64_t max_ladders, std::size_t max_steps);

    void on_packet(const capture::Connection& c, const capture::TcpPacket& p, Nanos ts,
                   const capture::PacketEvent& ev);
    /// The drawing when the ended connection `c` was chosen; "" otherwise.
    [[nodiscard]] std::string on_end(const capture::Connection& c);
    /// The same steps as JSON members for the connection's record ("ladder":[{...}],
    /// "ladder_not_drawn":N) when `c` was chosen; "" otherwise.
    [[nodiscard]] std::string on_end_json(const capture::Connection& c);
    /// Drops what was recorded for `c` (it ended and is not shown).
    void forget(const capture::Connection& c) { open_.erase(c.id); }
    [[nodiscard]] std::uint64_t drawn() const { return drawn_; }

private:
    struct Step {
        Nanos ts = 0;
        std::uint32_t seq = 0, ack = 0, len = 0;
        std::uint16_t window = 0, mss = 0;
        std::uint8_t flags = 0, wscale = 0xff;
        bool sack = false, timestamps = false, retransmission = false;
        capture::Side from = capture::Side::orig;
        TcpState orig_after = TcpState::closed, resp_after = TcpState::closed;
    };
    struct Drawing {
        std::vector<Step> steps;
        std::uint64_t not_drawn = 0;
        TcpState resp_before = TcpState::closed;
    };
    /// The chosen connection's steps (nullopt when it was not chosen), states fixed up.
    std::optional<Drawing> take(const capture::Connection& c);
    LadderFilter filter_;
    std::uint64_t max_ladders_;
    std::size_t max_steps_;
    std::uint64_t drawn_ = 0;
    std::unordered_map<std::uint32_t, Drawing> open_; ///< by connection id
};

/// "ESTABLISHED", "FIN_WAIT_1", "SYN_RCVD" …
[[nodiscard]] std::string_view ladder_state_name(TcpState s);

} // namespace netdx::trace
