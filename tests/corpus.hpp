#pragma once
// A labelled corpus of memory series with known truth, for the detector's accuracy figures.
// Every series is generated from a fixed seed: the same corpus on every run and machine.
//
// Benign families: flat noise, strongly autocorrelated wander, warm-up then flat, cache
// filling to a cap, flat sawtooth, one-off step, decreasing.
// Leak families: linear leak, slow leak in heavy noise, leak riding a sawtooth, late-onset
// leak, staircase leak. Units: bytes, seconds; 1 h at one sample per 2 s unless stated.

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace soak::test {

struct LabelledSeries {
  std::string family;
  bool leak = false;
  double true_slope_per_s = 0;  ///< for leaks: the growth rate the detector should report
  std::vector<double> t, y;
};

inline const std::vector<std::string>& corpus_families() {
  static const std::vector<std::string> families = {
      "flat_noise",    "ar_wander",       "warmup_flat",
      "cache_cap",     "flat_sawtooth",   "one_off_step",
      "decreasing",    "linear_leak",     "slow_leak_heavy_noise",
      "sawtooth_leak", "late_onset_leak", "staircase_leak"};
  return families;
}

inline LabelledSeries make_series(const std::string& family, std::uint64_t seed,
                                  double duration_s = 3600, double step_s = 2) {
  constexpr double MB = 1e6;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0, 1);
  std::uniform_real_distribution<double> uni(0, 1);
  auto between = [&](double lo, double hi) { return lo + (hi - lo) * uni(rng); };
  LabelledSeries s;
  s.family = family;
  const auto n = static_cast<std::size_t>(duration_s / step_s) + 1;
  const double base = between(100, 400) * MB;
  const double noise = between(0.5, 1.5) * MB;
  // Common ingredients, drawn for every family so seeds stay aligned.
  const double rate = between(0.5, 5) * MB / 60;  // per second
  const double period = between(180, 360);        // sawtooth / staircase period
  const double amplitude = between(30, 60) * MB;
  const double fraction = between(0.3, 0.6);  // onset, step, cap time
  const double phase0 = uni(rng);
  const double tau = between(60, 240);  // warm-up time constant
  double ar = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) * step_s;
    double y = base + noise * gauss(rng);
    if (family == "flat_noise") {
    } else if (family == "ar_wander") {
      // AR(1), phi = 0.995 per 2 s step: a correlation time of ~7 min, stationary sd 4 MB.
      const double phi = 0.995;
      ar = phi * ar + std::sqrt(1 - phi * phi) * 4 * MB * gauss(rng);
      y += ar;
    } else if (family == "warmup_flat") {
      y += amplitude * (1 - std::exp(-t / tau));
    } else if (family == "cache_cap") {
      const double cap_at = fraction * 0.8 * duration_s;  // the cap is reached by 24-48 %
      y += amplitude * std::min(1.0, t / cap_at);
    } else if (family == "flat_sawtooth") {
      y += amplitude * std::fmod(t / period + phase0, 1.0);
    } else if (family == "one_off_step") {
      if (t >= fraction * duration_s) y += amplitude;
    } else if (family == "decreasing") {
      y -= rate * t;
    } else if (family == "linear_leak") {
      y += rate * t;
      s.leak = true;
      s.true_slope_per_s = rate;
    } else if (family == "slow_leak_heavy_noise") {
      // Total growth of 8 noise sigmas over the hour, under white plus correlated noise.
      const double heavy = 4 * noise;
      const double slope = 8 * heavy / duration_s;
      ar = 0.9 * ar + std::sqrt(1 - 0.81) * heavy * gauss(rng);
      y += slope * t + ar;
      s.leak = true;
      s.true_slope_per_s = slope;
    } else if (family == "sawtooth_leak") {
      const double slope = rate / 4;  // 0.1-1.25 MB/min under a 30-60 MB sawtooth
      y += amplitude * std::fmod(t / period + phase0, 1.0) + slope * t;
      s.leak = true;
      s.true_slope_per_s = slope;
    } else if (family == "late_onset_leak") {
      const double onset = fraction * duration_s;
      if (t > onset) y += rate * (t - onset);
      s.leak = true;
      s.true_slope_per_s = rate;
    } else if (family == "staircase_leak") {
      const double stair = rate * period;  // each job keeps a bit: one step per period
      y += stair * std::floor(t / period + phase0);
      s.leak = true;
      s.true_slope_per_s = rate;
    }
    s.t.push_back(t);
    s.y.push_back(y);
  }
  return s;
}

}  // namespace soak::test
