#pragma once
// Where connection records go as the tracker hands them out: streamed to stdout in the
// machine formats (JSON, NDJSON, CSV, Zeek conn.log), or kept (the --top lowest numbers)
// for the human table. Memory stays bounded by what is open, never by the file. JSON,
// NDJSON and CSV records go through the report layer's RecordStream (record_stream.hpp),
// as every other tool's streams do; Zeek's lines are netdx-trace's own.
//
//   --json     {"connections":[ rec, rec, ... ], <the summary's members>}
//   --ndjson   {"type":"connection",...}\n ... {"type":"summary",...}\n
//   --csv      header, one row per connection
//   --zeek     #fields/#types header, one line per connection, #close
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <netdx/capture/connection.hpp>
#include <netdx/report/record_stream.hpp>
#include <netdx/report/result.hpp>

namespace netdx::trace {

enum class Output { table, json, ndjson, csv, zeek };

class RecordWriter {
public:
    /// `top`: rows kept for the table (0: all); `live`: flush after every record.
    RecordWriter(Output output, std::uint64_t top, bool live);

    /// The capture's first timestamp: start_ns is relative to it, and it dates Zeek's header.
    void start(Nanos first_ts);
    /// `extra`: more JSON members for the record (a ladder), JSON and NDJSON only.
    void add(const capture::Connection& c, std::string_view extra = {});
    /// Text for people (a ladder), written at once.
    void add_text(std::string_view text);
    void flush();

    /// Table format: the kept connections as the report's first section, with a note when
    /// some were left out.
    void fill(Report& report);
    /// Writes what follows the records (the summary, #close) and flushes.
    void finish(const Report& report);

private:
    void put(std::string_view s);
    Output output_;
    std::uint64_t top_;
    bool live_;
    bool started_ = false;
    Nanos origin_ = 0;
    std::string buf_;
    std::vector<std::pair<std::uint32_t, Row>> kept_; ///< a max-heap on the connection number
    std::uint64_t seen_ = 0;
    RecordStream stream_; ///< JSON, NDJSON and CSV records: the report layer's stream
};

} // namespace netdx::trace
