#include "soak/analysis/classify.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>

#include "soak/analysis/detail/classify.hpp"
#include "soak/analysis/stats.hpp"
#include "soak/analysis/theil_sen.hpp"
#include "thresholds.hpp"

namespace soak::analysis {

using namespace thresholds;

const char* to_string(Classification c) {
  switch (c) {
    case Classification::steady:
      return "steady";
    case Classification::warmup:
      return "warmup";
    case Classification::plateau:
      return "plateau";
    case Classification::sawtooth:
      return "sawtooth";
    case Classification::leak:
      return "leak";
    case Classification::decreasing:
      return "decreasing";
    case Classification::insufficient:
      return "insufficient";
  }
  return "insufficient";
}

const char* to_string(ReasonCode code) {
  switch (code) {
    case ReasonCode::constant:
      return "constant";
    case ReasonCode::too_few_points:
      return "too_few_points";
    case ReasonCode::too_short:
      return "too_short";
    case ReasonCode::too_few_gap_free_points:
      return "too_few_gap_free_points";
    case ReasonCode::too_few_after_warmup:
      return "too_few_after_warmup";
    case ReasonCode::new_highs:
      return "new_highs";
    case ReasonCode::sustained_growth:
      return "sustained_growth";
    case ReasonCode::floor_rising:
      return "floor_rising";
    case ReasonCode::levelled_off:
      return "levelled_off";
    case ReasonCode::falls_steadily:
      return "falls_steadily";
    case ReasonCode::returns_to_floor:
      return "returns_to_floor";
    case ReasonCode::warmup_then_steady:
      return "warmup_then_steady";
    case ReasonCode::one_off_step:
      return "one_off_step";
    case ReasonCode::no_trend:
      return "no_trend";
  }
  return "no_trend";
}

namespace detail {

std::vector<std::pair<std::size_t, std::size_t>> split_at_gaps(std::span<const double> t,
                                                               double gap_factor) {
  std::vector<std::pair<std::size_t, std::size_t>> runs;
  if (t.empty()) return runs;
  std::vector<double> steps;
  for (std::size_t i = 1; i < t.size(); ++i) steps.push_back(t[i] - t[i - 1]);
  const double typical = steps.empty() ? 0.0 : median(steps);
  std::size_t begin = 0;
  for (std::size_t i = 1; i < t.size(); ++i) {
    if (typical > 0 && t[i] - t[i - 1] > gap_factor * typical) {
      runs.emplace_back(begin, i);
      begin = i;
    }
  }
  runs.emplace_back(begin, t.size());
  return runs;
}

Binned bin_median(std::span<const double> t, std::span<const double> y, std::size_t max_bins) {
  Binned out;
  const std::size_t n = t.size();
  if (n <= max_bins) {
    out.t.assign(t.begin(), t.end());
    out.y.assign(y.begin(), y.end());
    return out;
  }
  const double t0 = t.front();
  const double width = (t.back() - t0) / static_cast<double>(max_bins);
  std::vector<double> values;
  std::size_t i = 0;
  while (i < n) {
    const auto bin =
        std::min<std::size_t>(max_bins - 1, static_cast<std::size_t>((t[i] - t0) / width));
    std::size_t j = i;
    while (j < n && std::min<std::size_t>(max_bins - 1,
                                          static_cast<std::size_t>((t[j] - t0) / width)) == bin)
      ++j;
    values.assign(y.begin() + static_cast<std::ptrdiff_t>(i),
                  y.begin() + static_cast<std::ptrdiff_t>(j));
    out.t.push_back(t[i + (j - i) / 2]);
    out.y.push_back(median(values));
    i = j;
  }
  return out;
}

Sawtooth detect_sawtooth(std::span<const double> t, std::span<const double> y) {
  Sawtooth saw;
  const std::size_t n = y.size();
  if (n < kSawtoothMinPoints) return saw;
  std::vector<double> diffs(n - 1);
  for (std::size_t i = 1; i < n; ++i) diffs[i - 1] = y[i] - y[i - 1];
  const double sigma_d = mad_sigma(diffs);
  std::vector<double> sorted(y.begin(), y.end());
  std::sort(sorted.begin(), sorted.end());
  const double range =
      sorted[n * kSawtoothRangeHighPercent / 100] - sorted[n * kSawtoothRangeLowPercent / 100];
  if (range <= 0) return saw;
  const double threshold =
      std::max(kSawtoothDropNoiseSigmas * sigma_d, kSawtoothDropRangeFraction * range);
  // A drop may span consecutive samples: sum each run of falls.
  std::vector<std::size_t> drop_ends;
  for (std::size_t i = 1; i < n;) {
    if (y[i] >= y[i - 1]) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < n && y[j] < y[j - 1]) ++j;
    if (y[i - 1] - y[j - 1] > threshold) drop_ends.push_back(j - 1);
    i = j;
  }
  saw.drops = drop_ends.size();
  if (drop_ends.size() < kSawtoothMinDrops) return saw;
  std::vector<double> lengths;
  for (std::size_t k = 1; k < drop_ends.size(); ++k) {
    lengths.push_back(static_cast<double>(drop_ends[k] - drop_ends[k - 1]));
  }
  const double typical = median(lengths);
  auto add_floor = [&](std::size_t begin, std::size_t end) {
    const auto it = std::min_element(y.begin() + static_cast<std::ptrdiff_t>(begin),
                                     y.begin() + static_cast<std::ptrdiff_t>(end));
    const auto idx = static_cast<std::size_t>(it - y.begin());
    saw.floor_t.push_back(t[idx]);
    saw.floor_y.push_back(*it);
  };
  for (std::size_t k = 0; k + 1 < drop_ends.size(); ++k) add_floor(drop_ends[k], drop_ends[k + 1]);
  if (static_cast<double>(n - drop_ends.back()) >= kSawtoothTailCycleFraction * typical) {
    add_floor(drop_ends.back(), n);
  }
  saw.detected = true;
  return saw;
}

TwoPhase best_two_phase(std::span<const double> t, std::span<const double> y, double min_fraction) {
  TwoPhase best;
  const std::size_t n = t.size();
  const std::size_t min_side = std::max<std::size_t>(
      kTwoPhaseMinSidePoints, static_cast<std::size_t>(min_fraction * static_cast<double>(n)));
  if (n < 2 * min_side) return best;
  // Centred prefix sums: SSE of a line on [a, b) in O(1).
  const double tm = std::accumulate(t.begin(), t.end(), 0.0) / static_cast<double>(n);
  const double ym = std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(n);
  std::vector<double> st(n + 1), sy(n + 1), stt(n + 1), sty(n + 1), syy(n + 1);
  for (std::size_t i = 0; i < n; ++i) {
    const double a = t[i] - tm, b = y[i] - ym;
    st[i + 1] = st[i] + a;
    sy[i + 1] = sy[i] + b;
    stt[i + 1] = stt[i] + a * a;
    sty[i + 1] = sty[i] + a * b;
    syy[i + 1] = syy[i] + b * b;
  }
  struct Fit {
    double sse, slope;
  };
  auto fit = [&](std::size_t a, std::size_t b) {
    const double m = static_cast<double>(b - a);
    const double sxx = (stt[b] - stt[a]) - (st[b] - st[a]) * (st[b] - st[a]) / m;
    const double sxy = (sty[b] - sty[a]) - (st[b] - st[a]) * (sy[b] - sy[a]) / m;
    const double s_yy = (syy[b] - syy[a]) - (sy[b] - sy[a]) * (sy[b] - sy[a]) / m;
    if (sxx <= 0) return Fit{std::max(0.0, s_yy), 0.0};
    return Fit{std::max(0.0, s_yy - sxy * sxy / sxx), sxy / sxx};
  };
  const double total = fit(0, n).sse;
  double best_sse = INFINITY;
  for (std::size_t k = min_side; k + min_side <= n; ++k) {
    const Fit left = fit(0, k), right = fit(k, n);
    if (left.sse + right.sse < best_sse) {
      best_sse = left.sse + right.sse;
      best.index = k;
      best.slope_before = left.slope;
      best.slope_after = right.slope;
    }
  }
  best.sse_ratio = total > 0 ? best_sse / total : 1.0;
  return best;
}

}  // namespace detail

namespace {

using detail::Binned;
using detail::Sawtooth;
using detail::TwoPhase;

struct Window {
  std::vector<double> t, y;
  std::size_t size() const { return t.size(); }
};

Window from_time(std::span<const double> t, std::span<const double> y, double start) {
  Window w;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] >= start) {
      w.t.push_back(t[i]);
      w.y.push_back(y[i]);
    }
  }
  return w;
}

double slope_of(const Window& w) {
  if (w.size() < 2) return 0;
  return theil_sen_slope(w.t, w.y);
}

/// Robust level of the first or last `fraction` of a window.
double level(const Window& w, bool at_end) {
  const std::size_t k = std::max<std::size_t>(
      1, static_cast<std::size_t>(kLevelFraction * static_cast<double>(w.size())));
  std::vector<double> v;
  if (at_end) {
    v.assign(w.y.end() - static_cast<std::ptrdiff_t>(k), w.y.end());
  } else {
    v.assign(w.y.begin(), w.y.begin() + static_cast<std::ptrdiff_t>(k));
  }
  return median(std::move(v));
}

bool all_equal(std::span<const double> y) {
  return std::all_of(y.begin(), y.end(), [&](double v) { return v == y.front(); });
}

/// A flat line over [t0, t1] at `value`: the result for a constant series.
SeriesAnalysis constant_result(SeriesAnalysis a, double t0, double t1, double value) {
  a.classification = Classification::steady;
  a.level_start = a.level_end = a.fitted_end = value;
  a.judged_from_s = a.trend_t0 = t0;
  a.judged_to_s = a.trend_t1 = t1;
  a.trend_y0 = a.trend_y1 = value;
  a.reason.code = ReasonCode::constant;
  return a;
}

/// Too little data to classify, or few points that never moved. Empty when there is enough.
std::optional<SeriesAnalysis> judge_amount(std::span<const double> t, std::span<const double> y,
                                           const ClassifyOptions& options) {
  SeriesAnalysis a;
  a.points = t.size();
  const double span_s = t.empty() ? 0.0 : t.back() - t.front();
  // A count that never moved over the whole run needs fewer points to be called steady
  // (descendants are read only every few seconds).
  if (t.size() >= kConstantMinPoints && t.size() < options.min_points &&
      span_s >= options.min_span_s && all_equal(y)) {
    return constant_result(a, t.front(), t.back(), y.front());
  }
  if (t.size() < options.min_points) {
    a.reason = {.code = ReasonCode::too_few_points,
                .points = t.size(),
                .required_points = options.min_points};
    return a;
  }
  if (span_s < options.min_span_s) {
    a.reason = {
        .code = ReasonCode::too_short, .span_s = span_s, .required_span_s = options.min_span_s};
    return a;
  }
  return std::nullopt;
}

/// The longest gap-free run: fits never span a gap.
std::pair<std::size_t, std::size_t> longest_run(std::span<const double> t) {
  const auto runs = detail::split_at_gaps(t, kGapFactor);
  return *std::max_element(runs.begin(), runs.end(), [&](auto p, auto q) {
    return t[p.second - 1] - t[p.first] < t[q.second - 1] - t[q.first];
  });
}

/// The series the trend is judged on: the sawtooth's floor when there is one, else the bins.
Window judged_series(const Binned& bins, const Sawtooth& saw, SeriesAnalysis& a) {
  Window judged;
  if (saw.detected && saw.floor_t.size() >= kSawtoothMinFloorPoints) {
    judged.t = saw.floor_t;
    judged.y = saw.floor_y;
    a.sawtooth_floor = true;
    a.sawtooth_cycles = saw.drops;
    a.floor_t = saw.floor_t;
    a.floor_y = saw.floor_y;
  } else {
    judged.t = bins.t;
    judged.y = bins.y;
  }
  return judged;
}

std::size_t min_judged_points(const SeriesAnalysis& a) {
  return a.sawtooth_floor ? kMinJudgedFloorPoints : kMinJudgedPoints;
}

/// Warm-up: forced, or a rise that flattens within the first 30 % of the run. Cuts it off
/// `judged` when enough is left after it.
void cut_warmup(Window& judged, double t_begin, double span_s, const ClassifyOptions& options,
                SeriesAnalysis& a) {
  if (options.warmup_s) {
    a.warmup_end_s = t_begin + *options.warmup_s;
  } else {
    const TwoPhase tp = detail::best_two_phase(judged.t, judged.y, kWarmupMinFraction);
    if (tp.index > 0) {
      const double at = judged.t[tp.index];
      if (tp.slope_before > 0 && tp.slope_after < kWarmupSlopeDropRatio * tp.slope_before &&
          at - t_begin <= kWarmupMaxShareOfRun * span_s && tp.sse_ratio < kWarmupMaxSseRatio) {
        a.warmup_end_s = at;
      }
    }
  }
  if (!a.warmup_end_s) return;
  Window after = from_time(judged.t, judged.y, *a.warmup_end_s);
  if (after.size() >= min_judged_points(a)) {
    judged = std::move(after);
  } else {
    a.warmup_end_s.reset();
  }
}

/// Onset: flat, then sustained growth; the rate is measured from where it began.
void cut_before_onset(Window& judged, SeriesAnalysis& a) {
  const TwoPhase tp = detail::best_two_phase(judged.t, judged.y, kOnsetMinFraction);
  const bool onset = tp.index > 0 && tp.slope_after > 0 &&
                     std::fabs(tp.slope_before) < kOnsetFlatSlopeRatio * tp.slope_after &&
                     tp.sse_ratio < kOnsetMaxSseRatio;
  if (!onset) return;
  Window after = from_time(judged.t, judged.y, judged.t[tp.index]);
  if (after.size() >= kMinJudgedPoints) {
    a.onset_s = judged.t[tp.index];
    judged = std::move(after);
  }
}

/// The trend of the judged window: slope, test, interval, levels and the line for plots.
/// Returns the judged window's own slope (the one the tests use).
double fit_trend(const Window& judged, const Window& post_warmup, std::span<const double> t,
                 std::span<const double> y, const ClassifyOptions& options, SeriesAnalysis& a) {
  const double slope = slope_of(judged);
  const MannKendall mk = mann_kendall_hamed_rao(judged.t, judged.y, slope);
  const auto [ci_low, ci_high] = sen_interval(judged.t, judged.y, mk.var_s * mk.correction);
  a.trend_p_value = mk.p_value;
  a.autocorrelation_correction = mk.correction;
  a.growth_per_s = slope;
  a.judged_from_s = judged.t.front();
  a.judged_to_s = judged.t.back();
  if (options.exact_raw_slope && !a.sawtooth_floor) {
    // The reported rate uses every raw point of the judged window (exact Theil-Sen).
    const auto first =
        static_cast<std::size_t>(std::lower_bound(t.begin(), t.end(), a.judged_from_s) - t.begin());
    if (t.size() - first >= 2) a.growth_per_s = theil_sen_slope(t.subspan(first), y.subspan(first));
  }
  a.ci_low_per_s = std::min(ci_low, a.growth_per_s);
  a.ci_high_per_s = std::max(ci_high, a.growth_per_s);
  a.level_start = level(post_warmup, false);
  a.level_end = level(judged, true);
  std::vector<double> intercepts(judged.size());
  for (std::size_t i = 0; i < judged.size(); ++i) {
    intercepts[i] = judged.y[i] - a.growth_per_s * judged.t[i];
  }
  const double b = median(std::move(intercepts));
  a.trend_t0 = judged.t.front();
  a.trend_t1 = judged.t.back();
  a.trend_y0 = b + a.growth_per_s * a.trend_t0;
  a.trend_y1 = b + a.growth_per_s * a.trend_t1;
  a.fitted_end = a.trend_y1;
  return slope;
}

/// Still rising at the end: the last 40 % trends up on its own, the growth stands out of the
/// noise around the trend, and the last quarter sets a new high.
bool still_rising(const Window& judged, double slope) {
  const double jspan = judged.t.back() - judged.t.front();
  const Window recent =
      from_time(judged.t, judged.y, judged.t.front() + kRecentWindowStart * jspan);
  bool recent_rising = false;
  if (recent.size() >= kRecentMinTestPoints) {
    const double rs = slope_of(recent);
    const MannKendall rmk = mann_kendall_hamed_rao(recent.t, recent.y, rs);
    recent_rising = rmk.p_value < kRecentAlpha && rs > 0 && rs >= kRecentMinSlopeRatio * slope;
  } else if (recent.size() >= kRecentMinSlopePoints) {
    // Few points (a sawtooth's floor): too few for a test of their own; the slope must hold.
    const double rs = slope_of(recent);
    recent_rising = rs > 0 && rs >= kRecentMinSlopeRatio * slope;
  }
  std::vector<double> residuals(judged.size());
  for (std::size_t i = 0; i < judged.size(); ++i) residuals[i] = judged.y[i] - slope * judged.t[i];
  const double noise = mad_sigma(residuals);
  if (slope * jspan < kMinGrowthNoiseSigmas * noise) recent_rising = false;
  double max_before = -INFINITY, max_late = -INFINITY;
  for (std::size_t i = 0; i < judged.size(); ++i) {
    const bool late = judged.t[i] >= judged.t.front() + kNewHighWindowStart * jspan;
    double& target = late ? max_late : max_before;
    target = std::max(target, judged.y[i]);
  }
  return recent_rising && max_late > max_before;
}

/// An integer series' staircase: at least three new highs, spread out, the last one late.
/// When it is one, `a` becomes a leak and the result is true.
bool is_staircase(std::span<const double> t, std::span<const double> y, bool rising,
                  SeriesAnalysis& a) {
  const auto first =
      static_cast<std::size_t>(std::lower_bound(t.begin(), t.end(), a.judged_from_s) - t.begin());
  double running = y[first];
  std::vector<double> highs;
  for (std::size_t i = first + 1; i < t.size(); ++i) {
    if (y[i] > running) {
      running = y[i];
      highs.push_back(t[i]);
    }
  }
  const double wspan = t.back() - t[first];
  const bool staircase = highs.size() >= kStaircaseMinHighs &&
                         highs.back() >= t[first] + kStaircaseLastHighShare * wspan &&
                         highs.back() - highs.front() >= kStaircaseMinSpreadShare * wspan;
  if (!(staircase && a.growth_per_s >= 0 && (rising || a.trend_p_value < kStaircaseAlpha))) {
    return false;
  }
  a.classification = Classification::leak;
  a.reason = {.code = ReasonCode::new_highs,
              .new_highs = highs.size(),
              .last_new_high_s = std::trunc(highs.back())};
  a.ci_low_per_s = std::max(a.ci_low_per_s, 0.0);
  return true;
}

/// No leak: what kind of not-leak it is.
void decide_not_leak(bool rising, bool falling, const Binned& bins, const Sawtooth& saw,
                     SeriesAnalysis& a) {
  auto set = [&a](Classification c, ReasonCode code) {
    a.classification = c;
    a.reason.code = code;
  };
  if (rising) {
    set(Classification::plateau, ReasonCode::levelled_off);
  } else if (falling) {
    set(Classification::decreasing, ReasonCode::falls_steadily);
  } else if (a.sawtooth_floor) {
    set(Classification::sawtooth, ReasonCode::returns_to_floor);
    a.reason.drops = saw.drops;
  } else if (a.warmup_end_s) {
    set(Classification::warmup, ReasonCode::warmup_then_steady);
  } else {
    const TwoPhase step = detail::best_two_phase(bins.t, bins.y, kTwoPhaseDefaultMinFraction);
    const double jump = step.index > 0 ? bins.y[step.index] - bins.y[step.index - 1] : 0.0;
    if (step.sse_ratio < kStepMaxSseRatio && jump > 0) {
      set(Classification::plateau, ReasonCode::one_off_step);
    } else {
      set(Classification::steady, ReasonCode::no_trend);
    }
  }
}

}  // namespace

SeriesAnalysis classify_series(std::span<const double> t_all, std::span<const double> y_all,
                               const ClassifyOptions& options) {
  assert(t_all.size() == y_all.size());
  if (auto early = judge_amount(t_all, y_all, options)) return *std::move(early);
  SeriesAnalysis a;
  a.points = t_all.size();
  const auto [run_begin, run_end] = longest_run(t_all);
  const auto t = t_all.subspan(run_begin, run_end - run_begin);
  const auto y = y_all.subspan(run_begin, run_end - run_begin);
  if (t.size() < options.min_points) {
    a.reason = {.code = ReasonCode::too_few_gap_free_points,
                .points = t.size(),
                .required_points = options.min_points};
    return a;
  }
  const double t_begin = t.front(), span_s = t.back() - t_begin;
  a.judged_from_s = t_begin;
  a.judged_to_s = t.back();
  if (all_equal(y)) return constant_result(a, t_begin, t.back(), y.front());

  const Binned bins = detail::bin_median(t, y, options.max_bins);
  const Sawtooth saw = detail::detect_sawtooth(t, y);
  Window judged = judged_series(bins, saw, a);
  cut_warmup(judged, t_begin, span_s, options, a);
  const Window post_warmup = judged;
  cut_before_onset(judged, a);
  if (judged.size() < min_judged_points(a)) {
    a.reason.code = ReasonCode::too_few_after_warmup;
    return a;
  }
  const double slope = fit_trend(judged, post_warmup, t, y, options, a);
  const bool rising = a.trend_p_value < options.alpha && a.ci_low_per_s > 0;
  const bool falling = a.trend_p_value < options.alpha && a.ci_high_per_s < 0;
  const bool rising_at_end = still_rising(judged, slope);
  if (options.integer_valued) {
    if (is_staircase(t, y, rising, a)) return a;
  } else if (rising && rising_at_end) {
    a.classification = Classification::leak;
    a.reason.code = a.sawtooth_floor ? ReasonCode::floor_rising : ReasonCode::sustained_growth;
    return a;
  }
  decide_not_leak(rising, falling, bins, saw, a);
  return a;
}

}  // namespace soak::analysis
