#!/usr/bin/python3
"""Mann-Kendall with Hamed-Rao's variance correction and Sen's interval, from the papers.

An independent reference for soak's C++ (analysis/src/stats.cpp), written from the published
formulas only and kept deliberately naive (all pairs, O(n^2) memory), in numpy and the standard
library (scipy 1.10 has Kendall's tau and Theil-Sen, but no Mann-Kendall variance correction).

  Mann (1945), Kendall (1975): S = sum_{i<j} sgn(x_j - x_i),
      Var(S) = [n(n-1)(2n+5) - sum_p t_p(t_p-1)(2t_p+5)] / 18   (t_p: size of the p-th tie group).
  Hamed & Rao (1998), "A modified Mann-Kendall trend test for autocorrelated data",
  J. Hydrology 204, 182-196:
      detrend with Sen's slope, x'_i = x_i - beta * t_i; rank x' (average ranks for ties);
      rho_s(k) = lag-k autocorrelation of the ranks, kept only where significant at the 5 % level
      (|rho_s(k)| > z_{0.975} / sqrt(n)); k = 1 .. n-1;
      n/n* = 1 + 2 / (n(n-1)(n-2)) * sum_k (n-k)(n-k-1)(n-k-2) rho_s(k);
      Var*(S) = Var(S) * n/n*;
      z = (S - sgn(S)) / sqrt(Var*(S)) (continuity correction; z = 0 when S = 0);
      p = 2 (1 - Phi(|z|)).
  Sen (1968), Gilbert (1987, sec. 16.5): the N = n(n-1)/2 pairwise slopes Q sorted ascending;
      C = z_{1-a/2} sqrt(Var(S)); M1 = (N - C)/2, M2 = (N + C)/2; the interval is
      [Q_(M1), Q_(M2+1)] in 1-based order statistics, interpolated linearly when M1, M2 are not
      whole numbers.

Usage: mk_reference.py DATA_FILE [ALPHA]   (DATA_FILE: lines "t x"; prints one JSON object)
"""

import json
import math
import sys

import numpy as np


def normal_sf2(z):
    """Two-sided normal tail probability 2 (1 - Phi(|z|))."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def normal_quantile(p):
    """Phi^{-1}(p) for 0 < p < 1, by Newton's method on erfc (converges to machine precision)."""
    z = 0.0
    for _ in range(100):
        cdf = 0.5 * math.erfc(-z / math.sqrt(2.0))
        pdf = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
        step = (cdf - p) / pdf
        z -= step
        if abs(step) < 1e-15:
            break
    return z


def mk_s(t, x):
    """S over pairs ordered in time (t strictly increasing)."""
    d = x[None, :] - x[:, None]
    upper = np.triu(np.ones_like(d, dtype=bool), k=1)
    return int(np.sign(d[upper]).sum())


def var_s_ties(x):
    n = len(x)
    _, counts = np.unique(x, return_counts=True)
    ties = sum(int(c) * (int(c) - 1) * (2 * int(c) + 5) for c in counts if c > 1)
    return (n * (n - 1) * (2 * n + 5) - ties) / 18.0


def pairwise_slopes(t, x):
    i, j = np.triu_indices(len(x), k=1)
    return np.sort((x[j] - x[i]) / (t[j] - t[i]))


def sen_slope(t, x):
    return float(np.median(pairwise_slopes(t, x)))


def average_ranks(v):
    """Ranks 1..n, ties given the mean of the ranks they span."""
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(len(v))
    sorted_v = v[order]
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and sorted_v[j + 1] == sorted_v[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return ranks


def autocorrelations(r):
    """rho(k) for k = 0 .. n-1: sum_{i<n-k} (r_i - m)(r_{i+k} - m) / sum (r_i - m)^2."""
    c = r - r.mean()
    denom = float(np.dot(c, c))
    n = len(r)
    return np.array([float(np.dot(c[:n - k], c[k:])) / denom for k in range(n)])


def hamed_rao_correction(t, x, alpha_acf=0.05):
    """n/n* from the significant rank autocorrelations of the Sen-detrended series."""
    n = len(x)
    beta = sen_slope(t, x)
    detrended = x - beta * t
    ranks = average_ranks(detrended)
    if np.all(ranks == ranks[0]):  # a constant detrended series has no autocorrelation
        return 1.0, [], math.inf
    rho = autocorrelations(ranks)
    bound = normal_quantile(1.0 - alpha_acf / 2.0) / math.sqrt(n)
    total = 0.0
    lags = []
    for k in range(1, n):
        if abs(rho[k]) > bound:
            weight = (n - k) * (n - k - 1) * (n - k - 2)
            if weight != 0:
                lags.append(k)
            total += weight * rho[k]
    # How close the nearest lag came to the bound: a lag this close could count or not
    # depending on the last digits of z_{0.975} (a caller may treat such a case as ambiguous).
    gap = min(abs(abs(rho[k]) - bound) for k in range(1, n - 2)) if n > 3 else math.inf
    return 1.0 + 2.0 / (n * (n - 1) * (n - 2)) * total, lags, gap


def order_statistic(sorted_q, rank_1based):
    """Q_(rank) with linear interpolation between neighbours; ranks clamp to [1, N]."""
    n_slopes = len(sorted_q)
    r = min(max(rank_1based, 1.0), float(n_slopes))
    lo = int(math.floor(r))
    frac = r - lo
    value = sorted_q[lo - 1]
    if frac > 0 and lo < n_slopes:
        value += frac * (sorted_q[lo] - sorted_q[lo - 1])
    return float(value)


def sen_interval(t, x, var_s, alpha=0.05):
    """Gilbert's limits Q_(M1), Q_(M2+1), interpolated, and the same rounded outward
    (Q_(floor M1), Q_(ceil(M2+1))): the exact order statistics nearest outside them."""
    q = pairwise_slopes(t, x)
    n_slopes = len(q)
    c = normal_quantile(1.0 - alpha / 2.0) * math.sqrt(max(var_s, 0.0))
    m1 = (n_slopes - c) / 2.0
    m2 = (n_slopes + c) / 2.0
    return {
        "lower": order_statistic(q, m1), "upper": order_statistic(q, m2 + 1.0),
        "lower_outward": order_statistic(q, math.floor(m1)),
        "upper_outward": order_statistic(q, math.ceil(m2 + 1.0)), "m1": m1, "m2": m2,
    }


def mann_kendall_hamed_rao(t, x, alpha=0.05):
    t = np.asarray(t, dtype=float)
    x = np.asarray(x, dtype=float)
    s = mk_s(t, x)
    var_s = var_s_ties(x)
    correction, lags, gap = hamed_rao_correction(t, x)
    var_corrected = var_s * correction
    if s == 0 or var_corrected <= 0:
        z = 0.0
    else:
        z = (s - math.copysign(1.0, s)) / math.sqrt(var_corrected)
    return {
        "n": len(x), "s": s, "var_s": var_s, "correction": correction,
        "var_s_corrected": var_corrected, "significant_lags": lags, "lag_bound_gap": gap,
        "z": z, "p_value": normal_sf2(z), "slope": sen_slope(t, x),
        # Sen's interval from Var(S) as published, and from the corrected variance.
        "interval": sen_interval(t, x, var_s, alpha),
        "interval_corrected": sen_interval(t, x, var_corrected, alpha),
    }


def main():
    data = np.loadtxt(sys.argv[1], ndmin=2)
    alpha = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
    print(json.dumps(mann_kendall_hamed_rao(data[:, 0], data[:, 1], alpha)))


if __name__ == "__main__":
    main()
