#pragma once
// From one metric's raw series to its classification and growth rate.
//
// The steps, each guarding against a known way detectors fail (see ../shared/research):
//  1. Conditioning: split at gaps, never fit across them; bin to at most a few hundred
//     per-bin medians so the O(n^2) tests stay cheap and white noise is tamed.
//  2. Sawtooth: repeated large drops (GC, arena trims) -> judge the floor (each cycle's
//     minimum), since memory that returns to the same floor is not leaking.
//  3. Warm-up: a two-phase linear fit; a rise that then flattens early is cut off.
//  4. Onset: a flat stretch followed by growth -> the rate is measured from the onset.
//  5. Trend: Mann-Kendall with Hamed-Rao's autocorrelation correction, Theil-Sen slope with
//     Sen's interval widened by the same correction.
//  6. Plateau: a leak keeps rising at the end; growth that levelled off is not a leak.
//  7. Integer series (threads, fds, children): a staircase of new highs is a leak at any rate.

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace soak::analysis {

enum class Classification { steady, warmup, plateau, sawtooth, leak, decreasing, insufficient };
const char* to_string(Classification c);

struct ClassifyOptions {
  bool integer_valued = false;       ///< threads, fds, children: counts, not sizes
  std::optional<double> warmup_s;    ///< forced warm-up end (seconds from the start)
  double alpha = 0.01;               ///< two-sided significance of the trend test
  std::size_t max_bins = 480;        ///< conditioning resolution
  bool exact_raw_slope = true;       ///< report the exact Theil-Sen of the raw judged points
  /// Below these a series is "insufficient": growth cannot be called sustained in seconds.
  std::size_t min_points = 12;
  double min_span_s = 30;
};

struct SeriesAnalysis {
  Classification classification = Classification::insufficient;
  double growth_per_s = 0;  ///< metric units per second over the judged window
  double ci_low_per_s = 0;
  double ci_high_per_s = 0;
  double trend_p_value = 1;
  double autocorrelation_correction = 1;  ///< Hamed-Rao n/n*
  std::optional<double> warmup_end_s;
  std::optional<double> onset_s;
  bool sawtooth_floor = false;  ///< the judged series was the sawtooth's floor
  std::size_t sawtooth_cycles = 0;
  double judged_from_s = 0;     ///< start of the window the growth was measured on
  double judged_to_s = 0;
  double fitted_end = 0;        ///< trend line's value at judged_to_s
  double level_start = 0;       ///< robust level just after the warm-up
  double level_end = 0;         ///< robust level at the end
  std::size_t points = 0;
  std::string reason;           ///< one sentence: why this classification
  /// The conditioned line for plots: judged window's trend as two points (t, value).
  double trend_t0 = 0, trend_y0 = 0, trend_t1 = 0, trend_y1 = 0;
  std::vector<double> floor_t, floor_y;  ///< sawtooth floor points when used
};

/// Classifies one series. t in seconds, ascending; y in the metric's unit.
SeriesAnalysis classify_series(std::span<const double> t, std::span<const double> y,
                               const ClassifyOptions& options);

// Building blocks, exposed for tests.

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
  std::size_t index = 0;  ///< first point of the second phase
  double slope_before = 0, slope_after = 0;
  double sse_ratio = 1;   ///< two-phase SSE / one-line SSE
};
/// Best split into two independent least-squares lines, each side keeping >= min_fraction.
TwoPhase best_two_phase(std::span<const double> t, std::span<const double> y,
                        double min_fraction = 0.1);

/// Index ranges [begin, end) of runs without a gap longer than `gap_factor` x the median step.
std::vector<std::pair<std::size_t, std::size_t>> split_at_gaps(std::span<const double> t,
                                                               double gap_factor = 10);

}  // namespace soak::analysis
