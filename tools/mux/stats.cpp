#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace netdx::mux {

Summary summarize(std::vector<double>& s) {
    Summary r;
    r.n = s.size();
    if (s.empty()) return r;
    std::sort(s.begin(), s.end());
    const auto n = s.size();
    auto at = [&](double rank) {
        const auto i = static_cast<std::size_t>(std::clamp(rank, 0.0, static_cast<double>(n - 1)));
        return s[i];
    };
    r.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    r.p99 = at(std::ceil(0.99 * static_cast<double>(n)) - 1);
    r.min = s.front();
    r.mean = std::accumulate(s.begin(), s.end(), 0.0) / static_cast<double>(n);
    const double half = 0.98 * std::sqrt(static_cast<double>(n));
    const double mid = static_cast<double>(n) / 2;
    r.ci_low = at(std::floor(mid - half));
    r.ci_high = at(std::ceil(mid + half));
    return r;
}

std::optional<Model> fit_model(const std::vector<ModelPoint>& pts) {
    if (pts.size() < 2) return std::nullopt;
    const auto [nmin, nmax] =
        std::minmax_element(pts.begin(), pts.end(), [](auto& x, auto& y) { return x.n < y.n; });
    if (nmin->n == nmax->n) return std::nullopt;
    const auto [kmin, kmax] =
        std::minmax_element(pts.begin(), pts.end(), [](auto& x, auto& y) { return x.k < y.k; });
    const bool with_k = kmin->k != kmax->k;
    // Normal equations for [a b c] (or [a b]), solved by Gaussian elimination.
    const int m = with_k ? 3 : 2;
    double A[3][4] = {};
    for (const auto& p : pts) {
        const double x[3] = {1, p.n, p.k};
        for (int i = 0; i < m; ++i) {
            for (int j = 0; j < m; ++j)
                A[i][j] += x[i] * x[j];
            A[i][m] += x[i] * p.t;
        }
    }
    for (int col = 0; col < m; ++col) {
        int pivot = col;
        for (int r = col + 1; r < m; ++r)
            if (std::abs(A[r][col]) > std::abs(A[pivot][col])) pivot = r;
        if (std::abs(A[pivot][col]) < 1e-12) return std::nullopt; // N and K move together
        std::swap(A[col], A[pivot]);
        for (int r = 0; r < m; ++r) {
            if (r == col) continue;
            const double f = A[r][col] / A[col][col];
            for (int j = col; j <= m; ++j)
                A[r][j] -= f * A[col][j];
        }
    }
    Model model;
    model.a = A[0][m] / A[0][0];
    model.b = A[1][m] / A[1][1];
    model.c = with_k ? A[2][m] / A[2][2] : 0;
    model.points = pts.size();
    double mean = 0;
    for (const auto& p : pts)
        mean += p.t;
    mean /= static_cast<double>(pts.size());
    double ss_res = 0, ss_tot = 0;
    for (const auto& p : pts) {
        const double fit = model.a + model.b * p.n + model.c * p.k;
        ss_res += (p.t - fit) * (p.t - fit);
        ss_tot += (p.t - mean) * (p.t - mean);
    }
    model.r2 = ss_tot > 0 ? 1 - ss_res / ss_tot : 1;
    return model;
}

std::optional<double> crossover(const Model& x, const Model& y, double k) {
    const double slope = x.b - y.b;
    if (std::abs(slope) < 1e-12) return std::nullopt;
    const double n = ((y.a + y.c * k) - (x.a + x.c * k)) / slope;
    if (!(n > 0) || !std::isfinite(n)) return std::nullopt;
    return n;
}

} // namespace netdx::mux
