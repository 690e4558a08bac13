// The labelled corpus (corpus.hpp) at four run lengths, scored per length with per-family
// limits. SOAK_CORPUS_SEED shifts every seed: ctest runs this once at the default base and once
// at a held-out base that no one tunes on (tests/CMakeLists.txt). A release-build check: the
// sanitizer builds skip the `corpus` label.

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "corpus_score.hpp"

using namespace soak::test;

namespace {

// 20 series per family and length: the least the issue allows. With 33 families at four
// lengths the whole test takes about a minute on one core of a RelWithDebInfo build.
constexpr int kPerFamily = 20;

// Issue 11's limits, at every run length.
constexpr double kMinF1 = 0.97;
constexpr double kMinPrecision = 0.98;
constexpr double kMaxBenignFalsePositiveShare = 0.02;
constexpr double kMaxMedianSlopeError = 0.10;
constexpr double kMinCoverage = 0.90;

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
    CHECK(score.f1() >= kMinF1);
    CHECK(score.precision() >= kMinPrecision);
    for (const FamilyScore& f : score.families) {
      if (f.leak) continue;
      INFO("benign family " << f.family);
      CHECK(f.leak_calls <= kMaxBenignFalsePositiveShare * f.series);
    }
    CHECK(score.median_slope_error() <= kMaxMedianSlopeError);  // NaN (no leak called) fails
    CHECK(score.coverage() >= kMinCoverage);
  }
  print_length(merge_scores(scores), stdout);  // overall figures, for the record
}
