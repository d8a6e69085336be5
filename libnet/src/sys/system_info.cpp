#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sched.h>
#include <sstream>
#include <sys/utsname.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <netdx/sys/system_info.hpp>
#include <netdx/sys/text.hpp>

namespace netdx {

namespace {

std::string cpuinfo_field(const std::string& cpuinfo, std::string_view key) {
    std::istringstream in(cpuinfo);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(key, 0) != 0) continue;
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        const auto start = line.find_first_not_of(" \t", colon + 1);
        return start == std::string::npos ? std::string{} : line.substr(start);
    }
    return {};
}

} // namespace

std::string detect_virtualization(const SysfsReader& fs) {
    // Containers first: a container on a VM is still, to the user, a container.
    if (fs.exists("/.dockerenv")) return "container (docker)";
    if (fs.exists("/run/.containerenv")) return "container (podman)";
    if (auto env = fs.read("/proc/1/environ"); env && env->find("container=") != std::string::npos)
        return "container";
    if (auto type = fs.read_line("/sys/hypervisor/type"); type && !type->empty()) return *type;
    const auto vendor = to_lower(fs.read_line("/sys/class/dmi/id/sys_vendor").value_or(""));
    const auto product = to_lower(fs.read_line("/sys/class/dmi/id/product_name").value_or(""));
    struct Known {
        std::string_view needle;
        std::string_view name;
    };
    constexpr Known known[] = {{"qemu", "kvm"},           {"kvm", "kvm"},
                               {"vmware", "vmware"},      {"virtualbox", "virtualbox"},
                               {"innotek", "virtualbox"}, {"xen", "xen"},
                               {"microsoft", "hyper-v"},  {"amazon ec2", "aws"},
                               {"google", "gce"},         {"firecracker", "firecracker"}};
    for (const auto& k : known) {
        if (vendor.find(k.needle) != std::string::npos ||
            product.find(k.needle) != std::string::npos)
            return std::string(k.name);
    }
    if (auto cpuinfo = fs.read("/proc/cpuinfo")) {
        const auto flags = cpuinfo_field(*cpuinfo, "flags");
        if ((" " + flags + " ").find(" hypervisor ") != std::string::npos) return "vm (unknown)";
        return "none";
    }
    return "unknown";
}

std::string format_cpu_list(std::span<const int> cpus) {
    std::string s;
    for (int c : cpus)
        s += (s.empty() ? "" : ",") + (c < 0 ? std::string("?") : std::to_string(c));
    return s.empty() ? std::string("unknown") : s;
}

SystemInfo read_system_info(const SysfsReader& fs) {
    SystemInfo info;
    utsname u{};
    if (::uname(&u) == 0) {
        info.kernel = fmt::format("{} {}", u.sysname, u.release);
        info.hostname = u.nodename;
    }
    if (auto cpuinfo = fs.read("/proc/cpuinfo"))
        info.cpu_model = cpuinfo_field(*cpuinfo, "model name");
    info.online_cpus = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
    cpu_set_t set;
    CPU_ZERO(&set);
    info.usable_cpus =
        ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : info.online_cpus;
    info.clock_source =
        fs.read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .value_or("");
    info.virtualization = detect_virtualization(fs);
    return info;
}

std::string cpu_mitigations(const SysfsReader& fs) {
    constexpr std::string_view kDir = "/sys/devices/system/cpu/vulnerabilities";
    std::error_code ec;
    std::vector<std::string> on;
    std::size_t total = 0;
    for (const auto& e : std::filesystem::directory_iterator(fs.resolve(kDir), ec)) {
        ++total;
        const auto name = e.path().filename().string();
        const auto state = fs.read_line(std::string(kDir) + "/" + name);
        if (state && state->starts_with("Mitigation")) on.push_back(name);
    }
    if (total == 0) return "unknown";
    std::sort(on.begin(), on.end());
    return fmt::format("{} of {} mitigated{}{}", on.size(), total, on.empty() ? "" : ": ",
                       fmt::join(on, ", "));
}

} // namespace netdx
