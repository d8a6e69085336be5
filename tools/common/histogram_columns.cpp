#include "histogram_columns.hpp"

namespace netdx::cli {

namespace {
std::string stat_name(const HistogramStat& s) {
    switch (s.kind) {
    case HistogramStat::Kind::min:
        return "min";
    case HistogramStat::Kind::mean:
        return "mean";
    case HistogramStat::Kind::stddev:
        return "stddev";
    case HistogramStat::Kind::max:
        return "max";
    case HistogramStat::Kind::percentile:
        break;
    }
    return percentile_key(s.p);
}

Cell value_of(const HistogramStat& s, const Histogram& h) {
    if (h.empty()) return Cell(Value{});
    switch (s.kind) {
    case HistogramStat::Kind::min:
        return Cell(h.min());
    case HistogramStat::Kind::mean:
        return Cell(h.mean());
    case HistogramStat::Kind::stddev:
        return Cell(h.stddev());
    case HistogramStat::Kind::max:
        return Cell(h.max());
    case HistogramStat::Kind::percentile:
        break;
    }
    return Cell(h.percentile(s.p));
}

double number_of(const HistogramStat& s, const Histogram& h) {
    switch (s.kind) {
    case HistogramStat::Kind::min:
        return static_cast<double>(h.min());
    case HistogramStat::Kind::mean:
        return h.mean();
    case HistogramStat::Kind::stddev:
        return h.stddev();
    case HistogramStat::Kind::max:
        return static_cast<double>(h.max());
    case HistogramStat::Kind::percentile:
        break;
    }
    return static_cast<double>(h.percentile(s.p));
}
} // namespace

std::string HistogramColumns::key(const HistogramStat& s) const {
    std::string suffix;
    if (unit == Unit::ns)
        suffix = "_ns";
    else if (unit == Unit::bytes)
        suffix = "_bytes";
    return key_prefix + stat_name(s) + suffix;
}

std::string HistogramColumns::title(const HistogramStat& s) const {
    return title_prefix +
           (s.kind == HistogramStat::Kind::percentile ? percentile_title(s.p) : stat_name(s));
}

std::string HistogramColumns::metric(const HistogramStat& s) const {
    return metric_prefix + stat_name(s);
}

void HistogramColumns::add_fields(std::vector<Field>& out) const {
    for (const auto& s : stats)
        out.push_back(field(s));
}

void HistogramColumns::add_cells(Row& row, const Histogram& h) const {
    for (const auto& s : stats)
        row.push_back(value_of(s, h));
}

void HistogramColumns::add_to(Section& record, const Histogram& h) const {
    for (const auto& s : stats)
        record.add(field(s), value_of(s, h));
}

void HistogramColumns::add_metrics(std::map<std::string, double>& out, const Histogram& h,
                                   const std::vector<Threshold>& checks) const {
    if (h.empty()) return;
    for (const auto& s : stats)
        out[metric(s)] = number_of(s, h);
    const std::string family = metric_prefix + "p";
    for (const auto& c : checks)
        if (const auto p = percentile_in_metric(c.metric, family))
            out[c.metric] = static_cast<double>(h.percentile(*p));
}

} // namespace netdx::cli
