#pragma once
// The analysis in words: every sentence and every unit a person reads about a verdict is made
// here, from the numbers and codes of soak::analysis.
//
// Units: each number in the unit its target was written in (see format.hpp); fractions as
// percentages; times in seconds. Thread-safety: pure functions. Failure modes: none thrown
// beyond std::bad_alloc.

#include <string>
#include <string_view>

#include "soak/analysis/verdict.hpp"
#include "soak/report/format.hpp"

namespace soak::report {

/// The units a verdict's numbers are printed in.
struct Units {
  /// Growth of the judged memory series: the growth target's unit ("MB/min" by default).
  ByteFormat rate;
  /// Sizes and rates without a target of their own: the growth target's system.
  ByteSystem levels = ByteSystem::decimal;
};
/// From the verdict's growth check (rss_growth or the judged series' one); decimal MB/min when
/// there is none.
Units units_of(const analysis::Verdict& verdict);

/// A check in words. measured/limit are verdict.json's pinned strings ("7.34 MB/min [6.90,
/// 7.80]", "5 MB/min (acceptable 10 MB/min)"); target and acceptable the tiers alone.
struct CheckWords {
  std::string measured;
  std::string limit;
  std::string target;
  std::string acceptable;
  std::string detail;  ///< a sentence for people
};
CheckWords describe_check(const analysis::Check& check, const Units& units);

/// Why a series got its classification: "3 new highs, the last at 95 s".
std::string describe_reason(const analysis::ClassifyReason& reason);

/// A warning or note: "rss_bytes is classified as a leak: 0.52 MB/min [0.50, 0.54]".
std::string describe_finding(const analysis::Finding& finding, const analysis::Verdict& verdict,
                             const Units& units);

/// A growth rate per minute in the metric's unit: the judged metric in `units.rate`, other byte
/// series in `units.levels` by magnitude, others as plain numbers.
std::string format_rate(const analysis::Verdict& verdict, const std::string& metric, double per_min,
                        const Units& units);

/// A growth rate with its 95 % interval, "2.11 MB/min [2.10, 2.15]", in the units of format_rate.
std::string format_growth(const analysis::Verdict& verdict, const std::string& metric,
                          double per_min, double low_per_min, double high_per_min,
                          const Units& units);

/// The forced collections of a run: "GC checkpoints: 12 made, 1 failed, 3.40 s in the actions".
std::string gc_checkpoints_text(const analysis::GcCheckpointTotals& totals);

/// The verdict in words for the top of the page and the terminal: the failing (else
/// inconclusive) checks' sentences, or why it passed.
std::string verdict_sentence(const analysis::Verdict& verdict);

/// verdict.json's `summary`: one plain sentence saying what decided the verdict, by how much
/// and against which limit (the first failing check, else the first inconclusive one, the
/// target's fate first), or why it passed; for a group, how many members fail and the first
/// one's sentence.
std::string summary_sentence(const analysis::Verdict& verdict);

/// The stress ramp's breaking point and recovery in one sentence ("Broke at level 4 (t=12 s:
/// 31.0% errors, p95 12 ms); recovered after the load dropped."); empty without a ramp check.
std::string ramp_sentence(const analysis::Verdict& verdict);

/// Text from outside (names, labels, command lines) made safe for a terminal: control
/// characters become \xNN.
std::string escape_terminal(std::string_view text);

}  // namespace soak::report
