#include "soak/analysis/classify.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>
#include <optional>
#include <tuple>

#include "soak/analysis/detail/classify.hpp"
#include "soak/analysis/stats.hpp"
#include "soak/analysis/theil_sen.hpp"
#include "thresholds.hpp"

namespace soak::analysis {

using thresholds::kClassify;

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
    case Classification::slow_growth:
      return "slow_growth";
    case Classification::load_driven:
      return "load_driven";
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
    case ReasonCode::wander:
      return "wander";
    case ReasonCode::below_effect_floor:
      return "below_effect_floor";
    case ReasonCode::follows_load:
      return "follows_load";
    case ReasonCode::heap_not_growing:
      return "heap_not_growing";
  }
  return "no_trend";
}

namespace {

using detail::Binned;
using detail::Condition;
using detail::Sawtooth;
using detail::TwoPhase;

struct Window {
  std::vector<double> t, y;
  std::size_t size() const { return t.size(); }
};

Window from_time(std::span<const double> t, std::span<const double> y, double start) {
  Window w;
  const auto first =
      static_cast<std::size_t>(std::lower_bound(t.begin(), t.end(), start) - t.begin());
  w.t.assign(t.begin() + static_cast<std::ptrdiff_t>(first), t.end());
  w.y.assign(y.begin() + static_cast<std::ptrdiff_t>(first), y.end());
  return w;
}

/// Robust level of the first or last `level_fraction` of a window.
double level(const Window& w, bool at_end) {
  const std::size_t k = std::max<std::size_t>(
      1, static_cast<std::size_t>(kClassify.level_fraction * static_cast<double>(w.size())));
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
  if (t.size() >= kClassify.constant_min_points && t.size() < options.min_points &&
      span_s >= options.min_span_s && all_equal(y)) {
    return constant_result(a, t.front(), t.back(), y.front());
  }
  if (t.size() < options.min_points) {
    a.reason = {.code = ReasonCode::too_few_points,
                .points = t.size(),
                .required_points = options.min_points};
    return a;
  }
  // A span past a double's range (times -1e308 and 1e308) is no span to judge either.
  if (span_s < options.min_span_s || !std::isfinite(span_s)) {
    a.reason = {
        .code = ReasonCode::too_short, .span_s = span_s, .required_span_s = options.min_span_s};
    return a;
  }
  return std::nullopt;
}

/// The series the trend is judged on: the sawtooth's floor when there is one, else the bins.
Window judged_series(const Binned& bins, const Sawtooth& saw, SeriesAnalysis& a) {
  Window judged;
  if (saw.detected && saw.floor_t.size() >= kClassify.sawtooth_min_floor_points) {
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
  return a.sawtooth_floor ? kClassify.min_judged_floor_points : kClassify.min_judged_points;
}

/// Warm-up: forced, or a rise that flattens within the first half of the run. Cuts it off
/// `judged` when enough is left after it.
void cut_warmup(Window& judged, double t_begin, double span_s, const ClassifyOptions& options,
                SeriesAnalysis& a) {
  if (options.warmup_s) {
    a.warmup_end_s = t_begin + *options.warmup_s;
  } else {
    const TwoPhase tp = detail::best_two_phase(judged.t, judged.y, kClassify.warmup_min_fraction);
    if (tp.index > 0) {
      const double at = judged.t[tp.index];
      if (tp.slope_before > 0 &&
          tp.slope_after < kClassify.warmup_slope_drop_ratio * tp.slope_before &&
          at - t_begin <= kClassify.warmup_max_share_of_run * span_s &&
          tp.sse_ratio < kClassify.warmup_max_sse_ratio) {
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
  const TwoPhase tp = detail::best_two_phase(judged.t, judged.y, kClassify.onset_min_fraction);
  const bool onset =
      tp.index > 0 && tp.slope_after > 0 &&
      std::fabs(tp.slope_before) < kClassify.onset_flat_slope_ratio * tp.slope_after &&
      tp.sse_ratio < kClassify.onset_max_sse_ratio;
  if (!onset) return;
  Window after = from_time(judged.t, judged.y, judged.t[tp.index]);
  if (after.size() >= kClassify.min_judged_points) {
    a.onset_s = judged.t[tp.index];
    judged = std::move(after);
  }
}

/// A trend test and Sen's interval on `w` with slope `slope`: Mann-Kendall with Hamed-Rao's
/// correction, or the least-squares t test when too few points to rank.
struct TrendTest {
  double p_value = 1, correction = 1, low = 0, high = 0;
};
TrendTest trend_test(const Window& w, double slope) {
  TrendTest out;
  const MannKendall mk = mann_kendall_hamed_rao(w.t, w.y, slope);
  out.correction = mk.correction;
  out.p_value =
      w.size() < kClassify.min_rank_test_points ? detail::ols_slope_p_value(w.t, w.y) : mk.p_value;
  std::tie(out.low, out.high) = sen_interval(w.t, w.y, mk.var_s * mk.correction);
  return out;
}

/// What the trend stage found beyond the SeriesAnalysis fields.
struct Trend {
  double slope = 0;      ///< the judged window's own slope (the one the tests use)
  bool wanders = false;  ///< the noise spreads like a random walk at the batches' scale
  double drift_t = 0;    ///< the drift test of the batch medians (when it wanders)
  double falls_z = 0;    ///< the rise against the scale of the falls (steps that keep coming)
};

/// The raw points (or the floor) of the judged window: what the batch tests run on.
Window batch_source(const Window& judged, std::span<const double> t, std::span<const double> y,
                    const SeriesAnalysis& a) {
  if (a.sawtooth_floor) return judged;
  return from_time(t, y, a.judged_from_s);
}

/// The trend of the judged window: slope, test, interval, levels and the line for plots.
Trend fit_trend(const Window& judged, const Window& post_warmup, std::span<const double> t,
                std::span<const double> y, const ClassifyOptions& options, SeriesAnalysis& a) {
  Trend trend;
  trend.slope = detail::robust_slope(judged.t, judged.y);
  const TrendTest test = trend_test(judged, trend.slope);
  a.trend_p_value = test.p_value;
  a.autocorrelation_correction = test.correction;
  a.growth_per_s = trend.slope;
  a.judged_from_s = judged.t.front();
  a.judged_to_s = judged.t.back();
  const Window raw = batch_source(judged, t, y, a);
  if (options.exact_raw_slope && !a.sawtooth_floor && raw.size() >= 2) {
    a.growth_per_s = detail::robust_slope(raw.t, raw.y);  // every raw point of the window
  }
  double low = test.low, high = test.high;
  const Binned batches = detail::batch_medians(raw.t, raw.y, kClassify.batches);
  if (const detail::BatchFit fit = detail::batch_interval(batches); fit.valid) {
    low = std::min(low, fit.low);
    high = std::max(high, fit.high);
    // At a third of a batch's lag, at one and at two: a walk under white noise shows only at
    // long lags, a walk alone at every lag, and one ratio alone scatters too much to tell.
    const std::size_t lag = std::max<std::size_t>(3, judged.size() / kClassify.batches);
    double ratio = 0;
    for (const std::size_t l : {lag / 3, lag, 2 * lag}) {
      ratio = std::max(ratio, detail::variance_ratio(judged.t, judged.y, trend.slope, l));
    }
    // A sawtooth's floor has the collections' noise taken out already: it is not tested for
    // wander (its minima sit at the cycles' random phases, which spread like a walk).
    trend.wanders = !a.sawtooth_floor && ratio >= kClassify.wander_min_variance_ratio;
    trend.drift_t = detail::drift_t(batches);
    trend.falls_z = detail::falls_z(batches);
  }
  a.ci_low_per_s = std::min(low, a.growth_per_s);
  a.ci_high_per_s = std::max(high, a.growth_per_s);
  a.window_growth_per_s = a.growth_per_s;
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
  return trend;
}

/// The end of the judged window: its own slope and test.
struct Recent {
  bool rising = false;
  double slope = 0, low = 0, high = 0, from_s = 0;
  bool tested = false;  ///< low/high are an interval of its own
};

Recent recent_part(const Window& judged, double slope, double overall_p, double alpha) {
  Recent r;
  const double jspan = judged.t.back() - judged.t.front();
  r.from_s = judged.t.front() + kClassify.recent_window_start * jspan;
  const Window recent = from_time(judged.t, judged.y, r.from_s);
  if (recent.size() < kClassify.recent_min_slope_points) return r;
  r.slope = detail::robust_slope(recent.t, recent.y);
  const bool keeps_rate = r.slope > 0 && r.slope >= kClassify.recent_min_slope_ratio * slope;
  if (recent.size() >= kClassify.recent_min_test_points) {
    const TrendTest test = trend_test(recent, r.slope);
    r.tested = true;
    r.low = test.low;
    r.high = test.high;
    // Rising at the end: significantly, or at a rate nearer the overall one than none (a short
    // or noisy end has too little power to confirm what the whole window showed).
    const bool not_slower = r.slope > 0 && r.slope >= kClassify.levelled_slope_ratio * slope;
    // An end that slowed must show its rise at the trend's own level: a warm-up's decaying
    // tail slows too, and only a leak keeps a clearly positive rate.
    const double level = not_slower ? kClassify.recent_alpha : alpha;
    const bool significant = keeps_rate && test.p_value < level;
    // An end too short to tell the overall rate from none: a very clear overall trend decides.
    const bool uninformative = test.high - test.low > slope && overall_p < kClassify.strong_trend_p;
    r.rising = significant || not_slower || uninformative;
  } else {
    // Few points (a sawtooth's floor): too few for a test of their own; the slope must hold.
    r.rising = keeps_rate;
  }
  return r;
}

/// The last window's median tops every earlier window's: a new high that no single spike or
/// start-up peak can fake or block.
bool sets_robust_high(const Window& judged) {
  const std::size_t windows =
      judged.size() >= 2 * kClassify.high_windows ? kClassify.high_windows : 2;
  const double t0 = judged.t.front(), span = judged.t.back() - t0;
  std::vector<std::vector<double>> parts(windows);
  for (std::size_t i = 0; i < judged.size(); ++i) {
    // NaN (an inf span) goes to the last window, as the last point does.
    const double at = (judged.t[i] - t0) / span * static_cast<double>(windows);
    const std::size_t k = at >= 0 && at < static_cast<double>(windows - 1)
                              ? static_cast<std::size_t>(at)
                              : windows - 1;
    parts[k].push_back(judged.y[i]);
  }
  if (parts.back().empty()) return false;
  const double last = median(parts.back());
  for (std::size_t k = 0; k + 1 < windows; ++k) {
    if (!parts[k].empty() && median(parts[k]) >= last) return false;
  }
  return true;
}

/// Still rising at the end: the end trends up on its own, the growth stands out of the noise
/// around the trend, and the robust level sets a new high.
bool still_rising(const Window& judged, double slope, const Recent& recent) {
  std::vector<double> residuals(judged.size());
  for (std::size_t i = 0; i < judged.size(); ++i) residuals[i] = judged.y[i] - slope * judged.t[i];
  const double noise = mad_sigma(residuals);
  const double jspan = judged.t.back() - judged.t.front();
  if (slope * jspan < kClassify.min_growth_noise_sigmas * noise) return false;
  return recent.rising && sets_robust_high(judged);
}

/// A leak that slowed: the rate that holds now is reported, with its own interval.
void report_late_rate(const Recent& recent, SeriesAnalysis& a) {
  if (!recent.tested || recent.slope <= 0) return;
  if (recent.slope < kClassify.slowing_report_ratio * a.growth_per_s &&
      recent.high < a.growth_per_s) {
    a.growth_per_s = recent.slope;
    a.ci_low_per_s = std::min(recent.low, recent.slope);
    a.ci_high_per_s = std::max(recent.high, recent.slope);
    a.judged_from_s = recent.from_s;
  }
}

/// The effect-size floor and the smallest rate this series could have called a leak. The floor
/// is an amount over the judged window (bytes series) and a share of the level per day.
void set_detectable(const ClassifyOptions& options, SeriesAnalysis& a) {
  const double span = std::max(1.0, a.trend_t1 - a.trend_t0);
  const double level_now = std::max(std::fabs(a.level_end), std::fabs(a.level_start));
  a.effect_floor_per_s = level_now * kClassify.leak_min_share_per_day / 86400;
  if (options.bytes) {
    a.effect_floor_per_s = std::max(a.effect_floor_per_s, kClassify.leak_min_growth_bytes / span);
  }
  const double z = normal_quantile(1 - options.alpha / 2) + kClassify.detect_power_z;
  const double se = (a.ci_high_per_s - a.ci_low_per_s) / (2 * normal_quantile(0.975));
  a.detectable_growth_per_s = std::max(a.effect_floor_per_s, z * se);
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
  const bool staircase =
      highs.size() >= kClassify.staircase_min_highs &&
      highs.back() >= t[first] + kClassify.staircase_last_high_share * wspan &&
      highs.back() - highs.front() >= kClassify.staircase_min_spread_share * wspan;
  if (!(staircase && a.growth_per_s >= 0 &&
        (rising || a.trend_p_value < kClassify.staircase_alpha))) {
    return false;
  }
  a.classification = Classification::leak;
  a.reason = {.code = ReasonCode::new_highs,
              .new_highs = highs.size(),
              .last_new_high_s = std::trunc(highs.back())};
  a.ci_low_per_s = std::max(a.ci_low_per_s, 0.0);
  return true;
}

void set(SeriesAnalysis& a, Classification c, ReasonCode code) {
  a.classification = c;
  a.reason.code = code;
}

/// No leak: what kind of not-leak it is.
void decide_not_leak(bool rising, bool falling, const Window& judged, const Binned& bins,
                     const Sawtooth& saw, SeriesAnalysis& a) {
  if (rising) {
    set(a, Classification::plateau, ReasonCode::levelled_off);
    // Growth checks start where it levelled: the rise before was its warm-up.
    const TwoPhase tp =
        detail::best_two_phase(judged.t, judged.y, kClassify.two_phase_default_min_fraction);
    if (tp.index > 0) {
      a.level_start = level(from_time(judged.t, judged.y, judged.t[tp.index]), false);
    }
  } else if (falling) {
    set(a, Classification::decreasing, ReasonCode::falls_steadily);
  } else if (a.sawtooth_floor) {
    set(a, Classification::sawtooth, ReasonCode::returns_to_floor);
    a.reason.drops = saw.drops;
  } else if (a.warmup_end_s) {
    set(a, Classification::warmup, ReasonCode::warmup_then_steady);
  } else {
    const TwoPhase step =
        detail::best_two_phase(bins.t, bins.y, kClassify.two_phase_default_min_fraction);
    const double jump = step.index > 0 ? bins.y[step.index] - bins.y[step.index - 1] : 0.0;
    if (step.sse_ratio < kClassify.step_max_sse_ratio && jump > 0) {
      set(a, Classification::plateau, ReasonCode::one_off_step);
    } else {
      set(a, Classification::steady, ReasonCode::no_trend);
    }
  }
}

/// The offered load at each of `t` (the last load sample at or before it); empty when no load
/// was recorded or it did not vary.
std::vector<double> load_at(std::span<const double> t, const ClassifyOptions& options) {
  std::vector<double> out;
  if (options.load_t.empty() || options.load_t.size() != options.load_value.size()) return out;
  for (const double at : t) {
    auto it = std::upper_bound(options.load_t.begin(), options.load_t.end(), at);
    if (it != options.load_t.begin()) --it;
    out.push_back(options.load_value[static_cast<std::size_t>(it - options.load_t.begin())]);
  }
  std::vector<double> sorted = out;
  std::sort(sorted.begin(), sorted.end());
  const double lo = sorted[sorted.size() * 5 / 100], hi = sorted[sorted.size() * 95 / 100];
  const double mid = median(sorted);
  if (mid <= 0 || (hi - lo) / mid < kClassify.load_min_variation) out.clear();
  return out;
}

/// Growth that the offered load explains: within constant-load segments memory does not grow
/// by the effect-size floor, or not significantly. A leak that outgrows the load keeps its rate
/// there, and that rate is then the one reported.
bool explained_by_load(const Window& judged, const ClassifyOptions& options, SeriesAnalysis& a) {
  const std::vector<double> load = load_at(judged.t, options);
  if (load.size() < kClassify.min_judged_points) return false;
  const detail::WithinLoad within = detail::within_load_slope(judged.t, judged.y, load);
  if (!within.valid) return false;
  // The rate that counts is the one within segments, whichever way this goes.
  const double half = normal_quantile(0.975) * within.stderr_slope;
  a.growth_per_s = within.slope;
  a.ci_low_per_s = within.slope - half;
  a.ci_high_per_s = within.slope + half;
  a.trend_y1 = a.trend_y0 + within.slope * (a.trend_t1 - a.trend_t0);
  a.fitted_end = a.trend_y1;
  // Explained when the pooled rate, or the rate in the longest (best settled) segment, is not
  // a leak's: a leak keeps its rate in every segment; memory still settling after a step of
  // load rises in the short segments only.
  const double z = normal_quantile(1 - options.alpha / 2);
  return within.slope < std::max(a.effect_floor_per_s, z * within.stderr_slope) ||
         within.longest_slope < std::max(a.effect_floor_per_s, z * within.longest_stderr);
}

/// Memory that rose and fell with a load that changed: the load explains its level (most of
/// its variance) and within constant-load segments it does not grow.
bool level_follows_load(const Window& post_warmup, const ClassifyOptions& options,
                        SeriesAnalysis& a) {
  const std::vector<double> load = load_at(post_warmup.t, options);
  if (load.size() < kClassify.min_judged_points) return false;
  const double n = static_cast<double>(load.size());
  const double lm = std::accumulate(load.begin(), load.end(), 0.0) / n;
  const double ym = std::accumulate(post_warmup.y.begin(), post_warmup.y.end(), 0.0) / n;
  double sll = 0, sly = 0, syy = 0;
  for (std::size_t i = 0; i < load.size(); ++i) {
    sll += (load[i] - lm) * (load[i] - lm);
    sly += (load[i] - lm) * (post_warmup.y[i] - ym);
    syy += (post_warmup.y[i] - ym) * (post_warmup.y[i] - ym);
  }
  if (sll <= 0 || syy <= 0 || sly <= 0) return false;
  if (sly * sly / (sll * syy) < kClassify.load_min_r2) return false;
  SeriesAnalysis scratch = a;  // a level that is not explained keeps its own figures
  if (!explained_by_load(post_warmup, options, scratch)) return false;
  a = std::move(scratch);
  return true;
}

/// Rising, and still at the end: a leak, slow growth under the floor, or load-driven growth.
/// The load is judged on the whole window after the warm-up: a change of load is what an onset
/// cut would hide.
void decide_growth(const Window& post_warmup, const Trend& trend, const ClassifyOptions& options,
                   SeriesAnalysis& a) {
  if (explained_by_load(post_warmup, options, a)) {
    set(a, Classification::load_driven, ReasonCode::follows_load);
    set_detectable(options, a);  // on the within-segment rate
  } else if (std::max(a.growth_per_s, trend.slope) < a.effect_floor_per_s) {
    // A leak that slowed is judged by what it added over the window, not by its late rate.
    set(a, Classification::slow_growth, ReasonCode::below_effect_floor);
  } else {
    set(a, Classification::leak,
        a.sawtooth_floor ? ReasonCode::floor_rising : ReasonCode::sustained_growth);
  }
}

}  // namespace

SeriesAnalysis classify_series(std::span<const double> t, std::span<const double> y,
                               const ClassifyOptions& options) {
  assert(t.size() == y.size());
  if (auto early = judge_amount(t, y, options)) return *std::move(early);
  SeriesAnalysis a;
  a.points = t.size();
  const Condition cond = detail::condition(t, y);
  a.gaps = cond.gaps;
  a.judged_share = cond.judged_share;
  a.resolution = cond.resolution;
  const double t_begin = t.front(), span_s = t.back() - t_begin;
  a.judged_from_s = t_begin;
  a.judged_to_s = t.back();
  if (all_equal(y)) return constant_result(a, t_begin, t.back(), y.front());

  const Binned bins = detail::bin_median(t, y, options.max_bins);
  const Sawtooth saw = detail::detect_sawtooth(t, y, cond);
  Window judged = judged_series(bins, saw, a);
  cut_warmup(judged, t_begin, span_s, options, a);
  const Window post_warmup = judged;
  cut_before_onset(judged, a);
  if (judged.size() < min_judged_points(a)) {
    a.reason.code = ReasonCode::too_few_after_warmup;
    return a;
  }
  const Trend trend = fit_trend(judged, post_warmup, t, y, options, a);
  // Wandering noise: a trend counts only when it beats a driftless walk's.
  const bool beats_wander = !trend.wanders ||
                            std::fabs(trend.drift_t) >= kClassify.wander_min_drift_t ||
                            trend.falls_z >= kClassify.wander_min_falls_z;
  const bool rising = a.trend_p_value < options.alpha && a.ci_low_per_s > 0;
  const bool falling = a.trend_p_value < options.alpha && a.ci_high_per_s < 0 && beats_wander;
  const Recent recent = recent_part(judged, trend.slope, a.trend_p_value, options.alpha);
  a.late_growth_per_s = recent.slope;
  const bool rising_at_end = still_rising(judged, trend.slope, recent);
  if (rising && rising_at_end) report_late_rate(recent, a);
  set_detectable(options, a);
  if (options.integer_valued) {
    if (is_staircase(t, y, rising, a)) return a;
  } else if (rising && rising_at_end) {
    if (beats_wander) {
      decide_growth(post_warmup, trend, options, a);
      return a;
    }
    set(a, Classification::steady, ReasonCode::wander);
    return a;
  }
  decide_not_leak(rising, falling, judged, bins, saw, a);
  if (a.classification == Classification::plateau && level_follows_load(post_warmup, options, a)) {
    set(a, Classification::load_driven, ReasonCode::follows_load);
    set_detectable(options, a);  // on the within-segment rate
  }
  return a;
}

}  // namespace soak::analysis
