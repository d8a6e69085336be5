#include "chart.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include <netdx/report/units.hpp>

namespace netdx::mux {

namespace {
std::pair<double, double> y_range(const std::vector<Series>& series) {
    double lo = INFINITY, hi = 0;
    for (const auto& s : series)
        for (const auto& [x, y] : s.xy)
            if (y > 0) {
                lo = std::min(lo, y);
                hi = std::max(hi, y);
            }
    return {lo, hi};
}
} // namespace

std::string text_chart(const std::vector<Series>& series, const std::string& title,
                       std::size_t width) {
    const auto [lo, hi] = y_range(series);
    if (!(hi > 0)) return "";
    // Log scale from a decade below the smallest value, so the smallest bar is visible.
    const double base = std::log10(lo) - 1, top = std::log10(hi);
    std::set<double> xs;
    std::size_t name_w = 0;
    for (const auto& s : series) {
        name_w = std::max(name_w, s.name.size());
        for (const auto& [x, y] : s.xy)
            xs.insert(x);
    }
    static const char* kEighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
    std::string out = title + " (log scale)\n";
    std::size_t label_w = 0;
    for (const double x : xs)
        label_w = std::max(label_w,
                           fmt::format("N={}", format_count(static_cast<std::uint64_t>(x))).size());
    for (const double x : xs) {
        bool first = true;
        for (const auto& s : series) {
            const auto it =
                std::find_if(s.xy.begin(), s.xy.end(), [&](auto& p) { return p.first == x; });
            if (it == s.xy.end() || it->second <= 0) continue;
            const double frac = (std::log10(it->second) - base) / (top - base);
            const auto eighths =
                static_cast<std::size_t>(std::lround(frac * static_cast<double>(width * 8)));
            std::string bar;
            for (std::size_t i = 0; i < eighths / 8; ++i)
                bar += "█";
            bar += kEighths[eighths % 8];
            const std::size_t cells = eighths / 8 + (eighths % 8 ? 1 : 0);
            const std::string label =
                first ? fmt::format("N={}", format_count(static_cast<std::uint64_t>(x))) : "";
            out += fmt::format("  {:<{}}  {:<{}}  {}{} {}\n", label, label_w, s.name, name_w, bar,
                               std::string(width + 1 - std::min(cells, width + 1), ' '),
                               format_duration(it->second));
            first = false;
        }
    }
    return out;
}

std::string svg_chart(const std::vector<Series>& series, const std::string& title) {
    const double W = 720, H = 440, left = 80, right = 170, top_m = 40, bottom = 50;
    const auto [ylo, yhi] = y_range(series);
    double xlo = INFINITY, xhi = 0;
    for (const auto& s : series)
        for (const auto& [x, y] : s.xy) {
            xlo = std::min(xlo, x);
            xhi = std::max(xhi, x);
        }
    auto esc = [](std::string t) {
        std::string o;
        for (const char ch : t)
            o += ch == '<' ? "&lt;" : ch == '>' ? "&gt;" : ch == '&' ? "&amp;" : std::string(1, ch);
        return o;
    };
    std::string out =
        fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
                    "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n"
                    "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
                    "<text x=\"{2}\" y=\"24\" font-size=\"15\">{3}</text>\n",
                    W, H, left, esc(title));
    if (!(yhi > 0) || !(xhi > 0)) return out + "<text x=\"80\" y=\"80\">no data</text>\n</svg>\n";
    const double lx0 = std::floor(std::log10(xlo)),
                 lx1 = std::max(std::ceil(std::log10(xhi)), lx0 + 1);
    const double ly0 = std::floor(std::log10(ylo)),
                 ly1 = std::max(std::ceil(std::log10(yhi)), ly0 + 1);
    const double pw = W - left - right, ph = H - top_m - bottom;
    auto px = [&](double x) { return left + (std::log10(x) - lx0) / (lx1 - lx0) * pw; };
    auto py = [&](double y) { return top_m + ph - (std::log10(y) - ly0) / (ly1 - ly0) * ph; };
    out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" "
                       "stroke=\"#888\"/>\n",
                       left, top_m, pw, ph);
    for (double d = lx0; d <= lx1; ++d)
        out += fmt::format("<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#ddd\"/>"
                           "<text x=\"{0}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
                           px(std::pow(10, d)), top_m, top_m + ph, top_m + ph + 18,
                           format_count(static_cast<std::uint64_t>(std::pow(10, d))));
    for (double d = ly0; d <= ly1; ++d)
        out += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"#ddd\"/>"
                           "<text x=\"{3}\" y=\"{4}\" text-anchor=\"end\">{5}</text>\n",
                           left, left + pw, py(std::pow(10, d)), left - 6, py(std::pow(10, d)) + 4,
                           format_duration(std::pow(10, d)));
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">watched fds (N)</text>\n",
                       left + pw / 2, H - 12);
    out += fmt::format("<text x=\"16\" y=\"{}\" transform=\"rotate(-90 16 {})\" "
                       "text-anchor=\"middle\">time per call</text>\n",
                       top_m + ph / 2, top_m + ph / 2);
    static const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                    "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
    for (std::size_t i = 0; i < series.size(); ++i) {
        const char* color = kColors[i % 8];
        std::string pts;
        for (const auto& [x, y] : series[i].xy)
            if (y > 0) pts += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
        out += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" "
                           "stroke-width=\"2\"/>\n",
                           pts, color);
        for (const auto& [x, y] : series[i].xy)
            if (y > 0)
                out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n",
                                   px(x), py(y), color);
        const double ly = top_m + 10 + static_cast<double>(i) * 20;
        out += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"{3}\" "
                           "stroke-width=\"3\"/><text x=\"{4}\" y=\"{5}\">{6}</text>\n",
                           left + pw + 12, left + pw + 36, ly, color, left + pw + 42, ly + 4,
                           esc(series[i].name));
    }
    return out + "</svg>\n";
}

} // namespace netdx::mux
