#include "soak/analysis/verdict.hpp"

#include <algorithm>
#include <cassert>

namespace soak::analysis {

const char* to_string(VerdictKind kind) {
  switch (kind) {
    case VerdictKind::pass: return "pass";
    case VerdictKind::fail: return "fail";
    case VerdictKind::inconclusive: return "inconclusive";
  }
  return "inconclusive";
}

Verdict analyze(const RunInput& input) {
  Verdict verdict;
  verdict.duration_s = input.duration_s;
  verdict.samples = input.samples;
  for (const SeriesView& series : input.series) {
    assert(series.t.size() == series.value.size());
    if (series.value.empty()) continue;
    MetricResult m;
    m.name = series.name;
    m.points = series.value.size();
    m.first = series.value.front();
    m.last = series.value.back();
    const auto [lo, hi] = std::minmax_element(series.value.begin(), series.value.end());
    m.min = *lo;
    m.max = *hi;
    verdict.metrics.push_back(std::move(m));
  }
  verdict.notes.push_back("growth analysis is not part of this build; the verdict is inconclusive");
  return verdict;
}

}  // namespace soak::analysis
