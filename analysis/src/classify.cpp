#include "soak/analysis/classify.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "soak/analysis/stats.hpp"
#include "soak/analysis/theil_sen.hpp"

namespace soak::analysis {

const char* to_string(Classification c) {
  switch (c) {
    case Classification::steady: return "steady";
    case Classification::warmup: return "warmup";
    case Classification::plateau: return "plateau";
    case Classification::sawtooth: return "sawtooth";
    case Classification::leak: return "leak";
    case Classification::decreasing: return "decreasing";
    case Classification::insufficient: return "insufficient";
  }
  return "insufficient";
}

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
    const auto bin = std::min<std::size_t>(max_bins - 1, static_cast<std::size_t>((t[i] - t0) / width));
    std::size_t j = i;
    while (j < n && std::min<std::size_t>(max_bins - 1, static_cast<std::size_t>((t[j] - t0) / width)) == bin) ++j;
    values.assign(y.begin() + static_cast<std::ptrdiff_t>(i), y.begin() + static_cast<std::ptrdiff_t>(j));
    out.t.push_back(t[i + (j - i) / 2]);
    out.y.push_back(median(values));
    i = j;
  }
  return out;
}

Sawtooth detect_sawtooth(std::span<const double> t, std::span<const double> y) {
  Sawtooth saw;
  const std::size_t n = y.size();
  if (n < 30) return saw;
  std::vector<double> diffs(n - 1);
  for (std::size_t i = 1; i < n; ++i) diffs[i - 1] = y[i] - y[i - 1];
  const double sigma_d = mad_sigma(diffs);
  std::vector<double> sorted(y.begin(), y.end());
  std::sort(sorted.begin(), sorted.end());
  const double range = sorted[n * 95 / 100] - sorted[n * 5 / 100];
  if (range <= 0) return saw;
  // A collection drop stands far out of the sample-to-sample noise and is a sizeable part of
  // the series' range (which a leak under the sawtooth widens, hence only 10 %).
  const double threshold = std::max(6 * sigma_d, 0.1 * range);
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
  if (drop_ends.size() < 4) return saw;
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
  if (static_cast<double>(n - drop_ends.back()) >= 0.5 * typical) add_floor(drop_ends.back(), n);
  saw.detected = true;
  return saw;
}

TwoPhase best_two_phase(std::span<const double> t, std::span<const double> y,
                        double min_fraction) {
  TwoPhase best;
  const std::size_t n = t.size();
  const std::size_t min_side = std::max<std::size_t>(3, static_cast<std::size_t>(min_fraction * static_cast<double>(n)));
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

namespace {

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
double level(const Window& w, bool at_end, double fraction = 0.1) {
  const std::size_t k = std::max<std::size_t>(1, static_cast<std::size_t>(fraction * static_cast<double>(w.size())));
  std::vector<double> v;
  if (at_end) {
    v.assign(w.y.end() - static_cast<std::ptrdiff_t>(k), w.y.end());
  } else {
    v.assign(w.y.begin(), w.y.begin() + static_cast<std::ptrdiff_t>(k));
  }
  return median(std::move(v));
}

}  // namespace

SeriesAnalysis classify_series(std::span<const double> t_all, std::span<const double> y_all,
                               const ClassifyOptions& options) {
  assert(t_all.size() == y_all.size());
  SeriesAnalysis a;
  a.points = t_all.size();
  // A count that never moved over the whole run needs fewer points to be called steady
  // (descendants are read only every few seconds).
  if (t_all.size() >= 3 && t_all.size() < options.min_points &&
      t_all.back() - t_all.front() >= options.min_span_s &&
      std::all_of(y_all.begin(), y_all.end(), [&](double v) { return v == y_all.front(); })) {
    a.classification = Classification::steady;
    a.level_start = a.level_end = a.fitted_end = y_all.front();
    a.judged_from_s = a.trend_t0 = t_all.front();
    a.judged_to_s = a.trend_t1 = t_all.back();
    a.trend_y0 = a.trend_y1 = y_all.front();
    a.reason = "constant";
    return a;
  }
  if (t_all.size() < options.min_points) {
    a.reason = "only " + std::to_string(t_all.size()) + " points";
    return a;
  }
  if (t_all.back() - t_all.front() < options.min_span_s) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "only %.1f s of data (at least %.0f s are needed)",
                  t_all.back() - t_all.front(), options.min_span_s);
    a.reason = buf;
    return a;
  }
  // Fit only within one gap-free run: the longest.
  const auto runs = split_at_gaps(t_all);
  const auto longest = *std::max_element(runs.begin(), runs.end(), [&](auto p, auto q) {
    return t_all[p.second - 1] - t_all[p.first] < t_all[q.second - 1] - t_all[q.first];
  });
  const auto t = t_all.subspan(longest.first, longest.second - longest.first);
  const auto y = y_all.subspan(longest.first, longest.second - longest.first);
  if (t.size() < 12) {
    a.reason = "the longest stretch without gaps has only " + std::to_string(t.size()) + " points";
    return a;
  }
  const double t_begin = t.front(), t_end = t.back(), span = t_end - t_begin;
  a.judged_from_s = t_begin;
  a.judged_to_s = t_end;
  if (std::all_of(y.begin(), y.end(), [&](double v) { return v == y.front(); })) {
    a.classification = Classification::steady;
    a.level_start = a.level_end = a.fitted_end = y.front();
    a.trend_t0 = t_begin, a.trend_t1 = t_end, a.trend_y0 = a.trend_y1 = y.front();
    a.reason = "constant";
    return a;
  }

  const Binned bins = bin_median(t, y, options.max_bins);
  const Sawtooth saw = detect_sawtooth(t, y);
  Window judged;
  if (saw.detected && saw.floor_t.size() >= 5) {
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

  // Warm-up: forced, or a rise that flattens within the first 30 % of the run.
  if (options.warmup_s) {
    a.warmup_end_s = t_begin + *options.warmup_s;
  } else {
    const TwoPhase tp = best_two_phase(judged.t, judged.y, 0.05);
    if (tp.index > 0) {
      const double at = judged.t[tp.index];
      if (tp.slope_before > 0 && tp.slope_after < 0.25 * tp.slope_before &&
          at - t_begin <= 0.3 * span && tp.sse_ratio < 0.5) {
        a.warmup_end_s = at;
      }
    }
  }
  if (a.warmup_end_s) {
    Window after = from_time(judged.t, judged.y, *a.warmup_end_s);
    if (after.size() >= (a.sawtooth_floor ? 5u : 8u)) {
      judged = std::move(after);
    } else {
      a.warmup_end_s.reset();
    }
  }
  const Window post_warmup = judged;

  // Onset: flat, then sustained growth; measure from where it began.
  {
    const TwoPhase tp = best_two_phase(judged.t, judged.y, 0.15);
    if (tp.index > 0 && tp.slope_after > 0 && std::fabs(tp.slope_before) < 0.25 * tp.slope_after &&
        tp.sse_ratio < 0.5) {
      Window after = from_time(judged.t, judged.y, judged.t[tp.index]);
      if (after.size() >= 8) {
        a.onset_s = judged.t[tp.index];
        judged = std::move(after);
      }
    }
  }
  // A sawtooth's floor has a point per cycle: five cycles can show a trend.
  const std::size_t min_judged = a.sawtooth_floor ? 5 : 8;
  if (judged.size() < min_judged) {
    a.reason = "too few points after the warm-up";
    return a;
  }

  const double slope = slope_of(judged);
  const MannKendall mk = mann_kendall_hamed_rao(judged.t, judged.y, slope);
  auto [ci_low, ci_high] = sen_interval(judged.t, judged.y, mk.var_s * mk.correction);
  a.trend_p_value = mk.p_value;
  a.autocorrelation_correction = mk.correction;
  a.growth_per_s = slope;
  a.judged_from_s = judged.t.front();
  a.judged_to_s = judged.t.back();
  if (options.exact_raw_slope && !a.sawtooth_floor) {
    // The reported rate uses every raw point of the judged window (exact Theil-Sen).
    const auto first = static_cast<std::size_t>(
        std::lower_bound(t.begin(), t.end(), a.judged_from_s) - t.begin());
    if (t.size() - first >= 2) {
      a.growth_per_s = theil_sen_slope(t.subspan(first), y.subspan(first));
    }
  }
  a.ci_low_per_s = std::min(ci_low, a.growth_per_s);
  a.ci_high_per_s = std::max(ci_high, a.growth_per_s);
  a.level_start = level(post_warmup, false);
  a.level_end = level(judged, true);
  {
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
  }

  const bool rising = mk.p_value < options.alpha && a.ci_low_per_s > 0;
  const bool falling = mk.p_value < options.alpha && a.ci_high_per_s < 0;

  // Still rising at the end? The last 40 % must trend up on its own and set new highs.
  const double jspan = judged.t.back() - judged.t.front();
  const Window recent = from_time(judged.t, judged.y, judged.t.front() + 0.6 * jspan);
  bool recent_rising = false;
  if (recent.size() >= 6) {
    const double rs = slope_of(recent);
    const MannKendall rmk = mann_kendall_hamed_rao(recent.t, recent.y, rs);
    recent_rising = rmk.p_value < 0.05 && rs > 0 && rs >= 0.3 * slope;
  } else if (recent.size() >= 2) {
    // Few points (a sawtooth's floor): too few for a test of their own; the slope must hold.
    const double rs = slope_of(recent);
    recent_rising = rs > 0 && rs >= 0.3 * slope;
  }
  // Practical significance: the growth over the window must stand out of the noise around
  // the trend, or a slow wander of strongly correlated noise passes for a trend.
  {
    std::vector<double> residuals(judged.size());
    for (std::size_t i = 0; i < judged.size(); ++i) {
      residuals[i] = judged.y[i] - slope * judged.t[i];
    }
    const double noise = mad_sigma(residuals);
    const double growth = slope * (judged.t.back() - judged.t.front());
    if (growth < 3 * noise) recent_rising = false;
  }
  double max_before = -INFINITY, max_late = -INFINITY;
  for (std::size_t i = 0; i < judged.size(); ++i) {
    double& target = judged.t[i] >= judged.t.front() + 0.75 * jspan ? max_late : max_before;
    target = std::max(target, judged.y[i]);
  }
  const bool new_high = max_late > max_before;

  if (options.integer_valued) {
    // A staircase: at least three new highs, spread out, the last one late in the run.
    const auto first = static_cast<std::size_t>(
        std::lower_bound(t.begin(), t.end(), a.judged_from_s) - t.begin());
    double running = y[first];
    std::vector<double> highs;
    for (std::size_t i = first + 1; i < t.size(); ++i) {
      if (y[i] > running) {
        running = y[i];
        highs.push_back(t[i]);
      }
    }
    const double wspan = t.back() - t[first];
    const bool staircase = highs.size() >= 3 && highs.back() >= t[first] + 0.7 * wspan &&
                           highs.back() - highs.front() >= 0.2 * wspan;
    if (staircase && a.growth_per_s >= 0 && (rising || mk.p_value < 0.05)) {
      a.classification = Classification::leak;
      a.reason = std::to_string(highs.size()) + " new highs, the last at " +
                 std::to_string(static_cast<long>(highs.back())) + " s";
      a.ci_low_per_s = std::max(a.ci_low_per_s, 0.0);
      return a;
    }
  } else if (rising && recent_rising && new_high) {
    a.classification = Classification::leak;
    a.reason = a.sawtooth_floor ? "the sawtooth's floor keeps rising" : "sustained growth to the end";
    return a;
  }
  if (rising) {
    a.classification = Classification::plateau;
    a.reason = "grew, then levelled off";
  } else if (falling) {
    a.classification = Classification::decreasing;
    a.reason = "falls steadily";
  } else if (a.sawtooth_floor) {
    a.classification = Classification::sawtooth;
    a.reason = "returns to the same floor after each of " + std::to_string(saw.drops) + " drops";
  } else if (a.warmup_end_s) {
    a.classification = Classification::warmup;
    a.reason = "rose during warm-up, steady after";
  } else {
    const TwoPhase step = best_two_phase(bins.t, bins.y, 0.1);
    const double jump = step.index > 0 ? bins.y[step.index] - bins.y[step.index - 1] : 0.0;
    if (step.sse_ratio < 0.3 && jump > 0) {
      a.classification = Classification::plateau;
      a.reason = "a one-off step, flat after";
    } else {
      a.classification = Classification::steady;
      a.reason = "no significant trend";
    }
  }
  return a;
}

}  // namespace soak::analysis
