#pragma once
/// Rows that share one schema, written as they come: netdx-probe's, netdx-echo's and
/// netdx-flood's interval rows, netdx-states' watch ticks and netdx-trace's connections.
/// The schema (a type name and its fields) is declared once, when the stream is made; every
/// row is encoded by one encoder, RowEncoder, which the reporters' NDJSON and CSV rows use
/// too, so a row reads the same in a stream and in a final report.
///
///   format   a row                                               end
///   table    "[2s] title value  title value" (a human line)      -
///   ndjson   {"type":"<type>",<extra>,"key":value,…}\n           -
///   csv      header once (the keys), then one line; CRLF         -
///   json     kept: json_array() is "[{…},{…}]" for the document, or written as it comes
///            between an opening and a closing the caller writes (netdx-trace: memory
///            bounded by what is open, never by the capture)
///
/// The encoder builds no JSON document per row: keys are quoted once, numbers go out in
/// their integer or shortest double form (null when not finite), and strings are escaped,
/// with stray bytes of invalid UTF-8 written as the text \xNN (escape_invalid_utf8). The
/// output is valid JSON whatever the bytes. Thread safety: one stream per thread; the sink is
/// called on the writing thread.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <netdx/report/reporter.hpp>
#include <netdx/report/result.hpp>

namespace netdx {

class RowEncoder {
public:
    explicit RowEncoder(std::vector<Field> fields);
    [[nodiscard]] const std::vector<Field>& fields() const { return fields_; }
    /// {<leading>,"key":value,…}: `leading` is JSON members without braces ("\"type\":\"x\"").
    void json_object(std::string& out, const Row& row, std::string_view leading = {}) const;
    /// The keys, comma-separated, CRLF.
    void csv_header(std::string& out) const;
    /// One line, CRLF: strings quoted where RFC 4180 needs it, numbers raw, empty for none.
    void csv_row(std::string& out, const Row& row) const;
    /// "title value  title value": the human line (machine-only fields left out).
    void text_line(std::string& out, const Row& row) const;

private:
    std::vector<Field> fields_;
    std::vector<std::string> quoted_keys_; ///< "\"key\":"
};

/// A JSON string literal of `s` (quotes included), valid whatever the bytes.
void append_json_string(std::string& out, std::string_view s);

class RecordStream {
public:
    using Sink = std::function<void(std::string_view)>;
    /// `type`: the NDJSON "type" of each row; `keep_json`: --json rows are kept for
    /// json_array() (else written to the sink, comma-separated, as they come).
    RecordStream(Format format, std::string type, std::vector<Field> fields, Sink sink,
                 bool keep_json = true);
    /// One row. `table_prefix` goes before the human line ("[2s] "); `extra` is more JSON
    /// members for JSON and NDJSON (",\"ladder\":[…]" without the leading comma).
    void write(const Row& row, std::string_view table_prefix = {}, std::string_view extra = {});
    /// CSV: the header now, before any row (once; the first row writes it otherwise).
    void header();
    [[nodiscard]] std::size_t rows() const { return rows_; }
    /// --json with keep_json: the rows so far, "[{…},…]" ("[]" when none).
    [[nodiscard]] std::string json_array() const { return "[" + kept_ + "]"; }
    [[nodiscard]] const RowEncoder& encoder() const { return encoder_; }

private:
    Format format_;
    std::string type_member_; ///< "\"type\":\"<type>\""
    RowEncoder encoder_;
    Sink sink_;
    bool keep_json_;
    std::string kept_, line_, leading_;
    std::size_t rows_ = 0;
    bool header_written_ = false;
};

} // namespace netdx
