#include <algorithm>
#include <cstring>
#include <linux/inet_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <netdx/inspect/diag_filter.hpp>

namespace netdx {

namespace {

/// An IPv4 prefix tested against an IPv6 address: only IPv4-mapped addresses can match.
std::optional<IpAddress> unmapped_v4(const IpAddress& ip) {
    if (!ip.is_v6()) return std::nullopt;
    static constexpr std::uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(ip.bytes(), kPrefix, sizeof kPrefix) != 0) return std::nullopt;
    std::uint32_t v4 = 0;
    std::memcpy(&v4, ip.bytes() + 12, 4);
    return IpAddress::v4(ntohl(v4));
}

bool prefix_matches(const Cidr& c, const IpAddress& ip) {
    if (c.contains(ip)) return true;
    if (!c.network.is_v4()) return false;
    const auto v4 = unmapped_v4(ip);
    return v4 && c.contains(*v4);
}

/// Appends ops to `code`; `no` targets are patched once the program's length is known.
class Assembler {
public:
    void port_test(std::uint8_t code, std::uint32_t port) {
        begin();
        op(code, 8);
        inet_diag_bc_op value{};
        value.no = static_cast<unsigned short>(port); // the operand rides in `no`
        append(&value, sizeof value);
    }
    /// Local port == one of `ports`. Per port (20 bytes; every kernel has these ops):
    ///
    ///   | S_GE p | S_LE p | JMP |     GE fails, or LE fails: on to the next port (the
    ///     yes +8   yes +8   no: ->     last port's: the reject); both hold: JMP, whose
    ///                       chain end  16-bit `no` reaches the chain's end (`yes` is 8 bits)
    ///
    /// Every op's `yes` is its own length, so every jump lands where the kernel's audit
    /// (valid_cc walks the `yes` chain) accepts it.
    void any_local_port(const std::vector<std::uint16_t>& ports) {
        const std::size_t n = ports.size();
        for (std::size_t i = 0; i < n; ++i) {
            const bool last = i + 1 == n;
            chain_op(INET_DIAG_BC_S_GE, 8, last ? 0 : 20, ports[i]);
            chain_op(INET_DIAG_BC_S_LE, 8, last ? 0 : 12, ports[i]);
            inet_diag_bc_op jmp{};
            jmp.code = INET_DIAG_BC_JMP;
            jmp.yes = 4;
            jmp.no = static_cast<unsigned short>(20 * (n - i) - 16);
            append(&jmp, sizeof jmp);
        }
    }
    void prefix_test(std::uint8_t code, const Cidr& c) {
        begin();
        const std::size_t addr_len = c.network.size();
        op(code, static_cast<unsigned char>(sizeof(inet_diag_bc_op) + sizeof(inet_diag_hostcond) +
                                            addr_len));
        inet_diag_hostcond cond{};
        cond.family = static_cast<std::uint8_t>(c.network.is_v4() ? AF_INET : AF_INET6);
        cond.prefix_len = static_cast<std::uint8_t>(c.prefix_len);
        cond.port = -1; // any port
        append(&cond, sizeof cond);
        append(c.network.bytes(), addr_len); // network byte order, as IpAddress stores it
    }
    std::vector<std::byte> finish() {
        // Every `no` left open jumps to 4 bytes past the end: rejected.
        for (const auto at : ops_) {
            inet_diag_bc_op o;
            std::memcpy(&o, code_.data() + at, sizeof o);
            o.no = static_cast<unsigned short>(code_.size() - at + 4);
            std::memcpy(code_.data() + at, &o, sizeof o);
        }
        return std::move(code_);
    }

private:
    void begin() { ops_.push_back(code_.size()); }
    /// A test with its `yes` given, and its `no` too unless 0 (then the reject, at finish).
    void chain_op(std::uint8_t code, unsigned short yes, unsigned short no, std::uint16_t port) {
        if (no == 0) begin();
        inet_diag_bc_op o{};
        o.code = code;
        o.yes = static_cast<unsigned char>(yes);
        o.no = no;
        append(&o, sizeof o);
        inet_diag_bc_op value{};
        value.no = port;
        append(&value, sizeof value);
    }
    void op(std::uint8_t code, unsigned char yes) {
        inet_diag_bc_op o{};
        o.code = code;
        o.yes = yes;
        append(&o, sizeof o);
    }
    void append(const void* p, std::size_t n) {
        const auto* b = static_cast<const std::byte*>(p);
        code_.insert(code_.end(), b, b + n);
    }
    std::vector<std::byte> code_;
    std::vector<std::size_t> ops_;
};

} // namespace

bool DiagFilter::can_match(int family) const {
    for (const auto& c : {src, dst})
        if (c && family == AF_INET && !c->network.is_v4()) return false;
    return true;
}

bool DiagFilter::matches(const TcpSocket& s) const {
    if (sport && !sport->contains(s.local.port())) return false;
    if (!sport_any.empty() &&
        std::find(sport_any.begin(), sport_any.end(), s.local.port()) == sport_any.end())
        return false;
    if (dport && !dport->contains(s.remote.port())) return false;
    if (src && !prefix_matches(*src, s.local.ip())) return false;
    if (dst && !prefix_matches(*dst, s.remote.ip())) return false;
    return true;
}

std::vector<std::byte> compile_diag_filter(const DiagFilter& f) {
    Assembler a;
    if (f.sport) {
        a.port_test(INET_DIAG_BC_S_GE, f.sport->low);
        a.port_test(INET_DIAG_BC_S_LE, f.sport->high);
    }
    if (f.dport) {
        a.port_test(INET_DIAG_BC_D_GE, f.dport->low);
        a.port_test(INET_DIAG_BC_D_LE, f.dport->high);
    }
    if (!f.sport_any.empty()) a.any_local_port(f.sport_any);
    // Even a /0 prefix is tested: it still says the family (0.0.0.0/0 is every IPv4 socket).
    if (f.src) a.prefix_test(INET_DIAG_BC_S_COND, *f.src);
    if (f.dst) a.prefix_test(INET_DIAG_BC_D_COND, *f.dst);
    return a.finish();
}

} // namespace netdx
