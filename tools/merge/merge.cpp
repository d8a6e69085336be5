#include "merge.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include <netdx/measure/histogram.hpp>
#include <netdx/report/run_info.hpp>
#include <netdx/sys/parse_error.hpp>

#include "../flood/metrics.hpp"
#include "../flood/plan.hpp"
#include "histogram_columns.hpp"

namespace netdx::merge {

using json = nlohmann::json;

std::string tool_of(const json& doc) {
    const auto tool = doc.value("tool", std::string());
    return tool == "netdx-merge" ? doc.value("tool_merged", std::string()) : tool;
}

namespace {

[[noreturn]] void refuse(const std::string& why);

/// The shards a document covers: its own, or, merged, the ones it was merged from.
std::vector<unsigned> shards_of(const json& run, unsigned& count) {
    std::vector<unsigned> out;
    const auto& shard = run.value("shard", json(nullptr));
    if (shard.is_object()) {
        count = shard.value("count", 0U);
        out.push_back(shard.value("index", 0U));
    } else if (const auto& m = run.value("shards_merged", json(nullptr)); m.is_object()) {
        count = m.value("count", 0U);
        out = m.value("indices", std::vector<unsigned>{});
    }
    return out;
}

[[noreturn]] void refuse(const std::string& why) {
    throw ParseError("cannot merge: " + why);
}

bool is_uint(const json& v) {
    return v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0);
}

// ------------------------------------------------------------------ field rules
//
// Every key of a merged section is one of these; a key no rule names is summed when every
// agent gives an unsigned integer (a counter) and must agree otherwise: so a new counter
// merges by itself, and a new number that is not a count is never summed by mistake.
enum class Rule { sum, agree, max, sum_double, derived };

struct Rules {
    std::map<std::string, Rule> keys;
    Rule of(const std::string& key) const {
        const auto it = keys.find(key);
        if (it != keys.end()) return it->second;
        // A port, an address or an id is an unsigned integer that is not a count.
        if (key.ends_with("_port") || key.ends_with("_address") || key.ends_with("_id"))
            return Rule::agree;
        return Rule::sum;
    }
};

/// Keys a histogram gives: "<prefix>min_ns", "<prefix>p99_9_ns", …
bool histogram_key(const std::string& key, const std::string& prefix) {
    if (!key.starts_with(prefix) || !key.ends_with("_ns")) return false;
    const auto stat = key.substr(prefix.size(), key.size() - prefix.size() - 3);
    return stat == "min" || stat == "max" || stat == "mean" || stat == "stddev" ||
           percentile_in_metric(stat, "p").has_value();
}

/// The value of a histogram key for `h` (null when it is empty).
json histogram_value(const std::string& key, const std::string& prefix, const Histogram& h) {
    if (h.empty()) return nullptr;
    const auto stat = key.substr(prefix.size(), key.size() - prefix.size() - 3);
    if (stat == "min") return h.min();
    if (stat == "max") return h.max();
    if (stat == "mean") return h.mean();
    if (stat == "stddev") return h.stddev();
    return h.percentile(*percentile_in_metric(stat, "p"));
}

/// Merges one record (a JSON object) of every input by the rules.
json merge_record(const std::vector<const json*>& parts, const std::vector<const Input*>& from,
                  const Rules& rules, const std::string& section, std::vector<std::string>& notes) {
    json out = json::object();
    std::set<std::string> keys;
    for (const auto* p : parts)
        for (const auto& [k, v] : p->items())
            keys.insert(k);
    for (const auto& key : keys) {
        Rule rule = rules.of(key);
        std::vector<const json*> vals;
        for (const auto* p : parts) {
            const auto it = p->find(key);
            vals.push_back(it == p->end() ? nullptr : &*it);
        }
        const bool all_uint =
            std::all_of(vals.begin(), vals.end(), [](const json* v) { return v && is_uint(*v); });
        if (rule == Rule::sum && !all_uint) rule = Rule::agree;
        switch (rule) {
        case Rule::derived:
            out[key] = nullptr; // set by the caller from the merged data
            break;
        case Rule::sum: {
            std::uint64_t s = 0;
            for (const auto* v : vals)
                s += v->get<std::uint64_t>();
            out[key] = s;
            break;
        }
        case Rule::sum_double: {
            double s = 0;
            bool null = false;
            for (const auto* v : vals) {
                if (!v || !v->is_number())
                    null = true;
                else
                    s += v->get<double>();
            }
            out[key] = null ? json(nullptr) : json(s);
            break;
        }
        case Rule::max: {
            json best = nullptr;
            for (const auto* v : vals)
                if (v && v->is_number() && (best.is_null() || *v > best)) best = *v;
            out[key] = best;
            break;
        }
        case Rule::agree: {
            const json first = vals.front() ? *vals.front() : json(nullptr);
            bool same = true;
            for (const auto* v : vals)
                same = same && v && *v == first;
            if (same) {
                out[key] = first;
            } else if (first.is_string()) {
                // Every value once, sorted (so the order of the files does not matter), and
                // an already merged "mixed: a | b" taken apart.
                std::set<std::string> seen;
                for (const auto* v : vals) {
                    if (!v || !v->is_string()) continue;
                    std::string_view text = v->get_ref<const std::string&>();
                    if (!text.starts_with("mixed: ")) {
                        seen.emplace(text);
                        continue;
                    }
                    text.remove_prefix(7);
                    for (std::size_t at; (at = text.find(" | ")) != std::string_view::npos;
                         text.remove_prefix(at + 3))
                        seen.emplace(text.substr(0, at));
                    seen.emplace(text);
                }
                std::string joined;
                for (const auto& t : seen)
                    joined += (joined.empty() ? "" : " | ") + t;
                out[key] = "mixed: " + joined;
            } else {
                out[key] = nullptr;
                notes.push_back(fmt::format("{}.{} differs between the agents ({} has {}, {} "
                                            "has {}): not merged",
                                            section, key, from.front()->path, first.dump(),
                                            from.back()->path,
                                            vals.back() ? vals.back()->dump() : "nothing"));
            }
            break;
        }
        }
    }
    return out;
}

/// The settings that make two documents parts of one run: they must be equal.
void require_same(const std::vector<Input>& in, const std::string& section,
                  const std::vector<std::string>& keys) {
    for (const auto& key : keys) {
        const json& a = in.front().doc[section].value(key, json(nullptr));
        for (const auto& other : in) {
            const json& b = other.doc[section].value(key, json(nullptr));
            if (a != b)
                refuse(fmt::format("{} and {} are not parts of one run: {}.{} is {} in one and {} "
                                   "in the other",
                                   in.front().path, other.path, section, key, a.dump(), b.dump()));
        }
    }
}

} // namespace

Histogram histogram_of(const Input& in, const json& doc, const std::string& what) {
    if (!doc.is_object()) refuse(fmt::format("{}: histogram {} is missing", in.path, what));
    const auto encoding = doc.value("encoding", std::string());
    if (encoding != "netdx-hdr-v1")
        refuse(fmt::format("{}: histogram {} is in encoding '{}'; this netdx merges netdx-hdr-v1",
                           in.path, what, encoding));
    try {
        const auto& counts = doc.at("counts");
        if (counts.is_object() && counts.contains("netdx_counts")) {
            const auto k = counts["netdx_counts"].get<std::size_t>();
            if (k >= in.counts.size()) throw std::invalid_argument("bad counts reference");
            return Histogram::from_json(doc, in.counts[k]);
        }
        return Histogram::from_json(doc);
    } catch (const std::exception& e) {
        refuse(fmt::format("{}: histogram {}: {}", in.path, what, e.what()));
    }
}

namespace {

Histogram merged_histogram(const std::vector<const Input*>& from,
                           const std::vector<const json*>& docs, const std::string& what) {
    Histogram total = histogram_of(*from.front(), *docs.front(), what);
    for (std::size_t i = 1; i < docs.size(); ++i) {
        const auto h = histogram_of(*from[i], *docs[i], what);
        if (h.highest() != total.highest())
            refuse(fmt::format("{}: histogram {} tracks up to {} ns, {} up to {} ns", from[i]->path,
                               what, h.highest(), from.front()->path, total.highest()));
        total.merge(h);
    }
    return total;
}

std::vector<const Input*> pointers(const std::vector<Input>& in) {
    std::vector<const Input*> out;
    for (const auto& i : in)
        out.push_back(&i);
    return out;
}

std::vector<const json*> sections(const std::vector<Input>& in, const std::string& name) {
    std::vector<const json*> out;
    for (const auto& i : in) {
        const auto it = i.doc.find(name);
        if (it == i.doc.end() || !it->is_object())
            refuse(fmt::format("{}: no \"{}\" section (not a complete result)", i.path, name));
        out.push_back(&*it);
    }
    return out;
}

/// Table rows (arrays of objects) merged by a key made of `id` fields, in the first
/// document's order and then any row only later documents have.
template <typename Merge>
json merge_rows(const std::vector<Input>& in, const std::string& name,
                const std::vector<std::string>& id, Merge&& merge_group) {
    std::vector<std::string> order;
    std::map<std::string, std::vector<std::pair<const Input*, const json*>>> groups;
    for (const auto& i : in) {
        const auto it = i.doc.find(name);
        if (it == i.doc.end() || !it->is_array()) continue;
        for (const auto& row : *it) {
            std::string k;
            for (const auto& f : id)
                k += row.value(f, json(nullptr)).dump() + "\x1f";
            if (!groups.count(k)) order.push_back(k);
            groups[k].emplace_back(&i, &row);
        }
    }
    json out = json::array();
    for (const auto& k : order)
        out.push_back(merge_group(groups[k]));
    return out;
}

// ------------------------------------------------------------------ probe

void merge_probe(const std::vector<Input>& in, const std::vector<Threshold>& checks, Merged& m) {
    require_same(in, "target", {"target", "protocol", "mode", "inflight", "warmup_ns"});
    auto sizes_of = [](const Input& i) {
        std::vector<json> s;
        for (const auto& r : i.doc.value("results", json::array()))
            s.push_back(r.value("size_bytes", json(nullptr)));
        return s;
    };
    for (const auto& i : in)
        if (sizes_of(i) != sizes_of(in.front()))
            refuse(fmt::format("{} and {} are not parts of one run: they probed different sizes",
                               in.front().path, i.path));
    const auto from = pointers(in);
    Rules target_rules{{{"target_address", Rule::agree},
                        {"target_port", Rule::agree},
                        {"connections", Rule::sum},
                        {"threads", Rule::sum},
                        {"rate_per_s", Rule::sum_double},
                        {"run_rate_per_s", Rule::agree},
                        {"run_count", Rule::agree},
                        {"inflight", Rule::agree},
                        {"warmup_ns", Rule::agree}}};
    m.doc["target"] = merge_record(sections(in, "target"), from, target_rules, "target", m.notes);
    Rules env_rules{{{"clock_read_ns", Rule::max}}};
    m.doc["environment"] =
        merge_record(sections(in, "environment"), from, env_rules, "environment", m.notes);

    // Histograms and raw counters by size.
    auto by_size = [&](const std::string& key, const json& size) {
        std::vector<const json*> out;
        for (const auto& i : in) {
            const json* found = nullptr;
            if (const auto it = i.doc.find(key); it != i.doc.end() && it->is_array())
                for (const auto& e : *it)
                    if (e.value("size_bytes", json(nullptr)) == size) found = &e;
            if (!found) refuse(fmt::format("{}: no {} for size {}", i.path, key, size.dump()));
            out.push_back(found);
        }
        return out;
    };
    const bool sweep = in.front().doc.value("results", json::array()).size() > 1;
    json histograms = json::array();
    json raw = json::array();
    json results = json::array();
    for (const auto& row0 : in.front().doc.value("results", json::array())) {
        const json size = row0.value("size_bytes", json(nullptr));
        const auto hs = by_size("histograms", size);
        std::map<std::string, Histogram> merged;
        for (const char* name : {"rtt", "rtt_uncorrected", "send_lag"}) {
            if (!hs.front()->contains(name)) continue;
            std::vector<const json*> docs;
            for (const auto* h : hs)
                docs.push_back(&h->at(name));
            merged.emplace(
                name, merged_histogram(from, docs, fmt::format("{} (size {})", name, size.dump())));
        }
        const Histogram& rtt = merged.at("rtt");
        json hj = {{"size_bytes", size}};
        for (const auto& [name, h] : merged)
            hj[name] = h.to_json();
        histograms.push_back(std::move(hj));

        // Raw counters: measured time (the longest: the agents ran at once) and errors.
        std::uint64_t measured = 0;
        std::map<std::string, std::uint64_t> errors;
        if (std::all_of(in.begin(), in.end(),
                        [](const Input& i) { return i.doc.contains("raw"); })) {
            for (const auto* r : by_size("raw", size)) {
                measured = std::max<std::uint64_t>(measured, r->value("measured_ns", 0ULL));
                const json errs = r->value("errors", json::object());
                for (const auto& [k, v] : errs.items())
                    errors[k] += v.get<std::uint64_t>();
            }
            raw.push_back({{"size_bytes", size}, {"measured_ns", measured}, {"errors", errors}});
        }

        std::vector<const json*> rows;
        for (const auto& i : in)
            for (const auto& r : i.doc.at("results"))
                if (r.value("size_bytes", json(nullptr)) == size) rows.push_back(&r);
        Rules rules{{{"size_bytes", Rule::agree},
                     {"achieved_rate_per_s", Rule::sum_double},
                     {"loss_percent", Rule::derived},
                     {"half_rtt_p50_ns", Rule::derived}}};
        for (const auto* r : rows)
            for (const auto& [k, v] : r->items())
                if (histogram_key(k, "") || histogram_key(k, "uncorrected_") ||
                    histogram_key(k, "lag_"))
                    rules.keys[k] = Rule::derived;
        json row = merge_record(rows, from, rules, "results", m.notes);
        for (auto& [k, v] : row.items()) {
            if (histogram_key(k, "uncorrected_") && merged.count("rtt_uncorrected"))
                v = histogram_value(k, "uncorrected_", merged.at("rtt_uncorrected"));
            else if (histogram_key(k, "lag_") && merged.count("send_lag"))
                v = histogram_value(k, "lag_", merged.at("send_lag"));
            else if (histogram_key(k, ""))
                v = histogram_value(k, "", rtt);
        }
        row["count"] = rtt.count();
        if (row.contains("half_rtt_p50_ns"))
            row["half_rtt_p50_ns"] = rtt.empty() ? json(nullptr) : json(rtt.percentile(50) / 2);
        std::uint64_t lost = row.value("lost", 0ULL);
        if (row.contains("loss_percent")) {
            const auto asked = rtt.count() + lost;
            row["loss_percent"] =
                asked ? 100.0 * static_cast<double>(lost) / static_cast<double>(asked) : 0.0;
        }
        results.push_back(row);

        // --fail-if values, named as netdx-probe names them.
        std::map<std::string, double> metrics;
        const cli::HistogramColumns rtt_cols{
            "",
            "",
            "",
            {cli::HistogramStat::min(), cli::HistogramStat::mean(), cli::HistogramStat::stddev(),
             cli::HistogramStat::percentile(50), cli::HistogramStat::percentile(90),
             cli::HistogramStat::percentile(99), cli::HistogramStat::max()}};
        rtt_cols.add_metrics(metrics, rtt, checks);
        if (!rtt.empty()) {
            metrics["p999"] = static_cast<double>(rtt.percentile(99.9));
            metrics["p9999"] = static_cast<double>(rtt.percentile(99.99));
        }
        metrics["count"] = static_cast<double>(rtt.count());
        for (const char* k :
             {"lost", "late", "duplicates", "reordered", "errors", "truncated", "skipped"})
            if (row.contains(k) && row[k].is_number()) metrics[k] = row[k].get<double>();
        if (row.contains("loss_percent")) metrics["loss"] = row["loss_percent"].get<double>();
        if (merged.count("rtt_uncorrected"))
            cli::HistogramColumns{"uncorrected_", "", "uncorrected_", {}}.add_metrics(
                metrics, merged.at("rtt_uncorrected"), checks);
        if (merged.count("send_lag"))
            cli::HistogramColumns{"lag_", "", "lag_", {}}.add_metrics(
                metrics, merged.at("send_lag"), checks);
        m.metrics.emplace_back(sweep ? fmt::format("size {}", size.dump()) : std::string(),
                               std::move(metrics));
        for (double p : {50.0, 90.0, 99.0, 99.9, 99.99})
            if (!rtt.empty() && rtt.count() < Histogram::samples_needed(p))
                m.notes.push_back(fmt::format("{} bytes: {} needs at least {} samples, {} were "
                                              "measured: it is the maximum, not a percentile",
                                              size.dump(), percentile_title(p),
                                              Histogram::samples_needed(p), rtt.count()));
    }
    m.doc["results"] = std::move(results);
    m.doc["histograms"] = std::move(histograms);
    if (!raw.empty()) m.doc["raw"] = std::move(raw);
    m.doc["intervals"] = json::array();
    if (std::any_of(in.begin(), in.end(), [](const Input& i) {
            return !i.doc.value("intervals", json::array()).empty();
        }))
        m.notes.push_back("the agents' --interval rows are not merged (an interval's histogram is "
                          "not in the documents): see each agent's file");
}

// ------------------------------------------------------------------ flood

void merge_flood(const std::vector<Input>& in, const std::vector<Threshold>& checks, Merged& m) {
    require_same(in, "flood", {"hold_ns", "close", "run_connections_asked"});
    const auto from = pointers(in);
    Rules flood_rules{{{"rate_asked_per_s", Rule::sum_double},
                       {"hold_ns", Rule::agree},
                       {"run_connections_asked", Rule::agree}}};
    m.doc["flood"] = merge_record(sections(in, "flood"), from, flood_rules, "flood", m.notes);

    const auto hists = sections(in, "histograms");
    std::map<std::string, Histogram> merged;
    for (const char* name : {"connect_latency", "established_at", "echo_rtt"}) {
        if (!hists.front()->contains(name)) continue;
        std::vector<const json*> docs;
        for (const auto* h : hists) {
            if (!h->contains(name))
                refuse(fmt::format("the agents differ: some have histogram {}, some not", name));
            docs.push_back(&h->at(name));
        }
        merged.emplace(name, merged_histogram(from, docs, name));
    }
    json hj = json::object();
    for (const auto& [name, h] : merged)
        hj[name] = h.to_json();
    m.doc["histograms"] = std::move(hj);

    Rules result_rules{{{"verified_by", Rule::agree},
                        {"verification", Rule::agree},
                        {"check_ns", Rule::max},
                        {"fds_peak", Rule::max}, // each process against its own limit
                        {"close_ns", Rule::max},
                        {"rate_per_s", Rule::derived},
                        {"memory_per_conn_bytes", Rule::derived}}};
    const auto results = sections(in, "result");
    for (const auto* r : results)
        for (const auto& [k, v] : r->items())
            if (histogram_key(k, "connect_") || histogram_key(k, "echo_") ||
                k.starts_with("time_to_"))
                result_rules.keys[k] = Rule::derived;
    json res = merge_record(results, from, result_rules, "result", m.notes);

    const auto& est_at = merged.at("established_at");
    // The whole run's N: what the agents were asked together.
    const std::uint64_t asked = m.doc["flood"].value("connections_asked", 0ULL);
    const std::uint64_t established = res.value("established", 0ULL);
    const std::uint64_t handshakes = res.value("handshakes", 0ULL);
    std::map<std::string, double> metrics;
    for (auto& [k, v] : res.items()) {
        if (histogram_key(k, "connect_") && merged.count("connect_latency"))
            v = histogram_value(k, "connect_", merged.at("connect_latency"));
        else if (histogram_key(k, "echo_") && merged.count("echo_rtt"))
            v = histogram_value(k, "echo_", merged.at("echo_rtt"));
        else if (k.starts_with("time_to_") && k.ends_with("_ns")) {
            // flood's own definition: the k-th connection of N, k = ⌈N·percent/100⌉.
            const auto percent = std::stoull(k.substr(8, k.size() - 11));
            const auto rank = flood::plan::rank_of(asked, percent);
            if (rank == 0 || rank > est_at.count() || rank > established) {
                v = nullptr;
            } else {
                v = est_at.value_at_rank(rank);
                metrics[k.substr(0, k.size() - 3)] = static_cast<double>(v.get<std::uint64_t>());
            }
        }
    }
    const double rate =
        est_at.count() == 0 || est_at.max() == 0
            ? 0.0
            : static_cast<double>(est_at.count()) * 1e9 / static_cast<double>(est_at.max());
    res["rate_per_s"] = rate;
    if (rate > 0) metrics["rate"] = rate;
    const std::uint64_t peak = res.value("open_peak", 0ULL);
    if (res.contains("memory_per_conn_bytes")) {
        if (peak > 0 && res.contains("rss_growth_bytes")) {
            const double per = static_cast<double>(res["rss_growth_bytes"].get<std::uint64_t>()) /
                               static_cast<double>(peak);
            res["memory_per_conn_bytes"] = static_cast<std::uint64_t>(per);
            metrics["memory_per_conn"] = per;
        } else {
            m.notes.push_back("memory per connection is not merged: a document lacks "
                              "rss_growth_bytes (made by an older netdx-flood)");
        }
    }
    if (m.agents.size() > 1)
        m.notes.push_back("open_peak is the sum of the agents' peaks: the most open at once "
                          "if they peaked together (an upper bound otherwise)");

    // Targets and sources: every agent's, once each.
    for (const char* key : {"target_endpoints", "source_addresses"}) {
        json all = json::array();
        std::set<json> seen;
        for (const auto& i : in)
            if (const auto it = i.doc.find(key); it != i.doc.end() && it->is_array())
                for (const auto& e : *it)
                    if (seen.insert(e).second) all.push_back(e);
        m.doc[key] = std::move(all);
    }

    // Failures by call and errno: summed per (call, errno).
    m.doc["failures"] = merge_rows(in, "failures", {"call", "errno"}, [&](const auto& group) {
        json row = *group.front().second;
        std::uint64_t n = 0;
        for (const auto& [i, r] : group)
            n += r->value("count", 0ULL);
        row["count"] = n;
        return row;
    });
    std::uint64_t refused = 0;
    for (const auto& f : m.doc["failures"])
        if (f.value("errno", std::string()) == "ECONNREFUSED") refused += f.value("count", 0ULL);
    // Limits: each agent is a machine of its own; the most loaded one's row, with its name.
    m.doc["limits"] = merge_rows(in, "limits", {"limit"}, [&](const auto& group) {
        const json* best = nullptr;
        const Input* best_in = nullptr;
        for (const auto& [i, r] : group) {
            const auto key = [](const json* x) {
                return std::pair{
                    x->value("percent", json(nullptr)).is_number() ? x->at("percent").get<double>()
                                                                   : -1.0,
                    x->value("used", json(nullptr)).is_number() ? x->at("used").get<double>()
                                                                : -1.0};
            };
            if (!best || key(r) > key(best)) {
                best = r;
                best_in = i;
            }
        }
        json row = *best;
        row["agent"] = best_in->doc["run"].value("agent", std::string());
        return row;
    });
    if (!m.doc["limits"].empty())
        m.notes.push_back("limits: each row is the most loaded agent's (see its agent)");

    for (const char* k : {"established", "handshakes", "unanswered", "failed", "timed_out",
                          "open_peak", "corrupt_echoes"})
        if (res.contains(k) && res[k].is_number()) metrics[k] = res[k].get<double>();
    metrics["unconfirmed"] =
        static_cast<double>(handshakes > established ? handshakes - established : 0);
    metrics["refused"] = static_cast<double>(refused);
    metrics["closed_by_peer"] =
        static_cast<double>(res.value("closed_by_peer", 0ULL) + res.value("reset_by_peer", 0ULL));
    if (merged.count("connect_latency"))
        cli::HistogramColumns{"connect_",
                              "",
                              "connect_",
                              {cli::HistogramStat::percentile(50),
                               cli::HistogramStat::percentile(90),
                               cli::HistogramStat::percentile(99), cli::HistogramStat::max()}}
            .add_metrics(metrics, merged.at("connect_latency"), checks);
    if (merged.count("echo_rtt"))
        cli::HistogramColumns{"echo_", "", "echo_", {cli::HistogramStat::percentile(99)}}
            .add_metrics(metrics, merged.at("echo_rtt"), checks);
    m.doc["result"] = std::move(res);
    m.doc["intervals"] = json::array();
    m.metrics.emplace_back(std::string(), std::move(metrics));
}

} // namespace

namespace {

/// Scans `[[slot, count], …]` at text[at] (whitespace allowed); on success returns the
/// index just past it and fills `out`; on anything else npos (the DOM parser then reads it).
std::size_t scan_counts(std::string_view text, std::size_t at, Histogram::SlotCounts& out) {
    auto skip = [&] {
        while (at < text.size() &&
               (text[at] == ' ' || text[at] == '\n' || text[at] == '\r' || text[at] == '\t'))
            ++at;
    };
    auto expect = [&](char c) {
        skip();
        if (at >= text.size() || text[at] != c) return false;
        ++at;
        return true;
    };
    auto number = [&](std::uint64_t& v) {
        skip();
        const auto [p, ec] = std::from_chars(text.data() + at, text.data() + text.size(), v);
        if (ec != std::errc{}) return false;
        at = static_cast<std::size_t>(p - text.data());
        return true;
    };
    if (!expect('[')) return std::string_view::npos;
    skip();
    if (at < text.size() && text[at] == ']') return at + 1;
    for (;;) {
        std::uint64_t slot = 0, n = 0;
        if (!expect('[') || !number(slot) || !expect(',') || !number(n) || !expect(']'))
            return std::string_view::npos;
        out.emplace_back(slot, n);
        skip();
        if (at < text.size() && text[at] == ',') {
            ++at;
            continue;
        }
        return expect(']') ? at : std::string_view::npos;
    }
}

} // namespace

Input read_input(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw ParseError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    std::ostringstream buffer;
    buffer << f.rdbuf();
    const std::string text = std::move(buffer).str();
    // The fast path: histograms' pairs are most of a document; scan them straight into
    // vectors and hand the DOM parser the rest, each array replaced by a reference.
    Input in{path, {}, {}};
    std::string rest;
    rest.reserve(text.size() / 4);
    constexpr std::string_view kKey = "\"counts\"";
    std::size_t copied = 0;
    for (std::size_t at = 0; (at = text.find(kKey, at)) != std::string::npos;) {
        std::size_t colon = at + kKey.size();
        while (colon < text.size() && (text[colon] == ' ' || text[colon] == '\n'))
            ++colon;
        if (colon >= text.size() || text[colon] != ':') {
            at = colon;
            continue;
        }
        Histogram::SlotCounts pairs;
        const auto end = scan_counts(text, colon + 1, pairs);
        if (end == std::string_view::npos) {
            at = colon;
            continue;
        }
        rest.append(text, copied, colon + 1 - copied);
        rest += fmt::format("{{\"netdx_counts\":{}}}", in.counts.size());
        in.counts.push_back(std::move(pairs));
        copied = at = end;
    }
    rest.append(text, copied, std::string::npos);
    in.doc = json::parse(rest, nullptr, false);
    if (in.doc.is_discarded() || !in.doc.is_object())
        throw ParseError(fmt::format("cannot merge: {} is not a JSON document (netdx-probe or "
                                     "netdx-flood --json)",
                                     path));
    return in;
}

Merged merge(const std::vector<Input>& in, const std::vector<Threshold>& checks, bool partial_ok) {
    if (in.empty()) throw ParseError("netdx merge needs at least one result file");
    Merged m;
    // The documents: of this schema, tool and run, not error reports.
    for (const auto& i : in) {
        const auto v = i.doc.value("schema_version", json(nullptr));
        if (v != json(kSchemaVersion))
            refuse(fmt::format("{}: schema_version {}; this netdx reads {}", i.path, v.dump(),
                               kSchemaVersion));
        const auto tool = tool_of(i.doc);
        if (tool != "netdx-probe" && tool != "netdx-flood")
            refuse(fmt::format("{} is a {} result; netdx merge merges netdx-probe and "
                               "netdx-flood results",
                               i.path, tool.empty() ? "non-netdx" : tool));
        if (tool != tool_of(in.front().doc))
            refuse(fmt::format("{} is a {} result and {} a {} result", in.front().path,
                               tool_of(in.front().doc), i.path, tool));
        if (!i.doc.value("error", json(nullptr)).is_null())
            refuse(fmt::format("{} is an error report, not a result: {}", i.path,
                               i.doc["error"].value("message", std::string())));
        const auto id = i.doc["run"].value("id", std::string());
        if (id != in.front().doc["run"].value("id", std::string()))
            refuse(fmt::format("{} and {} are of different runs (run ids {} and {}): give the "
                               "agents of one run the same --run-id",
                               in.front().path, i.path, in.front().doc["run"].value("id", ""), id));
    }
    m.tool = tool_of(in.front().doc);

    // Shards: all or none; each index of one count once (a merged file covers several).
    unsigned count = 0;
    const bool sharded = !shards_of(in.front().doc["run"], count).empty();
    count = 0;
    std::map<unsigned, std::string> seen;
    std::set<std::pair<std::string, std::int64_t>> agents_seen;
    for (const auto& i : in) {
        unsigned k = 0;
        const auto indices = shards_of(i.doc["run"], k);
        if (indices.empty() == sharded)
            refuse(fmt::format("{} has {} shard and {} {}", in.front().path, sharded ? "a" : "no",
                               i.path, sharded ? "none" : "one"));
        if (sharded) {
            if (count == 0) count = k;
            if (k != count)
                refuse(fmt::format("{} is of {} shards but {} of {}", i.path, k, in.front().path,
                                   count));
            for (const auto index : indices) {
                if (index >= count)
                    refuse(fmt::format("{}: shard {}/{} is out of range", i.path, index, count));
                if (const auto it = seen.find(index); it != seen.end())
                    refuse(
                        fmt::format("shard {}/{} twice: {} and {}", index, k, it->second, i.path));
                seen[index] = i.path;
            }
        } else if (!agents_seen
                        .emplace(i.doc["run"].value("agent", std::string()),
                                 i.doc["run"].value("start_ns", std::int64_t{0}))
                        .second) {
            refuse(
                fmt::format("{} is the same result as an earlier file (agent and start)", i.path));
        }
    }
    std::vector<unsigned> covered;
    for (const auto& [index, path] : seen)
        covered.push_back(index);
    const bool all_shards = covered.size() == count;
    if (sharded && !all_shards && !partial_ok) {
        std::string missing;
        for (unsigned s = 0; s < count; ++s)
            if (!seen.count(s))
                missing += fmt::format("{}{}/{}", missing.empty() ? "" : ", ", s, count);
        refuse(fmt::format("shard{} {} {} missing (have {} of {}; --partial merges them anyway)",
                           missing.find(',') == std::string::npos ? "" : "s", missing,
                           missing.find(',') == std::string::npos ? "is" : "are", seen.size(),
                           count));
    }

    // The agents, and the run block of the whole.
    std::set<json> starts;
    json latest = nullptr, worst_error = nullptr;
    bool synced = true;
    std::int64_t first_start = INT64_MAX;
    std::string names;
    const bool probe = m.tool == "netdx-probe";
    for (const auto& i : in) {
        const auto& run = i.doc["run"];
        if (run.value("start_lateness_ns", json(nullptr)).is_number() &&
            (latest.is_null() || run["start_lateness_ns"] > latest))
            latest = run["start_lateness_ns"];
        const auto& err = run["clock"].value("max_error_ns", json(nullptr));
        if (err.is_number() && (worst_error.is_null() || err > worst_error)) worst_error = err;
        synced = synced && run["clock"].value("synchronized", false);
        starts.insert(run.value("start_at_ns", json(nullptr)));
        first_start = std::min(first_start, run.value("start_ns", std::int64_t{0}));
        if (i.doc.value("tool", std::string()) == "netdx-merge") { // its agents, as they were
            for (const auto& row : i.doc.value("agents", json::array())) {
                Agent a;
                a.file = row.value("file", std::string());
                a.agent = row.value("agent", std::string());
                a.shard = row.value("shard", json(nullptr));
                a.start_lateness_ns = row.value("start_lateness_ns", json(nullptr));
                a.clock_max_error_ns = row.value("clock_max_error_ns", json(nullptr));
                a.clock_synchronized = row.value("clock_synchronized", false);
                a.count = row.value(probe ? "count" : "established", json(nullptr));
                a.p99_ns = row.value(probe ? "p99_ns" : "connect_p99_ns", json(nullptr));
                names += (names.empty() ? "" : ", ") + a.agent;
                m.agents.push_back(std::move(a));
            }
            continue;
        }
        Agent a;
        a.file = i.path;
        a.agent = run.value("agent", std::string());
        const auto& shard = run.value("shard", json(nullptr));
        a.shard =
            shard.is_null()
                ? json(nullptr)
                : json(fmt::format("{}/{}", shard.value("index", 0U), shard.value("count", 0U)));
        a.start_lateness_ns = run.value("start_lateness_ns", json(nullptr));
        a.clock_max_error_ns = err;
        a.clock_synchronized = run["clock"].value("synchronized", false);
        if (probe) {
            const auto& rows = i.doc.value("results", json::array());
            if (!rows.empty()) {
                a.count = rows[0].value("count", json(nullptr));
                a.p99_ns = rows[0].value("p99_ns", json(nullptr));
            }
        } else {
            a.count = i.doc["result"].value("established", json(nullptr));
            a.p99_ns = i.doc["result"].value("connect_p99_ns", json(nullptr));
        }
        names += (names.empty() ? "" : ", ") + a.agent;
        m.agents.push_back(std::move(a));
    }
    if (m.agents.size() > 1 && (starts.size() > 1 || starts.begin()->is_null()))
        m.notes.push_back("the agents did not share one --start-at: their times (time to N, "
                          "rates) count from each agent's own start");
    if (m.tool == "netdx-probe")
        merge_probe(in, checks, m);
    else
        merge_flood(in, checks, m);

    m.run = in.front().doc["run"];
    m.run["agent"] = m.agents.size() == 1 ? names : fmt::format("merged: {}", names);
    m.run["shard"] = nullptr;
    m.run["shards_merged"] = sharded ? json{{"count", count}, {"indices", covered}} : json(nullptr);
    m.run["start_ns"] = first_start;
    m.run["start"] = format_rfc3339_ns(first_start);
    m.run["start_lateness_ns"] = latest;
    m.run["clock"] = {
        {"synchronized", synced}, {"max_error_ns", worst_error}, {"est_error_ns", nullptr}};
    m.run["agents"] = m.agents.size();
    return m;
}

} // namespace netdx::merge
