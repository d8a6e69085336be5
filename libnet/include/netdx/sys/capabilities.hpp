#pragma once
/// The capabilities this process holds, read from /proc/self/status (no libcap needed).

#include <cstdint>
#include <optional>
#include <string_view>

#include <netdx/sys/sysctl.hpp>

namespace netdx {

enum class Capability : unsigned {
    net_bind_service = 10,
    net_admin = 12,
    net_raw = 13,
    sys_admin = 21,
    sys_resource = 24,
};

[[nodiscard]] std::string_view capability_name(Capability cap);

struct CapabilitySet {
    std::uint64_t effective = 0;
    std::uint64_t permitted = 0;
    [[nodiscard]] bool has(Capability cap) const {
        return (effective >> static_cast<unsigned>(cap)) & 1u;
    }
};

/// Capabilities of the process whose status file is `status_path` (default: this process).
[[nodiscard]] std::optional<CapabilitySet>
read_capabilities(const SysfsReader& fs = SysfsReader{},
                  std::string_view status_path = "/proc/self/status");

} // namespace netdx
