#pragma once
// Reference estimators that no verdict uses, for tests and benches only (nothing in analysis/
// depends on them): tests check the product's statistics against them and against scipy.
// Units: x or t in seconds, y in the metric's unit. Pure functions, safe to call concurrently;
// nothing thrown beyond std::bad_alloc; O(n^2) where noted.

#include <algorithm>
#include <cassert>
#include <cmath>
#include <span>
#include <vector>

#include "soak/analysis/stats.hpp"

namespace soak::analysis::detail {

/// Ordinary least squares, as scipy.stats.linregress reports it.
struct LinearFit {
  double slope = 0;
  double intercept = 0;
  double r_value = 0;
  double p_value = 1;  ///< two-sided, t distribution with n - 2 degrees of freedom
  double stderr_slope = 0;
};

/// OLS of y on x; x.size() == y.size() >= 2 (asserted). A constant x gives the zero fit.
inline LinearFit linregress(std::span<const double> x, std::span<const double> y) {
  assert(x.size() == y.size() && x.size() >= 2);
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  double sxx = 0, syy = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double dx = x[i] - mx, dy = y[i] - my;
    sxx += dx * dx;
    syy += dy * dy;
    sxy += dx * dy;
  }
  LinearFit fit;
  if (sxx == 0) return fit;
  fit.slope = sxy / sxx;
  fit.intercept = my - fit.slope * mx;
  fit.r_value = (syy == 0) ? 0.0 : std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
  const double dof = n - 2;
  if (dof > 0) {
    const double r2 = fit.r_value * fit.r_value;
    fit.stderr_slope = std::sqrt((1 - r2) * syy / sxx / dof);
    const double tstat =
        fit.r_value * std::sqrt(dof / std::max(1e-300, (1 - fit.r_value) * (1 + fit.r_value)));
    fit.p_value = r2 >= 1 ? 0.0 : student_t_two_sided_p(tstat, dof);
  }
  return fit;
}

/// Kendall's tau-b with its asymptotic two-sided p-value (scipy.stats.kendalltau's
/// method="asymptotic"). O(n^2).
struct KendallTau {
  double tau = 0;
  double p_value = 1;
};
KendallTau kendall_tau(std::span<const double> x, std::span<const double> y);

/// The Theil-Sen slope by forming and sorting every pairwise slope: O(n^2) memory; the
/// reference the exact selection (theil_sen.hpp) is tested against. n >= 2.
inline double theil_sen_slope_naive(std::span<const double> t, std::span<const double> y) {
  std::vector<double> slopes;
  for (std::size_t i = 0; i < t.size(); ++i) {
    for (std::size_t j = i + 1; j < t.size(); ++j) slopes.push_back((y[j] - y[i]) / (t[j] - t[i]));
  }
  std::sort(slopes.begin(), slopes.end());
  const std::size_t m = slopes.size();
  return m % 2 == 1 ? slopes[m / 2] : (slopes[m / 2 - 1] + slopes[m / 2]) / 2;
}

}  // namespace soak::analysis::detail
