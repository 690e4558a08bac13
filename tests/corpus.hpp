#pragma once
// A labelled corpus of memory series with known truth, for the detector's accuracy figures
// (tests/corpus_test.cpp asserts them, tests/corpus_eval.cpp prints them for tuning).
//
// Every series is a pure function of (family, run length, seed): the same corpus on every run
// and machine. The test shifts every seed by SOAK_CORPUS_SEED, so the classifier is also judged
// on seeds no one tuned it on. Each family draws its own parameters (level, noise, rate,
// period, onset, ...) from the seed; the parameters scale with the run length where a real
// process would (sawtooth periods, warm-up time constants, onset times), and stay absolute
// where they are a property of the process (start-up peaks, managed-heap steps).
//
// Units: bytes, seconds, bytes per second. Run lengths: 10min@1s, 1h@1s, 8h@10s, 24h@10s.
//
// Benign families (truth leak=false): flat_noise, ar_wander, random_walk, warmup_flat,
// cache_cap, flat_sawtooth, flat_sawtooth_few, one_off_step, decreasing, quantized_flat,
// startup_spike_flat, heavy_tail_flat, jittered_flat, load_ramp_benign, heap_step_once,
// healthy_node_like, slow_growth_tiny (significant growth far below any effect-size floor: it
// may be called anything but `leak`).
// Leak families (truth leak=true), one or more per mechanism of issue 11: linear_leak,
// slow_leak_heavy_noise, sawtooth_leak, sawtooth_leak_few (1), quantized_leak (2, 4),
// spike_then_leak (3), gappy_leak (5), irregular_leak (6), slowing_leak (7), heavy_tail_leak
// (8), load_outgrowing_leak (9), ar_leak (10), heap_steps_leak (11), warmup_then_leak (12),
// late_onset_leak, staircase_leak.
//
// Identifiability (the statistical limit of a leak in its run length). A leak is
// `identifiable` when an OLS slope test that knew the onset reaches z >= 3 on the post-onset
// part [judged_from_s, end], given the generator's known noise. With Sxx = sum (t_i - tbar)^2
// over the post-onset points (within each constant-load segment when the series has segments:
// per-segment intercepts; leaving out the points the series marks as known disturbances: the
// memory's settling after a load step, a single known outlier), D the post-onset span, the
// slope's variance is the sum of
//   white-like noise (Gaussian sd s, Student-t scale c with df v: s^2 = c^2 v/(v-2),
//   quantization q: q^2/12, memory following iid load jitter of sd j through a first-order
//   lag: j^2, since the lag keeps its input's long-run variance)      s^2 / Sxx
//   AR(1) noise (stationary sd a, lag-1 phi)        a^2 / Sxx * (1+phi)/(1-phi)
//       i.e. white noise with the effective sample size n(1-phi)/(1+phi)
//   random walk (variance growth w per second)       w / D
//       the honest limit: the drift of the first differences, (y_end - y_start)/D, has this
//       variance whatever the fit, since a walk's level carries no information on its drift
//       (also the wander of heap steps of random height about their mean rate)
//   periodic nuisance (sawtooth or staircase amplitude A, k cycles in the window)  (1.5 A/(kD))^2
//       the error a k-cycle sawtooth leaves in an OLS slope: exactly A/(kD) over whole cycles,
//       times 1.5 for jittered cycles and the partial ones at the ends (rounding a trend to a
//       quantum q is such a staircase: A = q, one cycle per q of growth)
// and the limit is limit_slope_per_s = 3 sqrt(variance); identifiable = slope >= limit.
// Checked against the corpus itself: over every leak family and length, the OLS slope's error
// divided by sqrt(variance) has a standard deviation of 0.2-1.6 (1 where the noise is white);
// corpus_test checks that it stays at most 2.
// Benign series are always identifiable (they always count in the score).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace soak::test {

/// One run length of the corpus: its name, duration and nominal sampling interval.
struct RunLength {
  std::string name;
  double duration_s = 0;
  double step_s = 0;
};

inline const std::vector<RunLength>& corpus_lengths() {
  static const std::vector<RunLength> lengths = {
      {"10min@1s", 600, 1}, {"1h@1s", 3600, 1}, {"8h@10s", 8 * 3600, 10}, {"24h@10s", 86400, 10}};
  return lengths;
}

/// The length of that name; throws std::invalid_argument for an unknown name.
inline const RunLength& corpus_length(const std::string& name) {
  for (const auto& length : corpus_lengths())
    if (length.name == name) return length;
  throw std::invalid_argument("unknown corpus run length: " + name);
}

/// The generator's known noise, from which the statistical limit is computed (see the top).
struct NoiseModel {
  double white_sd = 0;            ///< iid Gaussian, bytes
  double heavy_scale = 0;         ///< iid Student-t scale, bytes
  double heavy_df = 0;            ///< its degrees of freedom (> 2 for a finite limit)
  double quantum = 0;             ///< value resolution, bytes (0: none)
  double ar_sd = 0;               ///< stationary AR(1) sd, bytes
  double ar_phi = 0;              ///< its lag-1 coefficient per nominal step
  double walk_var_per_s = 0;      ///< random-walk variance growth, bytes^2 per second
  double periodic_amplitude = 0;  ///< sawtooth or staircase amplitude, bytes
  double periodic_period_s = 0;   ///< its period
  double load_jitter_sd = 0;      ///< memory's response to iid load jitter (at the top load)
};

struct LabelledSeries {
  std::string family;
  std::string length;  ///< RunLength::name
  std::uint64_t seed = 0;
  bool leak = false;             ///< the truth
  double true_slope_per_s = 0;   ///< leaks: the sustained late rate the detector should report
  bool identifiable = true;      ///< leaks: above the statistical limit (always true if benign)
  double limit_slope_per_s = 0;  ///< leaks: the slope a z = 3 OLS test needs (see the top)
  double judged_from_s = 0;      ///< leaks: the onset that test knew
  NoiseModel noise;
  std::vector<double> t, y;
  std::vector<double> load_t, load_rps;  ///< offered load for the load families; else empty
  /// Per point, empty or: the constant-load segment (the limit's test fits one intercept per
  /// segment), or -1 for a point that test leaves out (settling after a load step, an outlier).
  std::vector<int> segment;
};

namespace corpus_detail {

constexpr double kMB = 1e6;
constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kPage = 4096;
constexpr double kPerMin = 1.0 / 60;  // MB/min -> MB/s
constexpr double kLoadJitter = 0.02;  // the offered load's sample-to-sample jitter, relative

/// The random draws of one series.
class Draw {
 public:
  explicit Draw(std::seed_seq& seq) : rng_(seq) {}
  double uniform(double lo, double hi) { return lo + (hi - lo) * unit_(rng_); }
  double log_uniform(double lo, double hi) { return std::exp(uniform(std::log(lo), std::log(hi))); }
  int integer(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(double p) { return unit_(rng_) < p; }
  double gauss() { return normal_(rng_); }
  double student(double df) { return std::student_t_distribution<double>(df)(rng_); }
  double exponential(double mean) { return std::exponential_distribution<double>(1 / mean)(rng_); }

 private:
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> unit_{0, 1};
  std::normal_distribution<double> normal_{0, 1};
};

/// What a family's generator sees: the run, the draws, and the series it fills.
struct Context {
  const RunLength& run;
  Draw& draw;
  LabelledSeries& s;
  double duration() const { return run.duration_s; }
  double step() const { return run.step_s; }
  /// A process level: 50-800 MB, log-uniform.
  double level() { return draw.log_uniform(50, 800) * kMB; }
  /// A realistic leak rate in bytes/s: log-uniform in [lo, hi] MB/min, the top capped so the
  /// run grows by at most twice its level (a 24 h run does not grow by gigabytes).
  double leak_rate(double lo_mb_min, double hi_mb_min, double level) {
    const double cap_mb_min = 2 * level / kMB / (duration() / 60);
    const double hi = std::max(lo_mb_min * 3, std::min(hi_mb_min, cap_mb_min));
    return draw.log_uniform(lo_mb_min, hi) * kMB * kPerMin;
  }
  void regular_times() {
    const auto n = static_cast<std::size_t>(std::llround(duration() / step())) + 1;
    s.t.resize(n);
    for (std::size_t i = 0; i < n; ++i) s.t[i] = static_cast<double>(i) * step();
  }
  /// Adds Gaussian white noise of sd `sd` to every point and records it.
  void add_white(double sd) {
    s.noise.white_sd = sd;
    for (double& v : s.y) v += sd * draw.gauss();
  }
  /// Adds stationary AR(1) noise (lag-1 phi per nominal step, continuous in time, so irregular
  /// steps keep the same correlation time) and records it.
  void add_ar(double sd, double phi) {
    s.noise.ar_sd = sd;
    s.noise.ar_phi = phi;
    double state = sd * draw.gauss();
    for (std::size_t i = 0; i < s.y.size(); ++i) {
      if (i > 0) {
        const double r = std::pow(phi, (s.t[i] - s.t[i - 1]) / step());
        state = r * state + std::sqrt(1 - r * r) * sd * draw.gauss();
      }
      s.y[i] += state;
    }
  }
  /// An AR(1) coefficient per step whose correlation time is `share` of the run, clamped to
  /// 1 min .. 2 h (a wander slower than that is a trend at every length we test).
  double ar_phi_for_share(double share) {
    const double tau_s = std::clamp(share * duration(), 60.0, 7200.0);
    return std::exp(-step() / tau_s);
  }
  void add_student(double scale, double df) {
    s.noise.heavy_scale = scale;
    s.noise.heavy_df = df;
    for (double& v : s.y) v += scale * draw.student(df);
  }
  void quantize(double quantum) {
    s.noise.quantum = quantum;
    for (double& v : s.y) v = std::round(v / quantum) * quantum;
  }
  void set_leak(double slope_per_s, double judged_from_s) {
    s.leak = true;
    s.true_slope_per_s = slope_per_s;
    s.judged_from_s = judged_from_s;
  }
  /// y = f(t) for every t already set.
  void fill(const std::function<double(double)>& f) {
    s.y.resize(s.t.size());
    for (std::size_t i = 0; i < s.t.size(); ++i) s.y[i] = f(s.t[i]);
  }
};

/// A sawtooth in [0, 1): cycles of jittered length (0.8-1.2 of `period_s`) and jittered peak
/// (0.85-1.15), starting at a random phase. Returns the value at each t of the series.
inline std::vector<double> sawtooth_shape(Context& c, double period_s) {
  std::vector<double> out(c.s.t.size());
  double start = -c.draw.uniform(0, 1) * period_s;
  double length = period_s, peak = 1;
  for (std::size_t i = 0; i < out.size(); ++i) {
    while (c.s.t[i] >= start + length) {
      start += length;
      length = period_s * c.draw.uniform(0.8, 1.2);
      peak = c.draw.uniform(0.85, 1.15);
    }
    out[i] = peak * (c.s.t[i] - start) / length;
  }
  return out;
}

/// A start-up peak (class loading, an index build): `height` above the level at t = 0,
/// decaying with time constant `tau_s`.
inline double startup_peak(double t, double height, double tau_s) {
  return height * std::exp(-t / tau_s);
}

/// Load that ramps in `levels` steps from `low` to `high` requests/s (the last step at
/// `last_step_share` of the run), with kLoadJitter; fills load_t/load_rps/segment.
inline void load_ramp(Context& c, int levels, double low, double high, double last_step_share) {
  std::vector<double> step_at(static_cast<std::size_t>(levels));
  for (int k = 0; k < levels; ++k)
    step_at[static_cast<std::size_t>(k)] = c.duration() * last_step_share * k / (levels - 1);
  c.s.load_t = c.s.t;
  c.s.load_rps.resize(c.s.t.size());
  c.s.segment.resize(c.s.t.size());
  for (std::size_t i = 0; i < c.s.t.size(); ++i) {
    int k = 0;
    while (k + 1 < levels && c.s.t[i] >= step_at[static_cast<std::size_t>(k + 1)]) ++k;
    const double nominal = low + (high - low) * k / (levels - 1);
    c.s.load_rps[i] = nominal * (1 + kLoadJitter * c.draw.gauss());
    c.s.segment[i] = k;
  }
}

/// Memory that follows the load with a first-order lag of `lag_s`: bytes_per_rps per request/s.
/// The 6 lags after each load step (still settling) are left out of the limit's test.
inline void add_load_memory(Context& c, double bytes_per_rps, double lag_s) {
  double state = bytes_per_rps * c.s.load_rps.front();
  double top_rps = 0, step_at = -std::numeric_limits<double>::infinity();
  const std::vector<int> segment = c.s.segment;
  for (std::size_t i = 0; i < c.s.y.size(); ++i) {
    const double dt = i ? c.s.t[i] - c.s.t[i - 1] : 0;
    const double r = std::exp(-dt / lag_s);
    state = r * state + (1 - r) * bytes_per_rps * c.s.load_rps[i];
    c.s.y[i] += state;
    top_rps = std::max(top_rps, c.s.load_rps[i]);
    if (i > 0 && segment[i] != segment[i - 1]) step_at = c.s.t[i];
    if (c.s.t[i] - step_at < 6 * lag_s) c.s.segment[i] = -1;
  }
  c.s.noise.load_jitter_sd = kLoadJitter * top_rps * bytes_per_rps;
}

// ---- benign families ----------------------------------------------------------------------

inline void flat_noise(Context& c) {
  const double base = c.level();
  c.regular_times();
  c.fill([&](double) { return base; });
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
}

inline void ar_wander(Context& c) {
  const double base = c.level();
  c.regular_times();
  c.fill([&](double) { return base; });
  c.add_ar(c.draw.uniform(2, 6) * kMB, c.ar_phi_for_share(c.draw.uniform(0.03, 0.15)));
  c.add_white(c.draw.uniform(0.2, 1) * kMB);
}

inline void random_walk(Context& c) {
  const double base = c.level();
  const double spread = c.draw.uniform(2, 10) * kMB;  // the walk's sd at the end of the run
  const double var_per_s = spread * spread / c.duration();
  c.regular_times();
  c.fill([&](double) { return base; });
  double walk = 0;
  for (std::size_t i = 1; i < c.s.y.size(); ++i) {
    walk += std::sqrt(var_per_s * (c.s.t[i] - c.s.t[i - 1])) * c.draw.gauss();
    c.s.y[i] += walk;
  }
  c.s.noise.walk_var_per_s = var_per_s;
  c.add_white(c.draw.uniform(0.2, 1) * kMB);
}

/// A warm-up time constant: 3-12 % of the run, 30 s .. 30 min (over by ~40 % of the run).
inline double warmup_tau(Context& c) {
  return std::clamp(c.draw.uniform(0.03, 0.12) * c.duration(), 30.0, 1800.0);
}

inline void warmup_flat(Context& c) {
  const double base = c.level(), rise = c.draw.uniform(20, 100) * kMB, tau = warmup_tau(c);
  c.regular_times();
  c.fill([&](double t) { return base + rise * (1 - std::exp(-t / tau)); });
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
}

inline void cache_cap(Context& c) {
  const double base = c.level(), cap = c.draw.uniform(20, 150) * kMB;
  const double full_at = c.draw.uniform(0.15, 0.5) * c.duration();
  c.regular_times();
  c.fill([&](double t) { return base + cap * std::min(1.0, t / full_at); });
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
}

/// Cycles for a "many cycles" sawtooth: 20-200, at least 10 samples per cycle.
inline double many_cycles_period(Context& c) {
  const double max_cycles = std::min(200.0, c.duration() / c.step() / 10);
  return c.duration() / c.draw.log_uniform(20, max_cycles);
}

inline void flat_sawtooth(Context& c) {
  const double base = c.level(), amplitude = c.draw.uniform(10, 80) * kMB;
  c.regular_times();
  const std::vector<double> shape = sawtooth_shape(c, many_cycles_period(c));
  c.fill([&](double) { return base; });
  for (std::size_t i = 0; i < c.s.y.size(); ++i) c.s.y[i] += amplitude * shape[i];
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
}

inline void flat_sawtooth_few(Context& c) {
  const double base = c.level(), amplitude = c.draw.uniform(10, 80) * kMB;
  c.regular_times();
  const std::vector<double> shape = sawtooth_shape(c, c.duration() / c.draw.uniform(5, 6.5));
  c.fill([&](double) { return base; });
  for (std::size_t i = 0; i < c.s.y.size(); ++i) c.s.y[i] += amplitude * shape[i];
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
}

inline void one_off_step(Context& c) {
  const double base = c.level(), step = c.draw.uniform(10, 100) * kMB;
  const double at = c.draw.uniform(0.2, 0.6) * c.duration();
  c.regular_times();
  c.fill([&](double t) { return base + (t >= at ? step : 0); });
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
}

inline void decreasing(Context& c) {
  const double base = c.level();
  const double rate = c.leak_rate(0.05, 2, base) / 2;  // falls by at most the level
  c.regular_times();
  c.fill([&](double t) { return base + rate * (c.duration() - t); });
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
}

inline void quantized_flat(Context& c) {
  const double base = c.level();
  const double quantum = c.draw.chance(0.5) ? kMiB : 16 * kPage;
  c.regular_times();
  c.fill([&](double) { return base; });
  c.add_ar(c.draw.uniform(0.3, 1.5) * quantum, c.ar_phi_for_share(c.draw.uniform(0.05, 0.2)));
  c.add_white(c.draw.uniform(0.05, 0.2) * quantum);
  c.quantize(quantum);
}

inline void startup_spike_flat(Context& c) {
  const double base = c.level(), height = c.draw.uniform(0.5, 2) * base;
  const double tau = std::min(c.draw.uniform(20, 90), 0.03 * c.duration());
  c.regular_times();
  c.fill([&](double t) { return base + startup_peak(t, height, tau); });
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
}

inline void heavy_tail_flat(Context& c) {
  const double base = c.level();
  c.regular_times();
  c.fill([&](double) { return base; });
  c.add_student(c.draw.uniform(0.3, 1) * kMB, c.draw.uniform(2, 3));
}

inline void jittered_flat(Context& c) {
  const double base = c.level();
  // A fast poller's steps: 0.9-1.1x the nominal mostly, 1.5-3x in 5 %, 10x in 0.3 %.
  c.s.t = {0};
  while (c.s.t.back() < c.duration()) {
    double factor = c.draw.uniform(0.9, 1.1);
    if (c.draw.chance(0.05)) factor = c.draw.uniform(1.5, 3);
    if (c.draw.chance(0.003)) factor = 10;
    c.s.t.push_back(c.s.t.back() + factor * c.step());
  }
  c.fill([&](double) { return base; });
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
}

inline void load_ramp_benign(Context& c) {
  const double base = c.level();
  c.regular_times();
  c.fill([&](double) { return base; });
  const double low = c.draw.uniform(50, 200), high = low * c.draw.uniform(4, 10);
  load_ramp(c, c.draw.integer(3, 6), low, high, c.draw.uniform(0.5, 0.8));
  add_load_memory(c, c.draw.uniform(20, 100) * 1e3, c.draw.uniform(5, 30));
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
}

/// A managed heap's expansion: a ramp of `height` over 5-20 s starting at `at`.
inline double heap_step(double t, double at, double height, double ramp_s) {
  return height * std::clamp((t - at) / ramp_s, 0.0, 1.0);
}

inline void heap_step_once(Context& c) {
  const double base = c.level(), height = c.draw.uniform(15, 70) * kMiB;
  const double at = c.draw.uniform(0.1, 0.4) * c.duration(), ramp = c.draw.uniform(5, 20);
  c.regular_times();
  const std::vector<double> young = sawtooth_shape(c, c.draw.uniform(5, 60));
  const double young_amplitude = c.draw.uniform(1, 6) * kMiB;
  c.fill([&](double t) { return base + heap_step(t, at, height, ramp); });
  for (std::size_t i = 0; i < c.s.y.size(); ++i) c.s.y[i] += young_amplitude * young[i];
  c.add_white(c.draw.uniform(0.2, 1) * kMB);
}

inline void healthy_node_like(Context& c) {
  // Heap warms in steps (52 -> 94 MiB in the issue) over min(half the run, 5-10 min), then flat.
  const double base = c.draw.uniform(40, 80) * kMiB, rise = c.draw.uniform(25, 60) * kMiB;
  const double warm_s = std::min(0.5 * c.duration(), c.draw.uniform(300, 600));
  const int steps = c.draw.integer(4, 9);
  c.regular_times();
  const std::vector<double> young = sawtooth_shape(c, c.draw.uniform(4, 30));
  const double young_amplitude = c.draw.uniform(1, 5) * kMiB;
  c.fill([&](double t) {
    const double done = std::min(1.0, t / warm_s);
    return base + rise * std::floor(done * steps) / steps;
  });
  for (std::size_t i = 0; i < c.s.y.size(); ++i) c.s.y[i] += young_amplitude * young[i];
  c.add_white(c.draw.uniform(0.1, 0.5) * kMB);
}

inline void slow_growth_tiny(Context& c) {
  // 0.1-0.5 % of the level per day under low noise: significant at length, never a leak.
  const double base = c.level(), per_day = c.draw.uniform(0.001, 0.005);
  const double rate = base * per_day / 86400;
  c.regular_times();
  c.fill([&](double t) { return base + rate * t; });
  c.add_white(c.draw.uniform(20, 200) * 1e3);
}

// ---- leak families ------------------------------------------------------------------------

inline void linear_leak(Context& c) {
  const double base = c.level(), rate = c.leak_rate(0.05, 5, base);
  c.regular_times();
  c.fill([&](double t) { return base + rate * t; });
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
  c.set_leak(rate, 0);
}

inline void slow_leak_heavy_noise(Context& c) {
  const double base = c.level(), rate = c.leak_rate(0.1, 3, base);
  c.regular_times();
  c.fill([&](double t) { return base + rate * t; });
  c.add_white(c.draw.uniform(2, 5) * kMB);
  c.add_ar(c.draw.uniform(2, 5) * kMB, std::exp(-c.step() / c.draw.uniform(5, 20)));
  c.set_leak(rate, 0);
}

inline void sawtooth_leak(Context& c) {
  const double base = c.level(), rate = c.leak_rate(0.2, 5, base);
  const double amplitude = c.draw.uniform(10, 60) * kMB, period = many_cycles_period(c);
  c.regular_times();
  const std::vector<double> shape = sawtooth_shape(c, period);
  c.fill([&](double t) { return base + rate * t; });
  for (std::size_t i = 0; i < c.s.y.size(); ++i) c.s.y[i] += amplitude * shape[i];
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
  c.s.noise.periodic_amplitude = amplitude;
  c.s.noise.periodic_period_s = period;
  c.set_leak(rate, 0);
}

inline void sawtooth_leak_few(Context& c) {
  // A linear leak with 5-6 real dips: each cycle rises at rate/(1-f) and gives back f of it.
  const double base = c.level(), rate = c.leak_rate(0.2, 5, base);
  const double give_back = c.draw.uniform(0.3, 0.7), period = c.duration() / c.draw.uniform(5, 6.5);
  c.regular_times();
  const std::vector<double> shape = sawtooth_shape(c, period);
  const double amplitude = give_back * rate / (1 - give_back) * period;
  c.fill([&](double t) { return base + rate * t; });
  for (std::size_t i = 0; i < c.s.y.size(); ++i) c.s.y[i] += amplitude * shape[i];
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
  c.s.noise.periodic_amplitude = amplitude;
  c.s.noise.periodic_period_s = period;
  c.set_leak(rate, 0);
}

inline void late_onset_leak(Context& c) {
  const double base = c.level(), rate = c.leak_rate(0.2, 5, base);
  const double onset = c.draw.uniform(0.3, 0.6) * c.duration();
  c.regular_times();
  c.fill([&](double t) { return base + rate * std::max(0.0, t - onset); });
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
  c.set_leak(rate, onset);
}

inline void staircase_leak(Context& c) {
  // Each job keeps a bit: one stair per period, 8-60 stairs.
  const double base = c.level(), rate = c.leak_rate(0.05, 5, base);
  const double period = c.duration() / c.draw.uniform(8, 60), phase = c.draw.uniform(0, 1);
  c.regular_times();
  c.fill([&](double t) { return base + rate * period * std::floor(t / period + phase); });
  c.add_white(c.draw.uniform(0.1, 1) * kMB);
  c.s.noise.periodic_amplitude = rate * period;
  c.s.noise.periodic_period_s = period;
  c.set_leak(rate, 0);
}

inline void quantized_leak(Context& c) {
  // Whole MiB: the growth per sample is far under one quantum, so most pairs tie.
  const double base = c.level(), rate = c.leak_rate(0.1, 2, base);
  c.regular_times();
  c.fill([&](double t) { return base + rate * t; });
  c.add_white(c.draw.uniform(0.05, 0.2) * kMiB);
  c.quantize(kMiB);
  c.s.noise.periodic_amplitude = kMiB;  // rounding a trend is a staircase of one MiB stairs
  c.s.noise.periodic_period_s = kMiB / rate;
  c.set_leak(rate, 0);
}

inline void spike_then_leak(Context& c) {
  const double base = c.level(), rate = c.leak_rate(0.1, 5, base);
  const double growth = rate * c.duration();
  c.regular_times();
  if (c.draw.chance(0.5)) {
    // A start-up peak higher than the leak reaches in the whole run.
    // The limit's test starts once the peak has decayed to 5 % of the noise.
    const double height = growth * c.draw.uniform(1.2, 2) + c.draw.uniform(20, 100) * kMB;
    const double tau = std::min(c.draw.uniform(20, 90), 0.03 * c.duration());
    c.fill([&](double t) { return base + rate * t + startup_peak(t, height, tau); });
    c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
    c.set_leak(rate, tau * std::log(height / (0.05 * c.s.noise.white_sd)));
  } else {
    // One outlier above the late level, somewhere in the middle (left out of the limit's test).
    c.fill([&](double t) { return base + rate * t; });
    const auto at =
        static_cast<std::size_t>(c.draw.uniform(0.3, 0.8) * static_cast<double>(c.s.y.size()));
    c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
    c.s.y[at] = base + growth + c.draw.uniform(10, 60) * kMB;
    c.s.segment.assign(c.s.y.size(), 0);
    c.s.segment[at] = -1;
    c.set_leak(rate, 0);
  }
}

inline void gappy_leak(Context& c) {
  // Pauses every half hour (every 1/6-1/3 of shorter runs) of 5-20 % of the interval; the
  // target keeps running (and leaking) through them.
  const double base = c.level(), rate = c.leak_rate(0.05, 5, base);
  const double every = std::min(1800.0, c.duration() / c.draw.uniform(3, 6));
  const double pause = every * c.draw.uniform(0.05, 0.2);
  const double offset = c.draw.uniform(0.3, 0.9) * every;
  c.regular_times();
  std::vector<double> kept;
  for (double t : c.s.t) {
    const double into = std::fmod(t + every - offset, every);
    if (into >= pause || t == 0) kept.push_back(t);
  }
  c.s.t = std::move(kept);
  c.fill([&](double t) { return base + rate * t; });
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
  c.set_leak(rate, 0);
}

inline void irregular_leak(Context& c) {
  // A GC log: a burst of 2-8 records 1 ms apart per collection, collections at exponential
  // intervals whose mean keeps the nominal point rate; the heap after GC grows.
  const double base = c.level(), rate = c.leak_rate(0.05, 5, base);
  const double burst_mean = c.draw.uniform(2, 8);
  c.s.t.clear();
  double t = 0;
  while (t < c.duration()) {
    const int burst = c.draw.integer(2, static_cast<int>(2 * burst_mean) - 2);
    for (int k = 0; k < burst; ++k) c.s.t.push_back(t + 0.001 * k);
    t += 0.001 * burst + c.draw.exponential(burst_mean * c.step());
  }
  c.fill([&](double x) { return base + rate * x; });
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
  c.set_leak(rate, 0);
}

inline void slowing_leak(Context& c) {
  // Rate `fast` until t1, falling linearly to fast/9 by t2 (at most 45 % of the run), then
  // constant: the late rate is what the detector should report.
  const double base = c.level(), late = c.leak_rate(0.05, 0.55, base), fast = 9 * late;
  const double t1 = c.draw.uniform(0.1, 0.25) * c.duration();
  const double t2 = t1 + c.draw.uniform(0.1, 0.2) * c.duration();
  c.regular_times();
  c.fill([&](double t) {
    const double a = std::min(t, t1), b = std::clamp(t, t1, t2) - t1, d = std::max(0.0, t - t2);
    const double span = t2 - t1;
    const double during = fast * b - (fast - late) * b * b / (2 * span);  // rate falls linearly
    return base + fast * a + during + late * d;
  });
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
  c.set_leak(late, t2);
}

inline void heavy_tail_leak(Context& c) {
  const double base = c.level(), rate = c.leak_rate(0.1, 5, base);
  c.regular_times();
  c.fill([&](double t) { return base + rate * t; });
  c.add_student(c.draw.uniform(0.3, 1) * kMB, c.draw.uniform(2.5, 4));
  c.set_leak(rate, 0);
}

inline void load_outgrowing_leak(Context& c) {
  // Either the load ramps and memory outgrows it, or a leak under constant load; both carry
  // the load series.
  const double base = c.level(), rate = c.leak_rate(0.1, 5, base);
  c.regular_times();
  c.fill([&](double t) { return base + rate * t; });
  const double low = c.draw.uniform(50, 200);
  if (c.draw.chance(0.5)) {
    load_ramp(c, c.draw.integer(3, 6), low, low * c.draw.uniform(4, 10), c.draw.uniform(0.5, 0.7));
  } else {
    load_ramp(c, 2, low, low, 0.5);
    std::fill(c.s.segment.begin(), c.s.segment.end(), 0);
  }
  add_load_memory(c, c.draw.uniform(20, 100) * 1e3, c.draw.uniform(5, 30));
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
  c.set_leak(rate, 0);
}

inline void ar_leak(Context& c) {
  const double base = c.level(), rate = c.leak_rate(0.5, 5, base);
  c.regular_times();
  c.fill([&](double t) { return base + rate * t; });
  c.add_ar(c.draw.uniform(1.5, 5) * kMB, c.ar_phi_for_share(c.draw.uniform(0.03, 0.15)));
  c.add_white(c.draw.uniform(0.2, 1) * kMB);
  c.set_leak(rate, 0);
}

inline void heap_steps_leak(Context& c) {
  // Flat for 10-20 % of the run, then 3-6 heap expansions of 15-70 MiB at jittered intervals
  // that keep coming to the end, under a young-generation sawtooth. In a 10-minute run that is
  // 5-50 MiB/min, above the other families' rates, as in the JVM of issue 11 (mechanism 11).
  const double base = c.level();
  const double first = c.draw.uniform(0.1, 0.2) * c.duration();
  const int steps = c.draw.integer(3, 6);
  const double interval = (c.duration() - first) / steps;
  std::vector<double> at, height;
  double total = 0;
  for (int k = 0; k < steps; ++k) {
    at.push_back(first + interval * (k + c.draw.uniform(-0.2, 0.2)));
    height.push_back(c.draw.uniform(15, 70) * kMiB);
    total += height.back();
  }
  const double ramp = c.draw.uniform(5, 20);
  c.regular_times();
  const std::vector<double> young = sawtooth_shape(c, c.draw.uniform(5, 60));
  const double young_amplitude = c.draw.uniform(1, 6) * kMiB;
  c.fill([&](double t) {
    double v = base;
    for (std::size_t k = 0; k < at.size(); ++k) v += heap_step(t, at[k], height[k], ramp);
    return v;
  });
  for (std::size_t i = 0; i < c.s.y.size(); ++i) c.s.y[i] += young_amplitude * young[i];
  c.add_white(c.draw.uniform(0.2, 1) * kMB);
  c.s.noise.periodic_amplitude = total / steps;
  c.s.noise.periodic_period_s = interval;
  // Heights drawn uniformly in 15-70 MiB wander about their mean like a random walk.
  const double height_sd = (70 - 15) * kMiB / std::sqrt(12.0);
  c.s.noise.walk_var_per_s = height_sd * height_sd / interval;
  c.set_leak(total / (steps * interval), first);
}

inline void warmup_then_leak(Context& c) {
  // The limit's test starts once the warm-up's remainder is 5 % of the noise (by 9-11 tau, at
  // most about half the run).
  const double base = c.level(), rise = c.draw.uniform(20, 100) * kMB;
  const double tau = std::clamp(c.draw.uniform(0.02, 0.045) * c.duration(), 20.0, 1800.0);
  const double rate = c.leak_rate(0.1, 5, base);
  c.regular_times();
  c.fill([&](double t) { return base + rise * (1 - std::exp(-t / tau)) + rate * t; });
  c.add_white(c.draw.uniform(0.2, 1.5) * kMB);
  c.set_leak(rate, tau * std::log(rise / (0.05 * c.s.noise.white_sd)));
}

// ---- the statistical limit ----------------------------------------------------------------

/// Sum of (t - segment mean)^2 over the points at or after `from_s`, per segment.
inline double within_segment_sxx(const LabelledSeries& s, double from_s) {
  std::map<int, std::pair<double, double>> sums;  // segment -> (sum t, count)
  auto judged = [&](std::size_t i) {
    return s.t[i] >= from_s && (s.segment.empty() || s.segment[i] >= 0);
  };
  for (std::size_t i = 0; i < s.t.size(); ++i) {
    if (!judged(i)) continue;
    auto& [sum, count] = sums[s.segment.empty() ? 0 : s.segment[i]];
    sum += s.t[i];
    count += 1;
  }
  double sxx = 0;
  for (std::size_t i = 0; i < s.t.size(); ++i) {
    if (!judged(i)) continue;
    const auto& [sum, count] = sums[s.segment.empty() ? 0 : s.segment[i]];
    sxx += (s.t[i] - sum / count) * (s.t[i] - sum / count);
  }
  return sxx;
}

/// The slope a z = 3 OLS test on the post-onset part needs (the formula at the top).
inline double limit_slope(const LabelledSeries& s) {
  const NoiseModel& m = s.noise;
  const double sxx = within_segment_sxx(s, s.judged_from_s);
  const double span = s.t.back() - s.judged_from_s;
  if (sxx <= 0 || span <= 0) return std::numeric_limits<double>::infinity();
  double white_var =
      m.white_sd * m.white_sd + m.quantum * m.quantum / 12 + m.load_jitter_sd * m.load_jitter_sd;
  if (m.heavy_scale > 0)
    white_var += m.heavy_df > 2 ? m.heavy_scale * m.heavy_scale * m.heavy_df / (m.heavy_df - 2)
                                : std::numeric_limits<double>::infinity();
  double var = white_var / sxx;
  if (m.ar_sd > 0) var += m.ar_sd * m.ar_sd / sxx * (1 + m.ar_phi) / (1 - m.ar_phi);
  var += m.walk_var_per_s / span;
  if (m.periodic_amplitude > 0) {
    const double cycles = std::max(1.0, span / m.periodic_period_s);
    const double bias = 1.5 * m.periodic_amplitude / (cycles * span);
    var += bias * bias;
  }
  return 3 * std::sqrt(var);
}

/// A name's 32-bit FNV-1a hash: the same on every platform (std::hash is not).
inline std::uint32_t fnv1a(const std::string& text) {
  std::uint32_t h = 2166136261u;
  for (unsigned char ch : text) h = (h ^ ch) * 16777619u;
  return h;
}

using Generator = void (*)(Context&);

struct Family {
  std::string name;
  bool leak;
  Generator generate;
};

}  // namespace corpus_detail

/// Every family: name, truth, generator; benign first.
inline const std::vector<corpus_detail::Family>& corpus_family_table() {
  using namespace corpus_detail;
  static const std::vector<Family> families = {
      {"flat_noise", false, flat_noise},
      {"ar_wander", false, ar_wander},
      {"random_walk", false, random_walk},
      {"warmup_flat", false, warmup_flat},
      {"cache_cap", false, cache_cap},
      {"flat_sawtooth", false, flat_sawtooth},
      {"flat_sawtooth_few", false, flat_sawtooth_few},
      {"one_off_step", false, one_off_step},
      {"decreasing", false, decreasing},
      {"quantized_flat", false, quantized_flat},
      {"startup_spike_flat", false, startup_spike_flat},
      {"heavy_tail_flat", false, heavy_tail_flat},
      {"jittered_flat", false, jittered_flat},
      {"load_ramp_benign", false, load_ramp_benign},
      {"heap_step_once", false, heap_step_once},
      {"healthy_node_like", false, healthy_node_like},
      {"slow_growth_tiny", false, slow_growth_tiny},
      {"linear_leak", true, linear_leak},
      {"slow_leak_heavy_noise", true, slow_leak_heavy_noise},
      {"sawtooth_leak", true, sawtooth_leak},
      {"sawtooth_leak_few", true, sawtooth_leak_few},
      {"late_onset_leak", true, late_onset_leak},
      {"staircase_leak", true, staircase_leak},
      {"quantized_leak", true, quantized_leak},
      {"spike_then_leak", true, spike_then_leak},
      {"gappy_leak", true, gappy_leak},
      {"irregular_leak", true, irregular_leak},
      {"slowing_leak", true, slowing_leak},
      {"heavy_tail_leak", true, heavy_tail_leak},
      {"load_outgrowing_leak", true, load_outgrowing_leak},
      {"ar_leak", true, ar_leak},
      {"heap_steps_leak", true, heap_steps_leak},
      {"warmup_then_leak", true, warmup_then_leak},
  };
  return families;
}

/// The family names, benign first.
inline std::vector<std::string> corpus_families() {
  std::vector<std::string> names;
  for (const auto& f : corpus_family_table()) names.push_back(f.name);
  return names;
}

/// One series of `family` at `length`, drawn from `seed`; throws std::invalid_argument for an
/// unknown family. The random stream mixes the family and the length into the seed, so the
/// same seed gives independent draws in every family and length.
inline LabelledSeries make_series(const std::string& family, const RunLength& length,
                                  std::uint64_t seed) {
  using namespace corpus_detail;
  const auto& table = corpus_family_table();
  const auto it =
      std::find_if(table.begin(), table.end(), [&](const Family& f) { return f.name == family; });
  if (it == table.end()) throw std::invalid_argument("unknown corpus family: " + family);
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    fnv1a(family), fnv1a(length.name)};
  Draw draw(seq);
  LabelledSeries s;
  s.family = family;
  s.length = length.name;
  s.seed = seed;
  Context context{length, draw, s};
  it->generate(context);
  if (s.leak) {
    s.limit_slope_per_s = limit_slope(s);
    s.identifiable = s.true_slope_per_s >= s.limit_slope_per_s;
  }
  return s;
}

}  // namespace soak::test
