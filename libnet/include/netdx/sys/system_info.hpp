#pragma once
/// What machine this is: kernel, CPU, clock source, virtualisation. Recorded in every report
/// so numbers can be compared across machines.

#include <span>
#include <string>

#include <netdx/sys/sysctl.hpp>

namespace netdx {

struct SystemInfo {
    std::string kernel; ///< "Linux 6.1.0-18-amd64"
    std::string hostname;
    std::string cpu_model;      ///< from /proc/cpuinfo, "" when unknown
    int online_cpus = 0;        ///< sysconf(_SC_NPROCESSORS_ONLN)
    int usable_cpus = 0;        ///< CPUs in this process's affinity mask
    std::string clock_source;   ///< current clocksource, "" when unknown
    std::string virtualization; ///< "none", "kvm", "container", … ("unknown" when unsure)
};

[[nodiscard]] SystemInfo read_system_info(const SysfsReader& fs = SysfsReader{});

/// CPUs as a report shows them: "0,1"; an unknown one (-1) is "?", an empty list "unknown".
[[nodiscard]] std::string format_cpu_list(std::span<const int> cpus);

/// The CPU vulnerabilities the kernel mitigates (/sys/devices/system/cpu/vulnerabilities):
/// "3 of 19 mitigated: meltdown, spectre_v1, spectre_v2", or "unknown". Not part of
/// read_system_info(): it reads a file per vulnerability, and only benchmarks need it.
[[nodiscard]] std::string cpu_mitigations(const SysfsReader& fs = SysfsReader{});

/// Best guess at the hypervisor or container this runs in; "none" when bare metal.
[[nodiscard]] std::string detect_virtualization(const SysfsReader& fs = SysfsReader{});

} // namespace netdx
