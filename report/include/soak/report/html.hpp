#pragma once
// The run's report: one self-contained HTML page (inline CSS and SVG; no scripts, fonts or
// network), and JUnit XML for CI systems. Renders what the analysis decided; recomputes nothing.

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
  nlohmann::json header;  ///< the samples log's header (target, host, start, interval)
  std::vector<ReportSeries> series;
  std::vector<ReportEvent> events;
  std::vector<std::string> log_warnings;
  std::string log_path;
  const analysis::Verdict* verdict = nullptr;
};

/// The verdict in words for the top of the page and the terminal: the failing (else
/// inconclusive) checks' sentences, or why it passed.
std::string verdict_sentence(const analysis::Verdict& verdict);

std::string render_html(const ReportInput& input);

/// JUnit XML: one testsuite for the run, one testcase per check; failures carry the measured
/// value and the limit, inconclusive checks are skipped with the reason.
std::string render_junit(const analysis::Verdict& verdict, const nlohmann::json& header);

/// Escapes text for XML attributes and content.
std::string escape_xml(std::string_view text);

}  // namespace soak::report
