#pragma once
// Estimators and tests on (t, y) series: the ones classify_series() decides with.
// Units: t in seconds, y in the metric's unit; slopes are y-units per second.
// Thread-safety: pure functions, safe to call concurrently. Failure modes: none thrown;
// degenerate input (too few points, zero variance) returns the neutral value documented per
// function. The O(n^2) ones are meant for the conditioned series (a few hundred bins), the
// exact Theil-Sen in theil_sen.hpp for raw data. Reference estimators used only by tests and
// benches (OLS, Kendall's tau, the naive Theil-Sen) are in tests/reference/reference.hpp.

#include <span>
#include <utility>
#include <vector>

namespace soak::analysis {

double normal_cdf(double z);
/// Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9).
double normal_quantile(double p);

double median(std::vector<double> values);  ///< by value: it reorders; NaN when empty
/// Median absolute deviation scaled to a normal sigma (x 1.4826).
double mad_sigma(std::span<const double> values);

/// Mann-Kendall trend test with Hamed and Rao's (1998) variance correction for serial
/// correlation: the variance of S is inflated by n/n*, estimated from the significant
/// autocorrelations of the ranks of the detrended series. O(n^2).
struct MannKendall {
  double s = 0;
  double var_s = 0;  ///< tie-corrected, before the autocorrelation correction
  /// n / n*, clamped to >= 1: never narrower than for independent data (the paper's value
  /// falls below 1, and can turn negative, for negatively correlated data).
  double correction = 1;
  double z = 0;
  double p_value = 1;  ///< two-sided, with the corrected variance
};
MannKendall mann_kendall_hamed_rao(std::span<const double> t, std::span<const double> y,
                                   double detrend_slope);

/// Sen's confidence interval for the Theil-Sen slope from the order statistics of the
/// pairwise slopes, widened by the given variance of S (pass the corrected one). O(n^2).
/// The limits are Gilbert's (1987) M1-th and (M2+1)-th smallest of the N slopes, M1,2 =
/// (N -+ z sqrt(var_s)) / 2, rounded outward to whole ranks (no interpolation).
std::pair<double, double> sen_interval(std::span<const double> t, std::span<const double> y,
                                       double var_s, double confidence = 0.95);

/// Student's t two-sided p-value for |t| with `dof` degrees of freedom (dof > 0); 0 for an
/// infinite t. The classifier's trend test on too few points to rank.
double student_t_two_sided_p(double t, double dof);

}  // namespace soak::analysis
