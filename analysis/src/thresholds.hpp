#pragma once
// Every threshold the analysis decides with, in one place, each with the reason for its value.
// The values were set against the labelled corpus (tests/corpus.hpp, scored by corpus_test at
// a fixed seed base; its held-out base is not tuned on) and the recordings (tests/data/,
// tests/data/real/); changing one changes the figures corpus_test and real_corpus_test print.

#include <cstddef>
#include <cstdint>

namespace soak::analysis::thresholds {

/// Every threshold the classifier (classify.cpp, classify_stages.cpp) decides with. One struct,
/// so a reader sees them together; each value says why it is what it is.
struct ClassifyThresholds {
  // ---- Conditioning ----
  /// A step this many times the median sampling step AND at least gap_min_s long is a gap (a
  /// suspended sampler, a paused recording). Both: a fast poller's scheduling hiccup of ten
  /// steps is no gap, nor is one 10 s step of a 10 s sampler.
  double gap_factor = 10;
  double gap_min_s = 30;
  /// Under this share of the run's span covered by gap-free sampling the judged share is
  /// reported as small (a warning): most of the run was not seen.
  double min_judged_share = 0.5;
  /// A series that never moved is steady from this many points on, even under min_points:
  /// counts of descendants are read only every few seconds.
  std::size_t constant_min_points = 3;

  // ---- Sawtooth (collection cycles) ----
  /// Fewer points cannot show four cycles with a few points each.
  std::size_t sawtooth_min_points = 30;
  /// A collection drop stands this far out of the sample-to-sample noise (in sigmas of the
  /// differences): white noise almost never falls 6 sigma in one step.
  double sawtooth_drop_noise_sigmas = 6;
  /// ...and is this fraction of the series' 5-95 % range (a leak under the sawtooth widens the
  /// range, hence only 10 %)...
  double sawtooth_drop_range_fraction = 0.1;
  /// ...and is at least this many quanta of the series' resolution: a whole-MiB series of a
  /// quiet process steps by one quantum all the time.
  double sawtooth_drop_min_quanta = 4;
  /// A drop lasts: the median of this many points before it and after it differ by the
  /// threshold too (an outlier comes back at once; a collection's floor holds for a while).
  std::size_t sawtooth_level_points = 3;
  /// The range is taken between these percentiles so one outlier does not set it.
  std::size_t sawtooth_range_low_percent = 5;
  std::size_t sawtooth_range_high_percent = 95;
  /// The drops spread over at least this share of the run: five cycles span 80 % of it, a
  /// start-up peak's decay a few per cent.
  double sawtooth_min_spread_share = 0.4;
  /// Four drops are three full cycles: fewer could be chance.
  std::size_t sawtooth_min_drops = 4;
  /// The last, unfinished cycle contributes its minimum once it is half a typical cycle long.
  double sawtooth_tail_cycle_fraction = 0.5;
  /// A floor of five cycle minima is enough to judge a trend on (with a test whose power suits
  /// five points: see min_rank_test_points).
  std::size_t sawtooth_min_floor_points = 5;

  // ---- Two-phase fits (warm-up, onset, step) ----
  /// Each side of a two-phase split keeps at least three points: a line through two is exact.
  std::size_t two_phase_min_side_points = 3;
  double two_phase_default_min_fraction = 0.1;

  // ---- Warm-up ----
  /// A warm-up may be as short as 5 % of the run.
  double warmup_min_fraction = 0.05;
  /// After the warm-up the slope falls to under a quarter of the slope during it.
  double warmup_slope_drop_ratio = 0.25;
  /// A warm-up ends within the first 30 % of the run; a later change is not start-up (a rise
  /// that levels off later is a plateau, whose growth checks start where it levelled).
  double warmup_max_share_of_run = 0.3;
  /// Two lines explain the series clearly better than one: under half the one-line SSE.
  double warmup_max_sse_ratio = 0.5;

  // ---- Onset (flat, then growth) ----
  double onset_min_fraction = 0.15;
  double onset_flat_slope_ratio = 0.25;
  double onset_max_sse_ratio = 0.5;

  // ---- Trend ----
  /// Points needed to judge a trend on binned data.
  std::size_t min_judged_points = 8;
  /// A sawtooth's floor has one point per cycle: five cycles can show a trend.
  std::size_t min_judged_floor_points = 5;
  /// Mann-Kendall on fewer points cannot reach p < 0.01 whatever the data (n = 5: p >= 0.028):
  /// below this the trend is tested by the least-squares slope's t statistic instead.
  std::size_t min_rank_test_points = 10;
  /// The robust level at either end of a window is the median of this share of its points.
  double level_fraction = 0.1;
  /// Pairs tied at a slope of zero above this share make Theil-Sen's median a tie (a coarse
  /// staircase): the slope is then the resistant line through the thirds' medians.
  double max_tied_slope_share = 0.25;
  /// Batches for the wander test and the batch interval: 16 batch medians, 15 differences.
  std::size_t batches = 16;
  /// The batch tests run when every batch holds at least this many points on average.
  std::size_t min_points_per_batch = 2;
  /// Student's t at 97.5 % with batches - 2 = 14 degrees of freedom: the batch interval.
  double batch_t_quantile = 2.145;
  /// The noise wanders (a random walk, or correlated over more than a batch) when its spread at
  /// two batches' lag is this many times its spread at one (as variances): white noise gives 1,
  /// a walk 2; 1.4 is past the sampling scatter of the ratio for white noise.
  double wander_min_variance_ratio = 1.4;
  /// Wandering noise: growth must beat a driftless walk. The drift of the batch medians'
  /// differences needs t >= 3 (about 0.5 % one-sided at 14 degrees of freedom), not the trend
  /// test's p: a walk's trend test is significant half the time.
  double wander_min_drift_t = 3;
  /// ...or rises far beyond the scale of its own falls (a heap that grows in steps, which
  /// hardly ever falls): 8, as a walk's few falls can be small by chance.
  double wander_min_falls_z = 8;

  // ---- Still rising at the end ----
  /// "The end" is the last 40 % of the judged window: long enough for a test of its own.
  double recent_window_start = 0.6;
  std::size_t recent_min_test_points = 6;
  std::size_t recent_min_slope_points = 2;
  /// The recent test's significance: looser than alpha, it only confirms a trend found already.
  double recent_alpha = 0.05;
  /// A leak that slows is still a leak: the recent slope needs only a tenth of the overall one
  /// (a rate that fell to a ninth stays a leak; a plateau's recent slope is no trend at all).
  double recent_min_slope_ratio = 0.1;
  /// Still rising without a significant test of its own: the end's slope is at least this
  /// share of the overall one. Half: nearer a leak's (the same rate) than a plateau's (none);
  /// a slower end must show its rise with a test.
  double levelled_slope_ratio = 0.5;
  /// ...unless the end's interval is wider than the overall rate (it cannot tell that rate from
  /// none) and the overall trend is this clear: 100 x stricter than alpha, past what a warm-up's
  /// decaying tail leaves.
  double strong_trend_p = 1e-4;
  /// Practical significance: the growth over the window stands out of the residual noise by
  /// 3 sigmas.
  double min_growth_noise_sigmas = 1;
  /// Robust highs: the judged window in this many equal-time windows; the last one's median
  /// must top every earlier one's (a spike or a start-up peak moves no median).
  std::size_t high_windows = 4;
  /// The late rate is reported instead of the whole window's when it is under this share of it
  /// and its interval excludes the overall rate: the rate that holds now.
  double slowing_report_ratio = 0.5;

  // ---- Effect size ----
  /// A leak adds up to at least this much over the judged window (bytes series): a quarter
  /// MiB, the scale of a quiet process's allocator and page churn (a healthy server warms by
  /// ~70 KiB in its first minutes)...
  double leak_min_growth_bytes = 262144;
  /// ...and grows by at least this share of its level per day (any unit): 0.5 %/day is
  /// 15 %/month.
  double leak_min_share_per_day = 0.005;
  /// detectable = (z_{1-alpha/2} + z_power) x the slope's standard error; 80 % power.
  double detect_power_z = 0.8416;

  // ---- Integer series (staircases) ----
  std::size_t staircase_min_highs = 3;
  double staircase_last_high_share = 0.7;
  double staircase_min_spread_share = 0.2;
  double staircase_alpha = 0.05;

  // ---- One-off step ----
  double step_max_sse_ratio = 0.3;

  // ---- Load ----
  /// The offered load varies when its robust range is at least this share of its median.
  double load_min_variation = 0.5;
  /// A level that rose and fell follows the load when the load explains this share of its
  /// variance (R^2): buffers per request track the load closely, a one-off step does not.
  double load_min_r2 = 0.7;
  /// A constant-load segment ends where the load leaves its first value by 10 % (a driver's
  /// own jitter is a few per cent; a ramp's steps are tens of per cent).
  double load_segment_tolerance = 0.1;
  /// Memory follows a change of load with a lag (buffers fill, pools grow): the first half of
  /// each segment is left out of the within-segment slope (a 30 s lag has settled to 1 % by
  /// then in a five-minute step).
  double load_settle_share = 0.5;
};
inline constexpr ClassifyThresholds kClassify{};

// ---- Verdict ------------------------------------------------------------------------------

/// Headline series longer than this run their exact Theil-Sen on a second thread: below it the
/// thread costs more than it saves.
inline constexpr std::size_t kParallelMinPoints = 20000;
/// The max-RSS checks' horizons: the first hour and the first day.
inline constexpr double kMaxRss1hHorizonS = 3600;
inline constexpr double kMaxRss24hHorizonS = 86400;
/// Per-job growth: at least three finished jobs give two steps to compare.
inline constexpr std::size_t kMinJobsForGrowth = 3;
/// The robust ends of the per-job series: the median of the first and the last tenth.
inline constexpr std::size_t kJobEndsDivisor = 10;
/// Samples are matched to load-level times within this (the same clock, rounding only).
inline constexpr double kTimeMatchToleranceS = 1e-6;
/// A smaps region first seen this much after the first snapshot appeared later: it grew from 0.
inline constexpr double kRegionAppearedLaterS = 1e-6;
/// The regions listed as where memory grew.
inline constexpr std::size_t kMaxRegionsGrown = 10;

// ---- Exact Theil-Sen selection (speed, not results: every path is exact) -----------------

/// Insertion-sorted run length before merging: the usual cut-over for small arrays.
inline constexpr std::size_t kMergeRunLength = 16;
/// Enumerating this many slopes (or 4n, whichever is more) beats another bracketing round.
inline constexpr std::size_t kEnumerateMinCap = std::size_t{4} << 20;
inline constexpr std::size_t kEnumeratePerPoint = 4;
/// The bracketing converges in a handful of rounds; this bound only stops a broken invariant.
inline constexpr int kMaxBracketRounds = 200;
/// Samples per round grow as the square of (this x bracket size / enumeration cap): the
/// bracket's width shrinks as 1/sqrt(samples), so the next one should fit under the cap.
inline constexpr double kSampleGrowthFactor = 4.0;
/// Stepping out from a finite end doubles the step each round, wrapping at 2^60.
inline constexpr int kMaxStepOutDoublings = 60;
/// Samples per round: enough to place the bracket, within a budget of draws.
inline constexpr double kMinSamplesPerRound = 4000;
inline constexpr double kMaxSamplesPerRound = 200000;
inline constexpr std::size_t kMaxDrawsPerRound = 4'000'000;
inline constexpr std::size_t kExtraDraws = 1000;
inline constexpr double kMinAcceptance = 1e-9;
/// Fewer hits than this cannot place a bracket: bisect instead.
inline constexpr std::size_t kMinSampleHits = 16;
/// The bracket's half-width in binomial standard deviations (3.5 sigma: a miss is rare), plus 2.
inline constexpr double kBracketSigmas = 3.5;
inline constexpr double kBracketExtraRanks = 2;
/// A sample value shared by this many draws (or 1 %) is a tie to settle exactly.
inline constexpr std::ptrdiff_t kMinSharedSlopes = 16;
inline constexpr std::ptrdiff_t kSharedSlopesDivisor = 100;
/// The seed of the pair sampling: the selection is deterministic.
inline constexpr std::uint64_t kSamplingSeed = 0x50A4u;

}  // namespace soak::analysis::thresholds
