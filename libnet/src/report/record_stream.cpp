#include <algorithm>
#include <cmath>
#include <iterator>

#include <fmt/format.h>

#include <netdx/report/record_stream.hpp>
#include <netdx/report/units.hpp>
#include <netdx/sys/text.hpp>

namespace netdx {

namespace {

void append_escaped(std::string& out, std::string_view s) {
    for (const char ch : s) {
        const auto u = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (u < 0x20) {
            fmt::format_to(std::back_inserter(out), "\\u{:04x}", u);
        } else {
            out += ch;
        }
    }
}

/// Numbers and booleans as JSON (and CSV) write them; false for a missing or non-finite
/// value. `json`: an integral double keeps its ".0", so a reader sees a double.
bool append_scalar(std::string& out, const Value& v, bool json) {
    if (const auto* b = std::get_if<bool>(&v)) {
        out += *b ? "true" : "false";
    } else if (const auto* i = std::get_if<std::int64_t>(&v)) {
        const fmt::format_int f(*i);
        out.append(f.data(), f.size());
    } else if (const auto* u = std::get_if<std::uint64_t>(&v)) {
        const fmt::format_int f(*u);
        out.append(f.data(), f.size());
    } else if (const auto* d = std::get_if<double>(&v)) {
        if (!std::isfinite(*d)) return false;
        const auto start = out.size();
        fmt::format_to(std::back_inserter(out), "{}", *d);
        // A double stays a double for the reader: "2.0", not "2" (as nlohmann writes it).
        if (json && out.find_first_of(".e", start) == std::string::npos) out += ".0";
    } else {
        return false;
    }
    return true;
}

} // namespace

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    const bool plain = std::none_of(s.begin(), s.end(), [](char ch) {
        const auto u = static_cast<unsigned char>(ch);
        return ch == '"' || ch == '\\' || u < 0x20 || u >= 0x80;
    });
    if (plain) { // the common case: addresses, states, names
        out += s;
    } else if (std::any_of(s.begin(), s.end(),
                           [](char ch) { return static_cast<unsigned char>(ch) >= 0x80; })) {
        append_escaped(out, escape_invalid_utf8(s));
    } else {
        append_escaped(out, s);
    }
    out += '"';
}

RowEncoder::RowEncoder(std::vector<Field> fields) : fields_(std::move(fields)) {
    for (const auto& f : fields_) {
        std::string q;
        append_json_string(q, f.key);
        quoted_keys_.push_back(q + ':');
    }
}

void RowEncoder::json_object(std::string& out, const Row& row, std::string_view leading) const {
    out += '{';
    out += leading;
    const std::size_t n = std::min(row.size(), fields_.size());
    bool first = leading.empty();
    for (std::size_t i = 0; i < n; ++i) {
        if (fields_[i].human_only) continue;
        if (!first) out += ',';
        first = false;
        out += quoted_keys_[i];
        const auto& v = row[i].value;
        if (const auto* s = std::get_if<std::string>(&v))
            append_json_string(out, *s);
        else if (!append_scalar(out, v, true))
            out += "null";
    }
    out += '}';
}

void RowEncoder::csv_header(std::string& out) const {
    bool first = true;
    for (const auto& f : fields_) {
        if (f.human_only) continue;
        if (!first) out += ',';
        first = false;
        out += csv_escape(f.key);
    }
    out += "\r\n";
}

void RowEncoder::csv_row(std::string& out, const Row& row) const {
    bool first = true;
    for (std::size_t i = 0; i < row.size(); ++i) {
        if (i < fields_.size() && fields_[i].human_only) continue;
        if (!first) out += ',';
        first = false;
        const auto& v = row[i].value;
        if (const auto* s = std::get_if<std::string>(&v))
            out += csv_escape(*s);
        else
            append_scalar(out, v, false);
    }
    out += "\r\n";
}

void RowEncoder::text_line(std::string& out, const Row& row) const {
    bool first = true;
    for (std::size_t i = 0; i < fields_.size() && i < row.size(); ++i) {
        if (fields_[i].machine_only) continue;
        if (!first) out += "  ";
        first = false;
        out += fields_[i].title;
        out += ' ';
        out += format_value(row[i].value, fields_[i].unit);
    }
    out += '\n';
}

RecordStream::RecordStream(Format format, std::string type, std::vector<Field> fields, Sink sink,
                           bool keep_json)
    : format_(format), encoder_(std::move(fields)), sink_(std::move(sink)), keep_json_(keep_json) {
    type_member_ = "\"type\":";
    append_json_string(type_member_, type);
}

void RecordStream::write(const Row& row, std::string_view table_prefix, std::string_view extra) {
    line_.clear();
    switch (format_) {
    case Format::table:
        line_ += table_prefix;
        encoder_.text_line(line_, row);
        break;
    case Format::ndjson:
        leading_ = type_member_;
        if (!extra.empty()) {
            leading_ += ',';
            leading_ += extra;
        }
        encoder_.json_object(line_, row, leading_);
        line_ += '\n';
        break;
    case Format::csv:
        if (!header_written_) encoder_.csv_header(line_);
        header_written_ = true;
        encoder_.csv_row(line_, row);
        break;
    case Format::json:
        if (rows_ > 0) line_ += keep_json_ ? "," : ",\n";
        encoder_.json_object(line_, row, extra);
        if (keep_json_) {
            kept_ += line_;
            ++rows_;
            return;
        }
        break;
    }
    ++rows_;
    sink_(line_);
}

void RecordStream::header() {
    if (format_ != Format::csv || header_written_) return;
    header_written_ = true;
    line_.clear();
    encoder_.csv_header(line_);
    sink_(line_);
}

} // namespace netdx
