#pragma once
/// The "run" block every JSON document carries, beside "schema_version": who ran what,
/// where and when, so that results of many machines can be lined up and merged.
///
///   "schema_version": 1,
///   "run": {"id": "9f2c…", "agent": "host-a", "command": ["netdx-probe", "…"],
///           "start": "2026-12-01T19:49:46.123456789Z", "start_ns": 1796…,
///           "mono_to_wall_ns": 1796…, "clock": {"synchronized": true,
///           "max_error_ns": 16000000, "est_error_ns": 0}, "shard": null,
///           "start_at": null, "start_at_ns": null, "start_lateness_ns": null}
///
/// With --start-at every agent of a run starts at start_at; the times in its report (time
/// to N, intervals) count from that instant, and start_lateness_ns says how late it was.
///
/// start_ns - mono_to_wall_ns is the start on the run's own CLOCK_MONOTONIC: every other
/// monotonic time in the document converts to wall time by adding mono_to_wall_ns.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include <netdx/sys/clock.hpp>
#include <netdx/sys/shard.hpp>

namespace netdx {

/// Bumped when a key changes meaning or type; new keys do not bump it.
inline constexpr int kSchemaVersion = 1;

struct RunInfo {
    std::string id;                   ///< given (--run-id), else 128 random bits in hex
    std::string agent;                ///< given (--agent), else the host name
    std::vector<std::string> command; ///< argv
    Nanos start_ns = 0;               ///< CLOCK_REALTIME when the run started
    Nanos mono_to_wall_ns = 0;        ///< CLOCK_REALTIME - CLOCK_MONOTONIC at that moment
    ClockSync clock;
    std::optional<Shard> shard;
    std::optional<Nanos> start_at_ns;       ///< --start-at: the shared start (CLOCK_REALTIME)
    std::optional<Nanos> start_lateness_ns; ///< --start-at: how late this agent started
    /// netdx merge: how many agents the result is of (1 for one run's), and which shards of
    /// how many (an empty list: not sharded).
    std::size_t agents = 1;
    std::vector<unsigned> shards_merged;
    unsigned shards_merged_count = 0;

    /// Now, this host, this command line, a fresh id; throws nothing.
    [[nodiscard]] static RunInfo capture(int argc, const char* const* argv);
};

[[nodiscard]] nlohmann::json to_json(const RunInfo& run);
/// "2026-12-01T19:49:46.123456789Z" (UTC, nanoseconds).
[[nodiscard]] std::string format_rfc3339_ns(Nanos since_epoch);
/// RFC 3339 ("2026-12-01T19:49:46Z", "…T20:49:46.5+01:00", 'T' or ' ', 'z' too) to ns since
/// the epoch; throws ParseError naming the bad part.
[[nodiscard]] Nanos parse_rfc3339_ns(std::string_view text);
/// `--start-at`: RFC 3339, seconds since the epoch ("1796162906" or "1796162906.25", or
/// "@1796162906" as date(1) writes it), or "+DURATION" from `now` ("+10s"). Throws
/// ParseError naming the bad token.
[[nodiscard]] Nanos parse_start_at(std::string_view text, Nanos now_wall_ns);

} // namespace netdx
