#pragma once
// One connection as a row of netdx-trace's schema (the same fields in the table, JSON,
// NDJSON and CSV), and as a Zeek conn.log line.
#include <string>
#include <string_view>
#include <vector>

#include <netdx/capture/connection.hpp>
#include <netdx/report/result.hpp>

namespace netdx::trace {

/// "127.0.0.1:8080", "[::1]:8080".
[[nodiscard]] std::string endpoint_text(const capture::Connection& c, capture::Side s);

/// The schema of a connection row.
[[nodiscard]] const std::vector<Field>& connection_fields();
/// `origin`: the capture's first timestamp (start_ns is relative to it).
[[nodiscard]] Row connection_row(const capture::Connection& c, Nanos origin);

/// Appends the row as one JSON object (`prefix` goes right after the brace, e.g. a "type"
/// member), or as one CSV line. Written directly rather than through a JSON document: this
/// runs once per connection, 440,000 times for a 4M-packet capture.

/// Zeek conn.log (TSV): the header block, one line per connection, and the closing line.
[[nodiscard]] std::string zeek_header(Nanos open_ts);
[[nodiscard]] std::string zeek_line(const capture::Connection& c);
[[nodiscard]] std::string zeek_footer(Nanos close_ts);

} // namespace netdx::trace
