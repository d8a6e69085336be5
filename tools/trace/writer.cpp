#include "writer.hpp"

#include <algorithm>

#include <fmt/format.h>

#include <netdx/report/reporter.hpp>
#include <netdx/report/units.hpp>
#include <netdx/sys/clock.hpp>

#include "cli.hpp"
#include "record.hpp"

namespace netdx::trace {

namespace {
bool by_id(const std::pair<std::uint32_t, Row>& a, const std::pair<std::uint32_t, Row>& b) {
    return a.first < b.first;
}

/// The record stream's format for the outputs it writes (table and Zeek never reach it).
Format stream_format(Output o) {
    switch (o) {
    case Output::json:
        return Format::json;
    case Output::ndjson:
        return Format::ndjson;
    case Output::csv:
        return Format::csv;
    case Output::table:
    case Output::zeek:
        break;
    }
    return Format::table;
}
} // namespace

RecordWriter::RecordWriter(Output output, std::uint64_t top, bool live)
    : output_(output), top_(top), live_(live),
      stream_(
          stream_format(output), "connection", connection_fields(),
          [this](std::string_view s) { put(s); }, /*keep_json=*/false) {
    if (output_ == Output::json) put("{\"connections\":[\n"); // the summary's members follow
    if (output_ == Output::ndjson) put(cli::run_line_once());
    stream_.header(); // CSV: even when no connection comes
}

void RecordWriter::start(Nanos first_ts) {
    origin_ = first_ts;
    started_ = true;
    if (output_ == Output::zeek) put(zeek_header(first_ts));
}

void RecordWriter::put(std::string_view s) {
    buf_ += s;
    if (buf_.size() >= (1u << 20)) flush();
}

void RecordWriter::flush() {
    if (buf_.empty()) return;
    cli::write_stdout(buf_);
    buf_.clear();
}

void RecordWriter::add_text(std::string_view text) {
    put(text);
    flush();
}

void RecordWriter::add(const capture::Connection& c, std::string_view extra) {
    ++seen_;
    if (output_ == Output::table) {
        if (top_ != 0 && kept_.size() >= top_) {
            if (c.id > kept_.front().first) return; // not among the lowest numbers
            std::pop_heap(kept_.begin(), kept_.end(), by_id);
            kept_.pop_back();
        }
        kept_.emplace_back(c.id, connection_row(c, origin_));
        std::push_heap(kept_.begin(), kept_.end(), by_id);
        return;
    }
    if (output_ == Output::zeek)
        put(zeek_line(c));
    else
        stream_.write(connection_row(c, origin_), {}, extra);
    if (live_) flush(); // a live stream shows each connection as it ends
}

void RecordWriter::fill(Report& report) {
    if (output_ != Output::table || kept_.empty()) return;
    std::sort(kept_.begin(), kept_.end(), by_id);
    auto& sec = report.section("connections", "Connections", Section::Kind::table);
    sec.fields = connection_fields();
    for (auto& [id, row] : kept_)
        sec.add_row(std::move(row));
    if (seen_ > kept_.size())
        report.notes.push_back(fmt::format("{} of {} connections listed (--top 0 lists every "
                                           "one; --json, --csv and --zeek stream them all)",
                                           format_count(kept_.size()), format_count(seen_)));
    kept_.clear();
}

void RecordWriter::finish(const Report& report) {
    switch (output_) {
    case Output::table:
    case Output::csv:
        break;
    case Output::zeek:
        if (!started_) put(zeek_header(realtime_ns()));
        put(zeek_footer(realtime_ns()));
        break;
    case Output::ndjson: {
        auto j = report_to_json(report);
        j["type"] = "summary";
        put(dump_json(j) + "\n");
        break;
    }
    case Output::json: {
        const auto rest = dump_json(report_to_json(report));
        put("\n],");
        put(std::string_view(rest).substr(1)); // the summary's members after "connections"
        put("\n");
        break;
    }
    }
    flush();
}

} // namespace netdx::trace
