// The test-only reference estimators of reference.hpp that are not inline: Kendall's tau-b with
// scipy's asymptotic p-value.

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

}  // namespace

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
