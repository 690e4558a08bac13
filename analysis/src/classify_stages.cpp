// The stages of classify_series(): conditioning, sawtooth, two-phase fits, tie-robust slopes and
// the batch tests. Each is a pure function of its arguments (detail/classify.hpp).

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

#include "soak/analysis/detail/classify.hpp"
#include "soak/analysis/stats.hpp"
#include "soak/analysis/theil_sen.hpp"
#include "thresholds.hpp"

namespace soak::analysis::detail {

using thresholds::kClassify;

namespace {

std::vector<double> differences(std::span<const double> y) {
  std::vector<double> d;
  for (std::size_t i = 1; i < y.size(); ++i) d.push_back(y[i] - y[i - 1]);
  return d;
}

double median_step(std::span<const double> t) {
  if (t.size() < 2) return 0;
  return median(differences(t));
}

bool is_gap(double step, double typical) {
  return typical > 0 && step > kClassify.gap_factor * typical && step >= kClassify.gap_min_s;
}

}  // namespace

Condition condition(std::span<const double> t, std::span<const double> y) {
  Condition c;
  if (t.size() < 2) return c;
  const double typical = median_step(t);
  for (std::size_t i = 1; i < t.size(); ++i) {
    if (is_gap(t[i] - t[i - 1], typical)) {
      ++c.gaps;
      c.gap_s += t[i] - t[i - 1];
    }
  }
  const double span = t.back() - t.front();
  c.judged_share = span > 0 ? 1 - c.gap_s / span : 1.0;
  std::vector<double> d = differences(y);
  double quantum = INFINITY;
  for (const double v : d) {
    if (v != 0) quantum = std::min(quantum, std::fabs(v));
  }
  c.resolution = std::isfinite(quantum) ? quantum : 0.0;
  // The MAD of the differences is 0 when most of them are equal (a quantized quiet series, or
  // a heap that grows by whole regions): the noise is then the differences' interquartile
  // range, and never under the quantum's rounding noise (q / sqrt(12) per value, sqrt(2) of
  // that per difference). Not their root mean square: it would count the collections' drops.
  c.step_sigma = mad_sigma(d);
  if (c.step_sigma == 0 && d.size() >= 4) {
    std::sort(d.begin(), d.end());
    constexpr double kIqrPerSigma = 1.349;
    c.step_sigma = (d[d.size() * 3 / 4] - d[d.size() / 4]) / kIqrPerSigma;
  }
  c.step_sigma = std::max(c.step_sigma, c.resolution * std::sqrt(2.0 / 12.0));
  return c;
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
  auto bin_of = [&](std::size_t i) {
    // NaN (a span that overflows to inf, or no span at all) and the end go to the last bin.
    const double at = (t[i] - t0) / width;
    return at >= 0 && at < static_cast<double>(max_bins - 1) ? static_cast<std::size_t>(at)
                                                             : max_bins - 1;
  };
  std::vector<double> values;
  std::size_t i = 0;
  while (i < n) {
    const std::size_t bin = bin_of(i);
    std::size_t j = i;
    while (j < n && bin_of(j) == bin) ++j;
    values.assign(y.begin() + static_cast<std::ptrdiff_t>(i),
                  y.begin() + static_cast<std::ptrdiff_t>(j));
    out.t.push_back(t[i + (j - i) / 2]);
    out.y.push_back(median(values));
    i = j;
  }
  return out;
}

namespace {

double median_of(std::span<const double> y, std::size_t from, std::size_t to) {
  return median(std::vector<double>(y.begin() + static_cast<std::ptrdiff_t>(from),
                                    y.begin() + static_cast<std::ptrdiff_t>(to)));
}

/// The ends of each run of falls deeper than `threshold` that last: the level before the fall
/// (the median of the points just before it) and after it (just after) differ by the threshold
/// too. A lone outlier, down or up, comes straight back and is no collection.
std::vector<std::size_t> drop_ends(std::span<const double> y, double threshold) {
  std::vector<std::size_t> ends;
  const std::size_t n = y.size();
  const std::size_t k = kClassify.sawtooth_level_points;
  for (std::size_t i = 1; i < n;) {
    if (y[i] >= y[i - 1]) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < n && y[j] < y[j - 1]) ++j;
    const std::size_t bottom = j - 1;
    if (y[i - 1] - y[bottom] > threshold) {
      const double before = median_of(y, i - std::min(i, k), i);
      const double after = median_of(y, bottom, std::min(n, bottom + k));
      if (before - after > threshold) ends.push_back(bottom);
    }
    i = j;
  }
  return ends;
}

}  // namespace

Sawtooth detect_sawtooth(std::span<const double> t, std::span<const double> y,
                         const Condition& cond) {
  Sawtooth saw;
  const std::size_t n = y.size();
  if (n < kClassify.sawtooth_min_points) return saw;
  std::vector<double> sorted(y.begin(), y.end());
  std::sort(sorted.begin(), sorted.end());
  const double range = sorted[n * kClassify.sawtooth_range_high_percent / 100] -
                       sorted[n * kClassify.sawtooth_range_low_percent / 100];
  if (range <= 0) return saw;
  const double threshold = std::max({kClassify.sawtooth_drop_noise_sigmas * cond.step_sigma,
                                     kClassify.sawtooth_drop_range_fraction * range,
                                     kClassify.sawtooth_drop_min_quanta * cond.resolution});
  const std::vector<std::size_t> ends = drop_ends(y, threshold);
  saw.drops = ends.size();
  if (ends.size() < kClassify.sawtooth_min_drops) return saw;
  // Cycles recur over the run: drops bunched in one stretch (a start-up peak decaying in
  // noisy steps) are no sawtooth.
  if (t[ends.back()] - t[ends.front()] <
      kClassify.sawtooth_min_spread_share * (t.back() - t.front())) {
    return saw;
  }
  std::vector<double> lengths;
  for (std::size_t k = 1; k < ends.size(); ++k) {
    lengths.push_back(t[ends[k]] - t[ends[k - 1]]);
  }
  const double typical = median(lengths);
  auto add_floor = [&](std::size_t begin, std::size_t end) {
    const auto it = std::min_element(y.begin() + static_cast<std::ptrdiff_t>(begin),
                                     y.begin() + static_cast<std::ptrdiff_t>(end));
    const auto idx = static_cast<std::size_t>(it - y.begin());
    saw.floor_t.push_back(t[idx]);
    saw.floor_y.push_back(*it);
  };
  for (std::size_t k = 0; k + 1 < ends.size(); ++k) add_floor(ends[k], ends[k + 1]);
  if (t.back() - t[ends.back()] >= kClassify.sawtooth_tail_cycle_fraction * typical) {
    add_floor(ends.back(), n);
  }
  saw.detected = true;
  return saw;
}

TwoPhase best_two_phase(std::span<const double> t, std::span<const double> y, double min_fraction) {
  TwoPhase best;
  const std::size_t n = t.size();
  const std::size_t min_side =
      std::max<std::size_t>(kClassify.two_phase_min_side_points,
                            static_cast<std::size_t>(min_fraction * static_cast<double>(n)));
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

double robust_slope(std::span<const double> t, std::span<const double> y) {
  const std::size_t n = t.size();
  if (n < 2) return 0;
  const double slope = theil_sen_slope(t, y);
  if (slope != 0 || n < 6) return slope;
  const double pairs = static_cast<double>(n) * static_cast<double>(n - 1) / 2;
  const double tied =
      static_cast<double>(count_slopes_at_most(t, y, 0) - count_slopes_below(t, y, 0));
  if (tied / pairs <= kClassify.max_tied_slope_share) return slope;
  // Tukey's resistant line: the medians of the first and the last third.
  const std::size_t third = n / 3;
  auto med = [&](std::span<const double> v, std::size_t from, std::size_t to) {
    return median(std::vector<double>(v.begin() + static_cast<std::ptrdiff_t>(from),
                                      v.begin() + static_cast<std::ptrdiff_t>(to)));
  };
  const double dt = med(t, n - third, n) - med(t, 0, third);
  return dt > 0 ? (med(y, n - third, n) - med(y, 0, third)) / dt : 0.0;
}

namespace {

struct Ols {
  double slope = 0, stderr_slope = INFINITY;
  std::size_t n = 0;
};

Ols ols(std::span<const double> t, std::span<const double> y) {
  Ols fit;
  fit.n = t.size();
  if (fit.n < 3) return fit;
  const double nd = static_cast<double>(fit.n);
  const double tm = std::accumulate(t.begin(), t.end(), 0.0) / nd;
  const double ym = std::accumulate(y.begin(), y.end(), 0.0) / nd;
  double sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < fit.n; ++i) {
    sxx += (t[i] - tm) * (t[i] - tm);
    sxy += (t[i] - tm) * (y[i] - ym);
  }
  if (sxx <= 0) return fit;
  fit.slope = sxy / sxx;
  double sse = 0;
  for (std::size_t i = 0; i < fit.n; ++i) {
    const double r = y[i] - ym - fit.slope * (t[i] - tm);
    sse += r * r;
  }
  fit.stderr_slope = std::sqrt(sse / (nd - 2) / sxx);
  return fit;
}

}  // namespace

double ols_slope_p_value(std::span<const double> t, std::span<const double> y) {
  const Ols fit = ols(t, y);
  if (fit.n < 3 || !std::isfinite(fit.stderr_slope)) return 1;
  if (fit.stderr_slope == 0) return fit.slope == 0 ? 1.0 : 0.0;
  return student_t_two_sided_p(fit.slope / fit.stderr_slope, static_cast<double>(fit.n) - 2);
}

Binned batch_medians(std::span<const double> t, std::span<const double> y, std::size_t batches) {
  Binned out;
  if (t.size() < batches * kClassify.min_points_per_batch || batches == 0) return out;
  const double t0 = t.front(), width = (t.back() - t0) / static_cast<double>(batches);
  if (width <= 0) return out;
  std::size_t i = 0;
  for (std::size_t b = 0; b < batches; ++b) {
    const double end = b + 1 == batches ? INFINITY : t0 + width * static_cast<double>(b + 1);
    std::size_t j = i;
    while (j < t.size() && t[j] < end) ++j;
    if (j > i) {
      out.t.push_back(median(std::vector<double>(t.begin() + static_cast<std::ptrdiff_t>(i),
                                                 t.begin() + static_cast<std::ptrdiff_t>(j))));
      out.y.push_back(median(std::vector<double>(y.begin() + static_cast<std::ptrdiff_t>(i),
                                                 y.begin() + static_cast<std::ptrdiff_t>(j))));
    }
    i = j;
  }
  return out;
}

BatchFit batch_interval(const Binned& batches) {
  BatchFit fit;
  if (batches.t.size() + 2 < kClassify.batches) return fit;  // a few batches may be empty
  // Robust to one odd batch (a start-up peak, a burst): Theil-Sen through the batch medians,
  // the scatter around it from the MAD of the residuals.
  const std::size_t m = batches.t.size();
  const double slope = theil_sen_slope(batches.t, batches.y);
  std::vector<double> residuals(m);
  for (std::size_t k = 0; k < m; ++k) residuals[k] = batches.y[k] - slope * batches.t[k];
  const double sigma = mad_sigma(residuals);
  const double tm =
      std::accumulate(batches.t.begin(), batches.t.end(), 0.0) / static_cast<double>(m);
  double sxx = 0;
  for (const double v : batches.t) sxx += (v - tm) * (v - tm);
  if (sxx <= 0) return fit;
  const double stderr_slope = sigma / std::sqrt(sxx);
  fit.valid = true;
  fit.slope = slope;
  fit.low = slope - kClassify.batch_t_quantile * stderr_slope;
  fit.high = slope + kClassify.batch_t_quantile * stderr_slope;
  return fit;
}

double variance_ratio(std::span<const double> t, std::span<const double> y, double slope,
                      std::size_t lag) {
  const std::size_t n = t.size();
  if (lag < 1 || n < 4 * lag) return 0;
  std::vector<double> r(n);
  for (std::size_t i = 0; i < n; ++i) r[i] = y[i] - slope * t[i];
  auto spread = [&](std::size_t k) {
    std::vector<double> d;
    for (std::size_t i = k; i < n; ++i) d.push_back(r[i] - r[i - k]);
    return mad_sigma(d);
  };
  const double at_lag = spread(lag), at_double = spread(2 * lag);
  if (at_lag <= 0) return at_double > 0 ? INFINITY : 1.0;
  return at_double * at_double / (at_lag * at_lag);
}

double drift_t(const Binned& batches) {
  const std::size_t m = batches.y.size();
  if (m + 2 < kClassify.batches) return 0;
  std::vector<double> d;
  for (std::size_t k = 1; k < m; ++k) d.push_back(batches.y[k] - batches.y[k - 1]);
  const double nd = static_cast<double>(d.size());
  const double mean = std::accumulate(d.begin(), d.end(), 0.0) / nd;
  double ss = 0;
  for (const double v : d) ss += (v - mean) * (v - mean);
  const double sd = std::sqrt(ss / (nd - 1));
  if (sd == 0) return mean > 0 ? INFINITY : mean < 0 ? -INFINITY : 0.0;
  // Consecutive differences of a walk's batch averages share half a batch each way: they
  // correlate at lag 1 by 1/4, which inflates the variance of their mean by 1 + 2/4.
  constexpr double kWalkBatchInflation = 1.5;
  return mean / (sd * std::sqrt(kWalkBatchInflation / nd));
}

double falls_z(const Binned& batches) {
  const std::size_t m = batches.y.size();
  if (m + 2 < kClassify.batches) return 0;
  double net = 0, fall_squares = 0;
  std::size_t falls = 0;
  for (std::size_t k = 1; k < m; ++k) {
    const double d = batches.y[k] - batches.y[k - 1];
    net += d;
    if (d < 0) {
      fall_squares += d * d;
      ++falls;
    }
  }
  if (net <= 0) return 0;
  // No fall at all: the scale of the smallest rise stands in, so a flat run of equal medians
  // with one rise is not infinitely significant.
  const double scale = falls > 0 ? std::sqrt(fall_squares / static_cast<double>(falls)) : 0.0;
  if (scale == 0) return INFINITY;
  return net / (scale * std::sqrt(static_cast<double>(m - 1)));
}

WithinLoad within_load_slope(std::span<const double> t, std::span<const double> y,
                             std::span<const double> load) {
  WithinLoad out;
  // Constant-load segments: a new one where the load leaves its segment's first value by more
  // than the tolerance.
  std::vector<std::pair<std::size_t, std::size_t>> segments;
  std::size_t begin = 0;
  for (std::size_t i = 1; i <= t.size(); ++i) {
    if (i == t.size() || std::fabs(load[i] - load[begin]) >
                             kClassify.load_segment_tolerance * std::fabs(load[begin])) {
      segments.emplace_back(begin, i);
      begin = i;
    }
  }
  std::vector<double> u, z;  // time and memory, centred within each segment (after it settled)
  std::size_t used = 0;
  std::size_t longest_begin = 0, longest_end = 0;  // in u and z
  for (const auto& [from, to] : segments) {
    const double settled = t[from] + kClassify.load_settle_share * (t[to - 1] - t[from]);
    const auto first = static_cast<std::size_t>(
        std::lower_bound(t.begin() + static_cast<std::ptrdiff_t>(from),
                         t.begin() + static_cast<std::ptrdiff_t>(to), settled) -
        t.begin());
    if (to - first < 3) continue;
    const double m = static_cast<double>(to - first);
    const double tm = std::accumulate(t.begin() + static_cast<std::ptrdiff_t>(first),
                                      t.begin() + static_cast<std::ptrdiff_t>(to), 0.0) /
                      m;
    const double ym = std::accumulate(y.begin() + static_cast<std::ptrdiff_t>(first),
                                      y.begin() + static_cast<std::ptrdiff_t>(to), 0.0) /
                      m;
    const std::size_t at = u.size();
    for (std::size_t i = first; i < to; ++i) {
      u.push_back(t[i] - tm);
      z.push_back(y[i] - ym);
    }
    if (u.size() - at > longest_end - longest_begin) {
      longest_begin = at;
      longest_end = u.size();
    }
    ++used;
  }
  out.segments = used;
  if (used < 2 || u.size() < used + 3) return out;
  // The pooled slope over [b, e) of the centred points with `levels` segment levels, and its
  // standard error widened for the residuals' lag-1 autocorrelation.
  auto fit = [&](std::size_t b, std::size_t e, std::size_t levels) {
    std::pair<double, double> slope_se{0, INFINITY};
    double suu = 0, suz = 0;
    for (std::size_t i = b; i < e; ++i) {
      suu += u[i] * u[i];
      suz += u[i] * z[i];
    }
    if (suu <= 0 || e - b < levels + 3) return slope_se;
    const double slope = suz / suu;
    double see = 0, lag1 = 0, previous = 0;
    for (std::size_t i = b; i < e; ++i) {
      const double r = z[i] - slope * u[i];
      see += r * r;
      if (i > b) lag1 += r * previous;
      previous = r;
    }
    const double rho = see > 0 ? std::clamp(lag1 / see, 0.0, 0.95) : 0.0;
    const double dof = static_cast<double>(e - b - levels - 1);
    slope_se = {slope, std::sqrt(see / dof * (1 + rho) / (1 - rho) / suu)};
    return slope_se;
  };
  std::tie(out.slope, out.stderr_slope) = fit(0, u.size(), used);
  std::tie(out.longest_slope, out.longest_stderr) = fit(longest_begin, longest_end, 1);
  out.valid = std::isfinite(out.stderr_slope);
  return out;
}

}  // namespace soak::analysis::detail
