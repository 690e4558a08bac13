#pragma once
// The analysis of a run: each metric classified, the checks against the targets, the verdict.
// Pure numbers: no I/O, no clocks. Inputs are plain arrays of (t seconds, value).

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "soak/analysis/classify.hpp"
#include "soak/analysis/targets.hpp"

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
  std::optional<double> mem_total_bytes;   ///< host memory, a limit for time-to-limit
  std::optional<double> memory_limit_bytes;  ///< cgroup limit, when known
  /// When each job of a scenario finished (seconds), for the per-iteration checks.
  std::vector<double> job_end_times;
  /// The load's level over time (load.level), for the stress ramp's breaking point.
  std::optional<SeriesView> load_level, load_errors, load_sent_rps, load_p95_ms;
  std::optional<double> ramp_error_rate_limit;  ///< fraction of requests
  std::optional<double> ramp_p95_limit_s;
};

enum class VerdictKind { pass, fail, inconclusive };
const char* to_string(VerdictKind kind);

enum class MetricKind { gauge, counter, integer_gauge };
/// How a metric is judged, from its name: cumulative counters (cpu_s, *_faults), the load
/// driver's figures (load.*) and smaps regions (region.*, summarized in regions_grown) are not
/// classified; counts (threads, fds, children) are integer
/// gauges.
MetricKind metric_kind(const std::string& name);

struct MetricResult {
  std::string name;
  MetricKind kind = MetricKind::gauge;
  std::size_t points = 0;
  double first = 0, last = 0, max = 0, min = 0;
  std::optional<SeriesAnalysis> analysis;  ///< absent for counters
  double growth_per_min() const { return analysis ? analysis->growth_per_s * 60 : 0; }
  std::optional<double> time_to_limit_s;
  std::string limit_name;
};

enum class CheckStatus { pass, fail, inconclusive };
const char* to_string(CheckStatus s);

struct Check {
  std::string name;
  CheckStatus status = CheckStatus::pass;
  std::string tier;      ///< target | acceptable | poor (empty when the check has no tiers)
  std::string measured;  ///< e.g. "7.0 MiB/min [6.8, 7.3]"
  std::string limit;     ///< e.g. "5 MB/min (acceptable 10 MB/min)"
  std::string target;    ///< the target tier alone, e.g. "5 MB/min"
  std::string acceptable;  ///< the acceptable tier, empty when the check has none
  std::optional<double> target_value;  ///< in the checked metric's unit, for plots
  std::string detail;    ///< a sentence for people
};

/// A memory region (from smaps) and how much it grew between the first and last snapshot.
struct RegionGrowth {
  std::string name;  ///< heap, anonymous, stack, shared, kernel, file:/path
  double first_bytes = 0, last_bytes = 0;
  double growth_bytes() const { return last_bytes - first_bytes; }
};

struct Verdict {
  VerdictKind verdict = VerdictKind::inconclusive;
  double duration_s = 0;
  std::size_t samples = 0;
  std::vector<MetricResult> metrics;
  std::vector<Check> checks;
  std::vector<std::string> warnings;  ///< slow leaks and the like: not failures
  std::vector<std::string> notes;     ///< why the verdict is what it is
  std::vector<RegionGrowth> regions_grown;  ///< largest growth first; only regions that grew
  const MetricResult* find(const std::string& name) const;
};

/// Classifies every metric and checks the run against `targets`.
Verdict analyze(const RunInput& input, const Targets& targets = {});

}  // namespace soak::analysis
