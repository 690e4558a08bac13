#pragma once
// Estimators and tests on (t, y) series. Pure functions; O(n^2) ones are meant for the
// conditioned series (a few hundred bins), the exact Theil-Sen in theil_sen.hpp for raw data.

#include <span>
#include <utility>
#include <vector>

namespace soak::analysis {

double normal_cdf(double z);
/// Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9).
double normal_quantile(double p);

double median(std::vector<double> values);  ///< by value: it reorders
/// Median absolute deviation scaled to a normal sigma (x 1.4826).
double mad_sigma(std::span<const double> values);

/// Ordinary least squares, as scipy.stats.linregress reports it.
struct LinearFit {
  double slope = 0;
  double intercept = 0;
  double r_value = 0;
  double p_value = 1;  ///< two-sided, t distribution with n - 2 degrees of freedom
  double stderr_slope = 0;
};
LinearFit linregress(std::span<const double> x, std::span<const double> y);

/// Kendall's tau-b with its asymptotic two-sided p-value (scipy.stats.kendalltau's
/// method="asymptotic"). O(n^2).
struct KendallTau {
  double tau = 0;
  double p_value = 1;
};
KendallTau kendall_tau(std::span<const double> x, std::span<const double> y);

/// Mann-Kendall trend test with Hamed and Rao's (1998) variance correction for serial
/// correlation: the variance of S is inflated by n/n*, estimated from the significant
/// autocorrelations of the ranks of the detrended series. O(n^2).
struct MannKendall {
  double s = 0;
  double var_s = 0;            ///< tie-corrected, before the autocorrelation correction
  double correction = 1;       ///< n / n*, >= 1 for positively correlated data
  double z = 0;
  double p_value = 1;          ///< two-sided, with the corrected variance
};
MannKendall mann_kendall_hamed_rao(std::span<const double> t, std::span<const double> y,
                                   double detrend_slope);

/// Sen's confidence interval for the Theil-Sen slope from the order statistics of the
/// pairwise slopes, widened by the given variance of S (pass the corrected one). O(n^2).
std::pair<double, double> sen_interval(std::span<const double> t, std::span<const double> y,
                                       double var_s, double confidence = 0.95);

/// Student t two-sided p-value for |t| with `dof` degrees of freedom.
double student_t_two_sided_p(double t, double dof);

}  // namespace soak::analysis
