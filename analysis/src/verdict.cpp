#include "soak/analysis/verdict.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <future>
#include <string_view>

#include "soak/analysis/stats.hpp"
#include "soak/log/metrics.hpp"
#include "thresholds.hpp"

namespace soak::analysis {

namespace metric = log::metric;

using namespace thresholds;

namespace {

constexpr std::string_view kRegionPrefix = metric::region_prefix;

Finding finding(FindingCode code, std::string metric = {}) {
  Finding f;
  f.code = code;
  f.metric = std::move(metric);
  return f;
}

const SeriesView* find_series(const RunInput& input, std::string_view name) {
  const SeriesView* found = nullptr;
  for (const auto& s : input.series) {
    if (s.name == name) found = &s;
  }
  return found;
}

/// The headline series get the exact Theil-Sen of every raw point.
bool headline(const std::string& name) {
  return name == metric::rss_bytes || name == metric::private_bytes ||
         name.starts_with(metric::heap_prefix);
}

Tier tier_of(double value, const Tiered& tier) {
  if (value < tier.target) return Tier::target;
  if (!tier.acceptable || value < *tier.acceptable)
    return tier.acceptable ? Tier::acceptable : Tier::poor;
  return Tier::poor;
}

/// A check with the tiers' limits copied in.
Check tiered_check(std::string name, std::string metric, Quantity quantity, const Tiered& limit) {
  Check c;
  c.name = std::move(name);
  c.metric = std::move(metric);
  c.quantity = quantity;
  c.target = limit.target;
  c.acceptable = limit.acceptable;
  c.target_text = limit.target_text;
  c.acceptable_text = limit.acceptable_text;
  return c;
}

/// A check against a single fraction.
Check fraction_check(std::string name, double limit) {
  Check c;
  c.name = std::move(name);
  c.metric = metric::rss_bytes;
  c.quantity = Quantity::fraction;
  c.target = limit;
  return c;
}

/// Max of a series within the first `horizon_s` seconds: its largest reading (a binned point's
/// exact maximum, never its mean).
double max_within(const SeriesView& s, double horizon_s) {
  const std::span<const double> t = s.t, v = s.maxima();
  double m = -INFINITY;
  for (std::size_t i = 0; i < t.size() && t[i] - t.front() <= horizon_s; ++i) m = std::max(m, v[i]);
  return m;
}

/// Time until the nearest limit above the current level, for a leaking *_bytes series.
void set_time_to_limit(const RunInput& input, const Targets& targets, MetricResult& m) {
  const SeriesAnalysis& a = *m.analysis;
  if (a.classification != Classification::leak || a.growth_per_s <= 0 ||
      !m.name.ends_with("_bytes")) {
    return;
  }
  std::vector<std::pair<double, MetricResult::Limit>> limits = {
      {targets.max_rss_24h_bytes.acceptable.value_or(targets.max_rss_24h_bytes.target),
       MetricResult::Limit::max_rss_acceptable}};
  if (input.mem_total_bytes)
    limits.emplace_back(*input.mem_total_bytes, MetricResult::Limit::host_memory);
  if (input.memory_limit_bytes) {
    limits.emplace_back(*input.memory_limit_bytes, MetricResult::Limit::cgroup_memory_max);
  }
  for (const auto& [limit, which] : limits) {
    if (limit <= a.fitted_end) continue;
    const double seconds = (limit - a.fitted_end) / a.growth_per_s;
    if (!m.time_to_limit_s || seconds < *m.time_to_limit_s) {
      m.time_to_limit_s = seconds;
      m.limit = which;
    }
  }
}

MetricResult classify_metric(const SeriesView& series, const RunInput& input,
                             const Targets& targets) {
  assert(series.t.size() == series.value.size());
  MetricResult m;
  m.name = series.name;
  m.kind = metric_kind(series.name);
  m.points = series.reading_count();
  m.first = series.first_reading();
  m.last = series.last_reading();
  const std::span<const double> lows = series.minima(), highs = series.maxima();
  m.min = *std::min_element(lows.begin(), lows.end());
  m.max = *std::max_element(highs.begin(), highs.end());
  if (m.kind == MetricKind::counter) return m;
  ClassifyOptions options;
  options.integer_valued = m.kind == MetricKind::integer_gauge;
  options.warmup_s = targets.warmup_s;
  // The headline metrics get the exact Theil-Sen of every raw point; the others the Theil-Sen
  // of their per-bin medians, which is within their interval and costs a fraction.
  options.exact_raw_slope = headline(m.name);
  options.bytes = m.name.ends_with("_bytes");
  if (options.bytes && input.load_sent_rps) {
    options.load_t = input.load_sent_rps->t;
    options.load_value = input.load_sent_rps->value;
  }
  m.analysis = classify_series(series.t, series.value, options);
  set_time_to_limit(input, targets, m);
  return m;
}

/// Readings after a forced collection (METRIC_after_gc) are judged in place of METRIC's growth
/// once they are this many: with six points Mann-Kendall can reach p < 0.01 on a steady rise
/// (S = 15 of 15 pairs), so fewer could never call a leak and would only hide the raw evidence.
constexpr std::size_t kMinAfterGcPoints = 6;

/// Memory after a full collection has the collector's noise taken out: METRIC's growth is
/// classified on METRIC_after_gc when that has kMinAfterGcPoints and could be classified (its
/// entry then folds into METRIC's, judged_on naming it). The levels (first, max, ...) and the
/// checks that read them keep METRIC's own series.
void prefer_after_gc(const RunInput& input, const Targets& targets,
                     std::vector<MetricResult>& metrics) {
  for (std::size_t i = 0; i < metrics.size();) {
    const MetricResult& gc = metrics[i];
    const std::string_view suffix = metric::after_gc_suffix;
    auto base = metrics.end();
    if (gc.name.ends_with(suffix)) {
      const std::string name = gc.name.substr(0, gc.name.size() - suffix.size());
      base = std::find_if(metrics.begin(), metrics.end(),
                          [&](const MetricResult& m) { return m.name == name; });
    }
    if (base == metrics.end() || !base->analysis || !gc.analysis || gc.points < kMinAfterGcPoints ||
        gc.analysis->classification == Classification::insufficient) {
      ++i;
      continue;
    }
    base->analysis = gc.analysis;
    base->judged_on = gc.name;
    base->time_to_limit_s.reset();
    base->limit = MetricResult::Limit::none;
    set_time_to_limit(input, targets, *base);
    metrics.erase(metrics.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

/// A managed heap says more than RSS: when the heap (a heap.* probe) does not grow and RSS
/// rose ever slower (its late rate under half the window's), RSS is the runtime filling its
/// heap, not a leak. RSS that keeps its rate beside a flat heap leaks outside it and stays a leak.
void heap_explains_rss(std::vector<MetricResult>& metrics) {
  const bool heap_flat = std::any_of(metrics.begin(), metrics.end(), [](const MetricResult& m) {
    // A heap's size, in bytes: not a rate (an allocation rate is flat in a leak too) or a count.
    const std::string_view base = metric::base_of(m.name);
    if (!m.name.starts_with(metric::heap_prefix) || !base.ends_with("_bytes") || !m.analysis) {
      return false;
    }
    const Classification c = m.analysis->classification;
    return c != Classification::leak && c != Classification::slow_growth &&
           c != Classification::insufficient;
  });
  if (!heap_flat) return;
  for (MetricResult& m : metrics) {
    if (m.name != metric::rss_bytes || !m.analysis) continue;
    SeriesAnalysis& a = *m.analysis;
    if (a.classification != Classification::leak ||
        a.late_growth_per_s >= kClassify.slowing_report_ratio * a.window_growth_per_s) {
      continue;
    }
    a.classification = Classification::plateau;
    a.reason.code = ReasonCode::heap_not_growing;
    m.time_to_limit_s.reset();
    m.limit = MetricResult::Limit::none;
  }
}

/// Every metric, sorted by name. The exact raw slopes of long headline series are the costly
/// part: those run on a second thread while this one does the rest.
std::vector<MetricResult> classify_metrics(const RunInput& input, const Targets& targets) {
  std::vector<const SeriesView*> heavy, light;
  for (const SeriesView& series : input.series) {
    if (series.value.empty()) continue;
    const bool parallel = headline(series.name) && series.value.size() > kParallelMinPoints;
    (parallel ? heavy : light).push_back(&series);
  }
  auto heavy_results = std::async(std::launch::async, [&] {
    std::vector<MetricResult> out;
    for (const SeriesView* s : heavy) out.push_back(classify_metric(*s, input, targets));
    return out;
  });
  std::vector<MetricResult> results;
  for (const SeriesView* s : light) results.push_back(classify_metric(*s, input, targets));
  for (auto& m : heavy_results.get()) results.push_back(std::move(m));
  std::sort(results.begin(), results.end(),
            [](const MetricResult& a, const MetricResult& b) { return a.name < b.name; });
  prefer_after_gc(input, targets, results);
  heap_explains_rss(results);
  return results;
}

/// Growth of a series against a rate target, in bytes per minute (rss_growth, or a judged
/// *_bytes series). A pass needs evidence: no trend with an interval that still reaches the
/// target is inconclusive.
Check growth_check(std::string name, const MetricResult& metric, const Tiered& limit) {
  const SeriesAnalysis& a = *metric.analysis;
  Check c = tiered_check(std::move(name), metric.name, Quantity::bytes_per_min, limit);
  c.figures.classification = a.classification;
  c.figures.reason = a.reason;
  if (a.classification == Classification::insufficient) {
    c.status = CheckStatus::inconclusive;
    c.code = CheckCode::insufficient_data;
    return c;
  }
  const double per_min = a.growth_per_s * 60, low = a.ci_low_per_s * 60,
               high = a.ci_high_per_s * 60;
  c.measured = per_min;
  c.measured_low = low;
  c.measured_high = high;
  c.figures.detectable_per_min = a.detectable_growth_per_s * 60;
  if (a.classification != Classification::leak) {
    // A plateau or a decrease has stopped growing whatever its interval says.
    const bool stopped = a.classification == Classification::plateau ||
                         a.classification == Classification::decreasing;
    if (!stopped && high >= limit.target) {
      c.status = CheckStatus::inconclusive;
      c.code = CheckCode::interval_reaches_target;
    } else if (!stopped && a.detectable_growth_per_s * 60 >= limit.target) {
      // No growth seen, but this run could not have seen growth at the target's rate.
      c.status = CheckStatus::inconclusive;
      c.code = CheckCode::cannot_detect_target;
    } else {
      c.status = CheckStatus::pass;
      c.code = stopped ? CheckCode::stopped_growing : CheckCode::no_trend;
      c.tier = Tier::target;
    }
    return c;
  }
  c.figures.warmup_end_s = a.warmup_end_s;
  c.figures.onset_s = a.onset_s;
  c.tier = tier_of(per_min, limit);
  if (low >= limit.target) {
    c.status = CheckStatus::fail;
    c.code = CheckCode::grows_over_target;
  } else if (high < limit.target) {
    c.status = CheckStatus::pass;
    c.code = CheckCode::grows_under_target;
  } else {
    c.status = CheckStatus::inconclusive;
    c.code = CheckCode::straddles_target;
  }
  return c;
}

/// A size against its tiers (initial_rss, max_rss_*).
Check size_check(std::string name, double bytes, const Tiered& limit) {
  Check c = tiered_check(std::move(name), std::string(metric::rss_bytes), Quantity::bytes, limit);
  c.measured = bytes;
  c.tier = tier_of(bytes, limit);
  const bool within = bytes < limit.target;
  c.status = within ? CheckStatus::pass : CheckStatus::fail;
  c.code = within ? CheckCode::within_target : CheckCode::over_target;
  return c;
}

Check max_rss_check(std::string name, const SeriesView& rss, double horizon_s, double duration_s,
                    const Tiered& limit) {
  Check c = size_check(std::move(name), max_within(rss, horizon_s), limit);
  c.figures.horizon_s = horizon_s;
  c.figures.run_shorter_than_horizon = duration_s < horizon_s;
  return c;
}

/// Growth over the run, from the level after warm-up to the level at the end. The trend line's
/// ends, not raw levels: a sawtooth's phase at either end is no growth. Empty when the series
/// is insufficient or starts at zero.
std::optional<Check> memory_growth_check(const SeriesAnalysis& a, double limit_fraction) {
  const bool plateau = a.classification == Classification::plateau;
  const double from = plateau ? a.level_start : a.trend_y0;
  const double to = plateau ? a.level_end : a.trend_y1;
  if (a.classification == Classification::insufficient || from <= 0) return std::nullopt;
  Check c = fraction_check("memory_growth", limit_fraction);
  const double fraction = (to - from) / from;
  c.measured = fraction;
  c.figures.from = from;
  c.figures.to = to;
  c.figures.after_warmup = a.warmup_end_s.has_value() || plateau;
  const bool within = fraction < limit_fraction;
  c.status = within ? CheckStatus::pass : CheckStatus::fail;
  c.code = within ? CheckCode::within_target : CheckCode::over_target;
  return c;
}

/// The RSS-level checks: growth, initial, max within 1 h and 24 h, growth over the run.
void add_rss_checks(const RunInput& input, const Targets& targets, const MetricResult& rss,
                    Verdict& verdict) {
  const SeriesAnalysis& a = *rss.analysis;
  verdict.checks.push_back(growth_check("rss_growth", rss, targets.rss_growth_bytes_per_min));
  verdict.checks.push_back(size_check("initial_rss", rss.first, targets.initial_rss_bytes));
  if (const SeriesView* view = find_series(input, metric::rss_bytes)) {
    verdict.checks.push_back(max_rss_check("max_rss_1h", *view, kMaxRss1hHorizonS, input.duration_s,
                                           targets.max_rss_1h_bytes));
    verdict.checks.push_back(max_rss_check("max_rss_24h", *view, kMaxRss24hHorizonS,
                                           input.duration_s, targets.max_rss_24h_bytes));
  }
  if (auto growth = memory_growth_check(a, targets.memory_growth_fraction)) {
    verdict.checks.push_back(*std::move(growth));
  }
  // Windows private bytes (a working set can be trimmed while the commit charge leaks): the
  // same growth target as the resident set.
  if (const MetricResult* p = verdict.find(std::string(metric::private_bytes)); p && p->analysis) {
    verdict.checks.push_back(
        growth_check("private_bytes_growth", *p, targets.rss_growth_bytes_per_min));
  }
}

/// A series where any sustained growth fails: counts, and judged series in no unit we know.
Check no_growth_check(std::string name, const MetricResult& m) {
  const SeriesAnalysis& a = *m.analysis;
  Check c;
  c.name = std::move(name);
  c.metric = m.name;
  c.quantity =
      m.kind == MetricKind::integer_gauge ? Quantity::count_per_min : Quantity::value_per_min;
  c.measured = a.growth_per_s * 60;
  c.figures.from = m.first;
  c.figures.to = m.last;
  c.figures.classification = a.classification;
  c.figures.reason = a.reason;
  if (a.classification == Classification::insufficient) {
    c.status = CheckStatus::inconclusive;
    c.code = CheckCode::insufficient_data;
  } else {
    const bool leak = a.classification == Classification::leak;
    c.status = leak ? CheckStatus::fail : CheckStatus::pass;
    c.code = leak ? CheckCode::sustained_growth : CheckCode::no_sustained_growth;
  }
  return c;
}

/// RSS after each job: the first sample taken at or after the job's end.
std::vector<double> rss_after_jobs(const SeriesView& rss, const std::vector<double>& job_ends) {
  std::vector<double> after;
  for (const double end : job_ends) {
    const auto it = std::lower_bound(rss.t.begin(), rss.t.end(), end);
    if (it != rss.t.end()) after.push_back(rss.value[static_cast<std::size_t>(it - rss.t.begin())]);
  }
  return after;
}

/// Seed 000's per-iteration check: RSS after each finished job, its growth over the jobs.
Check job_growth_check(const SeriesView& rss, const RunInput& input, const Targets& targets) {
  const std::vector<double> after = rss_after_jobs(rss, input.job_end_times);
  Check c = fraction_check("job_growth", targets.job_growth_fraction);
  c.figures.jobs = after.size();
  if (after.size() < kMinJobsForGrowth) {
    c.status = CheckStatus::inconclusive;
    c.code = CheckCode::too_few_jobs;
    return c;
  }
  // Robust ends: the median of the first and of the last tenth of the jobs.
  const auto k =
      static_cast<std::ptrdiff_t>(std::max<std::size_t>(1, after.size() / kJobEndsDivisor));
  const double first = median(std::vector<double>(after.begin(), after.begin() + k));
  const double last = median(std::vector<double>(after.end() - k, after.end()));
  const double fraction = (last - first) / first;
  c.measured = fraction;
  c.figures.from = first;
  c.figures.to = last;
  c.figures.growth_per_job = (last - first) / static_cast<double>(after.size() - 1);
  const bool within = fraction < targets.job_growth_fraction;
  c.status = within ? CheckStatus::pass : CheckStatus::fail;
  c.code = within ? CheckCode::within_target : CheckCode::over_target;
  return c;
}

/// RSS at the end against RSS before the first job, within a fraction either way.
Check return_to_baseline_check(const SeriesView& rss, double limit_fraction) {
  Check c = fraction_check("return_to_baseline", limit_fraction);
  const double baseline = rss.first_reading(), end = rss.last_reading();
  const double fraction = (end - baseline) / baseline;
  c.measured = fraction;
  c.figures.from = baseline;
  c.figures.to = end;
  const bool within = std::fabs(fraction) <= limit_fraction;
  c.status = within ? CheckStatus::pass : CheckStatus::fail;
  c.code = within ? CheckCode::within_target : CheckCode::over_target;
  return c;
}

void add_job_checks(const RunInput& input, const Targets& targets, Verdict& verdict) {
  if (input.job_end_times.empty()) return;
  const SeriesView* rss = find_series(input, metric::rss_bytes);
  if (rss == nullptr || rss->t.empty()) return;
  verdict.checks.push_back(job_growth_check(*rss, input, targets));
  if (targets.return_to_baseline_fraction) {
    verdict.checks.push_back(return_to_baseline_check(*rss, *targets.return_to_baseline_fraction));
  }
}

/// One level of the stress ramp: requests sent, errors, worst p95, from when it began.
struct RampStep {
  double level = 0, sent = 0, errors = 0, worst_p95_ms = 0, from = 0;
};

std::optional<double> value_at(const std::optional<SeriesView>& s, double t) {
  if (!s || s->t.empty()) return std::nullopt;
  const auto it = std::lower_bound(s->t.begin(), s->t.end(), t - kTimeMatchToleranceS);
  if (it == s->t.end() || std::fabs(*it - t) > kTimeMatchToleranceS) return std::nullopt;
  return s->value[static_cast<std::size_t>(it - s->t.begin())];
}

/// The levels in the order they came.
std::vector<RampStep> ramp_steps(const RunInput& input) {
  const SeriesView& level = *input.load_level;
  std::vector<RampStep> steps;
  for (std::size_t i = 0; i < level.t.size(); ++i) {
    const double t = level.t[i];
    if (steps.empty() || steps.back().level != level.value[i]) {
      // The first interval of a level still carries the previous level's requests: skip it.
      steps.push_back({level.value[i], 0, 0, 0, t});
      continue;
    }
    RampStep& s = steps.back();
    const double interval = i > 0 ? t - level.t[i - 1] : 0;
    s.sent += value_at(input.load_sent_rps, t).value_or(0) * interval;
    s.errors += value_at(input.load_errors, t).value_or(0);
    s.worst_p95_ms = std::max(s.worst_p95_ms, value_at(input.load_p95_ms, t).value_or(0));
  }
  return steps;
}

/// The stress ramp (seed 000 scenario 4): the first level where errors or latency exceed the
/// scenario's limits, and whether the target recovered once the level dropped again.
void add_ramp_check(const RunInput& input, Verdict& verdict) {
  if (!input.load_level || (!input.ramp_error_rate_limit && !input.ramp_p95_limit_s)) return;
  if (input.load_level->t.empty()) return;
  const std::vector<RampStep> steps = ramp_steps(input);
  auto broken = [&](const RampStep& s) {
    const double rate = s.sent > 0 ? s.errors / s.sent : 0;
    return (input.ramp_error_rate_limit && rate > *input.ramp_error_rate_limit) ||
           (input.ramp_p95_limit_s && s.worst_p95_ms / 1000 > *input.ramp_p95_limit_s);
  };
  Check c;
  c.name = "breaking_point";
  c.quantity = Quantity::level;
  c.figures.error_rate_limit = input.ramp_error_rate_limit;
  c.figures.p95_limit_s = input.ramp_p95_limit_s;
  const double peak =
      std::max_element(steps.begin(), steps.end(), [](const auto& a, const auto& b) {
        return a.level < b.level;
      })->level;
  const auto first_broken = std::find_if(steps.begin(), steps.end(), broken);
  if (first_broken == steps.end()) {
    c.status = CheckStatus::pass;
    c.code = CheckCode::held_every_level;
    c.measured = peak;
    verdict.checks.push_back(c);
    return;
  }
  c.measured = first_broken->level;
  c.figures.broke_at_s = first_broken->from;
  c.figures.error_fraction =
      first_broken->sent > 0 ? first_broken->errors / first_broken->sent : 0.0;
  c.figures.worst_p95_ms = first_broken->worst_p95_ms;
  // Recovered: a later, lower level that is within the limits again.
  const auto peak_it =
      std::find_if(steps.begin(), steps.end(), [&](const auto& s) { return s.level == peak; });
  bool dropped = false, recovered = false;
  for (auto it = peak_it; it != steps.end(); ++it) {
    if (it->level < peak && it->level > 0) {
      dropped = true;
      recovered = !broken(*it);
    }
  }
  c.status = !dropped    ? CheckStatus::inconclusive
             : recovered ? CheckStatus::pass
                         : CheckStatus::fail;
  c.code = !dropped    ? CheckCode::broke_recovery_unknown
           : recovered ? CheckCode::broke_and_recovered
                       : CheckCode::broke_not_recovered;
  verdict.checks.push_back(c);
}

/// Where it grows: the smaps regions, largest growth first. A region that first appears in a
/// later snapshot did not exist at the first: it grew from 0.
std::vector<RegionGrowth> regions_grown(const RunInput& input) {
  double first_snapshot = INFINITY;
  for (const auto& s : input.series) {
    if (s.name.starts_with(kRegionPrefix) && !s.t.empty())
      first_snapshot = std::min(first_snapshot, s.t.front());
  }
  std::vector<RegionGrowth> grown;
  for (const auto& s : input.series) {
    if (!s.name.starts_with(kRegionPrefix) || s.value.empty()) continue;
    const bool appeared_later = s.t.front() > first_snapshot + kRegionAppearedLaterS;
    RegionGrowth g{s.name.substr(kRegionPrefix.size()), appeared_later ? 0.0 : s.first_reading(),
                   s.last_reading()};
    if (g.growth_bytes() > 0 && (appeared_later || s.reading_count() >= 2)) grown.push_back(g);
  }
  std::sort(grown.begin(), grown.end(), [](const RegionGrowth& a, const RegionGrowth& b) {
    return a.growth_bytes() > b.growth_bytes();
  });
  if (grown.size() > kMaxRegionsGrown) grown.resize(kMaxRegionsGrown);
  return grown;
}

/// Counts: any sustained growth fails.
void add_count_checks(Verdict& verdict) {
  for (const std::string_view name :
       {metric::threads, metric::fds, metric::handles, metric::gdi_objects, metric::user_objects,
        metric::children}) {
    const MetricResult* m = verdict.find(std::string(name));
    if (m == nullptr || !m->analysis) continue;
    verdict.checks.push_back(no_growth_check(std::string(name) + "_growth", *m));
  }
}

/// The growth check of a judged series in its own unit. False when it cannot be judged.
bool add_judged_series_check(const std::string& name, const Targets& targets, Verdict& verdict) {
  const MetricResult* m = verdict.find(name);
  if (m == nullptr || !m->analysis) {
    verdict.notes.push_back(finding(FindingCode::judged_series_missing, name));
    return false;
  }
  const std::string check = name + "_growth";
  if (name.ends_with("_bytes")) {
    verdict.checks.push_back(growth_check(check, *m, targets.rss_growth_bytes_per_min));
  } else if (verdict.find_check(check) == nullptr) {  // threads/fds/children have theirs already
    verdict.checks.push_back(no_growth_check(check, *m));
  }
  return true;
}

/// Leaks slower than the targets: a warning each, and a failure when asked. Growth under the
/// effect-size floor: a note each, with its rate.
void add_slow_leaks(const Targets& targets, Verdict& verdict) {
  std::vector<std::string> slow_leaks;
  for (const auto& m : verdict.metrics) {
    if (!m.analysis || m.kind == MetricKind::integer_gauge) continue;  // counts failed already
    const SeriesAnalysis& a = *m.analysis;
    const bool leak = a.classification == Classification::leak;
    if (!leak && a.classification != Classification::slow_growth) continue;
    if (m.name.starts_with(metric::cgroup_prefix)) {
      // The cgroup's memory is every member's: other processes' growth is not the target's.
      verdict.notes.push_back({.code = FindingCode::cgroup_growth,
                               .metric = m.name,
                               .growth_per_min = a.growth_per_s * 60,
                               .low_per_min = a.ci_low_per_s * 60,
                               .high_per_min = a.ci_high_per_s * 60});
      continue;
    }
    if (leak) slow_leaks.push_back(m.name);
    (leak ? verdict.warnings : verdict.notes)
        .push_back({.code = leak ? FindingCode::slow_leak : FindingCode::slow_growth,
                    .metric = m.name,
                    .growth_per_min = a.growth_per_s * 60,
                    .low_per_min = a.ci_low_per_s * 60,
                    .high_per_min = a.ci_high_per_s * 60});
  }
  if (!targets.fail_on_any_leak) return;
  Check c;
  c.name = "no_leak";
  c.quantity = Quantity::count;
  c.measured = static_cast<double>(slow_leaks.size());
  c.target = 0;
  c.status = slow_leaks.empty() ? CheckStatus::pass : CheckStatus::fail;
  c.code = slow_leaks.empty() ? CheckCode::no_leak : CheckCode::leaks_found;
  c.figures.leaking_metrics = std::move(slow_leaks);
  verdict.checks.push_back(c);
}

/// Gaps in the judged series' sampling that left most of the run unseen: a warning that says
/// how much was seen.
void add_gap_warning(Verdict& verdict) {
  const MetricResult* m = verdict.find(verdict.judged_metric);
  if (m == nullptr || !m->analysis) return;
  const SeriesAnalysis& a = *m->analysis;
  if (a.judged_share >= kClassify.min_judged_share) return;
  verdict.warnings.push_back({.code = FindingCode::small_judged_share,
                              .metric = m->name,
                              .growth_per_min = a.judged_share,
                              .low_per_min = static_cast<double>(a.gaps),
                              .high_per_min = (1 - a.judged_share) * verdict.duration_s});
}

/// The one rule, for checks and for a group's members: a failure fails, else anything
/// inconclusive makes it inconclusive, else it passes.
VerdictKind combine(bool any_fail, bool any_inconclusive) {
  return any_fail           ? VerdictKind::fail
         : any_inconclusive ? VerdictKind::inconclusive
                            : VerdictKind::pass;
}

/// Fail if any check fails, else inconclusive if any is (or nothing was judged), else pass.
/// target_alive: a watched target that died, or left before the planned end, cannot pass.
/// measured is how long it ran (s), target the planned duration.
void add_target_check(const RunInput& input, Verdict& verdict) {
  if (!input.target_end) return;
  const TargetEnd& end = *input.target_end;
  Check c;
  c.name = "target_alive";
  c.quantity = Quantity::seconds;
  c.measured = end.ended ? end.at_s : input.duration_s;
  c.target = input.planned_duration_s;
  c.figures.planned_s = input.planned_duration_s;
  c.figures.exit_code = end.exit_code;
  c.figures.signal = end.signal;
  c.figures.oom_killed = end.oom_killed;
  const bool status_seen = end.exit_code || end.signal;
  const bool failed = end.signal || (end.exit_code && *end.exit_code != 0) || end.oom_killed;
  // An exit is seen at the next tick: one that came within two intervals of the planned end
  // ran to it.
  const bool early = input.planned_duration_s &&
                     end.at_s + std::max(1.0, 2 * input.interval_s) < *input.planned_duration_s;
  if (!end.ended) {
    c.code = CheckCode::alive_to_end;
  } else if (failed) {
    c.status = CheckStatus::fail;
    c.code = CheckCode::died;
  } else if (early) {
    c.status = CheckStatus::inconclusive;
    c.code = status_seen ? CheckCode::ended_early : CheckCode::vanished;
  } else {
    c.code = CheckCode::ended_normally;
  }
  verdict.checks.push_back(std::move(c));
}

/// load_alive: a run whose external load died cannot pass (its memory was not seen under the
/// load it was meant to carry); a leak found still fails. measured is the time under load (s).
void add_load_check(const RunInput& input, Verdict& verdict) {
  if (!input.load_end) return;
  const LoadEnd& end = *input.load_end;
  Check c;
  c.name = "load_alive";
  c.quantity = Quantity::seconds;
  c.measured = end.ended ? std::min(end.at_s, input.duration_s) : input.duration_s;
  c.target = input.planned_duration_s ? *input.planned_duration_s : input.duration_s;
  c.figures.planned_s = c.target;
  if (end.failed) {
    c.status = CheckStatus::inconclusive;
    c.code = CheckCode::load_died;
  } else {
    c.code = end.ended ? CheckCode::load_finished : CheckCode::load_ran_to_end;
  }
  verdict.checks.push_back(std::move(c));
}

void decide(bool judged, Verdict& verdict) {
  bool any_fail = false, any_inconclusive = !judged;
  for (const auto& c : verdict.checks) {
    any_fail |= c.status == CheckStatus::fail;
    any_inconclusive |= c.status == CheckStatus::inconclusive;
  }
  verdict.verdict = combine(any_fail, any_inconclusive);
  if (verdict.verdict == VerdictKind::inconclusive) {
    verdict.notes.push_back(finding(FindingCode::not_enough_evidence));
  }
}

}  // namespace

const char* to_string(VerdictKind kind) {
  switch (kind) {
    case VerdictKind::pass:
      return "pass";
    case VerdictKind::fail:
      return "fail";
    case VerdictKind::inconclusive:
      return "inconclusive";
  }
  return "inconclusive";
}

const char* to_string(CheckStatus s) {
  switch (s) {
    case CheckStatus::pass:
      return "pass";
    case CheckStatus::fail:
      return "fail";
    case CheckStatus::inconclusive:
      return "inconclusive";
  }
  return "inconclusive";
}

const char* to_string(Tier tier) {
  switch (tier) {
    case Tier::none:
      return "";
    case Tier::target:
      return "target";
    case Tier::acceptable:
      return "acceptable";
    case Tier::poor:
      return "poor";
  }
  return "";
}

const char* to_string(MetricResult::Limit limit) {
  switch (limit) {
    case MetricResult::Limit::none:
      return "";
    case MetricResult::Limit::max_rss_acceptable:
      return "max RSS (acceptable)";
    case MetricResult::Limit::host_memory:
      return "host memory";
    case MetricResult::Limit::cgroup_memory_max:
      return "cgroup memory.max";
  }
  return "";
}

const char* to_string(CheckCode code) {
  switch (code) {
    case CheckCode::insufficient_data:
      return "insufficient_data";
    case CheckCode::no_trend:
      return "no_trend";
    case CheckCode::stopped_growing:
      return "stopped_growing";
    case CheckCode::interval_reaches_target:
      return "interval_reaches_target";
    case CheckCode::grows_over_target:
      return "grows_over_target";
    case CheckCode::grows_under_target:
      return "grows_under_target";
    case CheckCode::straddles_target:
      return "straddles_target";
    case CheckCode::cannot_detect_target:
      return "cannot_detect_target";
    case CheckCode::within_target:
      return "within_target";
    case CheckCode::over_target:
      return "over_target";
    case CheckCode::too_few_jobs:
      return "too_few_jobs";
    case CheckCode::no_sustained_growth:
      return "no_sustained_growth";
    case CheckCode::sustained_growth:
      return "sustained_growth";
    case CheckCode::held_every_level:
      return "held_every_level";
    case CheckCode::broke_and_recovered:
      return "broke_and_recovered";
    case CheckCode::broke_not_recovered:
      return "broke_not_recovered";
    case CheckCode::broke_recovery_unknown:
      return "broke_recovery_unknown";
    case CheckCode::no_leak:
      return "no_leak";
    case CheckCode::leaks_found:
      return "leaks_found";
    case CheckCode::alive_to_end:
      return "alive_to_end";
    case CheckCode::ended_normally:
      return "ended_normally";
    case CheckCode::died:
      return "died";
    case CheckCode::ended_early:
      return "ended_early";
    case CheckCode::load_ran_to_end:
      return "load_ran_to_end";
    case CheckCode::load_finished:
      return "load_finished";
    case CheckCode::load_died:
      return "load_died";
    case CheckCode::vanished:
      return "vanished";
  }
  return "";
}

const char* to_string(FindingCode code) {
  switch (code) {
    case FindingCode::slow_leak:
      return "slow_leak";
    case FindingCode::slow_growth:
      return "slow_growth";
    case FindingCode::no_rss_series:
      return "no_rss_series";
    case FindingCode::judged_series_missing:
      return "judged_series_missing";
    case FindingCode::not_enough_evidence:
      return "not_enough_evidence";
    case FindingCode::no_processes:
      return "no_processes";
    case FindingCode::small_judged_share:
      return "small_judged_share";
    case FindingCode::cgroup_growth:
      return "cgroup_growth";
  }
  return "";
}

MetricKind metric_kind(const std::string& name) {
  // Load figures describe the traffic, not the target: plotted, not judged.
  if (name == metric::cpu_s || name.ends_with("_faults") || name.ends_with("_total") ||
      name.starts_with(metric::load_prefix) || name.starts_with(metric::region_prefix)) {
    return MetricKind::counter;
  }
  if (name == metric::threads || name == metric::fds || name == metric::children ||
      name == metric::handles || name == metric::gdi_objects || name == metric::user_objects) {
    return MetricKind::integer_gauge;
  }
  return MetricKind::gauge;
}

const MetricResult* Verdict::find(const std::string& name) const {
  for (const auto& m : metrics) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

const Check* Verdict::find_check(const std::string& name) const {
  for (const auto& c : checks) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

Verdict analyze(const RunInput& input, const Targets& targets) {
  Verdict verdict;
  verdict.duration_s = input.duration_s;
  verdict.samples = input.samples;
  verdict.metrics = classify_metrics(input, targets);
  bool judged = false;
  const MetricResult* rss = verdict.find(std::string(metric::rss_bytes));
  if (rss != nullptr && rss->analysis) {
    verdict.judged_metric = metric::rss_bytes;
    add_rss_checks(input, targets, *rss, verdict);
    judged = true;
  } else if (rss == nullptr && input.judged_series) {
    verdict.judged_metric = *input.judged_series;
  } else {
    verdict.notes.push_back(finding(FindingCode::no_rss_series));
  }
  verdict.regions_grown = regions_grown(input);
  add_job_checks(input, targets, verdict);
  add_ramp_check(input, verdict);
  add_count_checks(verdict);
  if (rss == nullptr && input.judged_series) {
    judged = add_judged_series_check(*input.judged_series, targets, verdict);
  }
  add_slow_leaks(targets, verdict);
  add_gap_warning(verdict);
  add_target_check(input, verdict);
  add_load_check(input, verdict);
  // An rss_bytes series that could not be classified (it was empty) judges nothing, but
  // today's inputs always carry points; only a missing RSS forces inconclusive.
  decide(judged || rss != nullptr, verdict);
  return verdict;
}

Verdict analyze_group(const std::vector<ProcessInput>& members, const Targets& targets) {
  Verdict group;
  bool any_fail = false, any_inconclusive = members.empty();
  for (const ProcessInput& member : members) {
    ProcessVerdict p{member.identity, analyze(member.input, targets)};
    any_fail |= p.verdict.verdict == VerdictKind::fail;
    any_inconclusive |= p.verdict.verdict == VerdictKind::inconclusive;
    group.duration_s = std::max(group.duration_s, p.verdict.duration_s);
    group.samples += p.verdict.samples;
    group.processes.push_back(std::move(p));
  }
  group.verdict = combine(any_fail, any_inconclusive);
  if (members.empty()) group.notes.push_back(finding(FindingCode::no_processes));
  return group;
}

}  // namespace soak::analysis
