#pragma once
/// Time per call against N, one series per backend, on a log scale: as text for a terminal
/// and as an SVG file a person can open.
///
///   N=100    select  ████████▏            3.1 µs
///            epoll   ███▍                 0.4 µs
///   N=10000  select  ████████████████████ 212 µs
///            epoll   ███▌                 0.4 µs

#include <string>
#include <vector>

namespace netdx::mux {

struct Series {
    std::string name;                          ///< backend
    std::vector<std::pair<double, double>> xy; ///< (N, ns), N ascending
};

/// Bars on a log scale (width columns for the longest); "" when there is nothing to draw.
[[nodiscard]] std::string text_chart(const std::vector<Series>& series, const std::string& title,
                                     std::size_t width = 40);

/// A log-log line chart: x = N, y = ns per call, a legend.
[[nodiscard]] std::string svg_chart(const std::vector<Series>& series, const std::string& title);

} // namespace netdx::mux
