#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "commands.hpp"
#include "soak/analysis/verdict.hpp"
#include "soak/report/format.hpp"
#include "soak/report/html.hpp"
#include "soak/report/words.hpp"
#include "soak/log/log.hpp"

namespace soak::cli {

namespace {

analysis::RunInput to_input(const log::RunLog& log) {
  analysis::RunInput input;
  if (log.header.contains("host") && log.header["host"].value("mem_total_bytes", 0.0) > 0) {
    input.mem_total_bytes = log.header["host"]["mem_total_bytes"].get<double>();
  }
  input.samples = log.samples;
  input.duration_s = log.samples > 0 ? log.last_t - log.first_t : 0.0;
  for (const auto& e : log.events) {
    if (e.kind == "job_finished") input.job_end_times.push_back(e.t);
  }
  auto view = [&log](const char* name) -> std::optional<analysis::SeriesView> {
    const auto it = log.series.find(name);
    if (it == log.series.end()) return std::nullopt;
    return analysis::SeriesView{name, it->second.t, it->second.value};
  };
  if (const auto limit = log.series.find("cgroup.limit_bytes"); limit != log.series.end() && !limit->second.empty()) {
    input.memory_limit_bytes = limit->second.value.back();  // time-to-OOM against memory.max
  }
  input.load_level = view("load.level");
  input.load_errors = view("load.errors");
  input.load_sent_rps = view("load.sent_rps");
  input.load_p95_ms = view("load.p95_ms");
  if (log.header.contains("scenario") && log.header["scenario"].contains("limits")) {
    const auto& limits = log.header["scenario"]["limits"];
    if (limits.contains("error_rate")) input.ramp_error_rate_limit = limits["error_rate"].get<double>();
    if (limits.contains("p95_s")) input.ramp_p95_limit_s = limits["p95_s"].get<double>();
  }
  for (const auto& [name, series] : log.series) {
    input.series.push_back(analysis::SeriesView{name, series.t, series.value});
  }
  return input;
}

ExitCode exit_code_for(analysis::VerdictKind kind) {
  switch (kind) {
    case analysis::VerdictKind::pass: return ExitCode::pass;
    case analysis::VerdictKind::fail: return ExitCode::fail;
    case analysis::VerdictKind::inconclusive: return ExitCode::inconclusive;
  }
  return ExitCode::inconclusive;
}

bool use_color() {
  return ::isatty(STDOUT_FILENO) != 0 && std::getenv("NO_COLOR") == nullptr;
}

}  // namespace

analysis::Targets load_targets(const JudgeOptions& judge) {
  analysis::Targets targets;
  if (judge.targets_document) {
    try {
      targets = analysis::parse_targets(*judge.targets_document);
    } catch (const analysis::TargetsError& e) {
      throw UsageError(std::string("scenario ") + e.what());
    }
  }
  if (judge.targets_file) {
    std::ifstream in(*judge.targets_file);
    if (!in) {
      throw UsageError("cannot read targets file " + judge.targets_file->string() +
                       ": check the path");
    }
    nlohmann::json document = nlohmann::json::parse(in, nullptr, false);
    if (document.is_discarded()) {
      throw UsageError("targets file " + judge.targets_file->string() +
                       " is not valid JSON; fix its syntax");
    }
    try {
      targets = analysis::parse_targets(document, targets);
    } catch (const analysis::TargetsError& e) {
      throw UsageError(judge.targets_file->string() + ": " + e.what());
    }
  }
  if (judge.warmup) targets.warmup_s = std::chrono::duration<double>(*judge.warmup).count();
  return targets;
}

namespace {

/// Writes `text` to `path`; false (after one warning line) when it cannot.
bool write_text(const std::filesystem::path& path, const std::string& text, const char* what) {
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  out << text;
  out.flush();
  if (!out) {
    std::fprintf(stderr, "soak: warning: cannot write the %s to %s; check the directory\n", what,
                 path.c_str());
    return false;
  }
  return true;
}

report::ReportInput report_input(const log::RunLog& log, const analysis::Verdict& verdict) {
  report::ReportInput in(verdict);
  in.header = log.header;
  in.log_path = log.path.string();
  in.log_warnings = log.warnings;
  for (const auto& [name, series] : log.series) in.series.push_back({name, series.t, series.value});
  for (const auto& e : log.events) in.events.push_back({e.t, e.kind, e.detail});
  return in;
}

}  // namespace

ExitCode analyze_and_report(const std::filesystem::path& run, const AnalyzeOptions& options,
                            bool print_paths) {
  const log::RunLog log = log::read_run_log(run);
  JudgeOptions judge = options.judge;
  if (!judge.targets_document && log.header.contains("targets") && log.header["targets"].is_object()) {
    judge.targets_document = log.header["targets"];  // the scenario's targets, from the log
  }
  const analysis::Targets targets = load_targets(judge);
  for (const auto& warning : log.warnings) {
    std::fprintf(stderr, "soak: warning: %s: %s\n", log.path.c_str(), warning.c_str());
  }
  const analysis::Verdict verdict = analysis::analyze(to_input(log), targets);
  nlohmann::ordered_json document = report::verdict_to_json(verdict);
  for (const auto& w : log.warnings) document["warnings"].push_back("log: " + w);

  const std::filesystem::path dir = log.path.has_parent_path() ? log.path.parent_path() : ".";
  const std::filesystem::path verdict_path = dir / "verdict.json";
  std::vector<std::pair<std::string, std::filesystem::path>> written;
  if (write_text(verdict_path, document.dump(2) + "\n", "verdict")) {
    written.emplace_back("verdict", verdict_path);
  }
  if (options.report_file) {
    if (write_text(*options.report_file, report::render_html(report_input(log, verdict)), "report")) {
      written.emplace_back("report", *options.report_file);
    }
  }
  if (options.junit_file) {
    if (write_text(*options.junit_file, report::render_junit(verdict, log.header), "JUnit XML")) {
      written.emplace_back("junit", *options.junit_file);
    }
  }

  if (options.format == "json") {
    std::printf("%s\n", document.dump(2).c_str());
  } else if (options.format == "text") {
    std::fputs(report::verdict_to_text(verdict, {use_color()}).c_str(), stdout);
    if (print_paths) {
      std::printf("  log:     %s\n", log.path.c_str());
      for (const auto& [what, path] : written) {
        std::printf("  %-8s %s\n", (what + ":").c_str(), path.c_str());
      }
    }
  }
  std::fflush(stdout);
  return exit_code_for(verdict.verdict);
}

ExitCode report_command(const std::filesystem::path& run, const std::optional<std::filesystem::path>& out,
                        const JudgeOptions& judge) {
  AnalyzeOptions options;
  options.judge = judge;
  options.format = "none";
  const std::filesystem::path log_path = log::resolve_log_path(run);
  options.report_file = out ? *out : (log_path.has_parent_path() ? log_path.parent_path() : ".") / "report.html";
  analyze_and_report(run, options, false);
  if (!std::filesystem::exists(*options.report_file)) {
    throw RuntimeError("the report could not be written to " + options.report_file->string());
  }
  std::printf("%s\n", options.report_file->c_str());
  return ExitCode::pass;
}

InterimResult interim_summary(const std::filesystem::path& log_path, const JudgeOptions& judge) {
  const log::RunLog log = log::read_run_log(log_path);
  const analysis::Verdict verdict = analysis::analyze(to_input(log), load_targets(judge));
  InterimResult result;
  result.verdict = analysis::to_string(verdict.verdict);
  for (const auto& m : verdict.metrics) {
    if (!m.analysis || m.analysis->classification == analysis::Classification::insufficient) continue;
    const auto& a = *m.analysis;
    result.growth.push_back({m.name, analysis::to_string(a.classification), a.growth_per_s * 60,
                             a.ci_low_per_s * 60, a.ci_high_per_s * 60});
  }
  std::string line;
  if (const analysis::MetricResult* rss = verdict.find("rss_bytes"); rss && rss->analysis) {
    const auto& a = *rss->analysis;
    if (a.classification == analysis::Classification::insufficient) {
      line = "rss: not enough data yet";
    } else {
      line = "rss " +
             report::format_growth(verdict, rss->name, a.growth_per_s * 60, a.ci_low_per_s * 60,
                                   a.ci_high_per_s * 60, report::units_of(verdict)) +
             " " + analysis::to_string(a.classification);
    }
  }
  line += std::string("; verdict so far: ") + analysis::to_string(verdict.verdict);
  for (const auto& c : verdict.checks) {
    if (c.status == analysis::CheckStatus::fail) line += " (" + c.name + ")";
  }
  result.line = line;
  return result;
}

ExitCode analyze_command(const std::filesystem::path& run, const AnalyzeOptions& options) {
  return analyze_and_report(run, options, false);
}

}  // namespace soak::cli
