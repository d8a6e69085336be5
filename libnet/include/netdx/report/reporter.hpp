#pragma once
/// Reporters turn a Report into one output format. They write to a std::ostream and never
/// touch colour unless the format is human and colour is enabled.

#include <memory>
#include <ostream>
#include <string_view>

#include <netdx/report/result.hpp>

namespace netdx {

enum class Format { table, json, ndjson, csv };

[[nodiscard]] std::string_view format_name(Format f);

class Reporter {
public:
    virtual ~Reporter() = default;
    /// The whole report at the end of a run. (Rows that come as they go, intervals and
    /// ticks, are a RecordStream's: record_stream.hpp.)
    virtual void write(const Report& report, std::ostream& out) = 0;
};

struct ReporterOptions {
    bool color = false;     ///< human table only
    bool show_notes = true; ///< human table only: notes go to the report's end
};

[[nodiscard]] std::unique_ptr<Reporter> make_reporter(Format format, ReporterOptions options = {});

/// The report as one JSON document (the --json schema).
[[nodiscard]] nlohmann::json report_to_json(const Report& report);

/// JSON text of `j` (indent < 0: one line). Never throws on text that is not UTF-8: cells are
/// escaped already (to_json), and anything else invalid becomes U+FFFD rather than losing
/// the whole document after the work is done.
[[nodiscard]] std::string dump_json(const nlohmann::json& j, int indent = -1);

/// The document a tool prints under --json when it fails before it has a report (a usage
/// error, an unresolvable target): tool, version, "passed": false, and the error with its
/// exit code and key.
[[nodiscard]] nlohmann::json error_document(std::string_view tool, std::string_view version,
                                            ExitCode code, std::string_view message);

/// RFC 4180 field quoting.
[[nodiscard]] std::string csv_escape(std::string_view field);

} // namespace netdx
