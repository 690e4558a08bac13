#include "soak/analysis/theil_sen.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <utility>
#include <vector>

namespace soak::analysis {

namespace {

/// Inversions of `z` (pairs a < b with z[b] < z[a], or <= when `AtMost`), by bottom-up merge
/// sort. Sorts z in place. Runs of 16 are insertion-sorted first (counting their moves).
template <bool AtMost>
std::uint64_t count_inversions(std::vector<double>& z, std::vector<double>& tmp) {
  const std::size_t n = z.size();
  tmp.resize(n);
  std::uint64_t inversions = 0;
  constexpr std::size_t kRun = 16;
  for (std::size_t left = 0; left < n; left += kRun) {
    const std::size_t right = std::min(left + kRun, n);
    for (std::size_t i = left + 1; i < right; ++i) {
      const double v = z[i];
      std::size_t j = i;
      while (j > left && (AtMost ? v <= z[j - 1] : v < z[j - 1])) {
        z[j] = z[j - 1];
        --j;
      }
      z[j] = v;
      inversions += i - j;
    }
  }
  for (std::size_t width = kRun; width < n; width *= 2) {
    for (std::size_t left = 0; left < n; left += 2 * width) {
      const std::size_t mid = std::min(left + width, n);
      const std::size_t right = std::min(left + 2 * width, n);
      std::size_t a = left, b = mid, out = left;
      const double* zp = z.data();
      double* tp = tmp.data();
      // Branch-free merge: the comparison is a coin toss, so a branch would mispredict.
      while (a < mid && b < right) {
        const double za = zp[a], zb = zp[b];
        const bool take_right = AtMost ? zb <= za : zb < za;
        tp[out++] = take_right ? zb : za;
        inversions += take_right ? mid - a : 0;
        b += take_right;
        a += !take_right;
      }
      while (a < mid) tp[out++] = zp[a++];
      while (b < right) tp[out++] = zp[b++];
    }
    z.swap(tmp);
  }
  return inversions;
}

/// Buffers reused by every count of one selection: no allocation (and no page faults) per count.
struct Workspace {
  std::vector<double> z, tmp;
};

std::uint64_t count_with(std::span<const double> t, std::span<const double> y, double s,
                         bool at_most, Workspace& ws) {
  ws.z.resize(t.size());
  for (std::size_t i = 0; i < t.size(); ++i) ws.z[i] = y[i] - s * t[i];
  return at_most ? count_inversions<true>(ws.z, ws.tmp) : count_inversions<false>(ws.z, ws.tmp);
}

/// splitmix64: a small, fast generator; the pairs need no more than that.
struct SplitMix {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n); the modulo bias is below n / 2^64, far under anything that matters.
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
};

/// Appends every slope in [lo, hi) to `out`, unless there are more than `cap` (returns false).
/// Those pairs are exactly the inversions between the time-ordered sequence sorted by
/// z_lo = y - lo t and the same sorted by z_hi = y - hi t.
bool enumerate_slopes(std::span<const double> t, std::span<const double> y, double lo,
                      bool lo_exclusive, double hi, std::size_t cap, std::vector<double>& out) {
  const std::size_t n = t.size();
  // Orders by key with the index as tie-break, sorting (key, index) pairs held contiguously.
  std::vector<std::pair<double, std::uint32_t>> keyed(n);
  std::vector<std::uint32_t> by_lo(n), by_hi(n);
  auto order_by = [&](double s, bool later_first_on_tie, std::vector<std::uint32_t>& order) {
    for (std::uint32_t i = 0; i < n; ++i) keyed[i] = {y[i] - s * t[i], i};
    std::sort(keyed.begin(), keyed.end(), [later_first_on_tie](const auto& a, const auto& b) {
      if (a.first != b.first) return a.first < b.first;
      return later_first_on_tie ? a.second > b.second : a.second < b.second;
    });
    for (std::size_t p = 0; p < n; ++p) order[p] = keyed[p].second;
  };
  // Every slope is at least -inf: time order as it is. Equal keys are slopes equal to lo: in
  // the bracket when it is closed at lo (earlier index first), out when open (later first).
  if (std::isinf(lo)) {
    std::iota(by_lo.begin(), by_lo.end(), 0u);
  } else {
    order_by(lo, lo_exclusive, by_lo);
  }
  if (std::isinf(hi)) {  // every slope is below +inf: reverse time order
    for (std::uint32_t i = 0; i < n; ++i) by_hi[i] = static_cast<std::uint32_t>(n - 1 - i);
  } else {
    order_by(hi, false, by_hi);
  }
  std::vector<std::uint32_t> rank_hi(n);
  for (std::uint32_t r = 0; r < n; ++r) rank_hi[by_hi[r]] = r;
  // Sequence of (rank in hi order, index) in lo order; inversions by merge sort.
  std::vector<std::uint32_t> seq(n), tmp(n);
  for (std::size_t p = 0; p < n; ++p) seq[p] = by_lo[p];
  for (std::size_t width = 1; width < n; width *= 2) {
    for (std::size_t left = 0; left < n; left += 2 * width) {
      const std::size_t mid = std::min(left + width, n);
      const std::size_t right = std::min(left + 2 * width, n);
      std::size_t a = left, b = mid, o = left;
      while (a < mid && b < right) {
        if (rank_hi[seq[b]] < rank_hi[seq[a]]) {
          if (out.size() + (mid - a) > cap) return false;
          const std::uint32_t j = seq[b];
          for (std::size_t q = a; q < mid; ++q) {
            const std::uint32_t i = seq[q];
            out.push_back((y[j] - y[i]) / (t[j] - t[i]));
          }
          tmp[o++] = seq[b++];
        } else {
          tmp[o++] = seq[a++];
        }
      }
      while (a < mid) tmp[o++] = seq[a++];
      while (b < right) tmp[o++] = seq[b++];
    }
    seq.swap(tmp);
  }
  return true;
}

}  // namespace

std::uint64_t count_slopes_below(std::span<const double> t, std::span<const double> y, double s) {
  Workspace ws;
  return count_with(t, y, s, false, ws);
}

std::uint64_t count_slopes_at_most(std::span<const double> t, std::span<const double> y,
                                   double s) {
  Workspace ws;
  return count_with(t, y, s, true, ws);
}

namespace {

/// The k-th smallest slope and, when `with_next`, the (k+1)-th (else NaN).
std::pair<double, double> select_slopes(std::span<const double> t, std::span<const double> y,
                                        std::uint64_t k, bool with_next) {
  const std::size_t n = t.size();
  assert(n >= 2 && t.size() == y.size());
  const std::uint64_t total = static_cast<std::uint64_t>(n) * (n - 1) / 2;
  assert(k < total);
  // Enumerating this many slopes is cheaper than another round of bracketing.
  const std::size_t enumerate_cap = std::max<std::size_t>(4 * n, 4u << 20);
  // The bracket holds the slopes in [lo, hi), or (lo, hi) when lo_exclusive; c_lo and c_hi
  // count the slopes before its lower and upper ends. k is always in [c_lo, c_hi).
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_exclusive = false;
  std::uint64_t c_lo = 0, c_hi = total;
  SplitMix rng{0x50A4u};
  Workspace ws;
  auto count_below = [&](double s) { return count_with(t, y, s, false, ws); };
  auto at_most_count = [&](double s) { return count_with(t, y, s, true, ws); };
  std::vector<double> sample;
  std::vector<double> slopes;
  auto in_bracket_value = [&](double s) { return (lo_exclusive ? s > lo : s >= lo) && s < hi; };
  auto answer = [&](double value, std::uint64_t end_of_value) {
    // `value` is the k-th slope and holds the ranks up to end_of_value.
    double next = std::numeric_limits<double>::quiet_NaN();
    if (with_next) {
      next = k + 1 < end_of_value ? value : select_slopes(t, y, k + 1, false).first;
    }
    return std::pair<double, double>{value, next};
  };

  // A value shared by many slopes: either the answer, or one end of the bracket from now on.
  auto settle_tie = [&](double v) -> std::optional<std::pair<double, double>> {
    const std::uint64_t below = count_below(v);
    const std::uint64_t at_most = at_most_count(v);
    if (below <= k && k < at_most) return answer(v, at_most);
    if (k < below) {
      hi = v;
      c_hi = below;
    } else {
      lo = v;
      lo_exclusive = true;
      c_lo = at_most;
    }
    return std::nullopt;
  };

  for (int round = 0; round < 200; ++round) {
    const std::uint64_t in_bracket = c_hi - c_lo;
    if (in_bracket <= enumerate_cap) {
      slopes.clear();
      slopes.reserve(in_bracket);
      if (enumerate_slopes(t, y, lo, lo_exclusive, hi, enumerate_cap, slopes) &&
          slopes.size() == in_bracket) {
        const auto nth = slopes.begin() + static_cast<std::ptrdiff_t>(k - c_lo);
        std::nth_element(slopes.begin(), nth, slopes.end());
        double next = std::numeric_limits<double>::quiet_NaN();
        if (with_next) {
          next = nth + 1 != slopes.end() ? *std::min_element(nth + 1, slopes.end())
                                         : select_slopes(t, y, k + 1, false).first;
        }
        return {*nth, next};
      }
      // Rounding made the counts and the enumeration disagree: shrink further instead.
    }
    // Random pairs, kept when inside the bracket.
    const double acceptance = static_cast<double>(in_bracket) / static_cast<double>(total);
    // Enough samples that the next bracket should hold fewer slopes than the enumeration
    // cap (its width shrinks as 1/sqrt(samples)), within a budget of draws.
    const double ratio = 4.0 * static_cast<double>(in_bracket) / static_cast<double>(enumerate_cap);
    const auto wanted = static_cast<std::size_t>(std::clamp(ratio * ratio, 4000.0, 200000.0));
    const std::size_t max_draws = std::min<std::size_t>(
        4'000'000, static_cast<std::size_t>(static_cast<double>(wanted) / std::max(acceptance, 1e-9)) + 1000);
    sample.clear();
    for (std::size_t d = 0; d < max_draws && sample.size() < wanted; ++d) {
      std::size_t i = rng.below(n), j = rng.below(n);
      if (i == j) continue;
      if (i > j) std::swap(i, j);
      const double s = (y[j] - y[i]) / (t[j] - t[i]);
      if (in_bracket_value(s)) sample.push_back(s);
    }
    double new_lo = lo, new_hi = hi;
    if (sample.size() < 16) {
      // Too few hits to place a bracket: bisect (or step out from a finite end).
      double mid;
      if (std::isinf(lo) && std::isinf(hi)) {
        mid = 0.0;
      } else if (std::isinf(lo)) {
        mid = hi - std::max(1.0, std::fabs(hi)) * std::ldexp(1.0, round % 60);
      } else if (std::isinf(hi)) {
        mid = lo + std::max(1.0, std::fabs(lo)) * std::ldexp(1.0, round % 60);
      } else {
        mid = lo + (hi - lo) / 2;
      }
      new_lo = new_hi = mid;
    } else {
      const double m = static_cast<double>(sample.size());
      const double f = (static_cast<double>(k - c_lo) + 0.5) / static_cast<double>(in_bracket);
      const double margin = 3.5 * std::sqrt(m * f * (1 - f)) + 2;
      const double lo_pos = f * m - margin;
      const double hi_pos = f * m + margin;
      // Three order statistics of the sample, by selection (a full sort costs more).
      auto order_stat = [&sample](std::size_t pos) {
        std::nth_element(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(pos),
                         sample.end());
        return sample[pos];
      };
      const auto mid_pos = std::min(sample.size() - 1, static_cast<std::size_t>(f * m));
      const double v = order_stat(mid_pos);
      new_lo = lo_pos < 0 ? lo : order_stat(static_cast<std::size_t>(lo_pos));
      new_hi = hi_pos >= m - 1 ? hi : order_stat(static_cast<std::size_t>(std::ceil(hi_pos)));
      // A value many pairs share exactly (integer series, steps): decide it directly.
      const auto shared = std::count(sample.begin(), sample.end(), v);
      if (shared >= std::max<std::ptrdiff_t>(16, static_cast<std::ptrdiff_t>(m / 100))) {
        if (const auto found = settle_tie(v)) return *found;
        continue;
      }
    }
    if (new_lo == new_hi) {
      if (const auto found = settle_tie(new_lo)) return *found;
      continue;
    }
    if (new_lo > lo) {
      const std::uint64_t c = count_below(new_lo);
      if (c <= k) {
        lo = new_lo;
        lo_exclusive = false;
        c_lo = c;
      } else {
        hi = new_lo;
        c_hi = c;
      }
    }
    if (new_hi < hi && new_hi > lo) {
      const std::uint64_t c = count_below(new_hi);
      if (c > k) {
        hi = new_hi;
        c_hi = c;
      } else {
        lo = new_hi;
        lo_exclusive = false;
        c_lo = c;
      }
    }
  }
  // Not reached in practice; the bracket's lower end is within it of the answer.
  return {lo, lo};
}

}  // namespace

double kth_pairwise_slope(std::span<const double> t, std::span<const double> y, std::uint64_t k) {
  return select_slopes(t, y, k, false).first;
}

double theil_sen_slope(std::span<const double> t, std::span<const double> y) {
  const std::size_t n = t.size();
  assert(n >= 2);
  const std::uint64_t total = static_cast<std::uint64_t>(n) * (n - 1) / 2;
  if (total % 2 == 1) return select_slopes(t, y, total / 2, false).first;
  const auto [a, b] = select_slopes(t, y, total / 2 - 1, true);
  return (a + b) / 2;
}

double theil_sen_slope_naive(std::span<const double> t, std::span<const double> y) {
  std::vector<double> slopes;
  for (std::size_t i = 0; i < t.size(); ++i) {
    for (std::size_t j = i + 1; j < t.size(); ++j) slopes.push_back((y[j] - y[i]) / (t[j] - t[i]));
  }
  std::sort(slopes.begin(), slopes.end());
  const std::size_t m = slopes.size();
  return m % 2 == 1 ? slopes[m / 2] : (slopes[m / 2 - 1] + slopes[m / 2]) / 2;
}

}  // namespace soak::analysis
