#pragma once
// Every threshold the analysis decides with, in one place, each with the reason for its value.
// The values were set against the labelled corpus (tests/corpus.hpp) and the recorded traces
// (tests/data/); changing one changes the corpus figures in analysis_test.

#include <cstddef>
#include <cstdint>

namespace soak::analysis::thresholds {

// ---- Conditioning -------------------------------------------------------------------------

/// A step this many times the median sampling step is a gap (a suspended or stalled sampler):
/// fits never span it.
inline constexpr double kGapFactor = 10;

/// A series that never moved is steady from this many points on, even under min_points: counts
/// of descendants are read only every few seconds, and three equal readings over the minimum
/// span show no growth.
inline constexpr std::size_t kConstantMinPoints = 3;

// ---- Sawtooth (collection cycles) ---------------------------------------------------------

/// Fewer points cannot show four cycles with a few points each.
inline constexpr std::size_t kSawtoothMinPoints = 30;
/// A collection drop stands this far out of the sample-to-sample noise (in MAD sigmas of the
/// differences): white noise almost never falls 6 sigma in one step.
inline constexpr double kSawtoothDropNoiseSigmas = 6;
/// ...and is this fraction of the series' 5-95 % range; a leak under the sawtooth widens the
/// range, hence only 10 %.
inline constexpr double kSawtoothDropRangeFraction = 0.1;
/// The range is taken between these percentiles so one outlier does not set it.
inline constexpr std::size_t kSawtoothRangeLowPercent = 5;
inline constexpr std::size_t kSawtoothRangeHighPercent = 95;
/// Four drops are three full cycles: fewer could be chance.
inline constexpr std::size_t kSawtoothMinDrops = 4;
/// The last, unfinished cycle contributes its minimum once it is half a typical cycle long
/// (a shorter tail has not reached its floor yet).
inline constexpr double kSawtoothTailCycleFraction = 0.5;
/// A floor of five cycle minima is enough to judge a trend on.
inline constexpr std::size_t kSawtoothMinFloorPoints = 5;

// ---- Two-phase fits (warm-up, onset, step) ------------------------------------------------

/// Each side of a two-phase split keeps at least three points: a line through two is exact.
inline constexpr std::size_t kTwoPhaseMinSidePoints = 3;
/// The default share of points each side keeps.
inline constexpr double kTwoPhaseDefaultMinFraction = 0.1;

// ---- Warm-up ------------------------------------------------------------------------------

/// A warm-up may be as short as 5 % of the run.
inline constexpr double kWarmupMinFraction = 0.05;
/// After the warm-up the slope falls to under a quarter of the slope during it.
inline constexpr double kWarmupSlopeDropRatio = 0.25;
/// A warm-up ends within the first 30 % of the run; a later change is not start-up.
inline constexpr double kWarmupMaxShareOfRun = 0.3;
/// Two lines explain the series clearly better than one: under half the one-line SSE.
inline constexpr double kWarmupMaxSseRatio = 0.5;

// ---- Onset (flat, then growth) ------------------------------------------------------------

/// The flat part and the growing part each hold at least 15 % of the points.
inline constexpr double kOnsetMinFraction = 0.15;
/// "Flat" before the onset: slope under a quarter of the slope after it.
inline constexpr double kOnsetFlatSlopeRatio = 0.25;
/// As for the warm-up: two lines halve the squared error.
inline constexpr double kOnsetMaxSseRatio = 0.5;

// ---- Judged window ------------------------------------------------------------------------

/// Points needed to judge a trend on binned data (a Mann-Kendall test on fewer has no power).
inline constexpr std::size_t kMinJudgedPoints = 8;
/// A sawtooth's floor has one point per cycle: five cycles can show a trend.
inline constexpr std::size_t kMinJudgedFloorPoints = 5;
/// The robust level at either end of a window is the median of this share of its points.
inline constexpr double kLevelFraction = 0.1;

// ---- Still rising at the end --------------------------------------------------------------

/// "The end" is the last 40 % of the judged window: long enough for a test of its own.
inline constexpr double kRecentWindowStart = 0.6;
/// With this many points the recent part gets its own Mann-Kendall test.
inline constexpr std::size_t kRecentMinTestPoints = 6;
/// Fewer than this cannot give a slope.
inline constexpr std::size_t kRecentMinSlopePoints = 2;
/// The recent test's significance: looser than alpha, it only confirms a trend found already.
inline constexpr double kRecentAlpha = 0.05;
/// The recent slope keeps at least 30 % of the overall one (a leak does not level off).
inline constexpr double kRecentMinSlopeRatio = 0.3;
/// Practical significance: the growth over the window stands out of the residual noise by
/// 3 MAD sigmas, or a slow wander of strongly correlated noise passes for a trend.
inline constexpr double kMinGrowthNoiseSigmas = 3;
/// "A new high late in the run": the maximum of the last 25 % beats everything before it.
inline constexpr double kNewHighWindowStart = 0.75;

// ---- Integer series (staircases) ----------------------------------------------------------

/// Three new highs are a staircase; two could be a pool that grew twice.
inline constexpr std::size_t kStaircaseMinHighs = 3;
/// The last new high falls in the last 30 % of the window: the staircase is still climbing.
inline constexpr double kStaircaseLastHighShare = 0.7;
/// The highs spread over at least 20 % of the window, not one burst.
inline constexpr double kStaircaseMinSpreadShare = 0.2;
/// A staircase needs the trend test at this level when the main test missed it.
inline constexpr double kStaircaseAlpha = 0.05;

// ---- One-off step ------------------------------------------------------------------------

/// A step explains the series when two flat lines leave under 30 % of one line's SSE.
inline constexpr double kStepMaxSseRatio = 0.3;

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
