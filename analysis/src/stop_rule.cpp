#include "soak/analysis/stop_rule.hpp"

#include <algorithm>
#include <string_view>
#include <utility>

namespace soak::analysis {

namespace {

bool is_hard_limit(std::string_view check) {
  return check == "max_rss_1h" || check == "max_rss_24h";
}

/// A growth check over a byte rate: rss_growth, private_bytes_growth, a judged *_bytes series.
bool is_byte_growth(const Check& c) {
  return c.name.ends_with("_growth") && c.quantity == Quantity::bytes_per_min;
}

/// The growth was measured over a window long enough to be told from a warm-up, and it is
/// not slowing down.
bool sustained_over_target(const Verdict& v, const Check& c, const StopRuleOptions& options) {
  const MetricResult* m = v.find(c.metric);
  if (m == nullptr || !m->analysis || !c.target) return false;
  const SeriesAnalysis& a = *m->analysis;
  const double min_span_s =
      std::max(kStopMinJudgedSpanS, kStopMinPlannedShare * options.planned_duration_s.value_or(0));
  const double late_per_min = a.late_growth_per_s * 60;
  return a.judged_to_s - a.judged_from_s >= min_span_s && late_per_min >= *c.target &&
         a.late_growth_per_s >= kStopMinLateShare * a.window_growth_per_s;
}

}  // namespace

const char* to_string(StopDecision::Why why) {
  switch (why) {
    case StopDecision::Why::limit_crossed:
      return "limit_crossed";
    case StopDecision::Why::grows_over_target:
      return "grows_over_target";
    case StopDecision::Why::limit_within:
      return "limit_within";
  }
  return "limit_crossed";
}

std::optional<StopDecision> StopRule::decide(const Verdict& so_far) {
  std::map<std::string, std::size_t, std::less<>> seen;
  auto confirmed = [&](const std::string& key) {
    const auto before = streak_.find(key);
    const std::size_t n = (before == streak_.end() ? 0 : before->second) + 1;
    seen[key] = n;
    return n >= kStopConfirmations;
  };
  std::optional<StopDecision> decision;
  auto take = [&](StopDecision::Why why, const std::string& name) {
    if (!decision) decision = StopDecision{why, name, so_far.duration_s};
  };
  for (const Check& c : so_far.checks) {
    if (c.status != CheckStatus::fail) continue;
    if (is_hard_limit(c.name) && c.code == CheckCode::over_target) {
      take(StopDecision::Why::limit_crossed, c.name);
    } else if (is_byte_growth(c) && c.code == CheckCode::grows_over_target &&
               sustained_over_target(so_far, c, options_) && confirmed("growth:" + c.name)) {
      take(StopDecision::Why::grows_over_target, c.name);
    }
  }
  if (options_.oom_within_s && so_far.verdict == VerdictKind::fail) {
    for (const MetricResult& m : so_far.metrics) {
      if (m.time_to_limit_s && *m.time_to_limit_s <= *options_.oom_within_s &&
          confirmed("limit:" + m.name)) {
        take(StopDecision::Why::limit_within, m.name);
      }
    }
  }
  streak_ = std::move(seen);  // a reason not seen this time starts again from zero
  return decision;
}

}  // namespace soak::analysis
