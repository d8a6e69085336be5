#include <charconv>
#include <sstream>
#include <string>

#include <netdx/sys/capabilities.hpp>

namespace netdx {

std::string_view capability_name(Capability cap) {
    switch (cap) {
    case Capability::net_bind_service:
        return "CAP_NET_BIND_SERVICE";
    case Capability::net_admin:
        return "CAP_NET_ADMIN";
    case Capability::net_raw:
        return "CAP_NET_RAW";
    case Capability::sys_admin:
        return "CAP_SYS_ADMIN";
    case Capability::sys_resource:
        return "CAP_SYS_RESOURCE";
    }
    return "CAP_?";
}

std::optional<CapabilitySet> read_capabilities(const SysfsReader& fs,
                                               std::string_view status_path) {
    auto status = fs.read(status_path);
    if (!status) return std::nullopt;
    CapabilitySet caps;
    bool have_eff = false;
    std::istringstream in(*status);
    std::string line;
    auto parse_hex = [](const std::string& text, std::uint64_t& out) {
        const auto start = text.find_first_not_of(" \t");
        if (start == std::string::npos) return false;
        auto [end, ec] = std::from_chars(text.data() + start, text.data() + text.size(), out, 16);
        return ec == std::errc{};
    };
    while (std::getline(in, line)) {
        if (line.rfind("CapEff:", 0) == 0)
            have_eff = parse_hex(line.substr(7), caps.effective);
        else if (line.rfind("CapPrm:", 0) == 0)
            parse_hex(line.substr(7), caps.permitted);
    }
    if (!have_eff) return std::nullopt;
    return caps;
}

} // namespace netdx
