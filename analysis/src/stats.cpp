#include "soak/analysis/stats.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>

namespace soak::analysis {

double normal_cdf(double z) {
  return 0.5 * std::erfc(-z / std::sqrt(2.0));
}

double normal_quantile(double p) {
  // Acklam's algorithm.
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  if (p <= 0) return -INFINITY;
  if (p >= 1) return INFINITY;
  const double low = 0.02425, high = 1 - low;
  if (p < low) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > high) {
    const double q = std::sqrt(-2 * std::log(1 - p));
    return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

double median(std::vector<double> values) {
  if (values.empty()) return NAN;
  const auto mid = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), mid, values.end());
  if (values.size() % 2 == 1) return *mid;
  const double upper = *mid;
  const double lower = *std::max_element(values.begin(), mid);
  return (lower + upper) / 2;
}

double mad_sigma(std::span<const double> values) {
  std::vector<double> v(values.begin(), values.end());
  const double m = median(v);
  for (double& x : v) x = std::fabs(x - m);
  return 1.4826 * median(std::move(v));
}

namespace {

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

/// Average ranks (1-based), ties sharing their mean rank.
std::vector<double> ranks(std::span<const double> v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j < order.size() && v[order[j]] == v[order[i]]) ++j;
    const double mean_rank = (static_cast<double>(i + j - 1)) / 2 + 1;
    for (std::size_t k = i; k < j; ++k) r[order[k]] = mean_rank;
    i = j;
  }
  return r;
}

}  // namespace

MannKendall mann_kendall_hamed_rao(std::span<const double> t, std::span<const double> y,
                                   double detrend_slope) {
  const std::size_t n = y.size();
  MannKendall mk;
  if (n < 3) return mk;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) mk.s += sign(y[j] - y[i]);
  }
  const double nd = static_cast<double>(n);
  std::vector<double> values(y.begin(), y.end());
  mk.var_s = (nd * (nd - 1) * (2 * nd + 5) -
              tie_sum(values, [](double k) { return k * (k - 1) * (2 * k + 5); })) /
             18;
  // Hamed-Rao: autocorrelation of the ranks of the detrended series, significant lags only.
  std::vector<double> detrended(n);
  for (std::size_t i = 0; i < n; ++i) detrended[i] = y[i] - detrend_slope * t[i];
  std::vector<double> r = ranks(detrended);
  const double mean = std::accumulate(r.begin(), r.end(), 0.0) / nd;
  for (double& v : r) v -= mean;
  double c0 = 0;
  for (double v : r) c0 += v * v;
  double sum = 0;
  const double bound = normal_quantile(0.975) / std::sqrt(nd);
  if (c0 > 0) {
    for (std::size_t k = 1; k < n - 2; ++k) {
      double ck = 0;
      for (std::size_t i = 0; i + k < n; ++i) ck += r[i] * r[i + k];
      const double rho = ck / c0;
      if (std::fabs(rho) <= bound) continue;
      const double nk = nd - static_cast<double>(k);
      sum += nk * (nk - 1) * (nk - 2) * rho;
    }
  }
  mk.correction = std::max(1.0, 1 + 2 * sum / (nd * (nd - 1) * (nd - 2)));
  const double var = mk.var_s * mk.correction;
  if (var <= 0) return mk;
  mk.z = mk.s > 0 ? (mk.s - 1) / std::sqrt(var) : mk.s < 0 ? (mk.s + 1) / std::sqrt(var) : 0.0;
  mk.p_value = std::erfc(std::fabs(mk.z) / std::sqrt(2.0));
  return mk;
}

std::pair<double, double> sen_interval(std::span<const double> t, std::span<const double> y,
                                       double var_s, double confidence) {
  const std::size_t n = t.size();
  std::vector<double> slopes;
  slopes.reserve(n * (n - 1) / 2);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) slopes.push_back((y[j] - y[i]) / (t[j] - t[i]));
  }
  if (slopes.empty()) return {NAN, NAN};
  const double big_n = static_cast<double>(slopes.size());
  const double c = normal_quantile(1 - (1 - confidence) / 2) * std::sqrt(std::max(0.0, var_s));
  // Gilbert (1987): the limits are the M1-th and (M2+1)-th smallest slopes (1-based), M1 =
  // (N - C)/2, M2 = (N + C)/2, here rounded outward: 0-based floor(M1) - 1 and ceil(M2).
  const auto lower_rank =
      static_cast<std::ptrdiff_t>(std::clamp(std::floor((big_n - c) / 2) - 1, 0.0, big_n - 1));
  const auto upper_rank =
      static_cast<std::ptrdiff_t>(std::clamp(std::ceil((big_n + c) / 2), 0.0, big_n - 1));
  std::nth_element(slopes.begin(), slopes.begin() + lower_rank, slopes.end());
  const double lower = slopes[static_cast<std::size_t>(lower_rank)];
  std::nth_element(slopes.begin(), slopes.begin() + upper_rank, slopes.end());
  const double upper = slopes[static_cast<std::size_t>(upper_rank)];
  return {lower, upper};
}

}  // namespace soak::analysis
