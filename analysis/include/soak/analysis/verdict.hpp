#pragma once
// The analysis of a run: each metric classified, the checks against the targets, the verdict.
// Pure numbers and codes: no I/O, no clocks, no sentences and no unit formatting (soak::report
// words a Verdict). Inputs are plain arrays of (t seconds, value).
//
// Units: times in seconds since the run started; every value in base units (bytes, bytes per
// minute, fractions, counts) as `Check::quantity` says; growth rates per second in
// SeriesAnalysis and per minute in checks.
// Thread-safety: analyze() and analyze_group() are pure functions of their arguments and may run
// concurrently on different inputs. analyze() may itself run a second thread (std::async) that
// classifies the long headline series (rss_bytes, heap.*) while the calling thread does the
// rest; the spans in RunInput must stay valid until it returns.
// Failure modes: nothing is thrown for data. Too little data makes checks (and the verdict)
// `inconclusive` with a code saying why; an input without anything to judge is inconclusive
// with a note. Preconditions (asserted): each series' t and value have the same length, t
// ascending.

#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "soak/analysis/classify.hpp"
#include "soak/analysis/targets.hpp"

namespace soak::analysis {

/// One metric's points; t in seconds since the run started, ascending.
/// A series read from a long log may be binned (log::Series): each point is then the mean of
/// neighbouring readings, and the exact figures the checks need ride along: each point's largest
/// and smallest reading, and the first and last readings. The level checks (initial_rss,
/// max_rss_*, a metric's first/last/max/min) read those, never a bin's mean.
struct SeriesView {
  std::string name;
  std::span<const double> t;
  std::span<const double> value;
  std::span<const double> max = {};  ///< per point, its largest reading; empty: unbinned
  std::span<const double> min = {};  ///< per point, its smallest reading; empty: unbinned
  std::optional<double> first = {};  ///< the first reading; absent: value.front()
  std::optional<double> last = {};   ///< the last reading; absent: value.back()
  std::size_t readings = 0;          ///< raw readings behind the points; 0: one per point

  double first_reading() const { return first.value_or(value.front()); }
  double last_reading() const { return last.value_or(value.back()); }
  std::size_t reading_count() const { return readings > 0 ? readings : value.size(); }
  /// Per point, the largest (smallest) reading: `max` (`min`) when binned, else the values.
  std::span<const double> maxima() const { return max.empty() ? value : max; }
  std::span<const double> minima() const { return min.empty() ? value : min; }
};

/// How a watched target's run ended, for the target_alive check.
struct TargetEnd {
  bool ended = false;  ///< the target exited or vanished before the run ended
  double at_s = 0;     ///< when soak saw it gone
  /// Known when soak launched the target; an attached target's status cannot be seen.
  std::optional<int> exit_code, signal;
  bool oom_killed = false;  ///< the kernel's OOM killer ended it (the cgroup's oom_kill rose)
};

/// How an external load (a command, Locust, wrk) ran, for the load_alive check.
struct LoadEnd {
  bool ended = false;   ///< it ended before the run did
  bool failed = false;  ///< ...with a non-zero code or a signal (load_failed)
  double at_s = 0;      ///< when it ended
};

/// One process's (or one series') data, the same from every front-end: a run log, a
/// Prometheus query, an imported file.
struct RunInput {
  std::vector<SeriesView> series;
  std::size_t samples = 0;
  double duration_s = 0;
  std::optional<double> mem_total_bytes;     ///< host memory, a limit for time-to-limit
  std::optional<double> memory_limit_bytes;  ///< cgroup limit, when known
  /// When there is no `rss_bytes`: the one series the input is judged by (a Prometheus series
  /// judged on its own). It gets a growth check in its own unit: against the rss_growth tiers
  /// when its name ends in `_bytes`, "no sustained growth" when it is a count (metric_kind
  /// integer_gauge), else "not classified as a leak". The RSS-level checks (rss_growth,
  /// initial_rss, max_rss_1h, max_rss_24h, memory_growth) apply only to `rss_bytes`: a front-end
  /// names a series declared as process memory `rss_bytes`.
  std::optional<std::string> judged_series;
  /// When each job of a scenario finished (seconds), for the per-iteration checks.
  std::vector<double> job_end_times;
  /// The load's level over time (load.level), for the stress ramp's breaking point.
  std::optional<SeriesView> load_level, load_errors, load_sent_rps, load_p95_ms;
  std::optional<double> ramp_error_rate_limit;  ///< fraction of requests
  std::optional<double> ramp_p95_limit_s;
  /// A run of a watched target (attach, run, scenario; not an import or a query): how it
  /// ended, and how long it was meant to run (absent: until the target ends).
  std::optional<TargetEnd> target_end;
  std::optional<double> planned_duration_s;
  /// A run whose load was an external program: how that ended (absent: soak's own load or none).
  std::optional<LoadEnd> load_end;
  double interval_s = 1;  ///< the sampling interval: how late soak may see an exit
};

enum class VerdictKind { pass, fail, inconclusive };
const char* to_string(VerdictKind kind);

enum class MetricKind { gauge, counter, integer_gauge };
/// How a metric is judged, from its name: cumulative counters (cpu_s, *_faults, *_total), the
/// load driver's figures (load.*) and smaps regions (region.*, summarized in regions_grown) are
/// not classified; counts (threads, fds, children, handles) are integer gauges.
MetricKind metric_kind(const std::string& name);

struct MetricResult {
  std::string name;
  MetricKind kind = MetricKind::gauge;
  std::size_t points = 0;
  double first = 0, last = 0, max = 0, min = 0;  ///< in the metric's unit
  std::optional<SeriesAnalysis> analysis;        ///< absent for counters
  double growth_per_min() const { return analysis ? analysis->growth_per_s * 60 : 0; }
  std::optional<double> time_to_limit_s;  ///< leaking *_bytes: seconds to the nearest limit
  /// Which limit time_to_limit_s is against.
  enum class Limit { none, max_rss_acceptable, host_memory, cgroup_memory_max };
  Limit limit = Limit::none;
  /// The series `analysis` (the growth classification) was judged on: this metric's own, or
  /// `<name>_after_gc` when the run has enough readings after forced collections
  /// (--gc-checkpoint). first, last, max and min are always this metric's own.
  std::string judged_on;
};
/// "max RSS (acceptable)", "host memory", "cgroup memory.max" (empty for none).
const char* to_string(MetricResult::Limit limit);

enum class CheckStatus { pass, fail, inconclusive };
const char* to_string(CheckStatus s);

/// The tier a measured value falls in: below the target, below acceptable, or poor.
enum class Tier { none, target, acceptable, poor };
/// "target", "acceptable", "poor"; empty for none.
const char* to_string(Tier tier);

/// Why a check has its status.
enum class CheckCode {
  // Growth of a series against a rate (rss_growth, a judged *_bytes series).
  insufficient_data,        ///< the series is `insufficient` (see the metric's reason)
  no_trend,                 ///< not a leak, and the interval is below the target: pass
  stopped_growing,          ///< plateau or decreasing: pass whatever the interval says
  interval_reaches_target,  ///< not a leak, but the interval reaches the target: inconclusive
  grows_over_target,        ///< a leak whose whole interval is at or above the target: fail
  grows_under_target,       ///< a leak whose whole interval is below the target: pass
  straddles_target,         ///< a leak whose interval straddles the target: inconclusive
  cannot_detect_target,     ///< not a leak, but the run could not see growth at the target
  // Sizes and fractions (initial_rss, max_rss_*, memory_growth, job_growth, return_to_baseline).
  within_target,
  over_target,
  too_few_jobs,  ///< job_growth: fewer than three finished jobs
  // Counts and other judged series (threads_growth, ...): a leak fails at any rate.
  no_sustained_growth,
  sustained_growth,
  // The stress ramp (breaking_point).
  held_every_level,
  broke_and_recovered,
  broke_not_recovered,
  broke_recovery_unknown,  ///< the load never dropped after breaking
  // fail_on_any_leak (no_leak).
  no_leak,
  leaks_found,
  // The target's fate (target_alive).
  alive_to_end,    ///< the target was alive when the run ended
  ended_normally,  ///< no planned duration, and it ended with code 0 (a batch job): pass
  died,            ///< it ended with a non-zero code or by a signal (or the OOM killer): fail
  ended_early,     ///< code 0 before the planned end: it did not run the soak: inconclusive
  vanished,        ///< an attached target gone before the planned end, status unseen
  // An external load's fate (load_alive).
  load_ran_to_end,  ///< the load ran until the run ended
  load_finished,    ///< it ended by itself with code 0; sampling went on without load: pass
  load_died,        ///< it died (non-zero code, signal): the run cannot pass: inconclusive
};
/// A stable identifier ("grows_over_target", ...), for JSON and tests.
const char* to_string(CheckCode code);

/// The figures a check's sentence needs beyond its measured value; each field says which
/// checks set it.
struct CheckFigures {
  std::optional<Classification> classification;  ///< growth and count checks
  std::optional<ClassifyReason> reason;          ///< growth and count checks: the series' reason
  std::optional<double> warmup_end_s;            ///< growth checks
  std::optional<double> onset_s;                 ///< growth checks
  /// Growth checks: the smallest rate this run could have called a leak, per minute.
  std::optional<double> detectable_per_min;
  /// The levels a fraction or a count was measured between, in the series' unit (bytes for
  /// memory_growth, job_growth, return_to_baseline; the count for count checks).
  std::optional<double> from, to;
  bool after_warmup = false;        ///< memory_growth: `from` is the level after the warm-up
  std::optional<double> horizon_s;  ///< max_rss_*: the window the max was taken in
  bool run_shorter_than_horizon = false;
  std::size_t jobs = 0;                    ///< job_growth: finished jobs with an RSS after them
  std::optional<double> growth_per_job;    ///< job_growth: bytes per job
  std::optional<double> broke_at_s;        ///< breaking_point: when the breaking level began
  std::optional<double> error_fraction;    ///< breaking_point: errors / sent at that level
  std::optional<double> worst_p95_ms;      ///< breaking_point: worst p95 at that level
  std::optional<double> error_rate_limit;  ///< breaking_point: the scenario's limits
  std::optional<double> p95_limit_s;
  std::vector<std::string> leaking_metrics;  ///< no_leak
  std::optional<int> exit_code, signal;      ///< target_alive: the target's end, when seen
  bool oom_killed = false;                   ///< target_alive
  std::optional<double> planned_s;           ///< target_alive: the planned duration
};

/// One check: numbers and codes only; soak::report words it.
struct Check {
  std::string name;  ///< rss_growth, initial_rss, ..., <series>_growth
  CheckStatus status = CheckStatus::pass;
  Tier tier = Tier::none;  ///< none when the check has no tiers
  CheckCode code = CheckCode::within_target;
  std::string metric;  ///< the series judged (rss_bytes, fds, ...); empty for run-level checks
  Quantity quantity = Quantity::bytes;  ///< the unit of measured, target and acceptable
  std::optional<double> measured;       ///< absent when there was nothing to measure
  std::optional<double> measured_low, measured_high;  ///< the 95 % interval, for growth
  std::optional<double> target;                       ///< absent for checks without a numeric limit
  std::optional<double> acceptable;  ///< the acceptable tier, when the check has one
  std::string target_text;           ///< as the targets file wrote it; empty for defaults
  std::string acceptable_text;       ///< likewise
  CheckFigures figures;
};

/// Things worth saying that are not checks.
enum class FindingCode {
  slow_leak,              ///< warning: a metric classified as a leak but under the targets
  slow_growth,            ///< note: sustained growth under the effect-size floor (its rate)
  no_rss_series,          ///< note: no rss_bytes and no judged series: nothing to judge by
  judged_series_missing,  ///< note: the judged series is absent or cannot be classified
  not_enough_evidence,    ///< note: inconclusive without a failure
  no_processes,           ///< note: a group without members
  small_judged_share,     ///< warning: gaps left under half of the run sampled (growth_per_min
                          ///< carries the share, low/high the gaps' count and seconds)
  /// note: a cgroup.* figure grows (leak or slow growth); the cgroup may hold other processes,
  /// so it is shown, never a leak warning about the target nor a fail_on_any_leak failure.
  cgroup_growth,
};
const char* to_string(FindingCode code);

struct Finding {
  FindingCode code = FindingCode::not_enough_evidence;
  std::string metric;  ///< slow_leak, judged_series_missing: the series
  /// slow_leak: growth and its 95 % interval in the metric's unit per minute.
  double growth_per_min = 0, low_per_min = 0, high_per_min = 0;
};

/// A memory region (from smaps) and how much it grew between the first and last snapshot.
struct RegionGrowth {
  std::string name;  ///< heap, anonymous, stack, shared, kernel, file:/path
  double first_bytes = 0, last_bytes = 0;
  double growth_bytes() const { return last_bytes - first_bytes; }
};

/// Who a member of a group is. Everything here comes from outside (the target, a Prometheus
/// label set) and is escaped by whoever prints it.
struct ProcessIdentity {
  std::optional<long> pid;
  std::string name;
  std::vector<std::string> cmdline;
  std::map<std::string, std::string> labels;
};

struct ProcessVerdict;

/// The forced collections of a run (--gc-checkpoint), counted from its events by the front-end.
struct GcCheckpointTotals {
  std::size_t count = 0;   ///< checkpoints made (gc_checkpoint events)
  std::size_t failed = 0;  ///< actions that failed (gc_checkpoint_failed events)
  double pause_s = 0;      ///< seconds the actions took, made and failed together
};

struct Verdict {
  VerdictKind verdict = VerdictKind::inconclusive;
  double duration_s = 0;
  std::size_t samples = 0;
  /// The series the verdict judges memory by: rss_bytes, else RunInput::judged_series; empty
  /// when there is none (and for a group).
  std::string judged_metric;
  std::vector<MetricResult> metrics;
  std::vector<Check> checks;
  std::vector<Finding> warnings;            ///< slow leaks and the like: not failures
  std::vector<Finding> notes;               ///< why the verdict is what it is
  std::vector<RegionGrowth> regions_grown;  ///< largest growth first; only regions that grew
  /// A group's members, each judged on its own (analyze_group); empty for one process.
  std::vector<ProcessVerdict> processes;
  /// Set by the front-end when the run had checkpoints after forced collections.
  std::optional<GcCheckpointTotals> gc_checkpoints;
  const MetricResult* find(const std::string& name) const;
  const Check* find_check(const std::string& name) const;
};

struct ProcessVerdict {
  ProcessIdentity identity;
  Verdict verdict;
};

/// Classifies every metric and checks the run against `targets`.
Verdict analyze(const RunInput& input, const Targets& targets = {});

/// One member of a group: who it is and its data.
struct ProcessInput {
  ProcessIdentity identity;
  RunInput input;
};

/// Judges each member on its own, exactly as analyze() would; the group fails if any member
/// fails, else is inconclusive if any member is (or there are none), else passes. Members run
/// one after another (each analyze() may use a second thread). duration_s and samples are the
/// longest member's duration and the sum of the members' samples.
Verdict analyze_group(const std::vector<ProcessInput>& members, const Targets& targets = {});

}  // namespace soak::analysis
