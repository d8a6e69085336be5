#pragma once
/// netdx doctor's checks: each reads one fact about this machine that matters for network
/// testing and says why it matters and, when it is a problem, how to fix it.

#include <optional>
#include <string>
#include <vector>

#include <netdx/sys/sysctl.hpp>

namespace netdx::doctor {

enum class Status { ok, info, warn, absent };

struct Check {
    std::string key;              ///< stable JSON name: "nofile_soft"
    std::string title;            ///< "RLIMIT_NOFILE soft"
    std::string value;            ///< as people read it: "1,024"
    std::optional<double> number; ///< the raw value, when there is one
    Status status = Status::info;
    std::string why; ///< one short line
    std::string fix; ///< only when status is warn
};

struct Environment {
    /// Where /proc and /sys are read from ("/" normally; a fixture tree in tests).
    SysfsReader fs;
    /// Live facts about this process that do not come from files.
    bool live = true;
};

[[nodiscard]] std::vector<Check> run_checks(const Environment& env);

[[nodiscard]] std::string_view status_name(Status s);

} // namespace netdx::doctor
