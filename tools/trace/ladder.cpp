#include "ladder.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include <netdx/net/host_port.hpp>
#include <netdx/report/units.hpp>
#include <netdx/sys/parse_error.hpp>
#include <netdx/sys/text.hpp>

#include "record.hpp"

namespace netdx::trace {

using capture::Connection;
using capture::Side;
namespace tf = capture::tcp_flag;

std::string_view ladder_state_name(TcpState s) {
    switch (s) {
    case TcpState::established:
        return "ESTABLISHED";
    case TcpState::syn_sent:
        return "SYN_SENT";
    case TcpState::syn_recv:
    case TcpState::new_syn_recv:
        return "SYN_RCVD";
    case TcpState::fin_wait1:
        return "FIN_WAIT_1";
    case TcpState::fin_wait2:
        return "FIN_WAIT_2";
    case TcpState::time_wait:
        return "TIME_WAIT";
    case TcpState::closed:
        return "CLOSED";
    case TcpState::close_wait:
        return "CLOSE_WAIT";
    case TcpState::last_ack:
        return "LAST_ACK";
    case TcpState::listen:
        return "LISTEN";
    case TcpState::closing:
        return "CLOSING";
    }
    return "?";
}

LadderFilter LadderFilter::parse(std::string_view text) {
    LadderFilter f;
    if (text.empty()) return f; // --ladder alone: every connection
    for (const auto& raw : split_list(text)) {
        std::string_view t = raw;
        Term term{};
        capture::ConnState st{};
        if (t == "all") continue;
        if (t == "rst") {
            term.kind = Term::Kind::rst;
        } else if (t == "retransmission" || t == "rtx") {
            term.kind = Term::Kind::retransmission;
        } else if (capture::conn_state_from_name(t, st)) {
            term.kind = Term::Kind::state;
            term.state = st;
        } else if (!t.empty() && (t[0] == '#' || std::all_of(t.begin(), t.end(), [](char c) {
                                      return c >= '0' && c <= '9';
                                  }))) {
            // "#N" is a connection number; a bare number is a port.
            const bool id = t[0] == '#';
            const auto digits = id ? t.substr(1) : t;
            if (digits.empty() || digits.size() > 9 ||
                !std::all_of(digits.begin(), digits.end(),
                             [](char c) { return c >= '0' && c <= '9'; }))
                throw ParseError(fmt::format("bad ladder filter term '{}' in '{}'", t, text));
            term.kind = id ? Term::Kind::id : Term::Kind::port;
            term.number = std::stoull(std::string(digits));
            if (!id && term.number > 65535)
                throw ParseError(fmt::format("bad port '{}' in ladder filter '{}'", t, text));
        } else if (auto a = IpAddress::from_string(t)) {
            term.kind = Term::Kind::address;
            term.address = *a;
        } else {
            HostPort hp;
            try {
                hp = parse_host_port(t, "");
            } catch (const ParseError&) {
                throw ParseError(fmt::format("bad ladder filter term '{}' in '{}' (terms: #N, "
                                             "PORT, ADDR, ADDR:PORT, a state like REJ, rst, "
                                             "retransmission)",
                                             t, text));
            }
            const auto host = IpAddress::from_string(hp.host);
            if (!host)
                throw ParseError(fmt::format("bad address '{}' in ladder filter '{}' (numeric "
                                             "addresses only)",
                                             hp.host, text));
            term.kind = Term::Kind::endpoint;
            term.address = *host;
            term.number = hp.port;
        }
        f.terms_.push_back(term);
    }
    return f;
}

bool LadderFilter::term_matches(const Term& t, const Connection& c) {
    switch (t.kind) {
    case Term::Kind::id:
        return c.id == t.number;
    case Term::Kind::port:
        return c.port[0] == t.number || c.port[1] == t.number;
    case Term::Kind::address:
        return c.address(Side::orig) == t.address || c.address(Side::resp) == t.address;
    case Term::Kind::endpoint:
        return (c.address(Side::orig) == t.address && c.port[0] == t.number) ||
               (c.address(Side::resp) == t.address && c.port[1] == t.number);
    case Term::Kind::state:
        return c.state() == t.state;
    case Term::Kind::rst:
        return c.rst_by() != capture::Closer::none;
    case Term::Kind::retransmission:
        return c.syn_retransmits() + c.synack_retransmits() + c.side[0].retransmits +
                   c.side[1].retransmits >
               0;
    }
    return false;
}

/// Terms of one kind are alternatives (7001,7002: either port); kinds must all match.
bool LadderFilter::check(const Connection& c, bool final) const {
    for (int k = 0; k <= static_cast<int>(Term::Kind::retransmission); ++k) {
        const auto kind = static_cast<Term::Kind>(k);
        const bool known_open = kind == Term::Kind::id || kind == Term::Kind::port ||
                                kind == Term::Kind::address || kind == Term::Kind::endpoint;
        if (!final && !known_open) continue;
        bool any = false, hit = false;
        for (const auto& t : terms_) {
            if (t.kind != kind) continue;
            any = true;
            hit = hit || term_matches(t, c);
        }
        if (any && !hit) return false;
    }
    return true;
}

bool LadderFilter::may_match(const Connection& c) const {
    return check(c, false);
}

bool LadderFilter::matches(const Connection& c) const {
    return check(c, true);
}

LadderRecorder::LadderRecorder(LadderFilter filter, std::uint64_t max_ladders,
                               std::size_t max_steps)
    : filter_(std::move(filter)), max_ladders_(max_ladders), max_steps_(max_steps) {}

void LadderRecorder::on_packet(const Connection& c, const capture::TcpPacket& p, Nanos ts,
                               const capture::PacketEvent& ev) {
    if (max_ladders_ != 0 && drawn_ >= max_ladders_) return;
    auto it = open_.find(c.id);
    if (it == open_.end()) {
        if (!ev.new_connection || !filter_.may_match(c)) return;
        it = open_.emplace(c.id, Drawing{}).first;
        // Before a SYN the responder listens; midstream both are already established.
        it->second.resp_before =
            c.has(Connection::midstream) ? TcpState::established : TcpState::listen;
    }
    auto& d = it->second;
    if (d.steps.size() >= max_steps_) {
        ++d.not_drawn;
        return;
    }
    const auto& me = c.of(ev.from);
    const auto& peer = c.of(other(ev.from));
    Step s;
    s.ts = ts;
    s.from = ev.from;
    s.flags = p.flags;
    s.seq = p.seq - me.isn;
    // Relative to the other side's ISN once one is known; as sent before.
    s.ack = peer.has(capture::SideState::seq_known) ? p.ack - peer.isn : p.ack;
    s.len = p.payload;
    s.window = p.window;
    s.mss = p.options.mss.value_or(0);
    s.wscale = p.options.window_scale.value_or(0xff);
    s.sack = p.options.sack_permitted;
    s.timestamps = p.options.ts_value.has_value();
    s.retransmission = ev.retransmission;
    s.orig_after = c.of(Side::orig).tcp;
    s.resp_after = c.of(Side::resp).tcp;
    d.steps.push_back(s);
}

namespace {

std::string flags_text(std::uint8_t f) {
    std::string out;
    auto add = [&](std::uint8_t bit, const char* name) {
        if (f & bit) out += (out.empty() ? "" : "/") + std::string(name);
    };
    add(tf::syn, "SYN");
    add(tf::fin, "FIN");
    add(tf::rst, "RST");
    add(tf::psh, "PSH");
    add(tf::urg, "URG");
    add(tf::ece, "ECE");
    add(tf::cwr, "CWR");
    add(tf::ack, "ACK");
    return out.empty() ? "none" : out;
}

std::string time_text(Nanos ns) {
    return fmt::format("{}.{:09}", ns / kNanosPerSecond, ns % kNanosPerSecond);
}

} // namespace

std::optional<LadderRecorder::Drawing> LadderRecorder::take(const Connection& c) {
    const auto it = open_.find(c.id);
    if (it == open_.end()) return std::nullopt;
    Drawing d = std::move(it->second);
    open_.erase(it);
    if (!filter_.matches(c) || (max_ladders_ != 0 && drawn_ >= max_ladders_)) return std::nullopt;
    ++drawn_;
    if (c.state() == capture::ConnState::REJ) {
        // Refused: nothing listened; the packets alone could not tell while they came.
        d.resp_before = TcpState::closed;
        for (auto& s : d.steps)
            if (s.resp_after == TcpState::listen) s.resp_after = TcpState::closed;
    }
    return d;
}

std::string LadderRecorder::on_end_json(const Connection& c) {
    const auto d = take(c);
    if (!d) return "";
    std::string out = R"("ladder":[)";
    Nanos prev = c.first_ts;
    for (std::size_t i = 0; i < d->steps.size(); ++i) {
        const auto& s = d->steps[i];
        if (i) out += ',';
        out += fmt::format(
            R"({{"t_ns":{},"delta_ns":{},"from":"{}","flags":"{}","seq":{},"ack":{},"len":{},)"
            R"("win":{},"retransmission":{},"orig_state":"{}","resp_state":"{}")",
            s.ts - c.first_ts, s.ts - prev, s.from == Side::orig ? "orig" : "resp",
            flags_text(s.flags), s.seq, (s.flags & tf::ack) ? fmt::format("{}", s.ack) : "null",
            s.len, s.window, s.retransmission, ladder_state_name(s.orig_after),
            ladder_state_name(s.resp_after));
        if (s.mss) out += fmt::format(R"(,"mss":{})", s.mss);
        if (s.wscale != 0xff) out += fmt::format(R"(,"wscale":{})", s.wscale);
        if (s.flags & tf::syn)
            out += fmt::format(R"(,"sack":{},"timestamps":{})", s.sack, s.timestamps);
        out += '}';
        prev = s.ts;
    }
    out += fmt::format(R"(],"ladder_not_drawn":{})", d->not_drawn);
    return out;
}

std::string LadderRecorder::on_end(const Connection& c) {
    const auto taken = take(c);
    if (!taken) return "";
    const Drawing& d = *taken;

    std::vector<std::string> labels;
    for (const auto& s : d.steps) {
        std::string l = flags_text(s.flags) + fmt::format(" seq={}", s.seq);
        if (s.flags & tf::ack) l += fmt::format(" ack={}", s.ack);
        if (s.len > 0) l += fmt::format(" len={}", s.len);
        l += fmt::format(" win={}", s.window);
        if (s.mss) l += fmt::format(" mss={}", s.mss);
        if (s.wscale != 0xff) l += fmt::format(" ws={}", s.wscale);
        if (s.sack) l += " sack";
        if (s.timestamps) l += " ts";
        if (s.retransmission) l += " [retransmission]";
        labels.push_back(std::move(l));
    }
    const auto orig = endpoint_text(c, Side::orig);
    const auto resp = endpoint_text(c, Side::resp);
    std::size_t mid = 12;
    for (const auto& l : labels)
        mid = std::max(mid, l.size() + 6);
    const std::size_t left = std::max<std::size_t>(orig.size(), 11);
    const std::size_t tw = 15, dw = 10;

    std::string out =
        fmt::format("#{} {} -> {}  {}  {}  closer: {}{}\n", c.id, orig, resp,
                    conn_state_name(c.state()), c.history(), closer_name(c.closer()),
                    c.time_wait_side() == capture::Closer::none
                        ? ""
                        : fmt::format(" (TIME_WAIT: {})", closer_name(c.time_wait_side())));
    out += fmt::format("{:<{}} {:<{}} {:<{}}  {:<{}}  {}\n", "time", tw, "delta", dw, orig, left,
                       "", mid, resp);
    if (!d.steps.empty() && !c.has(Connection::midstream))
        out += fmt::format("{:<{}} {:<{}} {:<{}}  {:<{}}  {}\n", "", tw, "", dw, "CLOSED", left, "",
                           mid, ladder_state_name(d.resp_before));
    Nanos prev = 0;
    for (std::size_t i = 0; i < d.steps.size(); ++i) {
        const auto& s = d.steps[i];
        const auto& l = labels[i];
        std::string arrow;
        if (s.from == Side::orig)
            arrow = "-- " + l + " " + std::string(mid - l.size() - 5, '-') + ">";
        else
            arrow = "<" + std::string(mid - l.size() - 5, '-') + " " + l + " --";
        const std::string delta =
            i == 0 ? "" : "+" + format_duration(static_cast<double>(s.ts - prev));
        out += fmt::format("{:<{}} {:<{}} {:<{}}  {}  {}\n", time_text(s.ts - c.first_ts), tw,
                           delta, dw, ladder_state_name(s.orig_after), left, arrow,
                           ladder_state_name(s.resp_after));
        prev = s.ts;
    }
    if (d.not_drawn > 0)
        out += fmt::format("… {} more packets not drawn (--ladder-packets)\n",
                           format_count(d.not_drawn));
    out += '\n';
    return out;
}

} // namespace netdx::trace
