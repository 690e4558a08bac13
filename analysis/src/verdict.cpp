#include "soak/analysis/verdict.hpp"

#include "soak/analysis/stats.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <future>

namespace soak::analysis {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string mib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / 1048576.0);
  return buf;
}

std::string mib_rate_with_ci(const SeriesAnalysis& a) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.2f MiB/min [%.2f, %.2f]", a.growth_per_s * 60 / 1048576.0,
                a.ci_low_per_s * 60 / 1048576.0, a.ci_high_per_s * 60 / 1048576.0);
  return buf;
}

std::string tiered_limit(const Tiered& tier, std::string (*describe)(double)) {
  std::string text = tier.target_text.empty() ? describe(tier.target) : tier.target_text;
  if (tier.acceptable) {
    text += " (acceptable " +
            (tier.acceptable_text.empty() ? describe(*tier.acceptable) : tier.acceptable_text) + ")";
  }
  return text;
}

void set_limits(Check& c, const Tiered& tier, std::string (*describe)(double)) {
  c.limit = tiered_limit(tier, describe);
  c.target = tier.target_text.empty() ? describe(tier.target) : tier.target_text;
  if (tier.acceptable) {
    c.acceptable = tier.acceptable_text.empty() ? describe(*tier.acceptable) : tier.acceptable_text;
  }
  c.target_value = tier.target;
}

std::string tier_of(double value, const Tiered& tier) {
  if (value < tier.target) return "target";
  if (!tier.acceptable || value < *tier.acceptable) return tier.acceptable ? "acceptable" : "poor";
  return "poor";
}

/// Max of a series within the first `horizon_s` seconds.
double max_within(std::span<const double> t, std::span<const double> v, double horizon_s) {
  double m = -INFINITY;
  for (std::size_t i = 0; i < t.size() && t[i] - t.front() <= horizon_s; ++i) m = std::max(m, v[i]);
  return m;
}

Check size_check(const std::string& name, double value, const Tiered& limit,
                 const std::string& what) {
  Check c;
  c.name = name;
  c.measured = mib(value);
  set_limits(c, limit, describe_bytes);
  c.tier = tier_of(value, limit);
  c.status = value < limit.target ? CheckStatus::pass : CheckStatus::fail;
  c.detail = what + " " + mib(value) + (c.status == CheckStatus::pass ? " is within " : " exceeds ") +
             describe_bytes(limit.target);
  return c;
}


/// Seed 000's per-iteration checks: RSS after each finished job, its growth over the jobs,
/// and (when asked) its return to the baseline from before the first job.
void add_job_checks(const RunInput& input, const Targets& targets, Verdict& verdict) {
  if (input.job_end_times.empty()) return;
  const SeriesView* rss = nullptr;
  for (const auto& s : input.series) {
    if (s.name == "rss_bytes") rss = &s;
  }
  if (rss == nullptr || rss->t.empty()) return;
  // RSS after each job: the first sample taken at or after the job's end.
  std::vector<double> after;
  for (const double end : input.job_end_times) {
    const auto it = std::lower_bound(rss->t.begin(), rss->t.end(), end);
    if (it != rss->t.end()) after.push_back(rss->value[static_cast<std::size_t>(it - rss->t.begin())]);
  }
  Check growth;
  growth.name = "job_growth";
  char buf[160];
  std::snprintf(buf, sizeof buf, "%g%%", targets.job_growth_fraction * 100);
  growth.limit = growth.target = buf;
  if (after.size() < 3) {
    growth.status = CheckStatus::inconclusive;
    growth.measured = std::to_string(after.size()) + " job(s)";
    growth.detail = "fewer than 3 finished jobs: cannot judge growth per job";
  } else {
    // Robust ends: the median of the first and of the last tenth of the jobs.
    const std::size_t k = std::max<std::size_t>(1, after.size() / 10);
    const double first = median(std::vector<double>(after.begin(), after.begin() + static_cast<std::ptrdiff_t>(k)));
    const double last = median(std::vector<double>(after.end() - static_cast<std::ptrdiff_t>(k), after.end()));
    const double fraction = (last - first) / first;
    std::snprintf(buf, sizeof buf, "%.1f%% over %zu jobs (%.1f -> %.1f MiB)", fraction * 100,
                  after.size(), first / 1048576, last / 1048576);
    growth.measured = buf;
    growth.status = fraction < targets.job_growth_fraction ? CheckStatus::pass : CheckStatus::fail;
    std::snprintf(buf, sizeof buf, "RSS after each job grew %.1f%% over %zu jobs (%.1f KiB per job)",
                  fraction * 100, after.size(), (last - first) / static_cast<double>(after.size() - 1) / 1024);
    growth.detail = buf;
  }
  verdict.checks.push_back(growth);

  if (targets.return_to_baseline_fraction) {
    Check back;
    back.name = "return_to_baseline";
    const double baseline = rss->value.front();
    const double end = rss->value.back();
    const double fraction = (end - baseline) / baseline;
    std::snprintf(buf, sizeof buf, "within %g%%", *targets.return_to_baseline_fraction * 100);
    back.limit = back.target = buf;
    std::snprintf(buf, sizeof buf, "%+.1f%% (%.1f -> %.1f MiB)", fraction * 100, baseline / 1048576, end / 1048576);
    back.measured = buf;
    back.status = std::fabs(fraction) <= *targets.return_to_baseline_fraction ? CheckStatus::pass : CheckStatus::fail;
    back.detail = "RSS at the end against RSS before the first job";
    verdict.checks.push_back(back);
  }
}

/// The stress ramp (seed 000 scenario 4): the first level where errors or latency exceed the
/// scenario's limits, and whether the target recovered once the level dropped again.
void add_ramp_check(const RunInput& input, Verdict& verdict) {
  if (!input.load_level || (!input.ramp_error_rate_limit && !input.ramp_p95_limit_s)) return;
  const SeriesView& level = *input.load_level;
  if (level.t.empty()) return;
  auto value_at = [](const std::optional<SeriesView>& s, double t) -> std::optional<double> {
    if (!s || s->t.empty()) return std::nullopt;
    const auto it = std::lower_bound(s->t.begin(), s->t.end(), t - 1e-9);
    if (it == s->t.end() || std::fabs(*it - t) > 1e-6) return std::nullopt;
    return s->value[static_cast<std::size_t>(it - s->t.begin())];
  };
  // Per level: requests sent, errors, worst p95, in the order the levels came.
  struct Step {
    double level = 0, sent = 0, errors = 0, worst_p95_ms = 0, from = 0;
  };
  std::vector<Step> steps;
  for (std::size_t i = 0; i < level.t.size(); ++i) {
    const double t = level.t[i];
    if (steps.empty() || steps.back().level != level.value[i]) {
      // The first interval of a level still carries the previous level's requests: skip it.
      steps.push_back({level.value[i], 0, 0, 0, t});
      continue;
    }
    Step& s = steps.back();
    const double interval = i > 0 ? t - level.t[i - 1] : 0;
    s.sent += value_at(input.load_sent_rps, t).value_or(0) * interval;
    s.errors += value_at(input.load_errors, t).value_or(0);
    s.worst_p95_ms = std::max(s.worst_p95_ms, value_at(input.load_p95_ms, t).value_or(0));
  }
  auto broken = [&](const Step& s) {
    const double rate = s.sent > 0 ? s.errors / s.sent : 0;
    return (input.ramp_error_rate_limit && rate > *input.ramp_error_rate_limit) ||
           (input.ramp_p95_limit_s && s.worst_p95_ms / 1000 > *input.ramp_p95_limit_s);
  };
  Check c;
  c.name = "breaking_point";
  char buf[200];
  std::string limit;
  if (input.ramp_error_rate_limit) {
    std::snprintf(buf, sizeof buf, "errors <= %g%%", *input.ramp_error_rate_limit * 100);
    limit = buf;
  }
  if (input.ramp_p95_limit_s) {
    std::snprintf(buf, sizeof buf, "%sp95 <= %g ms", limit.empty() ? "" : ", ", *input.ramp_p95_limit_s * 1000);
    limit += buf;
  }
  c.limit = c.target = limit;
  const auto first_broken = std::find_if(steps.begin(), steps.end(), broken);
  if (first_broken == steps.end()) {
    c.status = CheckStatus::pass;
    std::snprintf(buf, sizeof buf, "held up to level %g", std::max_element(steps.begin(), steps.end(),
        [](const Step& a, const Step& b) { return a.level < b.level; })->level);
    c.measured = buf;
    c.detail = "no level exceeded the limits";
  } else {
    const Step& b = *first_broken;
    std::snprintf(buf, sizeof buf, "broke at level %g (t=%.0f s: %.1f%% errors, p95 %.0f ms)", b.level, b.from,
                  b.sent > 0 ? 100 * b.errors / b.sent : 0.0, b.worst_p95_ms);
    c.measured = buf;
    // Recovered: a later, lower level that is within the limits again.
    const double peak = std::max_element(steps.begin(), steps.end(),
        [](const Step& x, const Step& y) { return x.level < y.level; })->level;
    const auto peak_it = std::find_if(steps.begin(), steps.end(), [&](const Step& s) { return s.level == peak; });
    bool dropped = false, recovered = false;
    for (auto it = peak_it; it != steps.end(); ++it) {
      if (it->level < peak && it->level > 0) {
        dropped = true;
        recovered = !broken(*it);
      }
    }
    c.status = !dropped ? CheckStatus::inconclusive : recovered ? CheckStatus::pass : CheckStatus::fail;
    c.detail = std::string(buf) + (!dropped ? "; the load never dropped, so recovery is unknown"
                                   : recovered ? "; recovered after the load dropped"
                                               : "; did not recover after the load dropped");
  }
  verdict.checks.push_back(c);
}

}  // namespace

const char* to_string(VerdictKind kind) {
  switch (kind) {
    case VerdictKind::pass: return "pass";
    case VerdictKind::fail: return "fail";
    case VerdictKind::inconclusive: return "inconclusive";
  }
  return "inconclusive";
}

const char* to_string(CheckStatus s) {
  switch (s) {
    case CheckStatus::pass: return "pass";
    case CheckStatus::fail: return "fail";
    case CheckStatus::inconclusive: return "inconclusive";
  }
  return "inconclusive";
}

MetricKind metric_kind(const std::string& name) {
  // Load figures describe the traffic, not the target: plotted, not judged.
  if (name == "cpu_s" || ends_with(name, "_faults") || ends_with(name, "_total") ||
      name.rfind("load.", 0) == 0 || name.rfind("region.", 0) == 0) {
    return MetricKind::counter;
  }
  if (name == "threads" || name == "fds" || name == "children" || name == "handles") {
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

Verdict analyze(const RunInput& input, const Targets& targets) {
  Verdict verdict;
  verdict.duration_s = input.duration_s;
  verdict.samples = input.samples;

  // Classify every metric. The exact raw slopes are the costly part: those metrics run on a
  // second thread while this one does the rest (the machines here have two cores).
  auto classify_metric = [&targets, &input](const SeriesView& series) {
    assert(series.t.size() == series.value.size());
    MetricResult m;
    m.name = series.name;
    m.kind = metric_kind(series.name);
    m.points = series.value.size();
    m.first = series.value.front();
    m.last = series.value.back();
    const auto [lo, hi] = std::minmax_element(series.value.begin(), series.value.end());
    m.min = *lo;
    m.max = *hi;
    if (m.kind == MetricKind::counter) return m;
    ClassifyOptions options;
    options.integer_valued = m.kind == MetricKind::integer_gauge;
    options.warmup_s = targets.warmup_s;
    // The headline metrics (RSS, the target's own heap figures) get the exact Theil-Sen of
    // every raw point; the others the Theil-Sen of their per-bin medians, which is within
    // their interval and costs a fraction.
    options.exact_raw_slope = m.name == "rss_bytes" || m.name.rfind("heap.", 0) == 0;
    m.analysis = classify_series(series.t, series.value, options);
    const SeriesAnalysis& a = *m.analysis;
    if (a.classification == Classification::leak && a.growth_per_s > 0 &&
        ends_with(m.name, "_bytes")) {
      // Time until the nearest limit above the current level.
      std::vector<std::pair<double, std::string>> limits = {
          {targets.max_rss_24h_bytes.acceptable.value_or(targets.max_rss_24h_bytes.target),
           "max RSS (acceptable)"}};
      if (input.mem_total_bytes) limits.emplace_back(*input.mem_total_bytes, "host memory");
      if (input.memory_limit_bytes) limits.emplace_back(*input.memory_limit_bytes, "cgroup memory.max");
      for (const auto& [limit, label] : limits) {
        if (limit <= a.fitted_end) continue;
        const double seconds = (limit - a.fitted_end) / a.growth_per_s;
        if (!m.time_to_limit_s || seconds < *m.time_to_limit_s) {
          m.time_to_limit_s = seconds;
          m.limit_name = label;
        }
      }
    }
    return m;
  };
  std::vector<const SeriesView*> heavy, light;
  for (const SeriesView& series : input.series) {
    if (series.value.empty()) continue;
    const bool exact = series.name == "rss_bytes" || series.name.rfind("heap.", 0) == 0;
    (exact && series.value.size() > 20000 ? heavy : light).push_back(&series);
  }
  auto heavy_results = std::async(std::launch::async, [&] {
    std::vector<MetricResult> out;
    for (const SeriesView* s : heavy) out.push_back(classify_metric(*s));
    return out;
  });
  std::vector<MetricResult> results;
  for (const SeriesView* s : light) results.push_back(classify_metric(*s));
  for (auto& m : heavy_results.get()) results.push_back(std::move(m));
  std::sort(results.begin(), results.end(),
            [](const MetricResult& a, const MetricResult& b) { return a.name < b.name; });
  verdict.metrics = std::move(results);

  const MetricResult* rss = verdict.find("rss_bytes");
  if (rss == nullptr || !rss->analysis) {
    verdict.notes.push_back("no RSS series: nothing to judge memory by");
  } else {
    const SeriesAnalysis& a = *rss->analysis;
    const SeriesView* view = nullptr;
    for (const auto& s : input.series) {
      if (s.name == "rss_bytes") view = &s;
    }
    // rss_growth
    Check growth;
    growth.name = "rss_growth";
    set_limits(growth, targets.rss_growth_bytes_per_min, describe_rate);
    const double per_min = a.growth_per_s * 60, lo_min = a.ci_low_per_s * 60,
                 hi_min = a.ci_high_per_s * 60;
    const double limit = targets.rss_growth_bytes_per_min.target;
    if (a.classification == Classification::insufficient) {
      growth.status = CheckStatus::inconclusive;
      growth.measured = "insufficient data";
      growth.detail = "too little data to judge growth (" + a.reason + ")";
    } else if (a.classification != Classification::leak) {
      growth.measured = mib_rate_with_ci(a);
      growth.detail = std::string("RSS is ") + to_string(a.classification) + ": " + a.reason;
      // No trend was found, but a pass also needs the data to rule out growth at the target
      // rate. A plateau or a decrease has stopped growing whatever its interval says.
      const bool stopped = a.classification == Classification::plateau ||
                           a.classification == Classification::decreasing;
      if (!stopped && hi_min >= limit) {
        growth.status = CheckStatus::inconclusive;
        growth.detail += "; the interval still reaches the target " + describe_rate(limit) +
                         " (run longer to decide)";
      } else {
        growth.status = CheckStatus::pass;
        growth.tier = "target";
      }
    } else {
      growth.measured = mib_rate_with_ci(a);
      growth.tier = tier_of(per_min, targets.rss_growth_bytes_per_min);
      if (lo_min >= limit) {
        growth.status = CheckStatus::fail;
      } else if (hi_min < limit) {
        growth.status = CheckStatus::pass;
      } else {
        growth.status = CheckStatus::inconclusive;
      }
      growth.detail = "RSS grows " + mib_rate_with_ci(a);
      if (a.warmup_end_s) {
        growth.detail += " after a " + std::to_string(static_cast<long>(std::lround(*a.warmup_end_s))) + " s warm-up";
      }
      if (a.onset_s) {
        growth.detail += " since " + std::to_string(static_cast<long>(std::lround(*a.onset_s))) + " s";
      }
      growth.detail += "; target " + (targets.rss_growth_bytes_per_min.target_text.empty()
                                          ? describe_rate(limit)
                                          : targets.rss_growth_bytes_per_min.target_text);
      if (growth.status == CheckStatus::inconclusive) {
        growth.detail += " (the interval straddles the target: run longer to decide)";
      }
    }
    verdict.checks.push_back(growth);

    // Sizes: initial RSS, max within the first hour and the first day.
    verdict.checks.push_back(size_check("initial_rss", rss->first, targets.initial_rss_bytes, "initial RSS"));
    if (view != nullptr) {
      Check h1 = size_check("max_rss_1h", max_within(view->t, view->value, 3600),
                            targets.max_rss_1h_bytes, "max RSS within 1 h");
      if (input.duration_s < 3600) h1.detail += " (the run is shorter than 1 h)";
      verdict.checks.push_back(h1);
      Check h24 = size_check("max_rss_24h", max_within(view->t, view->value, 86400),
                             targets.max_rss_24h_bytes, "max RSS within 24 h");
      if (input.duration_s < 86400) h24.detail += " (the run is shorter than 24 h)";
      verdict.checks.push_back(h24);
    }

    // Growth over the run, from the level after warm-up to the level at the end.
    // The trend line's ends, not raw levels: a sawtooth's phase at either end is no growth.
    const double from = a.classification == Classification::plateau ? a.level_start : a.trend_y0;
    const double to = a.classification == Classification::plateau ? a.level_end : a.trend_y1;
    if (a.classification != Classification::insufficient && from > 0) {
      Check g;
      g.name = "memory_growth";
      const double fraction = (to - from) / from;
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.1f%%", fraction * 100);
      g.measured = buf;
      std::snprintf(buf, sizeof buf, "%g%%", targets.memory_growth_fraction * 100);
      g.limit = buf;
      g.target = buf;
      g.status = fraction < targets.memory_growth_fraction ? CheckStatus::pass : CheckStatus::fail;
      g.detail = "RSS went from " + mib(from) + " to " + mib(to) +
                 (a.warmup_end_s ? " after warm-up" : "");
      verdict.checks.push_back(g);
    }
  }

  // Where it grows: the smaps regions, largest growth first.
  // A region that first appears in a later snapshot did not exist at the first: it grew from 0.
  double first_snapshot = INFINITY;
  for (const auto& s : input.series) {
    if (s.name.rfind("region.", 0) == 0 && !s.t.empty()) first_snapshot = std::min(first_snapshot, s.t.front());
  }
  for (const auto& s : input.series) {
    if (s.name.rfind("region.", 0) != 0 || s.value.empty()) continue;
    const bool appeared_later = s.t.front() > first_snapshot + 1e-6;
    RegionGrowth g{s.name.substr(7), appeared_later ? 0.0 : s.value.front(), s.value.back()};
    if (g.growth_bytes() > 0 && (appeared_later || s.value.size() >= 2)) verdict.regions_grown.push_back(g);
  }
  std::sort(verdict.regions_grown.begin(), verdict.regions_grown.end(),
            [](const RegionGrowth& a, const RegionGrowth& b) { return a.growth_bytes() > b.growth_bytes(); });
  if (verdict.regions_grown.size() > 10) verdict.regions_grown.resize(10);

  add_job_checks(input, targets, verdict);
  add_ramp_check(input, verdict);

  // Counts: any sustained growth fails.
  for (const char* name : {"threads", "fds", "children"}) {
    const MetricResult* m = verdict.find(name);
    if (m == nullptr || !m->analysis) continue;
    Check c;
    c.name = std::string(name) + "_growth";
    c.limit = "no sustained growth";
    c.target = c.limit;
    const SeriesAnalysis& a = *m->analysis;
    char buf[96];
    std::snprintf(buf, sizeof buf, "%g -> %g (%+.3g/min)", m->first, m->last, a.growth_per_s * 60);
    c.measured = buf;
    if (a.classification == Classification::insufficient) {
      c.status = CheckStatus::inconclusive;
      c.detail = "too little data";
    } else {
      c.status = a.classification == Classification::leak ? CheckStatus::fail : CheckStatus::pass;
      c.detail = std::string(name) + " " + to_string(a.classification) + ": " + a.reason;
    }
    verdict.checks.push_back(c);
  }

  // Leaks slower than the targets: a warning, or a failure when asked.
  std::vector<std::string> slow_leaks;
  for (const auto& m : verdict.metrics) {
    if (!m.analysis || m.analysis->classification != Classification::leak) continue;
    if (m.kind == MetricKind::integer_gauge) continue;  // already failed above
    slow_leaks.push_back(m.name);
    char buf[200];
    std::snprintf(buf, sizeof buf, "%s is classified as a leak: %s", m.name.c_str(),
                  ends_with(m.name, "_bytes") ? mib_rate_with_ci(*m.analysis).c_str()
                                              : std::to_string(m.growth_per_min()).c_str());
    verdict.warnings.push_back(buf);
  }
  if (targets.fail_on_any_leak) {
    Check c;
    c.name = "no_leak";
    c.limit = "no metric classified as a leak (fail_on_any_leak)";
    c.target = "no leak";
    c.status = slow_leaks.empty() ? CheckStatus::pass : CheckStatus::fail;
    for (const auto& n : slow_leaks) c.measured += (c.measured.empty() ? "" : ", ") + n;
    if (c.measured.empty()) c.measured = "none";
    verdict.checks.push_back(c);
  }

  bool any_fail = false, any_inconclusive = rss == nullptr;
  for (const auto& c : verdict.checks) {
    any_fail |= c.status == CheckStatus::fail;
    any_inconclusive |= c.status == CheckStatus::inconclusive;
  }
  verdict.verdict = any_fail ? VerdictKind::fail
                    : any_inconclusive ? VerdictKind::inconclusive
                                       : VerdictKind::pass;
  if (verdict.verdict == VerdictKind::inconclusive && !any_fail) {
    verdict.notes.push_back("not enough evidence to pass: a longer run or more samples would decide");
  }
  return verdict;
}

}  // namespace soak::analysis
