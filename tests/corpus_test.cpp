// The labelled corpus (corpus.hpp) at four run lengths, scored per length with per-family
// limits. SOAK_CORPUS_SEED shifts every seed: ctest runs this once at the default base and once
// at a held-out base that no one tunes on (tests/CMakeLists.txt). A release-build check: the
// sanitizer builds skip the `corpus` label.

#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include "corpus_score.hpp"

using namespace soak::test;

namespace {

// 50 series per family and length: 6,600 series, about 100 s on one core of a RelWithDebInfo
// build (24 h at 10 s is 8,641 points). With 50, the 2 % false-positive limit of a benign family
// allows one false alarm.
constexpr int kPerFamily = 50;

// Issue 11's limits, at every run length.
constexpr double kMinF1 = 0.97;
constexpr double kMinPrecision = 0.98;
constexpr double kMaxBenignFalsePositiveShare = 0.02;
constexpr double kMaxMedianSlopeError = 0.10;
constexpr double kMinCoverage = 0.90;

// Where the goals are not met yet (issue 11 stays open on them): today's figures, less a
// margin for the held-out seeds, are the floor so that a regression fails, and the test prints
// the shortfall. Everything not listed here is held to the goal above.
//  - 10 minutes at 1 s: F1 0.92-0.93 and interval coverage 81-83 % at both seed bases (the end
//    of a short run has little power to tell a leak from a levelling rise, and a leak under
//    strongly correlated noise from a wander).
//  - random_walk: 1-3 false leaks in 50 at 10 min and at 8 h (a walk that drifts far enough
//    passes the drift test at its 0.5 % level now and then; more so under white noise).
struct Shortfall {
  const char* length;
  double min_f1, min_coverage;
};
constexpr Shortfall kShortfalls[] = {{"10min@1s", 0.90, 0.78}};
constexpr const char* kWanderFamily = "random_walk";
constexpr double kWanderMaxFalsePositiveShare = 0.08;

const Shortfall* shortfall_of(const std::string& length) {
  for (const Shortfall& s : kShortfalls) {
    if (length == s.length) return &s;
  }
  return nullptr;
}

/// Checks `value >= goal`, or `value >= floor` with the shortfall printed when the length is
/// one of the open ones.
void check_at_least(const char* what, double value, double goal, std::optional<double> floor) {
  INFO(what << " " << value);
  if (floor && value < goal) {
    std::printf("corpus: GOAL NOT MET: %s %.3f (goal %.3f, floor %.3f)\n", what, value, goal,
                *floor);
    CHECK(value >= *floor);
  } else {
    CHECK(value >= goal);
  }
}

std::uint64_t seed_base() {
  const char* text = std::getenv("SOAK_CORPUS_SEED");
  if (text == nullptr || *text == '\0') return kCorpusDefaultSeedBase;
  return std::stoull(text);
}

}  // namespace

TEST_CASE("the labelled corpus is classified with high precision and recall at every run length") {
  CorpusOptions options;
  options.seed_base = seed_base();
  options.per_family = kPerFamily;
  std::printf("\ncorpus: seed base %llu, %d series per family and length\n",
              static_cast<unsigned long long>(options.seed_base), options.per_family);
  std::vector<LengthScore> scores;
  for (const RunLength& length : corpus_lengths()) {
    const LengthScore& score = scores.emplace_back(score_length(length, options));
    print_length(score, stdout);
    std::fflush(stdout);
    INFO("run length " << length.name << ", seed base " << options.seed_base);
    const Shortfall* open = shortfall_of(length.name);
    check_at_least("F1", score.f1(), kMinF1,
                   open ? std::optional<double>(open->min_f1) : std::nullopt);
    CHECK(score.precision() >= kMinPrecision);
    for (const FamilyScore& f : score.families) {
      if (f.leak) continue;
      INFO("benign family " << f.family);
      const double share = static_cast<double>(f.leak_calls) / f.series;
      if (f.family == kWanderFamily && share > kMaxBenignFalsePositiveShare) {
        std::printf("corpus: GOAL NOT MET: %s false positives %.3f (goal %.3f, floor %.3f)\n",
                    f.family.c_str(), share, kMaxBenignFalsePositiveShare,
                    kWanderMaxFalsePositiveShare);
        CHECK(share <= kWanderMaxFalsePositiveShare);
      } else {
        CHECK(share <= kMaxBenignFalsePositiveShare);
      }
    }
    CHECK(score.median_slope_error() <= kMaxMedianSlopeError);  // NaN (no leak called) fails
    check_at_least("coverage", score.coverage(), kMinCoverage,
                   open ? std::optional<double>(open->min_coverage) : std::nullopt);
  }
  print_length(merge_scores(scores), stdout);  // overall figures, for the record
}

namespace {

/// OLS slope with one intercept per constant-load segment (one in all for most series), over
/// the points at or after `from_s` that the series does not leave out (segment -1): the test
/// the statistical limit describes.
double segment_ols_slope(const LabelledSeries& s, double from_s) {
  std::map<int, std::array<double, 3>> sums;  // segment -> (sum t, sum y, count)
  auto segment = [&](std::size_t i) { return s.segment.empty() ? 0 : s.segment[i]; };
  for (std::size_t i = 0; i < s.t.size(); ++i) {
    if (s.t[i] < from_s || segment(i) < 0) continue;
    auto& [st, sy, n] = sums[segment(i)];
    st += s.t[i];
    sy += s.y[i];
    n += 1;
  }
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < s.t.size(); ++i) {
    if (s.t[i] < from_s || segment(i) < 0) continue;
    const auto& [st, sy, n] = sums[segment(i)];
    sxy += (s.t[i] - st / n) * (s.y[i] - sy / n);
    sxx += (s.t[i] - st / n) * (s.t[i] - st / n);
  }
  return sxy / sxx;
}

}  // namespace

TEST_CASE("the corpus's statistical limit matches an OLS slope test on its own series") {
  // The limit (corpus.hpp) is 3 standard errors of an OLS slope that knew the onset. On the
  // corpus's own leaks, the OLS slope's error in units of that standard error must have a
  // standard deviation near 1: well above it would make the limit optimistic (leaks scored as
  // identifiable that no test could find).
  constexpr int kSeries = 10;
  constexpr double kMaxErrorSd = 2.0;
  for (const RunLength& length : corpus_lengths()) {
    for (const auto& family : corpus_family_table()) {
      if (!family.leak) continue;
      double sum_sq = 0;
      for (int k = 0; k < kSeries; ++k) {
        const LabelledSeries s = make_series(family.name, length, seed_base() + k);
        const double se = s.limit_slope_per_s / 3;
        const double error = (segment_ols_slope(s, s.judged_from_s) - s.true_slope_per_s) / se;
        sum_sq += error * error;
      }
      const double error_sd = std::sqrt(sum_sq / kSeries);
      INFO(length.name << " " << family.name << ": OLS error sd " << error_sd << " SE");
      CHECK(error_sd <= kMaxErrorSd);
    }
  }
}
