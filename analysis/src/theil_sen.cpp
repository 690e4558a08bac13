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

#include "thresholds.hpp"

namespace soak::analysis {

using namespace thresholds;

namespace {

/// Inversions of `z` (pairs a < b with z[b] < z[a], or <= when `AtMost`), by bottom-up merge
/// sort. Sorts z in place. Runs of 16 are insertion-sorted first (counting their moves).
template <bool AtMost>
std::uint64_t count_inversions(std::vector<double>& z, std::vector<double>& tmp) {
  const std::size_t n = z.size();
  tmp.resize(n);
  std::uint64_t inversions = 0;
  for (std::size_t left = 0; left < n; left += kMergeRunLength) {
    const std::size_t right = std::min(left + kMergeRunLength, n);
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
  for (std::size_t width = kMergeRunLength; width < n; width *= 2) {
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

std::uint64_t count_slopes_at_most(std::span<const double> t, std::span<const double> y, double s) {
  Workspace ws;
  return count_with(t, y, s, true, ws);
}

namespace {

using Slopes = std::pair<double, double>;  ///< the k-th slope and the (k+1)-th (or NaN)

Slopes select_slopes(std::span<const double> t, std::span<const double> y, std::uint64_t k,
                     bool with_next);

/// Finds the k-th smallest slope by shrinking a bracket around it. The bracket holds the slopes
/// in [lo, hi), or (lo, hi) when lo_exclusive; c_lo and c_hi count the slopes before its lower
/// and upper ends, and k is always in [c_lo, c_hi).
class SlopeSelector {
 public:
  SlopeSelector(std::span<const double> t, std::span<const double> y, std::uint64_t k,
                bool with_next)
      : t_(t),
        y_(y),
        k_(k),
        with_next_(with_next),
        total_(static_cast<std::uint64_t>(t.size()) * (t.size() - 1) / 2),
        enumerate_cap_(std::max<std::size_t>(kEnumeratePerPoint * t.size(), kEnumerateMinCap)),
        c_hi_(total_) {
    assert(t.size() >= 2 && t.size() == y.size());
    assert(k < total_);
  }

  Slopes run() {
    for (int round = 0; round < kMaxBracketRounds; ++round) {
      if (c_hi_ - c_lo_ <= enumerate_cap_) {
        if (const auto found = enumerate_bracket()) return *found;
        // Rounding made the counts and the enumeration disagree: shrink further instead.
      }
      if (const auto found = shrink(round)) return *found;
    }
    // The bracket shrinks every round (each count moves one end past sampled slopes); running
    // out of rounds means that invariant broke.
    assert(false && "Theil-Sen selection did not converge");
    return {lo_, lo_};
  }

 private:
  std::uint64_t count_below(double s) { return count_with(t_, y_, s, false, ws_); }
  std::uint64_t count_at_most(double s) { return count_with(t_, y_, s, true, ws_); }
  bool in_bracket(double s) const { return (lo_exclusive_ ? s > lo_ : s >= lo_) && s < hi_; }

  /// `value` is the k-th slope and holds the ranks up to end_of_value.
  Slopes answer(double value, std::uint64_t end_of_value) const {
    double next = std::numeric_limits<double>::quiet_NaN();
    if (with_next_)
      next = k_ + 1 < end_of_value ? value : select_slopes(t_, y_, k_ + 1, false).first;
    return {value, next};
  }

  /// Every slope of the bracket, selected exactly; empty when the enumeration disagreed.
  std::optional<Slopes> enumerate_bracket() {
    const std::uint64_t count = c_hi_ - c_lo_;
    slopes_.clear();
    slopes_.reserve(count);
    if (!enumerate_slopes(t_, y_, lo_, lo_exclusive_, hi_, enumerate_cap_, slopes_) ||
        slopes_.size() != count) {
      return std::nullopt;
    }
    const auto nth = slopes_.begin() + static_cast<std::ptrdiff_t>(k_ - c_lo_);
    std::nth_element(slopes_.begin(), nth, slopes_.end());
    double next = std::numeric_limits<double>::quiet_NaN();
    if (with_next_) {
      next = nth + 1 != slopes_.end() ? *std::min_element(nth + 1, slopes_.end())
                                      : select_slopes(t_, y_, k_ + 1, false).first;
    }
    return Slopes{*nth, next};
  }

  /// A value shared by many slopes: either the answer, or one end of the bracket from now on.
  std::optional<Slopes> settle_tie(double v) {
    const std::uint64_t below = count_below(v);
    const std::uint64_t at_most = count_at_most(v);
    if (below <= k_ && k_ < at_most) return answer(v, at_most);
    if (k_ < below) {
      hi_ = v;
      c_hi_ = below;
    } else {
      lo_ = v;
      lo_exclusive_ = true;
      c_lo_ = at_most;
    }
    return std::nullopt;
  }

  /// Random pairs, kept when inside the bracket: enough that the next bracket should hold
  /// fewer slopes than the enumeration cap (its width shrinks as 1/sqrt(samples)), within a
  /// budget of draws.
  void draw_sample() {
    const std::uint64_t count = c_hi_ - c_lo_;
    const double acceptance = static_cast<double>(count) / static_cast<double>(total_);
    const double ratio =
        kSampleGrowthFactor * static_cast<double>(count) / static_cast<double>(enumerate_cap_);
    const auto wanted = static_cast<std::size_t>(
        std::clamp(ratio * ratio, kMinSamplesPerRound, kMaxSamplesPerRound));
    const std::size_t max_draws = std::min<std::size_t>(
        kMaxDrawsPerRound, static_cast<std::size_t>(static_cast<double>(wanted) /
                                                    std::max(acceptance, kMinAcceptance)) +
                               kExtraDraws);
    const std::size_t n = t_.size();
    sample_.clear();
    for (std::size_t d = 0; d < max_draws && sample_.size() < wanted; ++d) {
      std::size_t i = rng_.below(n), j = rng_.below(n);
      if (i == j) continue;
      if (i > j) std::swap(i, j);
      const double s = (y_[j] - y_[i]) / (t_[j] - t_[i]);
      if (in_bracket(s)) sample_.push_back(s);
    }
  }

  /// Too few hits to place a bracket: bisect (or step out from a finite end).
  double bisection_point(int round) const {
    if (std::isinf(lo_) && std::isinf(hi_)) return 0.0;
    if (std::isinf(lo_))
      return hi_ - std::max(1.0, std::fabs(hi_)) * std::ldexp(1.0, round % kMaxStepOutDoublings);
    if (std::isinf(hi_))
      return lo_ + std::max(1.0, std::fabs(lo_)) * std::ldexp(1.0, round % kMaxStepOutDoublings);
    return lo_ + (hi_ - lo_) / 2;
  }

  struct Proposal {
    double lo = 0, hi = 0;
    std::optional<double> tie;  ///< a value many sampled pairs share exactly
  };

  /// The sample's order statistics around rank k: the next bracket's ends.
  Proposal propose_from_sample() {
    const std::uint64_t count = c_hi_ - c_lo_;
    const double m = static_cast<double>(sample_.size());
    const double f = (static_cast<double>(k_ - c_lo_) + 0.5) / static_cast<double>(count);
    const double margin = kBracketSigmas * std::sqrt(m * f * (1 - f)) + kBracketExtraRanks;
    const double lo_pos = f * m - margin;
    const double hi_pos = f * m + margin;
    // Three order statistics of the sample, by selection (a full sort costs more).
    auto order_stat = [this](std::size_t pos) {
      std::nth_element(sample_.begin(), sample_.begin() + static_cast<std::ptrdiff_t>(pos),
                       sample_.end());
      return sample_[pos];
    };
    const auto mid_pos = std::min(sample_.size() - 1, static_cast<std::size_t>(f * m));
    const double v = order_stat(mid_pos);
    Proposal p;
    p.lo = lo_pos < 0 ? lo_ : order_stat(static_cast<std::size_t>(lo_pos));
    p.hi = hi_pos >= m - 1 ? hi_ : order_stat(static_cast<std::size_t>(std::ceil(hi_pos)));
    // A value many pairs share exactly (integer series, steps): decide it directly.
    const auto shared = std::count(sample_.begin(), sample_.end(), v);
    if (shared >=
        std::max(kMinSharedSlopes, static_cast<std::ptrdiff_t>(m) / kSharedSlopesDivisor)) {
      p.tie = v;
    }
    return p;
  }

  /// Moves the bracket's ends to the proposed ones, each on the side its count puts it.
  void narrow(double new_lo, double new_hi) {
    if (new_lo > lo_) {
      const std::uint64_t c = count_below(new_lo);
      if (c <= k_) {
        lo_ = new_lo;
        lo_exclusive_ = false;
        c_lo_ = c;
      } else {
        hi_ = new_lo;
        c_hi_ = c;
      }
    }
    if (new_hi < hi_ && new_hi > lo_) {
      const std::uint64_t c = count_below(new_hi);
      if (c > k_) {
        hi_ = new_hi;
        c_hi_ = c;
      } else {
        lo_ = new_hi;
        lo_exclusive_ = false;
        c_lo_ = c;
      }
    }
  }

  /// One round of sampling and counting; the answer when a tie settles it.
  std::optional<Slopes> shrink(int round) {
    draw_sample();
    double new_lo = 0, new_hi = 0;
    if (sample_.size() < kMinSampleHits) {
      new_lo = new_hi = bisection_point(round);
    } else {
      const Proposal p = propose_from_sample();
      if (p.tie) return settle_tie(*p.tie);
      new_lo = p.lo;
      new_hi = p.hi;
    }
    if (new_lo == new_hi) return settle_tie(new_lo);
    narrow(new_lo, new_hi);
    return std::nullopt;
  }

  std::span<const double> t_, y_;
  std::uint64_t k_;
  bool with_next_;
  std::uint64_t total_;
  std::size_t enumerate_cap_;
  double lo_ = -std::numeric_limits<double>::infinity();
  double hi_ = std::numeric_limits<double>::infinity();
  bool lo_exclusive_ = false;
  std::uint64_t c_lo_ = 0, c_hi_;
  SplitMix rng_{kSamplingSeed};
  Workspace ws_;
  std::vector<double> sample_, slopes_;
};

Slopes select_slopes(std::span<const double> t, std::span<const double> y, std::uint64_t k,
                     bool with_next) {
  return SlopeSelector(t, y, k, with_next).run();
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

}  // namespace soak::analysis
