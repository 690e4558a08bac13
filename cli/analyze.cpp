#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "commands.hpp"
#include "soak/analysis/verdict.hpp"
#include "soak/report/format.hpp"
#include "soak/sampler/sample_log.hpp"

namespace soak::cli {

namespace {

analysis::RunInput to_input(const sampler::RunLog& log) {
  analysis::RunInput input;
  if (log.header.contains("host") && log.header["host"].value("mem_total_bytes", 0.0) > 0) {
    input.mem_total_bytes = log.header["host"]["mem_total_bytes"].get<double>();
  }
  input.samples = log.samples;
  input.duration_s = log.samples > 0 ? log.last_t - log.first_t : 0.0;
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
      targets = analysis::parse_targets(document);
    } catch (const analysis::TargetsError& e) {
      throw UsageError(judge.targets_file->string() + ": " + e.what());
    }
  }
  if (judge.warmup) targets.warmup_s = std::chrono::duration<double>(*judge.warmup).count();
  return targets;
}

ExitCode analyze_and_report(const std::filesystem::path& run, const AnalyzeOptions& options,
                            bool print_paths) {
  const analysis::Targets targets = load_targets(options.judge);
  const sampler::RunLog log = sampler::read_run_log(run);
  for (const auto& warning : log.warnings) {
    std::fprintf(stderr, "soak: warning: %s: %s\n", log.path.c_str(), warning.c_str());
  }
  const analysis::Verdict verdict = analysis::analyze(to_input(log), targets);
  nlohmann::ordered_json document = report::verdict_to_json(verdict);
  for (const auto& w : log.warnings) document["warnings"].push_back("log: " + w);

  const std::filesystem::path dir = log.path.has_parent_path() ? log.path.parent_path() : ".";
  const std::filesystem::path verdict_path = dir / "verdict.json";
  {
    std::ofstream out(verdict_path, std::ios::trunc);
    out << document.dump(2) << '\n';
    out.flush();
    if (!out) {
      std::fprintf(stderr, "soak: warning: cannot write %s; the verdict is printed only\n",
                   verdict_path.c_str());
    }
  }

  if (options.format == "json") {
    std::printf("%s\n", document.dump(2).c_str());
  } else {
    std::fputs(report::verdict_to_text(verdict, {use_color()}).c_str(), stdout);
    if (print_paths) {
      std::printf("  log:     %s\n  verdict: %s\n", log.path.c_str(), verdict_path.c_str());
    }
  }
  std::fflush(stdout);
  return exit_code_for(verdict.verdict);
}

std::string interim_summary(const std::filesystem::path& log_path, const JudgeOptions& judge) {
  const sampler::RunLog log = sampler::read_run_log(log_path);
  const analysis::Verdict verdict = analysis::analyze(to_input(log), load_targets(judge));
  std::string line;
  if (const analysis::MetricResult* rss = verdict.find("rss_bytes"); rss && rss->analysis) {
    const auto& a = *rss->analysis;
    if (a.classification == analysis::Classification::insufficient) {
      line = "rss: not enough data yet";
    } else {
      line = "rss " + report::format_bytes(a.growth_per_s * 60) + "/min [" +
             report::format_bytes(a.ci_low_per_s * 60) + ", " +
             report::format_bytes(a.ci_high_per_s * 60) + "] " +
             analysis::to_string(a.classification);
    }
  }
  line += std::string("; verdict so far: ") + analysis::to_string(verdict.verdict);
  for (const auto& c : verdict.checks) {
    if (c.status == analysis::CheckStatus::fail) line += " (" + c.name + ")";
  }
  return line;
}

ExitCode analyze_command(const std::filesystem::path& run, const AnalyzeOptions& options) {
  return analyze_and_report(run, options, false);
}

}  // namespace soak::cli
