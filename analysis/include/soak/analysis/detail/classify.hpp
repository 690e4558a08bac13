#pragma once
// The stages classify_series() is built from, exposed for tests (soak::analysis::detail is not
// a stable API). Pure functions; t in seconds, y in the metric's unit; safe to call
// concurrently. Nothing is thrown: too few points give the empty or neutral result (no bins to
// merge, no sawtooth, no split at index 0).

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

struct Sawtooth {
  bool detected = false;
  std::size_t drops = 0;
  std::vector<double> floor_t, floor_y;  ///< each cycle's minimum
};
Sawtooth detect_sawtooth(std::span<const double> t, std::span<const double> y);

struct TwoPhase {
  std::size_t index = 0;  ///< first point of the second phase; 0 when there was no split
  double slope_before = 0, slope_after = 0;
  double sse_ratio = 1;  ///< two-phase SSE / one-line SSE
};
/// Best split into two independent least-squares lines, each side keeping >= min_fraction.
TwoPhase best_two_phase(std::span<const double> t, std::span<const double> y, double min_fraction);

/// Index ranges [begin, end) of runs without a gap longer than `gap_factor` x the median step.
std::vector<std::pair<std::size_t, std::size_t>> split_at_gaps(std::span<const double> t,
                                                               double gap_factor);

}  // namespace soak::analysis::detail
