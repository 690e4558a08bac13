#pragma once
// The stages classify_series() is built from, exposed for tests (soak::analysis::detail is not
// a stable API). Pure functions; t in seconds, y in the metric's unit; safe to call
// concurrently. Nothing is thrown: too few points give the empty or neutral result (no bins to
// merge, no sawtooth, no split at index 0, a p-value of 1).

#include <cmath>
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

namespace soak::analysis::detail {

struct Binned {
  std::vector<double> t, y;
};
/// Equal-time bins, per-bin median of y at the bin's median time; empty bins are skipped.
Binned bin_median(std::span<const double> t, std::span<const double> y, std::size_t max_bins);

/// What the series is made of before anything is judged.
struct Condition {
  double resolution = 0;    ///< the smallest step between distinct values (0: none)
  double step_sigma = 0;    ///< sample-to-sample noise, never under a quantum's share
  std::size_t gaps = 0;     ///< steps longer than a gap
  double gap_s = 0;         ///< their total length
  double judged_share = 1;  ///< 1 - gap_s / span
};
Condition condition(std::span<const double> t, std::span<const double> y);

struct Sawtooth {
  bool detected = false;
  std::size_t drops = 0;
  std::vector<double> floor_t, floor_y;  ///< each cycle's minimum
};
/// Repeated drops standing out of the noise (`step_sigma`) and of the quantum.
Sawtooth detect_sawtooth(std::span<const double> t, std::span<const double> y,
                         const Condition& condition);

struct TwoPhase {
  std::size_t index = 0;  ///< first point of the second phase; 0 when there was no split
  double slope_before = 0, slope_after = 0;
  double sse_ratio = 1;  ///< two-phase SSE / one-line SSE
};
/// Best split into two independent least-squares lines, each side keeping >= min_fraction.
TwoPhase best_two_phase(std::span<const double> t, std::span<const double> y, double min_fraction);

/// Theil-Sen's slope, robust to ties: when the median falls in a mass of pairs tied at zero
/// (a coarse staircase), the resistant line through the first and last thirds' medians.
double robust_slope(std::span<const double> t, std::span<const double> y);

/// The least-squares slope's two-sided p-value (Student's t, n - 2 degrees of freedom): the
/// trend test for too few points to rank.
double ols_slope_p_value(std::span<const double> t, std::span<const double> y);

/// Batch medians: the series in `batches` equal-time batches, each batch's median time and value.
Binned batch_medians(std::span<const double> t, std::span<const double> y, std::size_t batches);

/// The least-squares slope of the batch medians and its 95 % interval (Student's t): an
/// interval that holds when the noise is correlated over less than a batch.
struct BatchFit {
  bool valid = false;
  double slope = 0, low = 0, high = 0;
};
BatchFit batch_interval(const Binned& batches);

/// How the detrended series (y - slope t) spreads with the lag: the robust variance of
/// differences at 2 x `lag` over that at `lag`. About 1 for white or short-memory noise, about 2
/// for a random walk (its spread grows with the lag), between for noise correlated over about
/// `lag` steps. 0 when there are too few points.
double variance_ratio(std::span<const double> t, std::span<const double> y, double slope,
                      std::size_t lag);

/// The drift of first differences: Student's t of the mean difference of consecutive batch
/// medians (a driftless random walk has mean 0). 0 when there are too few batches.
double drift_t(const Binned& batches);

/// The net rise of the batch medians against the step scale of their falls alone: a walk falls
/// as often and as far as it rises; a managed heap that grows in steps rarely falls. 0 when not
/// rising or too few batches.
double falls_z(const Binned& batches);

/// The growth of memory with time within constant-load segments (each after it settled):
/// the pooled least-squares slope with per-segment levels, and its standard error widened for
/// the residuals' lag-1 autocorrelation. Growth that follows the load has none; a leak keeps
/// its rate in every segment, the longest included. Invalid with fewer than two usable
/// segments.
struct WithinLoad {
  bool valid = false;
  std::size_t segments = 0;
  double slope = 0, stderr_slope = 0;
  /// The same in the longest segment alone: the one that has settled best.
  double longest_slope = 0, longest_stderr = INFINITY;
};
WithinLoad within_load_slope(std::span<const double> t, std::span<const double> y,
                             std::span<const double> load);

}  // namespace soak::analysis::detail
