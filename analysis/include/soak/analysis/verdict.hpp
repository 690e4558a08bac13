#pragma once
// The analysis of a run: per-metric results, checks against targets, and the verdict.
// Pure numbers: no I/O, no clocks. Inputs are plain arrays of (t seconds, value).

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace soak::analysis {

/// One metric's points; t in seconds since the run started, ascending.
struct SeriesView {
  std::string name;
  std::span<const double> t;
  std::span<const double> value;
};

struct RunInput {
  std::vector<SeriesView> series;
  std::size_t samples = 0;
  double duration_s = 0;
};

enum class VerdictKind { pass, fail, inconclusive };
const char* to_string(VerdictKind kind);

struct MetricResult {
  std::string name;
  std::size_t points = 0;
  double first = 0;
  double last = 0;
  double max = 0;
  double min = 0;
};

struct Verdict {
  VerdictKind verdict = VerdictKind::inconclusive;
  double duration_s = 0;
  std::size_t samples = 0;
  std::vector<MetricResult> metrics;
  std::vector<std::string> notes;  ///< why the verdict is what it is, in words
};

/// Summarises each metric. The verdict stays inconclusive until growth analysis decides it.
Verdict analyze(const RunInput& input);

}  // namespace soak::analysis
