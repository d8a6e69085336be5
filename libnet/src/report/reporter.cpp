#include <algorithm>

#include <fmt/format.h>

#include <netdx/report/record_stream.hpp>
#include <netdx/report/reporter.hpp>
#include <netdx/report/run_info.hpp>
#include <netdx/report/units.hpp>
#include <netdx/sys/text.hpp>

namespace netdx {

std::string_view format_name(Format f) {
    switch (f) {
    case Format::table:
        return "table";
    case Format::json:
        return "json";
    case Format::ndjson:
        return "ndjson";
    case Format::csv:
        return "csv";
    }
    return "?";
}

std::string csv_escape(std::string_view field) {
    if (field.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(field);
    std::string out = "\"";
    for (char c : field) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
    return out;
}

namespace {

/// Display width: UTF-8 code points, ANSI escape sequences excluded.
std::size_t display_width(std::string_view s) {
    std::size_t w = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == 0x1b) {
            while (i < s.size() && s[i] != 'm')
                ++i;
            continue;
        }
        if ((c & 0xC0) != 0x80) ++w;
    }
    return w;
}

std::string pad(std::string_view s, std::size_t width, bool right) {
    const std::size_t w = display_width(s);
    const std::string fill(width > w ? width - w : 0, ' ');
    return right ? fill + std::string(s) : std::string(s) + fill;
}

bool numeric_unit(Unit u) {
    return u != Unit::none;
}

nlohmann::json row_to_json(const Section& s, const Row& row) {
    nlohmann::json obj = nlohmann::json::object();
    for (std::size_t i = 0; i < s.fields.size() && i < row.size(); ++i)
        if (!s.fields[i].human_only) obj[s.fields[i].key] = to_json(row[i].value);
    return obj;
}

nlohmann::json failure_to_json(ExitCode code, std::string_view message) {
    return {{"exit_code", to_int(code)},
            {"kind", std::string(exit_code_key(code))},
            {"message", escape_invalid_utf8(message)}};
}

nlohmann::json check_to_json(const CheckResult& c) {
    return {{"check", escape_invalid_utf8(c.threshold.text)},
            {"metric", c.threshold.metric},
            {"op", std::string(to_string(c.threshold.op))},
            {"threshold", c.threshold.value},
            {"unit", std::string(unit_name(c.threshold.unit))},
            {"actual", c.actual ? nlohmann::json(*c.actual) : nlohmann::json(nullptr)},
            {"failed", c.failed}};
}

class TableReporter final : public Reporter {
public:
    explicit TableReporter(ReporterOptions o) : opt_(o) {}

    void write(const Report& report, std::ostream& out) override {
        bool first = true;
        for (const auto& s : report.sections) {
            if (s.rows.empty()) continue;
            if (!first) out << '\n';
            first = false;
            if (!s.title.empty()) out << paint(Style::heading, s.title, opt_.color) << '\n';
            if (s.kind == Section::Kind::record)
                write_record(s, out);
            else if (s.transpose)
                write_transposed(s, out);
            else
                write_table(s, out);
        }
        if (!report.checks.empty()) {
            out << '\n' << paint(Style::heading, "Checks", opt_.color) << '\n';
            for (const auto& c : report.checks) {
                const auto verdict = c.failed ? paint(Style::bad, "FAIL", opt_.color)
                                              : paint(Style::good, "pass", opt_.color);
                const auto actual = c.actual ? format_in_unit(*c.actual, c.threshold.unit)
                                             : std::string("no value measured");
                out << fmt::format("  {}  {}  ({} = {})\n", verdict, c.threshold.text,
                                   c.threshold.metric, actual);
            }
        }
        if (opt_.show_notes && !report.notes.empty()) {
            out << '\n';
            for (const auto& n : report.notes)
                out << paint(Style::warn, "note: ", opt_.color) << n << '\n';
        }
        if (report.interrupted)
            out << '\n'
                << paint(Style::warn, "interrupted: the figures above are partial", opt_.color)
                << '\n';
        out.flush();
    }

private:
    void write_record(const Section& s, std::ostream& out) const {
        std::size_t w = 0;
        for (const auto& f : s.fields)
            w = std::max(w, display_width(f.title));
        const Row& row = s.rows.front();
        for (std::size_t i = 0; i < s.fields.size(); ++i) {
            if (s.fields[i].machine_only) continue;
            const auto text = format_value(row[i].value, s.fields[i].unit);
            out << "  " << pad(s.fields[i].title, w, false) << "  "
                << paint(row[i].style, text, opt_.color) << '\n';
        }
    }

    void write_transposed(const Section& s, std::ostream& out) const {
        std::size_t title_w = 0;
        for (const auto& f : s.fields)
            if (!f.machine_only) title_w = std::max(title_w, display_width(f.title));
        std::vector<std::vector<std::string>> text(s.rows.size());
        std::vector<std::size_t> col_w(s.rows.size(), 0);
        for (std::size_t r = 0; r < s.rows.size(); ++r) {
            for (std::size_t i = 0; i < s.fields.size(); ++i) {
                text[r].push_back(format_value(s.rows[r][i].value, s.fields[i].unit));
                if (!s.fields[i].machine_only)
                    col_w[r] = std::max(col_w[r], display_width(text[r].back()));
            }
        }
        for (std::size_t i = 0; i < s.fields.size(); ++i) {
            if (s.fields[i].machine_only) continue;
            const bool header = i == s.column_field;
            std::string line = "  " + pad(s.fields[i].title, title_w, false);
            for (std::size_t r = 0; r < s.rows.size(); ++r)
                line += "  " + paint(header ? Style::bold : s.rows[r][i].style,
                                     pad(text[r][i], col_w[r], true), opt_.color);
            out << (header ? paint(Style::bold, rtrim(line), opt_.color) : rtrim(line)) << '\n';
        }
    }

    void write_table(const Section& s, std::ostream& out) const {
        std::vector<std::size_t> cols;
        for (std::size_t i = 0; i < s.fields.size(); ++i)
            if (!s.fields[i].detail && !s.fields[i].machine_only) cols.push_back(i);
        std::vector<std::size_t> width(s.fields.size(), 0);
        for (auto i : cols)
            width[i] = display_width(s.fields[i].title);
        std::vector<std::vector<std::string>> text(s.rows.size());
        for (std::size_t r = 0; r < s.rows.size(); ++r) {
            for (std::size_t i = 0; i < s.fields.size(); ++i) {
                text[r].push_back(format_value(s.rows[r][i].value, s.fields[i].unit));
                if (!s.fields[i].detail)
                    width[i] = std::max(width[i], display_width(text[r].back()));
            }
        }
        std::string header = " ";
        for (auto i : cols)
            header += " " + pad(s.fields[i].title, width[i], numeric_unit(s.fields[i].unit));
        out << paint(Style::bold, rtrim(header), opt_.color) << '\n';
        for (std::size_t r = 0; r < s.rows.size(); ++r) {
            std::string line = " ";
            for (auto i : cols) {
                const auto cell = pad(text[r][i], width[i], numeric_unit(s.fields[i].unit));
                line += " " + paint(s.rows[r][i].style, cell, opt_.color);
            }
            out << rtrim(line) << '\n';
            for (std::size_t i = 0; i < s.fields.size(); ++i) {
                if (!s.fields[i].detail || s.fields[i].machine_only || text[r][i].empty() ||
                    text[r][i] == "-")
                    continue;
                out << "      " << paint(Style::dim, s.fields[i].title + ":", opt_.color) << ' '
                    << text[r][i] << '\n';
            }
        }
    }

    static std::string rtrim(std::string s) {
        while (!s.empty() && s.back() == ' ')
            s.pop_back();
        return s;
    }

    ReporterOptions opt_;
};

class JsonReporter final : public Reporter {
public:
    void write(const Report& report, std::ostream& out) override {
        out << dump_json(report_to_json(report), 2) << '\n';
        out.flush();
    }
};

class NdjsonReporter final : public Reporter {
public:
    void write(const Report& report, std::ostream& out) override {
        for (const auto& s : report.sections)
            write_rows(s, out);
        for (const auto& c : report.checks) {
            auto j = check_to_json(c);
            j["type"] = "check";
            out << dump_json(j) << '\n';
        }
        for (const auto& n : report.notes)
            out << dump_json({{"type", "note"}, {"text", escape_invalid_utf8(n)}}) << '\n';
        if (report.failure) {
            auto j = failure_to_json(report.failure->code, report.failure->message);
            j["type"] = "error";
            out << dump_json(j) << '\n';
        }
        out.flush();
    }

private:
    static void write_rows(const Section& s, std::ostream& out) {
        const RowEncoder encoder(s.fields);
        std::string type = "\"type\":", line;
        append_json_string(type, s.name);
        for (const auto& row : s.rows) {
            line.clear();
            encoder.json_object(line, row, type);
            out << line << '\n';
        }
    }
};

class CsvReporter final : public Reporter {
public:
    void write(const Report& report, std::ostream& out) override {
        const Section* s = report.primary.empty() ? nullptr : report.find(report.primary);
        if (s == nullptr) {
            for (const auto& sec : report.sections)
                if (sec.kind == Section::Kind::table) {
                    s = &sec;
                    break;
                }
        }
        if (s == nullptr && !report.sections.empty()) s = &report.sections.front();
        if (s != nullptr) write_section(*s, out, true);
        out.flush();
    }

private:
    static void write_section(const Section& s, std::ostream& out, bool header) {
        const RowEncoder encoder(s.fields);
        std::string text;
        if (header) encoder.csv_header(text);
        for (const auto& row : s.rows)
            encoder.csv_row(text, row);
        out << text;
    }
};

} // namespace

nlohmann::json report_to_json(const Report& report) {
    nlohmann::json doc = {{"schema_version", kSchemaVersion},
                          {"tool", report.tool},
                          {"version", report.version},
                          {"run", report.run}};
    for (const auto& s : report.sections) {
        if (s.kind == Section::Kind::record) {
            doc[s.name] =
                s.rows.empty() ? nlohmann::json::object() : row_to_json(s, s.rows.front());
        } else {
            auto arr = nlohmann::json::array();
            for (const auto& row : s.rows)
                arr.push_back(row_to_json(s, row));
            doc[s.name] = std::move(arr);
        }
    }
    auto checks = nlohmann::json::array();
    for (const auto& c : report.checks)
        checks.push_back(check_to_json(c));
    doc["checks"] = std::move(checks);
    const ExitCode code = report.exit_code();
    doc["passed"] = code == ExitCode::ok;
    doc["exit_code"] = to_int(code);
    auto notes = nlohmann::json::array();
    for (const auto& n : report.notes)
        notes.push_back(escape_invalid_utf8(n));
    doc["notes"] = std::move(notes);
    doc["interrupted"] = report.interrupted;
    doc["error"] = report.failure ? failure_to_json(report.failure->code, report.failure->message)
                                  : nlohmann::json(nullptr);
    for (const auto& [k, v] : report.extra.items())
        doc[k] = v;
    return doc;
}

std::string dump_json(const nlohmann::json& j, int indent) {
    return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json error_document(std::string_view tool, std::string_view version, ExitCode code,
                              std::string_view message) {
    return {{"schema_version", kSchemaVersion},
            {"tool", std::string(tool)},
            {"version", std::string(version)},
            {"run", nullptr},
            {"passed", false},
            {"exit_code", to_int(code)},
            {"interrupted", false},
            {"checks", nlohmann::json::array()},
            {"notes", nlohmann::json::array()},
            {"error", failure_to_json(code, message)}};
}

std::unique_ptr<Reporter> make_reporter(Format format, ReporterOptions options) {
    switch (format) {
    case Format::table:
        return std::make_unique<TableReporter>(options);
    case Format::json:
        return std::make_unique<JsonReporter>();
    case Format::ndjson:
        return std::make_unique<NdjsonReporter>();
    case Format::csv:
        return std::make_unique<CsvReporter>();
    }
    return std::make_unique<TableReporter>(options);
}

} // namespace netdx
