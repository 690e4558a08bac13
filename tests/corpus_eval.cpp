// corpus_eval: the labelled corpus's tables for tuning the classifier, at any seed base, size,
// length and family, optionally writing every series as CSV (t,y[,load]) to plot.
//   corpus_eval [--seed-base N] [--per-family K] [--length NAME|all] [--family NAME|all]
//               [--dump DIR]
// Exit code 0, or 2 for a bad argument. Not installed; not a ctest test.

#include <cstdio>
#include <stdexcept>
#include <string>

#include "corpus_score.hpp"

using namespace soak::test;

namespace {

/// Prints the usage to `out` after `why`; returns the exit code `code`.
int usage(std::FILE* out, const char* why, int code = 2) {
  std::fprintf(out,
               "corpus_eval: %s\nusage: corpus_eval [--seed-base N] [--per-family K] "
               "[--length NAME|all] [--family NAME|all] [--dump DIR]\nlengths:",
               why);
  for (const auto& l : corpus_lengths()) std::fprintf(out, " %s", l.name.c_str());
  std::fprintf(out, "\nfamilies:");
  for (const auto& f : corpus_families()) std::fprintf(out, " %s", f.c_str());
  std::fprintf(out, "\n");
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CorpusOptions options;
  std::string length = "all", family = "all";
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string flag = argv[i];
      if (flag == "-h" || flag == "--help") return usage(stdout, "the labelled corpus's tables", 0);
      if (i + 1 >= argc) return usage(stderr, ("a value is missing after " + flag).c_str());
      const std::string value = argv[++i];
      if (flag == "--seed-base")
        options.seed_base = std::stoull(value);
      else if (flag == "--per-family")
        options.per_family = std::stoi(value);
      else if (flag == "--length")
        length = value;
      else if (flag == "--family")
        family = value;
      else if (flag == "--dump")
        options.dump_dir = value;
      else
        return usage(stderr, ("unknown flag " + flag).c_str());
    }
    if (options.per_family < 1) return usage(stderr, "--per-family must be at least 1");
    if (family != "all") {
      make_series(family, corpus_lengths().front(), 0);  // throws for an unknown family
      options.families = {family};
    }
    std::vector<RunLength> lengths = corpus_lengths();
    if (length != "all") lengths = {corpus_length(length)};
    std::vector<LengthScore> scores;
    for (const auto& l : lengths) {
      scores.push_back(score_length(l, options));
      print_length(scores.back(), stdout, 10);
    }
    if (scores.size() > 1) print_length(merge_scores(scores), stdout);
  } catch (const std::exception& e) {
    return usage(stderr, e.what());
  }
  return 0;
}
