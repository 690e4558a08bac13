#pragma once
// The run's report: one self-contained HTML page (inline CSS and SVG; no scripts, fonts or
// network), and JUnit XML for CI systems. Renders what the analysis decided; recomputes nothing.
//
// Units: as format.hpp (each number in the unit its target was written in); times in seconds.
// Thread-safety: pure functions of their arguments. Failure modes: none thrown beyond
// std::bad_alloc; everything from the target or the log (names, command lines, labels, event
// details) is escaped for HTML/XML.

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "soak/analysis/verdict.hpp"

namespace soak::report {

struct ReportSeries {
  std::string name;
  std::span<const double> t, v;
};

struct ReportEvent {
  double t = 0;
  std::string kind;
  std::string detail;
};

struct ReportInput {
  explicit ReportInput(const analysis::Verdict& judged) : verdict(judged) {}
  const analysis::Verdict& verdict;  ///< must outlive the ReportInput
  nlohmann::json header;             ///< the samples log's header (target, host, start, interval)
  std::vector<ReportSeries> series;
  std::vector<ReportEvent> events;
  std::vector<std::string> log_warnings;
  std::string log_path;
  /// For a verdict of several processes: each one's series, in the order of verdict.processes.
  std::vector<std::vector<ReportSeries>> process_series;
  /// verdict.json's `load` (load_to_json) for a scenario run; null otherwise.
  nlohmann::ordered_json load;
};

std::string render_html(const ReportInput& input);

/// How JUnit shows what soak could not decide. A release gate must not go green on "we could
/// not tell", and Jenkins and GitLab count a skipped test as green: so an inconclusive check
/// (and an inconclusive verdict without one) is a failure unless skipped is asked for.
enum class JunitInconclusive { failure, skipped };

/// JUnit XML: one testsuite for the run (for a group, one per process, named by it and with its
/// identity as properties), one testcase per check; failures carry the measured value and the
/// limit; inconclusive checks are failures (type "inconclusive") or skipped, with the reason.
/// An inconclusive verdict without an inconclusive check (nothing to judge) adds a testcase
/// `verdict` shown the same way.
std::string render_junit(const analysis::Verdict& verdict, const nlohmann::json& header,
                         JunitInconclusive inconclusive = JunitInconclusive::failure);

/// Escapes text for XML attributes and content; control characters XML cannot carry become
/// \xNN text.
std::string escape_xml(std::string_view text);

}  // namespace soak::report
