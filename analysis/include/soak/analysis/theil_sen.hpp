#pragma once
// Exact Theil-Sen: the median of all n(n-1)/2 pairwise slopes, without forming them.
//
// The k-th smallest slope is found by shrinking a bracket [lo, hi) around it. The number of
// slopes below any s is the number of inversions of z = y - s t in time order (a merge sort,
// O(n log n)). Random pairs place the bracket; once it holds few enough slopes they are
// enumerated as the inversions between the orders of z at lo and at hi, and selected exactly.
// Expected cost at n = 86,400 (24 h at 1 Hz): a few merge sorts and ~10^6 slopes.
// Deterministic: the sampling uses a fixed seed.
//
// Units: t in seconds (any unit, strictly increasing), y in the metric's unit; slopes are
// y-units per t-unit. Thread-safety: pure functions with their own buffers, safe to call
// concurrently. Failure modes: none thrown beyond std::bad_alloc; preconditions (n >= 2, t
// strictly increasing, k in range) are asserted. The reference that forms every slope is
// detail::theil_sen_slope_naive (tests/reference/reference.hpp).

#include <cstdint>
#include <span>

namespace soak::analysis {

/// Number of pairs i < j with (y_j - y_i) / (t_j - t_i) < s. t strictly increasing.
std::uint64_t count_slopes_below(std::span<const double> t, std::span<const double> y, double s);
/// Number of pairs with slope <= s.
std::uint64_t count_slopes_at_most(std::span<const double> t, std::span<const double> y, double s);

/// The k-th smallest pairwise slope (0-based), exact. Requires t strictly increasing and
/// k < n(n-1)/2.
double kth_pairwise_slope(std::span<const double> t, std::span<const double> y, std::uint64_t k);

/// The Theil-Sen slope: median of pairwise slopes (mean of the two middle ones when their
/// number is even), exact. n >= 2.
double theil_sen_slope(std::span<const double> t, std::span<const double> y);

}  // namespace soak::analysis
