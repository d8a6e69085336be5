#pragma once
/// The exit-code table every netdx tool shares (and every man page prints).

#include <array>
#include <string_view>

namespace netdx {

enum class ExitCode : int {
    ok = 0,             ///< done, every check passed
    check_failed = 1,   ///< a --fail-if check or a diagnosis failed
    usage = 2,          ///< bad command line or bad input
    unavailable = 69,   ///< the target could not be reached or resolved
    system = 71,        ///< a system call failed unexpectedly
    output = 74,        ///< the output could not be written
    no_permission = 77, ///< a privilege (capability) is missing
    interrupted = 130,  ///< interrupted by a signal, after printing what was measured
};

struct ExitCodeInfo {
    ExitCode code;
    std::string_view meaning;
};

inline constexpr std::array<ExitCodeInfo, 8> kExitCodes{{
    {ExitCode::ok, "success; every check passed"},
    {ExitCode::check_failed, "a --fail-if check or a diagnosis failed (the report says which)"},
    {ExitCode::usage, "usage error: a bad option, value or argument"},
    {ExitCode::unavailable, "the target is unavailable: unresolvable, refused or unreachable"},
    {ExitCode::system, "a system call failed unexpectedly"},
    {ExitCode::output, "the output could not be written"},
    {ExitCode::no_permission, "a required privilege (capability) is missing"},
    {ExitCode::interrupted, "interrupted (SIGINT/SIGTERM) after printing what was measured"},
}};

[[nodiscard]] constexpr int to_int(ExitCode c) {
    return static_cast<int>(c);
}

/// A stable key for machine output: "ok", "check_failed", "usage", "unavailable", "system",
/// "output", "no_permission", "interrupted".
[[nodiscard]] constexpr std::string_view exit_code_key(ExitCode c) {
    switch (c) {
    case ExitCode::ok:
        return "ok";
    case ExitCode::check_failed:
        return "check_failed";
    case ExitCode::usage:
        return "usage";
    case ExitCode::unavailable:
        return "unavailable";
    case ExitCode::system:
        return "system";
    case ExitCode::output:
        return "output";
    case ExitCode::no_permission:
        return "no_permission";
    case ExitCode::interrupted:
        return "interrupted";
    }
    return "?";
}

} // namespace netdx
