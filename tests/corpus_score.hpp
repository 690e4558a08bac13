#pragma once
// Scores the labelled corpus (corpus.hpp) with the classifier and prints one table per run
// length: shared by the corpus test (corpus_test.cpp) and the tuning tool (corpus_eval.cpp).
//
// Scoring rules (issue 11): a leak below its statistical limit (identifiable=false) is right
// when called `leak`, or when the run says it could not see it (`insufficient`, `slow_growth`
// under the effect-size floor, or a detectable rate above the true one: its growth check is
// then inconclusive), and is kept out of F1 (counted separately); every other
// series counts: TP = leak called `leak`, FN = leak called anything else (insufficient
// included), FP = benign called `leak`. Slope errors are over identifiable leaks called leak;
// interval coverage is over all identifiable leaks. Series are classified as the verdict
// classifies a *_bytes series: with the byte floor and the offered load when there is one.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "corpus.hpp"
#include "soak/analysis/classify.hpp"

namespace soak::test {

/// The seed base the corpus test uses unless SOAK_CORPUS_SEED says otherwise.
constexpr std::uint64_t kCorpusDefaultSeedBase = 1000;

struct CorpusOptions {
  std::uint64_t seed_base = kCorpusDefaultSeedBase;  ///< series k of a family has seed base + k
  int per_family = 20;                               ///< series per family and length
  std::vector<std::string> families = corpus_families();
  std::string dump_dir;  ///< when set: every series as CSV under DIR/<length>/
};

/// One misclassified series.
struct CorpusMiss {
  std::uint64_t seed = 0;
  std::string classification, reason;
};

struct FamilyScore {
  std::string family;
  bool leak = false;
  int series = 0, leak_calls = 0;
  int unidentifiable = 0, unidentifiable_right = 0;  ///< leaks below the limit (out of F1)
  int identifiable_leaks = 0, covered = 0;
  std::vector<double> slope_errors;  ///< |reported - true| / true, identifiable leaks called leak
  std::vector<CorpusMiss> misses;
  double classify_seconds = 0;  ///< time spent in classify_series
};

inline double median_of(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  if (v.size() % 2) return *mid;
  return (*mid + *std::max_element(v.begin(), mid)) / 2;
}

struct LengthScore {
  std::string length;
  std::vector<FamilyScore> families;
  double seconds = 0;  ///< wall time of generating and classifying this length

  int count(int FamilyScore::*field) const {
    int n = 0;
    for (const auto& f : families) n += f.*field;
    return n;
  }
  int true_positives() const {
    int n = 0;
    for (const auto& f : families)
      if (f.leak) n += static_cast<int>(f.slope_errors.size());
    return n;
  }
  int false_negatives() const { return count(&FamilyScore::identifiable_leaks) - true_positives(); }
  int false_positives() const {
    int n = 0;
    for (const auto& f : families)
      if (!f.leak) n += f.leak_calls;
    return n;
  }
  double precision() const {
    const int tp = true_positives(), fp = false_positives();
    return tp + fp ? static_cast<double>(tp) / (tp + fp) : 1.0;
  }
  double recall() const {
    const int tp = true_positives(), fn = false_negatives();
    return tp + fn ? static_cast<double>(tp) / (tp + fn) : 1.0;
  }
  double f1() const {
    const double p = precision(), r = recall();
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
  }
  double coverage() const {
    const int n = count(&FamilyScore::identifiable_leaks);
    return n ? static_cast<double>(count(&FamilyScore::covered)) / n : 1.0;
  }
  double median_slope_error() const {
    std::vector<double> all;
    for (const auto& f : families)
      all.insert(all.end(), f.slope_errors.begin(), f.slope_errors.end());
    return median_of(all);
  }
};

namespace corpus_detail {

/// "10min@1s" -> "10min_1s": a directory name without shell-special characters.
inline std::string file_safe(std::string name) {
  std::replace(name.begin(), name.end(), '@', '_');
  return name;
}

/// Writes DIR/<length>/<family>_<seed>.csv (t,y[,load]) and appends the series' truth to
/// DIR/<length>/index.csv (family,seed,leak,true_slope_per_s,identifiable,limit_slope_per_s,
/// judged_from_s,classification).
inline void dump_csv(const LabelledSeries& s, const std::string& dir,
                     const std::string& classification) {
  const std::filesystem::path folder = std::filesystem::path(dir) / file_safe(s.length);
  std::filesystem::create_directories(folder);
  const bool new_index = !std::filesystem::exists(folder / "index.csv");
  std::ofstream index(folder / "index.csv", std::ios::app);
  if (new_index)
    index << "family,seed,leak,true_slope_per_s,identifiable,limit_slope_per_s,judged_from_s,"
             "classification\n";
  index << s.family << ',' << s.seed << ',' << s.leak << ',' << s.true_slope_per_s << ','
        << s.identifiable << ',' << s.limit_slope_per_s << ',' << s.judged_from_s << ','
        << classification << '\n';
  std::ofstream out(folder / (s.family + "_" + std::to_string(s.seed) + ".csv"));
  const bool load = !s.load_rps.empty();
  out << (load ? "t,y,load\n" : "t,y\n");
  out.precision(12);
  for (std::size_t i = 0; i < s.t.size(); ++i) {
    out << s.t[i] << ',' << s.y[i];
    if (load) out << ',' << s.load_rps[i];
    out << '\n';
  }
}

/// Scores one series into its family's tally; returns its classification's name.
inline std::string score_series(const LabelledSeries& s, FamilyScore& f) {
  using soak::analysis::Classification;
  const auto start = std::chrono::steady_clock::now();
  // As the verdict classifies a *_bytes series: the effect-size floor in bytes, and the offered
  // load when the run recorded one.
  soak::analysis::ClassifyOptions options;
  options.bytes = true;
  options.load_t = s.load_t;
  options.load_value = s.load_rps;
  const auto a = soak::analysis::classify_series(s.t, s.y, options);
  f.classify_seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const bool called = a.classification == Classification::leak;
  ++f.series;
  f.leak_calls += called;
  bool right = s.leak ? called : !called;
  if (s.leak && !s.identifiable) {
    ++f.unidentifiable;
    // Right when the run says it could not see it: insufficient, growth under the floor, or a
    // detectable rate above the true one (its growth check is then inconclusive).
    right = called || a.classification == Classification::insufficient ||
            a.classification == Classification::slow_growth ||
            a.detectable_growth_per_s >= s.true_slope_per_s;
    f.unidentifiable_right += right;
  } else if (s.leak) {
    ++f.identifiable_leaks;
    if (called)
      f.slope_errors.push_back(std::fabs(a.growth_per_s - s.true_slope_per_s) / s.true_slope_per_s);
    f.covered += a.ci_low_per_s <= s.true_slope_per_s && s.true_slope_per_s <= a.ci_high_per_s;
  }
  if (!right)
    f.misses.push_back({s.seed, soak::analysis::to_string(a.classification),
                        soak::analysis::to_string(a.reason.code)});
  return soak::analysis::to_string(a.classification);
}

}  // namespace corpus_detail

/// Generates and classifies options.per_family series of every family at `length`.
inline LengthScore score_length(const RunLength& length, const CorpusOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  LengthScore score;
  score.length = length.name;
  if (!options.dump_dir.empty())  // a fresh index for this length (the series are overwritten)
    std::filesystem::remove(std::filesystem::path(options.dump_dir) /
                            corpus_detail::file_safe(length.name) / "index.csv");
  for (const auto& name : options.families) {
    FamilyScore f;
    f.family = name;
    for (int k = 0; k < options.per_family; ++k) {
      const LabelledSeries s =
          make_series(name, length, options.seed_base + static_cast<std::uint64_t>(k));
      f.leak = s.leak;
      const std::string classification = corpus_detail::score_series(s, f);
      if (!options.dump_dir.empty()) corpus_detail::dump_csv(s, options.dump_dir, classification);
    }
    score.families.push_back(std::move(f));
  }
  score.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return score;
}

/// The scores of several lengths as one ("all"): each family's tallies summed over lengths.
inline LengthScore merge_scores(const std::vector<LengthScore>& scores) {
  LengthScore all;
  all.length = "all";
  for (const auto& score : scores) {
    all.seconds += score.seconds;
    for (const auto& f : score.families) {
      auto it = std::find_if(all.families.begin(), all.families.end(),
                             [&](const FamilyScore& g) { return g.family == f.family; });
      if (it == all.families.end()) {
        all.families.push_back(f);
        all.families.back().misses.clear();  // seeds repeat across lengths: listed per length
        continue;
      }
      it->series += f.series;
      it->leak_calls += f.leak_calls;
      it->unidentifiable += f.unidentifiable;
      it->unidentifiable_right += f.unidentifiable_right;
      it->identifiable_leaks += f.identifiable_leaks;
      it->covered += f.covered;
      it->classify_seconds += f.classify_seconds;
      it->slope_errors.insert(it->slope_errors.end(), f.slope_errors.begin(), f.slope_errors.end());
    }
  }
  return all;
}

/// One table: a row per family, the length's totals, then up to `misses_per_family`
/// misclassified series per family (family, seed, classification, reason).
inline void print_length(const LengthScore& score, std::FILE* out,
                         std::size_t misses_per_family = 3) {
  auto percent = [](double share) {
    if (std::isnan(share)) return std::string("-");
    char text[16];
    std::snprintf(text, sizeof text, "%.1f%%", 100 * share);
    return std::string(text);
  };
  std::fprintf(out, "\ncorpus %s: %-22s %6s %10s %10s %9s %12s %9s\n", score.length.c_str(),
               "family", "series", "leak calls", "median err", "coverage", "below limit",
               "ms/series");
  for (const auto& f : score.families) {
    const std::string below = f.unidentifiable ? std::to_string(f.unidentifiable_right) + "/" +
                                                     std::to_string(f.unidentifiable) + " ok"
                                               : "-";
    std::fprintf(out, "corpus %s: %-22s %6d %10s %10s %9s %12s %9.1f\n", score.length.c_str(),
                 f.family.c_str(), f.series,
                 percent(static_cast<double>(f.leak_calls) / f.series).c_str(),
                 f.leak ? percent(median_of(f.slope_errors)).c_str() : "-",
                 f.leak && f.identifiable_leaks
                     ? percent(static_cast<double>(f.covered) / f.identifiable_leaks).c_str()
                     : "-",
                 below.c_str(), 1e3 * f.classify_seconds / f.series);
  }
  std::fprintf(out,
               "corpus %s: TP %d FN %d FP %d: precision %.3f recall %.3f F1 %.3f, median slope "
               "error %s, coverage %s; below the limit %d (%d right); %.1f s\n",
               score.length.c_str(), score.true_positives(), score.false_negatives(),
               score.false_positives(), score.precision(), score.recall(), score.f1(),
               percent(score.median_slope_error()).c_str(), percent(score.coverage()).c_str(),
               score.count(&FamilyScore::unidentifiable),
               score.count(&FamilyScore::unidentifiable_right), score.seconds);
  for (const auto& f : score.families) {
    for (std::size_t i = 0; i < f.misses.size() && i < misses_per_family; ++i)
      std::fprintf(out, "corpus %s: miss %-22s seed %llu -> %s (%s)\n", score.length.c_str(),
                   f.family.c_str(), static_cast<unsigned long long>(f.misses[i].seed),
                   f.misses[i].classification.c_str(), f.misses[i].reason.c_str());
    if (f.misses.size() > misses_per_family)
      std::fprintf(out, "corpus %s: miss %-22s ... and %zu more\n", score.length.c_str(),
                   f.family.c_str(), f.misses.size() - misses_per_family);
  }
}

}  // namespace soak::test
