#pragma once
// --stop-on-fail: when a run's verdict so far is a failure that no later sample can undo, so
// an overnight soak doomed at 02:00 says so at 02:00. A run is stopped for:
//   - a hard limit crossed (max_rss_1h, max_rss_24h over their target): a maximum only grows;
//   - a leak whose whole 95 % interval is already over its rate target (rss_growth,
//     private_bytes_growth, a judged *_bytes series: code grows_over_target), measured over
//     long enough (kStopMinJudgedSpanS, and kStopMinPlannedShare of the planned duration),
//     not slowing down (its late rate at least kStopMinLateShare of the window's, and itself
//     over the target), and so in kStopConfirmations analyses in a row;
//   - when asked (StopRuleOptions::oom_within_s), a failing run whose leaking memory reaches a
//     limit (host memory, the cgroup's memory.max, max RSS acceptable) sooner than that,
//     confirmed the same way.
// The final verdict is still made by analyze() on the whole log at the end.
//
// Thread-safety: a StopRule is used from one thread (the interim analysis').
// Failure modes: none; a verdict without checks never stops a run.

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "soak/analysis/verdict.hpp"

namespace soak::analysis {

/// A growth over its target must be measured over at least this long before it stops a run:
/// a warm-up seen for a minute or two looks like a leak, and the classifier needs a few
/// minutes to tell them apart (its own warm-up search starts past the first minutes).
inline constexpr double kStopMinJudgedSpanS = 180;
/// ... and at least this share of the planned duration: an overnight run's verdict at 02:00
/// stands on an hour or more of data, not on the first minutes of a long warm-up.
inline constexpr double kStopMinPlannedShare = 0.1;
/// A warm-up decelerates: the last part of its window grows markedly slower than the whole
/// (a 10-minute exponential warm-up seen for 4 minutes: 0.88); a leak's does not (1, give or
/// take its noise).
inline constexpr double kStopMinLateShare = 0.9;
/// Analyses in a row that must agree before a growth stops a run: one analysis can be caught
/// by a burst; two a minute apart are the same trend.
inline constexpr std::size_t kStopConfirmations = 2;

struct StopRuleOptions {
  std::optional<double> planned_duration_s;  ///< the run's planned duration, when it has one
  /// Stop a failing run once leaking memory would reach a limit within this many seconds.
  std::optional<double> oom_within_s;
};

/// Why the run stops: the check (or, for a limit, the metric) that decided it.
struct StopDecision {
  enum class Why { limit_crossed, grows_over_target, limit_within };
  Why why = Why::limit_crossed;
  std::string check;  ///< max_rss_1h, rss_growth, ...; for limit_within the metric
  double at_s = 0;    ///< the run's duration when it was decided
};
/// "limit_crossed", "grows_over_target", "limit_within".
const char* to_string(StopDecision::Why why);

class StopRule {
 public:
  explicit StopRule(StopRuleOptions options = {}) : options_(options) {}
  /// Feeds the verdict so far (analyze() of the run up to now); returns a decision once the
  /// run should stop. Call it at each interim analysis, in time order.
  std::optional<StopDecision> decide(const Verdict& so_far);

 private:
  StopRuleOptions options_;
  std::map<std::string, std::size_t, std::less<>> streak_;  ///< analyses in a row, by reason
};

}  // namespace soak::analysis
