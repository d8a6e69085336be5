#pragma once
/// The result model every tool fills and every reporter reads: one field schema for the
/// human table, JSON, NDJSON and CSV.
///
///   Report
///   ├── tool, version
///   ├── sections[]           Section = a name, a schema (fields) and rows
///   │     kind record         one row, printed as "title  value" lines
///   │     kind table          many rows, printed as aligned columns
///   ├── checks[]             --fail-if results
///   ├── notes[]              warnings and hints for people (stderr in human mode)
///   └── extra (JSON only)    raw data such as full histograms
///
/// A field's key is its JSON/CSV name and carries the unit ("p99_ns"); its title is what
/// people read ("p99"); its unit tells the table reporter how to format the raw value.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include <netdx/report/color.hpp>
#include <netdx/report/exit_code.hpp>
#include <netdx/report/metric.hpp>
#include <netdx/report/threshold.hpp>

namespace netdx {

using Value = std::variant<std::monostate, bool, std::int64_t, std::uint64_t, double, std::string>;

struct Field {
    std::string key;
    std::string title;
    Unit unit = Unit::none;
    /// Human table only: printed under the row as "title: value" instead of as a column
    /// (long text such as an explanation or a fix); skipped when empty.
    bool detail = false;
    /// JSON, NDJSON and CSV only: stable keys and raw numbers people need not read.
    bool machine_only = false;
    /// Human formats only: words for people ("until stopped", "none (open loop)") beside a
    /// machine_only field that carries the same thing as a number of one type (or null).
    bool human_only = false;
};

struct Cell {
    Value value;
    Style style = Style::plain; ///< human formats only
    Cell() = default;
    template <typename T>
    Cell(T v, Style s = Style::plain) : value(to_value(std::move(v))), style(s) {}

private:
    template <typename T>
    static Value to_value(T v) {
        if constexpr (std::is_same_v<T, Value>)
            return v;
        else if constexpr (std::is_same_v<T, bool>)
            return Value{v};
        else if constexpr (std::is_floating_point_v<T>)
            return Value{static_cast<double>(v)};
        else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>)
            return Value{static_cast<std::int64_t>(v)};
        else if constexpr (std::is_integral_v<T>)
            return Value{static_cast<std::uint64_t>(v)};
        else
            return Value{std::string(v)};
    }
};

using Row = std::vector<Cell>;

struct Section {
    enum class Kind { record, table };
    std::string name;  ///< JSON key: "summary", "checks"
    std::string title; ///< heading in the human table ("" for none)
    Kind kind = Kind::table;
    std::vector<Field> fields;
    std::vector<Row> rows;
    /// Human table only: print each field as a line and each row as a column (a sweep
    /// reads across: "p99  17us  19us  31us"). `column_field` is the field whose values
    /// head the columns. JSON, NDJSON and CSV are not affected.
    bool transpose = false;
    std::size_t column_field = 0;

    /// Adds a row; throws std::logic_error when its width does not match the schema.
    Section& add_row(Row row);
    /// Record sections: append one field and its value.
    Section& add(Field field, Cell value);
};

/// Why a run could not do what was asked (the target was unavailable, a peer corrupted the
/// echo, …), with the exit code that says so. A report that carries one has "passed": false.
struct Failure {
    ExitCode code = ExitCode::system;
    std::string message;
};

struct Report {
    std::string tool;
    std::string version;
    std::vector<Section> sections;
    std::vector<CheckResult> checks;
    std::vector<std::string> notes;
    nlohmann::json extra = nlohmann::json::object();
    nlohmann::json run;  ///< the run block (run_info.hpp): null until the tool stamps it
    std::string primary; ///< the section --csv prints (default: the first table)
    bool interrupted = false;
    std::optional<Failure> failure;

    Section& section(std::string name, std::string title, Section::Kind kind);
    [[nodiscard]] const Section* find(std::string_view name) const;
    [[nodiscard]] bool any_check_failed() const;
    /// The exit code the report stands for: interrupted (130), else the failure's code, else
    /// check_failed when a check failed, else ok. JSON's "passed" is this being ok.
    [[nodiscard]] ExitCode exit_code() const;
};

/// JSON for one cell value (null, bool, number, string; a string that is not valid UTF-8 has
/// its stray bytes written as \xNN, see escape_invalid_utf8).
[[nodiscard]] nlohmann::json to_json(const Value& v);
/// The cell as people read it in `unit`.
[[nodiscard]] std::string format_value(const Value& v, Unit unit);

} // namespace netdx
