// The test-only reference estimators of reference.hpp that are not inline: Student's t p-value
// (for linregress) and Kendall's tau-b with scipy's asymptotic p-value.

#include "reference.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace soak::analysis::detail {

namespace {

int sign(double v) {
  return (v > 0) - (v < 0);
}

/// Sum over tie groups of f(group size).
template <typename F>
double tie_sum(std::vector<double> values, F f) {
  std::sort(values.begin(), values.end());
  double total = 0;
  for (std::size_t i = 0; i < values.size();) {
    std::size_t j = i;
    while (j < values.size() && values[j] == values[i]) ++j;
    total += f(static_cast<double>(j - i));
    i = j;
  }
  return total;
}

/// Regularized incomplete beta I_x(a, b) by Lentz's continued fraction.
double incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) +
                                a * std::log(x) + b * std::log1p(-x));
  if (x > (a + 1) / (a + b + 2)) return 1 - incomplete_beta(b, a, 1 - x);
  double f = 1, c = 1, d = 0;
  for (int i = 0; i <= 400; ++i) {
    const int m = i / 2;
    double numerator;
    if (i == 0) {
      numerator = 1;
    } else if (i % 2 == 0) {
      numerator = (m * (b - m) * x) / ((a + 2.0 * m - 1) * (a + 2.0 * m));
    } else {
      numerator = -((a + m) * (a + b + m) * x) / ((a + 2.0 * m) * (a + 2.0 * m + 1));
    }
    d = 1 + numerator * d;
    if (std::fabs(d) < 1e-300) d = 1e-300;
    d = 1 / d;
    c = 1 + numerator / c;
    if (std::fabs(c) < 1e-300) c = 1e-300;
    const double cd = c * d;
    f *= cd;
    if (std::fabs(1 - cd) < 1e-14) break;
  }
  return front * (f - 1) / a;
}

}  // namespace

double student_t_two_sided_p(double t, double dof) {
  if (!std::isfinite(t)) return 0;
  return incomplete_beta(dof / 2, 0.5, dof / (dof + t * t));
}

KendallTau kendall_tau(std::span<const double> x, std::span<const double> y) {
  const std::size_t n = x.size();
  double concordant_minus_discordant = 0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      concordant_minus_discordant += sign(x[j] - x[i]) * sign(y[j] - y[i]);
    }
  }
  const double n0 = static_cast<double>(n) * static_cast<double>(n - 1) / 2;
  std::vector<double> xs(x.begin(), x.end()), ys(y.begin(), y.end());
  const double ties_x = tie_sum(xs, [](double k) { return k * (k - 1) / 2; });
  const double ties_y = tie_sum(ys, [](double k) { return k * (k - 1) / 2; });
  KendallTau result;
  const double denom = std::sqrt((n0 - ties_x) * (n0 - ties_y));
  if (denom == 0) return result;
  result.tau = concordant_minus_discordant / denom;
  // Variance of the statistic with ties (as scipy's asymptotic method).
  const double nd = static_cast<double>(n);
  const double v0 = nd * (nd - 1) * (2 * nd + 5);
  const double vt = tie_sum(xs, [](double k) { return k * (k - 1) * (2 * k + 5); });
  const double vu = tie_sum(ys, [](double k) { return k * (k - 1) * (2 * k + 5); });
  const double v1 = tie_sum(xs, [](double k) { return k * (k - 1); }) *
                    tie_sum(ys, [](double k) { return k * (k - 1); }) / (2 * nd * (nd - 1));
  const double v2 = tie_sum(xs, [](double k) { return k * (k - 1) * (k - 2); }) *
                    tie_sum(ys, [](double k) { return k * (k - 1) * (k - 2); }) /
                    (9 * nd * (nd - 1) * (nd - 2));
  const double var = (v0 - vt - vu) / 18 + v1 + v2;
  const double z = concordant_minus_discordant / std::sqrt(var);
  result.p_value = std::erfc(std::fabs(z) / std::sqrt(2.0));
  return result;
}

}  // namespace soak::analysis::detail
