#include <string>

#include <doctest/doctest.h>

#include <netdx/report/units.hpp>
#include <netdx/sys/parse_error.hpp>

#include "parse_error_of.hpp"

using namespace netdx;

TEST_CASE("durations parse in every unit") {
    CHECK(parse_duration_ns("750ns") == 750);
    CHECK(parse_duration_ns("17.4us") == 17'400);
    CHECK(parse_duration_ns("17.4\u00b5s") == 17'400);
    CHECK(parse_duration_ns("2.1ms") == 2'100'000);
    CHECK(parse_duration_ns("10s") == 10'000'000'000);
    CHECK(parse_duration_ns("2m") == 120'000'000'000);
    CHECK(parse_duration_ns("1h") == 3'600'000'000'000);
    CHECK(parse_duration_ns("1m30s") == 90'000'000'000);
    CHECK(parse_duration_ns("0") == 0);
    CHECK(parse_duration_ns("1_000ms") == 1'000'000'000);
}

TEST_CASE("bad durations name the token") {
    CHECK(parse_error_of([] { (void)parse_duration_ns("10"); }).find("'10'") != std::string::npos);
    CHECK(parse_error_of([] { (void)parse_duration_ns("10"); }).find("missing unit") !=
          std::string::npos);
    CHECK(parse_error_of([] { (void)parse_duration_ns("10x"); }).find("unknown unit 'x'") !=
          std::string::npos);
    CHECK(parse_error_of([] { (void)parse_duration_ns("-1s"); }).find("negative") !=
          std::string::npos);
    CHECK(parse_error_of([] { (void)parse_duration_ns("abc"); }).find("'abc'") !=
          std::string::npos);
    CHECK(parse_error_of([] { (void)parse_duration_ns(""); }) != "(no error)");
    CHECK(parse_error_of([] { (void)parse_duration_ns("1.2.3s"); }) != "(no error)");
}

TEST_CASE("durations format with three significant digits") {
    CHECK(format_duration(750) == "750ns");
    CHECK(format_duration(17'400) == "17.4us");
    CHECK(format_duration(2'100'000) == "2.1ms");
    CHECK(format_duration(10e9) == "10s");
    CHECK(format_duration(999'960) == "1ms"); // rounds up across the unit boundary
    CHECK(format_duration(1'234'567) == "1.23ms");
    CHECK(format_duration(125e9) == "2m05s");
    CHECK(format_duration(3720e9) == "1h02m");
    CHECK(format_duration(0) == "0ns");
    CHECK(format_duration(-1500) == "-1.5us");
}

TEST_CASE("sizes") {
    CHECK(parse_size("64") == 64);
    CHECK(parse_size("1KiB") == 1024);
    CHECK(parse_size("1K") == 1024);
    CHECK(parse_size("64KiB") == 65'536);
    CHECK(parse_size("1MiB") == 1'048'576);
    CHECK(parse_size("1KB") == 1000);
    CHECK(parse_size("1.5KiB") == 1536);
    CHECK(parse_error_of([] { (void)parse_size("1.1"); }).find("whole number") !=
          std::string::npos);
    CHECK(parse_error_of([] { (void)parse_size("12XB"); }).find("'XB'") != std::string::npos);
    CHECK(format_size(64) == "64");
    CHECK(format_size(1024) == "1KiB");
    CHECK(format_size(1536) == "1.5KiB");
    CHECK(format_size(65'536) == "64KiB");
}

TEST_CASE("rates, counts and percentages") {
    CHECK(parse_rate("5k/s") == doctest::Approx(5000));
    CHECK(parse_rate("5000") == doctest::Approx(5000));
    CHECK(parse_rate("1.5M/s") == doctest::Approx(1.5e6));
    CHECK(parse_rate("300/m") == doctest::Approx(5));
    CHECK(parse_error_of([] { (void)parse_rate("0/s"); }).find("above zero") != std::string::npos);
    CHECK(parse_error_of([] { (void)parse_rate("fast"); }).find("'fast'") != std::string::npos);
    CHECK(format_rate(5000) == "5k/s");
    CHECK(format_rate(12'345) == "12.3k/s");
    CHECK(format_rate(850) == "850/s");
    CHECK(parse_count("10k") == 10'000);
    CHECK(parse_count("10_000") == 10'000);
    CHECK(parse_count("1M") == 1'000'000);
    CHECK(parse_error_of([] { (void)parse_count("1.5"); }) != "(no error)");
    CHECK(parse_percent("0.1%") == doctest::Approx(0.1));
    CHECK(parse_percent("5") == doctest::Approx(5));
    CHECK(parse_error_of([] { (void)parse_percent("101%"); }).find("above 100") !=
          std::string::npos);
    CHECK(format_count(0) == "0");
    CHECK(format_count(999) == "999");
    CHECK(format_count(1000) == "1,000");
    CHECK(format_count(20000) == "20,000");
    CHECK(format_count(1234567) == "1,234,567");
}
