#pragma once
/// Units people type and read: durations, sizes, rates, counts, percentages.
///
///   durations  750ns  17.4us (or µs)  2.1ms  10s  2m  1h  1m30s   ("0" alone is allowed)
///   sizes      64  1KiB 4MiB 1GiB (×1024)   1K 1M 1G (×1024, as dd)   1KB 1kB 1MB 1GB (×1000)
///   rates      5000  5000/s  5k/s  1.5M/s  300/m (per minute)
///   counts     10000  10k  1M  10_000                                     (k, M, G ×1000)
///   percents   0.1%   5%   (a bare number is accepted where only percentages make sense)
///
/// Every parser throws ParseError naming the bad token, e.g. "bad duration '10x' (…)".

#include <cstdint>
#include <string>
#include <string_view>

namespace netdx {

[[nodiscard]] std::int64_t parse_duration_ns(std::string_view text);
[[nodiscard]] std::uint64_t parse_size(std::string_view text);
[[nodiscard]] double parse_rate(std::string_view text); ///< per second, > 0
[[nodiscard]] std::uint64_t parse_count(std::string_view text);
[[nodiscard]] double parse_percent(std::string_view text); ///< "0.1%" -> 0.1

/// Three significant digits, trailing zeros dropped: 750ns 17.4us 2.1ms 10s; from a minute
/// on, 2m05s, 1h02m. Negative values keep their sign.
[[nodiscard]] std::string format_duration(double ns);
/// 64, 1KiB, 1.5MiB (three significant digits).
[[nodiscard]] std::string format_size(double bytes);
/// 850/s, 5k/s, 12.3k/s, 1.2M/s.
[[nodiscard]] std::string format_rate(double per_second);
/// 21,000 (thousands separated by commas).
[[nodiscard]] std::string format_count(std::uint64_t n);
/// Up to `sig` significant digits, trailing zeros dropped: 2.10 -> "2.1".
[[nodiscard]] std::string format_significant(double v, int sig = 3);

} // namespace netdx
