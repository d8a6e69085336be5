#pragma once
/// Conventions every netdx tool shares, in one place: --json/--ndjson/--csv, --color, --quiet,
/// --version, --fail-if, unit-typed options, the mapping of errors to the exit-code table,
/// and the hidden --generate-completion. CLI11 itself stays in cli.cpp and in each tool's
/// main.cpp (it is slow to compile); this header only forward-declares it.
///
/// A tool is Options + setup(CLI::App&) + run():
///
///   int main(int argc, char** argv) {
///       Options o;
///       return netdx::cli::run_main(argc, argv, kInfo, [&](CLI::App& app) { setup(app, o); },
///                                   [&] { return run(o); });
///   }

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <netdx/net/backends.hpp>
#include <netdx/report/color.hpp>
#include <netdx/report/exit_code.hpp>
#include <netdx/report/metric.hpp>
#include <netdx/report/record_stream.hpp>
#include <netdx/report/reporter.hpp>
#include <netdx/report/run_info.hpp>
#include <netdx/report/threshold.hpp>
#include <netdx/sys/clock.hpp>

#include "distribution.hpp"

namespace CLI {
class App;
class Option;
} // namespace CLI

namespace netdx::cli {

struct ToolInfo {
    std::string name;                ///< "netdx-doctor"
    std::string summary;             ///< one line for --help and `netdx --help`
    std::vector<MetricInfo> metrics; ///< what --fail-if may name (none: no --fail-if)
    bool ndjson = false;             ///< offers --ndjson (streams)
    bool csv = false;                ///< offers --csv (tabular)
    /// The umbrella only: its tools, for --help and completions ("doctor", "one line").
    std::vector<std::pair<std::string, std::string>> subcommands;
    std::string delegate_prefix; ///< "netdx-": `netdx probe` completes as `netdx-probe`
    std::string fail_if_example; ///< shown in --help: "p99>2ms"
};

struct CommonOptions {
    Format format = Format::table;
    ColorMode color = ColorMode::auto_detect;
    bool quiet = false;
    std::vector<Threshold> checks;

    /// Whether human output on stdout gets colour.
    [[nodiscard]] bool stdout_color() const;
    /// Whether stderr gets colour (progress, warnings).
    [[nodiscard]] bool stderr_color() const;
};

/// Adds --json [--ndjson] [--csv] --color --quiet [--fail-if] to `app`.
void add_common_options(CLI::App& app, CommonOptions& common, const ToolInfo& info);

/// Options whose values carry units; a bad value is a usage error naming the token.
CLI::Option* add_duration(CLI::App& app, const std::string& name, Nanos& out,
                          const std::string& desc);
CLI::Option* add_size(CLI::App& app, const std::string& name, std::uint64_t& out,
                      const std::string& desc);
CLI::Option* add_rate(CLI::App& app, const std::string& name, double& out, const std::string& desc);
CLI::Option* add_count(CLI::App& app, const std::string& name, std::uint64_t& out,
                       const std::string& desc);
/// A string option limited to `choices` (completions offer them).
CLI::Option* add_choice(CLI::App& app, const std::string& name, std::string& out,
                        const std::vector<std::string>& choices, const std::string& desc);
/// --backend for a tool that runs on the EventLoop: `choices` are the names it offers (see
/// loop_backend_from_name), the first one the default; `what_uring_is` says what "uring"
/// means for the tool (by default io_uring polls re-armed after each event).
CLI::Option* add_backend(CLI::App& app, std::string& out, const std::vector<std::string>& choices,
                         const std::string& what_uring_is = "");
/// The backend by name, checked to work on this kernel: one it cannot run (io_uring disabled
/// by sysctl or seccomp …) is a ToolFailure 69 naming the reason, not a crash later.
[[nodiscard]] Backend loop_backend(const std::string& name);
/// --shard, --start-at and --start-late-max (distribution.hpp), in a group of their own;
/// `share_what` says what --shard splits ("-n and --rate").
void add_distribution_options(CLI::App& app, DistributionOptions& out,
                              const std::string& share_what);
/// Marks an option as taking a file name (completions offer files).
void mark_file(CLI::Option* option);

/// Parses the command line and runs the tool, mapping every failure to the exit-code table:
/// usage errors (CLI11 or ParseError) -> 2 with one line and a hint to --help; ToolFailure ->
/// its code; std::system_error -> 71 (EACCES/EPERM -> 77); output that could not be written
/// -> 74. Under --json or --ndjson a failure before any report still prints a document on
/// stdout (error_document: "passed": false, the error and its code); the message goes to
/// stderr either way. Handles --version and --generate-completion.
int run_main(int argc, char** argv, const ToolInfo& info,
             const std::function<void(CLI::App&)>& setup, const std::function<int()>& run);

/// An expected way for a run to fail before it has anything to report: the target cannot
/// be resolved (69), a privilege is missing (77), an output file cannot be created (74) …
/// run_main prints the message (and the JSON envelope) and exits with `code`.
class ToolFailure : public std::runtime_error {
public:
    ToolFailure(ExitCode exit_code, const std::string& message)
        : std::runtime_error(message), code(exit_code) {}
    ExitCode code;
};

/// Writes `report` to stdout in the chosen format and returns its exit code
/// (Report::exit_code: 130 interrupted, a failure's own code, 1 when a check failed, 0).
/// A failure's message also goes to stderr. Throws OutputError when stdout cannot be
/// written (run_main maps it to 74).
/// The run block goes in first (stamp_run).
int emit(Report& report, const CommonOptions& common);

/// This process's run (run_info.hpp): captured by run_main before the options are parsed,
/// then --run-id and --agent, and later the shard and start lateness, are set in it.
RunInfo& current_run();
/// Puts the run block into `report` (what emit does; tools that write their document
/// themselves, like netdx-trace's streamed JSON, call it first).
void stamp_run(Report& report);
/// The NDJSON line that opens a stream: {"type":"run","schema_version":…,"run":{…}}; the
/// first call gives it, later ones "" (one per process).
[[nodiscard]] std::string run_line_once();

/// The rows a long run prints as it goes (interval lines, watch ticks), through the report
/// layer's RecordStream, whose schema is the first section's (every later one has the same
/// name and fields). The
/// table, NDJSON and CSV formats write each at once; --json promises one document, so there
/// they are kept and put into the final report under `key` ("intervals", "ticks"): nothing
/// is lost.
class IntervalStream {
public:
    IntervalStream(const CommonOptions& common, std::string key);
    ~IntervalStream();
    IntervalStream(const IntervalStream&) = delete;
    IntervalStream& operator=(const IntervalStream&) = delete;
    /// `prefix`: text before the line in the human table only ("[2s] ").
    void write(const Section& section, std::string_view prefix = {});
    /// --json: the rows kept so far, as report.extra[key] (an empty array when none).
    void into(Report& report) const;
    [[nodiscard]] std::size_t rows() const { return count_; }

private:
    Format format_;
    std::string key_;
    std::unique_ptr<RecordStream> stream_; ///< made by the first write
    std::size_t count_ = 0;
};

/// Flushes std::cout; throws OutputError when it fails.
void flush_stdout();

/// Writes `text` to fd 1 with write(2) (retrying EINTR and short writes); throws OutputError
/// naming the exact errno (ENOSPC, EPIPE …) when it fails.
void write_stdout(std::string_view text);

class OutputError : public std::runtime_error {
public:
    OutputError(const std::string& what, int err) : std::runtime_error(what), error(err) {}
    int error;
};

/// Prints "name: warning: text" on stderr (coloured on a terminal) unless --quiet.
void warn(const CommonOptions& common, const std::string& tool, const std::string& text);

} // namespace netdx::cli
