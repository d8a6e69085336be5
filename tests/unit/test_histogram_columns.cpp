// The histogram-to-columns bridge: one spelling per statistic for keys, titles and metrics,
// values read from the histogram (its own percentile answers, computed here from known
// samples), nulls for an empty one, and any percentile a check names.
#include <doctest/doctest.h>

#include <netdx/report/threshold.hpp>

#include "histogram_columns.hpp"

using namespace netdx;
using cli::HistogramColumns;
using cli::HistogramStat;

TEST_CASE("histogram columns: keys, titles and metrics spelt once") {
    const HistogramColumns c{
        "connect_",
        "connect ",
        "connect_",
        {HistogramStat::min(), HistogramStat::percentile(99.9), HistogramStat::max()}};
    std::vector<Field> fields;
    c.add_fields(fields);
    REQUIRE(fields.size() == 3);
    CHECK(fields[0].key == "connect_min_ns");
    CHECK(fields[1].key == "connect_p99_9_ns");
    CHECK(fields[1].title == "connect p99.9");
    CHECK(fields[2].title == "connect max");
    CHECK(c.metric(HistogramStat::percentile(99.9)) == "connect_p99_9");
    CHECK(c.family("x").name == "connect_p");
    CHECK(c.family("x").percentiles);
}

TEST_CASE("histogram columns: cells and metrics from the histogram, nulls when empty") {
    // 1..1000 µs: the exact answers are known without the code under test.
    Histogram h;
    for (std::uint64_t us = 1; us <= 1000; ++us)
        h.record(us * 1000);
    const HistogramColumns c{"",
                             "",
                             "",
                             {HistogramStat::min(), HistogramStat::mean(),
                              HistogramStat::percentile(50), HistogramStat::max()}};
    Row row;
    c.add_cells(row, h);
    REQUIRE(row.size() == 4);
    CHECK(std::get<std::uint64_t>(row[0].value) == 1000);
    CHECK(std::get<double>(row[1].value) == doctest::Approx(500'500).epsilon(0.001));
    // 3 significant digits: the 500th sample, 500 µs, within 0.1%.
    CHECK(static_cast<double>(std::get<std::uint64_t>(row[2].value)) ==
          doctest::Approx(500'000).epsilon(0.001));
    CHECK(std::get<std::uint64_t>(row[3].value) == doctest::Approx(1'000'000).epsilon(0.001));

    // Any percentile a check names has its value, in the family's spelling.
    const MetricInfo family = c.family("rtt");
    const std::vector<Threshold> checks{parse_threshold("p95>1ms", {&family, 1}),
                                        parse_threshold("p99.5>1ms", {&family, 1})};
    std::map<std::string, double> m;
    c.add_metrics(m, h, checks);
    CHECK(m.at("p50") == doctest::Approx(500'000).epsilon(0.001));
    CHECK(m.at("p95") == doctest::Approx(950'000).epsilon(0.001));
    CHECK(m.at("p99_5") == doctest::Approx(995'000).epsilon(0.001));
    CHECK(m.at("min") == 1000);

    Histogram empty;
    Row nulls;
    c.add_cells(nulls, empty);
    for (const auto& cell : nulls)
        CHECK(std::holds_alternative<std::monostate>(cell.value));
    std::map<std::string, double> none;
    c.add_metrics(none, empty, checks);
    CHECK(none.empty()); // a check on nothing fails as "no value", not on a zero
}
