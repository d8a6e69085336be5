#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <sstream>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <netdx/report/color.hpp>
#include <netdx/report/record_stream.hpp>
#include <netdx/report/reporter.hpp>
#include <netdx/report/run_info.hpp>
#include <netdx/report/threshold.hpp>
#include <netdx/sys/parse_error.hpp>
#include <netdx/sys/text.hpp>

#include "parse_error_of.hpp"

using namespace netdx;

namespace {

const std::vector<MetricInfo> kMetrics{{"p99", Unit::ns, "p99 RTT"},
                                       {"loss", Unit::percent, "loss"},
                                       {"size", Unit::bytes, "size"},
                                       {"rate", Unit::per_second, "rate"},
                                       {"established", Unit::count, "connections"}};

Report sample_report() {
    Report r;
    r.tool = "netdx-test";
    r.version = "1.0";
    auto& s = r.section("summary", "Summary", Section::Kind::record);
    s.add({"p99_ns", "p99", Unit::ns}, Cell(std::uint64_t{2'100'000}, Style::bad));
    s.add({"bytes", "bytes", Unit::bytes}, Cell(std::uint64_t{1024}));
    auto& t = r.section("rows", "Rows", Section::Kind::table);
    t.fields = {{"name", "name", Unit::none},
                {"rate", "rate", Unit::per_second},
                {"note", "note", Unit::none, true}};
    t.add_row({Cell("a,b \"quoted\""), Cell(5000.0), Cell("detail text")});
    t.add_row({Cell("\u00b5-long-name"), Cell(12.0), Cell("")});
    r.checks = evaluate({parse_threshold("p99>2ms", kMetrics)}, {{"p99", 2'100'000.0}});
    r.notes.push_back("a note");
    return r;
}

std::string render(Format f, bool color = false) {
    std::ostringstream out;
    make_reporter(f, {color, true})->write(sample_report(), out);
    return out.str();
}

} // namespace

TEST_CASE("thresholds parse in the metric's unit") {
    auto t = parse_threshold("p99>2ms", kMetrics);
    CHECK(t.metric == "p99");
    CHECK(t.op == CompareOp::gt);
    CHECK(t.value == 2e6);
    CHECK(parse_threshold("loss>=0.1%", kMetrics).value == doctest::Approx(0.1));
    CHECK(parse_threshold("loss>0", kMetrics).value == 0);
    CHECK(parse_threshold("size<=1KiB", kMetrics).value == 1024);
    CHECK(parse_threshold("rate<5k/s", kMetrics).value == 5000);
    CHECK(parse_threshold("established<10k", kMetrics).op == CompareOp::lt);
    CHECK(parse_threshold("established != 3", kMetrics).op == CompareOp::ne);
    CHECK(parse_threshold("established==3", kMetrics).fails(3));
}

TEST_CASE("bad thresholds are usage errors that name the problem") {
    auto err = [](const char* text) {
        try {
            (void)parse_threshold(text, kMetrics);
        } catch (const ParseError& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    CHECK(err("p98>2ms").find("unknown metric 'p98'") == 0);
    CHECK(err("p98>2ms").find("p99, loss") != std::string::npos);
    CHECK(err("p99>2").find("missing unit") != std::string::npos);
    CHECK(err("p99>2").find("in check 'p99>2'") != std::string::npos);
    CHECK(err("p99").find("expected METRIC OP VALUE") != std::string::npos);
    CHECK(err(">2ms").find("bad check") == 0);
    CHECK(err("p99>").find("missing value") == 0);
    CHECK(err("p99=>2ms").find("bad operator") == 0);
}

TEST_CASE("a percentile family names any percentile, in one spelling") {
    const std::vector<MetricInfo> catalog{{"p999", Unit::ns, "legacy p99.9", false},
                                          {"p", Unit::ns, "any RTT percentile", true},
                                          {"connect_p", Unit::ns, "any connect percentile", true},
                                          {"loss", Unit::percent, "", false}};
    CHECK(parse_threshold("p95>1s", catalog).metric == "p95");
    CHECK(parse_threshold("p95>1s", catalog).value == 1e9);
    CHECK(parse_threshold("p99.9>1ms", catalog).metric == "p99_9"); // the JSON key's spelling
    CHECK(parse_threshold("p99_9>1ms", catalog).metric == "p99_9");
    CHECK(parse_threshold("p999>1ms", catalog).metric == "p999"); // an exact name first
    CHECK(parse_threshold("connect_p99.99>1ms", catalog).metric == "connect_p99_99");
    CHECK(parse_threshold("p95>1s", catalog).unit == Unit::ns);
    auto err = [&](const char* text) {
        try {
            (void)parse_threshold(text, catalog);
        } catch (const ParseError& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    for (const char* bad :
         {"p100>1s", "p0>1s", "p>1s", "p9.9.9>1s", "p.5>1s", "p5.>1s", "px>1s", "p-5>1s"})
        CHECK_MESSAGE(err(bad).find("unknown metric") == 0, bad);
    CHECK(err("p0>1s").find("p<P>, connect_p<P>") != std::string::npos); // listed as families
    CHECK(percentile_key(99.9) == "p99_9");
    CHECK(percentile_key(50) == "p50");
    CHECK(percentile_title(99.99) == "p99.99");
    CHECK(percentile_in_metric("p99_9", "p") == 99.9);
    CHECK(!percentile_in_metric("lag_p99", "p"));
}

TEST_CASE("human-only words and machine-only numbers: one type per key") {
    Report r;
    r.tool = "netdx-x";
    auto& sec = r.section("setup", "Setup", Section::Kind::record);
    sec.add({"hold", "hold", Unit::none, false, false, true}, Cell(std::string("until stopped")));
    sec.add({"hold_ns", "", Unit::ns, false, true}, Cell(Value{}));
    sec.add({"ratio", "vs best", Unit::ratio}, Cell(12.2249));
    std::ostringstream json, human, csv;
    make_reporter(Format::json, {false, true})->write(r, json);
    make_reporter(Format::table, {false, true})->write(r, human);
    make_reporter(Format::csv, {false, true})->write(r, csv);
    const auto doc = nlohmann::json::parse(json.str());
    CHECK(!doc["setup"].contains("hold")); // the words stay out of JSON
    CHECK(doc["setup"]["hold_ns"].is_null());
    CHECK(doc["setup"]["ratio"].get<double>() == doctest::Approx(12.2249)); // a number
    CHECK(human.str().find("until stopped") != std::string::npos);
    CHECK(human.str().find("12.22x") != std::string::npos);
    CHECK(csv.str().find("until stopped") == std::string::npos);
    CHECK(csv.str().rfind("hold_ns,ratio\r\n", 0) == 0);
    CHECK(parse_threshold("vs_best>1.5x", std::vector<MetricInfo>{{"vs_best", Unit::ratio, ""}})
              .value == 1.5);
}

TEST_CASE("evaluation: pass, fail and missing values") {
    std::vector<Threshold> ts{parse_threshold("p99>2ms", kMetrics),
                              parse_threshold("loss>0", kMetrics)};
    auto r = evaluate(ts, {{"p99", 1e6}, {"loss", 0}});
    CHECK(!r[0].failed);
    CHECK(!r[1].failed);
    r = evaluate(ts, {{"p99", 3e6}});
    CHECK(r[0].failed);
    CHECK(r[1].failed); // no value measured: the check fails rather than pass blind
    CHECK(!r[1].actual);
}

TEST_CASE("JSON reporter: one document with sections, checks and notes") {
    const auto doc = nlohmann::json::parse(render(Format::json));
    CHECK(doc["tool"] == "netdx-test");
    CHECK(doc["summary"]["p99_ns"] == 2'100'000);
    CHECK(doc["rows"].size() == 2);
    CHECK(doc["rows"][0]["name"] == "a,b \"quoted\"");
    CHECK(doc["rows"][0]["note"] == "detail text");
    CHECK(doc["checks"][0]["failed"] == true);
    CHECK(doc["checks"][0]["actual"] == 2'100'000.0);
    CHECK(doc["passed"] == false);
    CHECK(doc["notes"][0] == "a note");
    CHECK(render(Format::json, true).find('\x1b') == std::string::npos); // never colour in JSON
}

TEST_CASE("NDJSON reporter: every line is a JSON object with a type") {
    std::istringstream in(render(Format::ndjson));
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) {
        auto j = nlohmann::json::parse(line);
        CHECK(j.contains("type"));
        ++lines;
    }
    CHECK(lines == 1 + 2 + 1 + 1); // record, two rows, one check, one note
}

TEST_CASE("CSV reporter: RFC 4180 quoting and raw base units") {
    const auto csv = render(Format::csv);
    CHECK(csv.find("name,rate,note\r\n") == 0);
    CHECK(csv.find("\"a,b \"\"quoted\"\"\",5000,detail text\r\n") != std::string::npos);
    CHECK(csv_escape("plain") == "plain");
    CHECK(csv_escape("x\ny") == "\"x\ny\"");
}

TEST_CASE(
    "table reporter: units formatted, columns aligned, details below, colour only when asked") {
    const auto text = render(Format::table);
    CHECK(text.find("2.1ms") != std::string::npos);
    CHECK(text.find("1KiB") != std::string::npos);
    CHECK(text.find("5k/s") != std::string::npos);
    CHECK(text.find("note: detail text") != std::string::npos);
    CHECK(text.find("FAIL  p99>2ms  (p99 = 2.1ms)") != std::string::npos);
    CHECK(text.find('\x1b') == std::string::npos);
    // The µ row's rate column lines up with the ASCII row's (display width, not bytes).
    std::istringstream in(text);
    std::string line, a, b;
    while (std::getline(in, line)) {
        if (line.find("quoted") != std::string::npos) a = line;
        if (line.find("long-name") != std::string::npos) b = line;
    }
    REQUIRE(!a.empty());
    REQUIRE(!b.empty());
    auto width = [](const std::string& s) {
        std::size_t w = 0;
        for (char c : s)
            w += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        return w;
    };
    CHECK(width(a) == width(b));
    CHECK(render(Format::table, true).find("\x1b[") != std::string::npos);
}

TEST_CASE("colour policy") {
    CHECK(color_enabled(ColorMode::always, -1));
    CHECK(!color_enabled(ColorMode::never, 1));
    ::setenv("NO_COLOR", "1", 1);
    ::setenv("TERM", "xterm", 1);
    CHECK(!color_enabled(ColorMode::auto_detect, 1));
    CHECK(color_enabled(ColorMode::always, 1)); // an explicit flag beats NO_COLOR
    ::unsetenv("NO_COLOR");
    CHECK(!color_enabled(ColorMode::auto_detect, -1)); // not a terminal
    CHECK(parse_color_mode("never") == ColorMode::never);
    CHECK_THROWS_AS((void)parse_color_mode("sometimes"), ParseError);
    CHECK(paint(Style::bad, "x", false) == "x");
    CHECK(paint(Style::bad, "x", true) == "\x1b[1;31mx\x1b[0m");
}

TEST_CASE("rows must match the schema") {
    Section s;
    s.fields = {{"a", "a", Unit::none}};
    CHECK_THROWS_AS(s.add_row({Cell(1), Cell(2)}), std::logic_error);
}

TEST_CASE("text that is not UTF-8 is escaped, never the end of the document") {
    CHECK(escape_invalid_utf8("plain") == "plain");
    CHECK(escape_invalid_utf8("\u00b5s \u2713") == "\u00b5s \u2713"); // valid multi-byte kept
    CHECK(escape_invalid_utf8("a\xff"
                              "b") == "a\\xffb");
    CHECK(escape_invalid_utf8("\xc3") == "\\xc3");                   // a sequence cut short
    CHECK(escape_invalid_utf8("\xc0\xaf") == "\\xc0\\xaf");          // overlong '/'
    CHECK(escape_invalid_utf8("\xed\xa0\x80") == "\\xed\\xa0\\x80"); // a surrogate
    CHECK(!valid_utf8("\xf5\x80\x80\x80"));                          // past U+10FFFF
    Report r;
    r.tool = "netdx-test";
    auto& s = r.section("src", "", Section::Kind::record);
    s.add({"file", "file", Unit::none}, Cell(std::string("/tmp/caf\xe9.pcap"))); // Latin-1
    r.notes.push_back("comm \xfe\xff");
    std::ostringstream out;
    make_reporter(Format::json)->write(r, out);
    const auto doc = nlohmann::json::parse(out.str()); // throws on invalid UTF-8
    CHECK(doc["src"]["file"] == "/tmp/caf\\xe9.pcap");
    CHECK(doc["notes"][0] == "comm \\xfe\\xff");
}

TEST_CASE("a failure makes the report fail whatever its checks say") {
    auto r = sample_report();
    r.checks.clear();
    CHECK(r.exit_code() == ExitCode::ok);
    r.failure = Failure{ExitCode::unavailable, "connect 127.0.0.1:9: refused"};
    CHECK(r.exit_code() == ExitCode::unavailable);
    const auto doc = report_to_json(r);
    CHECK(doc["passed"] == false);
    CHECK(doc["exit_code"] == 69);
    CHECK(doc["error"]["kind"] == "unavailable");
    r.interrupted = true;
    CHECK(r.exit_code() == ExitCode::interrupted);
    const auto env = error_document("netdx-x", "1.0", ExitCode::usage, "bad port '0'");
    CHECK(env["passed"] == false);
    CHECK(env["error"]["exit_code"] == 2);
    CHECK(env["error"]["message"] == "bad port '0'");
}

// ------------------------------------------------------------------ record streams

namespace {

std::vector<Field> stream_fields() {
    return {{"name", "name", Unit::none},
            {"count", "count", Unit::count},
            {"delta", "delta", Unit::count},
            {"rtt_ns", "rtt", Unit::ns},
            {"ok", "ok", Unit::none},
            {"ratio", "ratio", Unit::none},
            {"raw", "raw", Unit::none, false, true}};
}

Row stream_row(std::string name) {
    return {Cell(std::move(name)),
            Cell(std::uint64_t{18446744073709551615u}),
            Cell(std::int64_t{-3}),
            Cell(Value{}),
            Cell(true),
            Cell(2.0),
            Cell(0.1)};
}

} // namespace

TEST_CASE("the row encoder writes JSON a JSON parser reads back exactly, whatever the bytes") {
    const RowEncoder enc(stream_fields());
    const std::string nasty = std::string("q\"b\\s\n\t\x01 caf\xc3\xa9 ") + "\xff\xfe";
    std::string out;
    enc.json_object(out, stream_row(nasty), R"("type":"tick")");
    const auto j = nlohmann::json::parse(out); // throws on invalid JSON (or invalid UTF-8)
    CHECK(j.at("type") == "tick");
    CHECK(j.at("name").get<std::string>().starts_with("q\"b\\s\n\t\x01 caf\xc3\xa9 "));
    CHECK(j.at("name").get<std::string>().ends_with("\\xff\\xfe")); // stray bytes as text
    CHECK(j.at("count").get<std::uint64_t>() == 18446744073709551615u);
    CHECK(j.at("delta").get<std::int64_t>() == -3);
    CHECK(j.at("rtt_ns").is_null());
    CHECK(j.at("ok") == true);
    CHECK(j.at("ratio").is_number_float()); // 2.0 stays a double, not 2
    CHECK(j.at("ratio").get<double>() == 2.0);
    CHECK(j.at("raw").get<double>() == 0.1);
    // Schema order, "type" first.
    CHECK(out.rfind(R"({"type":"tick","name":)", 0) == 0);
    std::string nan;
    enc.json_object(nan, {Cell("x"), Cell(std::uint64_t{1}), Cell(std::int64_t{0}),
                          Cell(std::uint64_t{5}), Cell(false),
                          Cell(std::numeric_limits<double>::infinity()), Cell(Value{})});
    CHECK(nlohmann::json::parse(nan).at("ratio").is_null()); // not finite: null, still JSON
}

TEST_CASE("the row encoder writes RFC 4180 CSV: one header, CRLF, quotes where needed") {
    const RowEncoder enc(stream_fields());
    std::string out;
    enc.csv_header(out);
    enc.csv_row(out, stream_row("a,\"b\"\nc"));
    CHECK(out == "name,count,delta,rtt_ns,ok,ratio,raw\r\n"
                 "\"a,\"\"b\"\"\nc\",18446744073709551615,-3,,true,2,0.1\r\n");
}

TEST_CASE("a record stream writes each format as rows come") {
    std::string sunk;
    auto sink = [&](std::string_view s) { sunk += s; };
    SUBCASE("ndjson: one typed object per line") {
        RecordStream s(Format::ndjson, "interval", stream_fields(), sink);
        s.write(stream_row("a"));
        s.write(stream_row("b"), "[1s] ", R"("extra":[1,2])");
        CHECK(s.rows() == 2);
        const auto nl = sunk.find('\n');
        REQUIRE(nl != std::string::npos);
        const auto first = nlohmann::json::parse(sunk.substr(0, nl));
        const auto second = nlohmann::json::parse(sunk.substr(nl + 1));
        CHECK(first.at("type") == "interval");
        CHECK(first.at("name") == "a");
        CHECK(second.at("extra") == nlohmann::json::array({1, 2}));
        CHECK(sunk.find("[1s]") == std::string::npos); // the prefix is the table's only
    }
    SUBCASE("csv: the header once") {
        RecordStream s(Format::csv, "interval", stream_fields(), sink);
        s.write(stream_row("a"));
        s.write(stream_row("b"));
        CHECK(sunk.find("name,count") == 0);
        CHECK(sunk.find("name,count", 1) == std::string::npos);
        CHECK(std::count(sunk.begin(), sunk.end(), '\n') == 3);
    }
    SUBCASE("table: a human line, machine-only fields left out") {
        RecordStream s(Format::table, "interval", stream_fields(), sink);
        s.write(stream_row("a"), "[2s] ");
        CHECK(sunk.rfind("[2s] name a  count ", 0) == 0);
        CHECK(sunk.find("raw") == std::string::npos);
        CHECK(sunk.back() == '\n');
    }
    SUBCASE("json: kept for the document, nothing written") {
        RecordStream s(Format::json, "interval", stream_fields(), sink);
        CHECK(s.json_array() == "[]");
        s.write(stream_row("a"));
        s.write(stream_row("b"));
        CHECK(sunk.empty());
        const auto arr = nlohmann::json::parse(s.json_array());
        REQUIRE(arr.size() == 2);
        CHECK(arr[1].at("name") == "b");
    }
    SUBCASE("json: streamed between the caller's brackets") {
        RecordStream s(Format::json, "connection", stream_fields(), sink, false);
        sunk += "[";
        s.write(stream_row("a"));
        s.write(stream_row("b"));
        sunk += "]";
        CHECK(nlohmann::json::parse(sunk).size() == 2);
    }
}

TEST_CASE("RFC 3339 times parse to what libc's timegm says, offsets and fractions included") {
    // date -u -d 2026-12-01T19:49:46Z +%s  ->  1796154586
    CHECK(parse_rfc3339_ns("2026-12-01T19:49:46Z") == 1'796'154'586 * kNanosPerSecond);
    CHECK(parse_rfc3339_ns("2026-12-01T20:49:46.5+01:00") ==
          1'796'154'586 * kNanosPerSecond + 500'000'000);
    CHECK(parse_rfc3339_ns("2026-12-01 19:49:46.123456789123z") ==
          1'796'154'586 * kNanosPerSecond + 123'456'789);
    // A sweep of days, months and leap years against timegm(3).
    for (int year : {1970, 1999, 2000, 2024, 2100}) {
        for (int month = 1; month <= 12; ++month) {
            std::tm tm{};
            tm.tm_year = year - 1900;
            tm.tm_mon = month - 1;
            tm.tm_mday = month == 2 ? 28 : 30;
            tm.tm_hour = 23;
            tm.tm_min = 59;
            tm.tm_sec = 58;
            const auto text =
                fmt::format("{:04}-{:02}-{:02}T23:59:58-00:30", year, month, tm.tm_mday);
            CHECK(parse_rfc3339_ns(text) == (::timegm(&tm) + 1800) * kNanosPerSecond);
        }
    }
    // The round trip with the run block's own format.
    CHECK(parse_rfc3339_ns(format_rfc3339_ns(1'796'162'906'116'579'512)) ==
          1'796'162'906'116'579'512);
    CHECK(parse_error_of([] { (void)parse_rfc3339_ns("2026-13-01T00:00:00Z"); }).find("month 13") !=
          std::string::npos);
    CHECK(parse_error_of([] {
              (void)parse_rfc3339_ns("2026-12-01T00:00:00");
          }).find("'Z' or a UTC offset") != std::string::npos);
    CHECK(parse_error_of([] {
              (void)parse_rfc3339_ns("2026-12-01T00:00:00Zjunk");
          }).find("'junk'") != std::string::npos);
}

TEST_CASE("--start-at takes RFC 3339, epoch seconds and +DURATION") {
    const Nanos now = 1'796'162'906 * kNanosPerSecond;
    CHECK(parse_start_at("+10s", now) == now + 10 * kNanosPerSecond);
    CHECK(parse_start_at("+250ms", now) == now + 250 * kNanosPerMilli);
    CHECK(parse_start_at("1796162910", now) == 1'796'162'910 * kNanosPerSecond);
    CHECK(parse_start_at("@1796162910.25", now) == 1'796'162'910 * kNanosPerSecond + 250'000'000);
    CHECK(parse_start_at("2026-12-01T19:49:46Z", now) == 1'796'154'586 * kNanosPerSecond);
    CHECK(parse_error_of([&] { (void)parse_start_at("+ten", now); }).find("'+ten'") !=
          std::string::npos);
    CHECK(parse_error_of([&] { (void)parse_start_at("tomorrow", now); }).find("'tomorrow'") !=
          std::string::npos);
}
