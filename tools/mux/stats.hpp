#pragma once
/// Summaries of timing samples and the cost model netdx-mux fits.
///
/// The 95% confidence interval of a median comes from order statistics, with no assumption
/// about the distribution: the true median lies between the samples of rank
/// n/2 - 0.98·sqrt(n) and n/2 + 0.98·sqrt(n) with 95% probability (the binomial count of
/// samples below it, normally approximated).

#include <optional>
#include <string>
#include <vector>

namespace netdx::mux {

struct Summary {
    std::size_t n = 0;
    double median = 0, p99 = 0, min = 0, mean = 0;
    double ci_low = 0, ci_high = 0; ///< 95% CI of the median
    /// Half the CI's width relative to the median (0.03 = ±3%).
    [[nodiscard]] double ci_relative() const {
        return median > 0 ? (ci_high - ci_low) / 2 / median : 0;
    }
};

/// Sorts `samples` in place. n = 0 gives an all-zero summary.
[[nodiscard]] Summary summarize(std::vector<double>& samples);

/// t = a + b·N + c·K, fitted by least squares over (N, K, t) points.
struct Model {
    double a = 0, b = 0, c = 0; ///< ns; ns per watched fd; ns per ready fd
    double r2 = 0;
    std::size_t points = 0;
};
struct ModelPoint {
    double n = 0, k = 0, t = 0;
};
/// nullopt when the points cannot determine the model (fewer than 2 distinct N). With a
/// single K, c is 0 and the fit is t = a + b·N.
[[nodiscard]] std::optional<Model> fit_model(const std::vector<ModelPoint>& points);

/// The N at which `x` and `y` cost the same at K = k (x cheaper below it when its slope is
/// steeper), or nullopt when the lines do not cross at a positive N.
[[nodiscard]] std::optional<double> crossover(const Model& x, const Model& y, double k);

} // namespace netdx::mux
