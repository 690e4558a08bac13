#pragma once
// From one metric's raw series to its classification and growth rate.
//
// The stages (analysis/src/classify_stages.cpp), each guarding against a known way detectors
// fail (see ../shared/research and issue 11's mechanisms):
//  1. condition: the series' resolution (a quantized series' quantum), its gaps (absolute and
//     relative together), the judged share; equal-time bins of per-bin medians, so irregular and
//     event-timed sampling weigh by time, not by count. Fits span gaps: a target that was not
//     restarted keeps its level across a pause of the recording.
//  2. sawtooth: repeated large drops (GC, arena trims) -> judge the floor (each cycle's minimum).
//  3. warm-up: a two-phase linear fit; a rise that then flattens in the first half is cut off.
//  4. onset: a flat stretch followed by growth -> the rate is measured from the onset.
//  5. trend: Mann-Kendall with Hamed-Rao's correction (a t test on the least-squares slope when
//     too few points for ranks), a tie-robust Theil-Sen slope, Sen's interval widened by the
//     correction and joined with a batch-median interval, and a test against a driftless wander.
//  6. still rising: the end trends up on its own (at any clearly positive rate) and its robust
//     level (window medians) tops every earlier one.
//  7. decide: leak, or slow_growth under the effect-size floor, or what kind of not-leak; the
//     smallest growth this series could have shown (detectable_growth_per_s).
//  8. load: growth that the offered load explains is load_driven.
// Integer series (threads, fds, children): a staircase of new highs is a leak at any rate.
//
// Units: t in seconds, values in the metric's own unit (bytes for *_bytes, a count for
// threads/fds); rates are that unit per second. Thread-safety: pure functions of their
// arguments, safe to call concurrently. Failure modes: none thrown; too little data is the
// `insufficient` classification with a reason. Preconditions (asserted): t and y have the same
// length and t ascends.

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

namespace soak::analysis {

enum class Classification {
  steady,
  warmup,
  plateau,
  sawtooth,
  leak,
  slow_growth,  ///< sustained, significant growth under the effect-size floor: not a leak
  load_driven,  ///< growth the recorded load explains
  decreasing,
  insufficient
};
/// The SPEC.md name ("steady", "leak", ...).
const char* to_string(Classification c);

/// Why a series got its classification.
enum class ReasonCode {
  constant,              ///< every point equal
  too_few_points,        ///< fewer than min_points (points, required_points)
  too_short,             ///< spans under min_span_s (span_s, required_span_s)
  too_few_after_warmup,  ///< the warm-up and onset left too little to judge
  new_highs,             ///< integer staircase (new_highs, last_new_high_s)
  sustained_growth,      ///< significant growth still rising at the end
  floor_rising,          ///< a sawtooth whose floor keeps rising
  levelled_off,          ///< grew, then levelled off
  falls_steadily,        ///< significant decrease
  returns_to_floor,      ///< a sawtooth on a flat floor (drops)
  warmup_then_steady,    ///< rose during warm-up, steady after
  one_off_step,          ///< a single step, flat after
  no_trend,              ///< no significant trend
  wander,                ///< a trend no larger than a driftless wander would draw
  below_effect_floor,    ///< significant growth under the effect-size floor (slow_growth)
  follows_load,          ///< the growth follows the offered load (load_driven)
  heap_not_growing,      ///< RSS rose ever slower while the managed heap did not grow
};
/// A stable identifier ("too_few_points", ...), for JSON and tests.
const char* to_string(ReasonCode code);

/// The reason and the figures its sentence needs; fields unused by the code stay 0.
struct ClassifyReason {
  ReasonCode code = ReasonCode::too_few_points;
  std::size_t points = 0;           ///< too_few_points
  std::size_t required_points = 0;  ///< too_few_points
  double span_s = 0;                ///< too_short: seconds of data
  double required_span_s = 0;       ///< too_short
  std::size_t new_highs = 0;        ///< new_highs
  double last_new_high_s = 0;       ///< new_highs: when the last one was set (run seconds)
  std::size_t drops = 0;            ///< returns_to_floor: collection drops seen
};

struct ClassifyOptions {
  bool integer_valued = false;     ///< threads, fds, children: counts, not sizes
  std::optional<double> warmup_s;  ///< forced warm-up end (seconds from the start)
  double alpha = 0.01;             ///< two-sided significance of the trend test
  std::size_t max_bins = 480;      ///< conditioning resolution
  bool exact_raw_slope = true;     ///< report the exact Theil-Sen of the raw judged points
  /// Below these a series is "insufficient": growth cannot be called sustained in seconds.
  std::size_t min_points = 12;
  double min_span_s = 30;
  /// The unit is bytes: the effect-size floor then includes an absolute amount.
  bool bytes = false;
  /// The offered load over the run (requests per second), when one was recorded: growth that
  /// follows it is load_driven. Empty: no load known.
  std::span<const double> load_t, load_value;
};

struct SeriesAnalysis {
  Classification classification = Classification::insufficient;
  double growth_per_s = 0;  ///< metric units per second over the judged window
  double ci_low_per_s = 0;  ///< Sen's 95 % interval, widened for autocorrelation
  double ci_high_per_s = 0;
  double trend_p_value = 1;
  double autocorrelation_correction = 1;  ///< Hamed-Rao n/n*
  std::optional<double> warmup_end_s;
  std::optional<double> onset_s;
  bool sawtooth_floor = false;  ///< the judged series was the sawtooth's floor
  std::size_t sawtooth_cycles = 0;
  double judged_from_s = 0;  ///< start of the window the growth was measured on
  double judged_to_s = 0;
  double fitted_end = 0;   ///< trend line's value at judged_to_s
  double level_start = 0;  ///< robust level just after the warm-up
  double level_end = 0;    ///< robust level at the end
  std::size_t points = 0;
  ClassifyReason reason;  ///< why this classification (worded by soak::report)
  /// The rate over the last part of the judged window (recent_window_start onwards).
  double late_growth_per_s = 0;
  /// The whole judged window's rate (growth_per_s is the late rate when a leak slowed).
  double window_growth_per_s = 0;
  /// The smallest rate this series could have called a leak: the effect-size floor or the
  /// statistical limit ((z_{1-alpha/2} + z_{80 %}) x the slope's standard error), the larger.
  double detectable_growth_per_s = 0;
  double effect_floor_per_s = 0;  ///< the effect-size floor a leak must reach
  double judged_share = 1;        ///< share of the span covered by gap-free sampling
  std::size_t gaps = 0;           ///< pauses of the sampling longer than a gap
  double resolution = 0;          ///< the smallest step between distinct values
  /// The conditioned line for plots: judged window's trend as two points (t, value).
  double trend_t0 = 0, trend_y0 = 0, trend_t1 = 0, trend_y1 = 0;
  std::vector<double> floor_t, floor_y;  ///< sawtooth floor points when used
};

/// Classifies one series. t in seconds, ascending; y in the metric's unit. O(n log n) in the
/// raw points plus O(b^2) in the bins (b <= max_bins).
SeriesAnalysis classify_series(std::span<const double> t, std::span<const double> y,
                               const ClassifyOptions& options);

}  // namespace soak::analysis
