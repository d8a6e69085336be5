#pragma once
/// The "run" block every JSON document carries, beside "schema_version": who ran what,
/// where and when, so that results of many machines can be lined up and merged.
///
///   "schema_version": 1,
///   "run": {"id": "9f2c…", "agent": "host-a", "command": ["netdx-probe", "…"],
///           "start": "2026-12-01T19:49:46.123456789Z", "start_ns": 1796…,
///           "mono_to_wall_ns": 1796…, "clock": {"synchronized": true,
///           "max_error_ns": 16000000, "est_error_ns": 0}, "shard": null,
///           "start_lateness_ns": null}
///
/// start_ns - mono_to_wall_ns is the start on the run's own CLOCK_MONOTONIC: every other
/// monotonic time in the document converts to wall time by adding mono_to_wall_ns.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include <netdx/sys/clock.hpp>

namespace netdx {

/// Bumped when a key changes meaning or type; new keys do not bump it.
inline constexpr int kSchemaVersion = 1;

struct Shard {
    unsigned index = 0; ///< 0-based
    unsigned count = 1;
};

struct RunInfo {
    std::string id;                   ///< given (--run-id), else 128 random bits in hex
    std::string agent;                ///< given (--agent), else the host name
    std::vector<std::string> command; ///< argv
    Nanos start_ns = 0;               ///< CLOCK_REALTIME when the run started
    Nanos mono_to_wall_ns = 0;        ///< CLOCK_REALTIME - CLOCK_MONOTONIC at that moment
    ClockSync clock;
    std::optional<Shard> shard;
    std::optional<Nanos> start_lateness_ns;

    /// Now, this host, this command line, a fresh id; throws nothing.
    [[nodiscard]] static RunInfo capture(int argc, const char* const* argv);
};

[[nodiscard]] nlohmann::json to_json(const RunInfo& run);
/// "2026-12-01T19:49:46.123456789Z" (UTC, nanoseconds).
[[nodiscard]] std::string format_rfc3339_ns(Nanos since_epoch);

} // namespace netdx
