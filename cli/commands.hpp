#pragma once
// The subcommands. Each returns the process exit code and throws UsageError / RuntimeError
// (or a library's typed error) for main() to map.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "soak/probes/exporter.hpp"
#include "soak/sampler/process.hpp"

#include "exit_code.hpp"

namespace soak::cli {

/// What the analysis is judged against: the default profile, a targets file, a warm-up.
struct JudgeOptions {
  std::optional<nlohmann::json> targets_document;  ///< a scenario's inline targets
  std::optional<std::filesystem::path> targets_file;  ///< applied over the document
  std::optional<std::chrono::nanoseconds> warmup;
};

struct SamplingOptions {
  std::optional<std::chrono::nanoseconds> duration;
  std::chrono::nanoseconds interval = std::chrono::seconds(1);
  std::optional<std::filesystem::path> out_dir;
  bool keep_running = false;  ///< run mode: leave the launched target running at the end
  bool quiet = false;         ///< no live view
  bool interval_given = false;  ///< --interval was on the command line (overrides a scenario)
  std::chrono::nanoseconds detail_interval = std::chrono::seconds(10);
  std::vector<std::string> probes;  ///< --probe specs (validated before anything starts)
  std::chrono::nanoseconds regions_interval = std::chrono::minutes(1);  ///< smaps snapshots
  std::string metrics_listen;  ///< --metrics-listen; empty = no exporter
  JudgeOptions judge;
};

struct AnalyzeOptions {
  std::string format = "text";  ///< text | json | none
  JudgeOptions judge;
  std::optional<std::filesystem::path> junit_file;
  std::optional<std::filesystem::path> report_file;  ///< render report.html here
};

ExitCode attach_command(sampler::Pid pid, const SamplingOptions& options);
ExitCode run_command(const std::vector<std::string>& command, const SamplingOptions& options);
/// soak run SCENARIO.json: launch or attach, wait until ready, drive the load, sample, judge.
ExitCode scenario_command(const std::filesystem::path& file, const SamplingOptions& options);
ExitCode analyze_command(const std::filesystem::path& run, const AnalyzeOptions& options);
struct FleetOptions {
  std::string prometheus_url;
  std::string query;
  double since_s = 3600;
  double step_s = 15;
  std::string format = "text";
};
/// soak analyze --prometheus URL --query PROMQL: every series of the query, judged.
ExitCode fleet_command(const FleetOptions& options);

/// Renders the HTML report of a run (to DIR/report.html unless `out` is given).
ExitCode report_command(const std::filesystem::path& run,
                        const std::optional<std::filesystem::path>& out, const JudgeOptions& judge);

/// The analysis so far: one line for the live view (RSS growth with its interval and class, the
/// verdict so far) and the figures for the exporter.
struct InterimResult {
  std::string line;
  std::string verdict;
  std::vector<probes::GrowthFigures> growth;
};
InterimResult interim_summary(const std::filesystem::path& log, const JudgeOptions& judge);

/// Reads a run, analyzes it, writes DIR/verdict.json and prints the summary (text to stdout,
/// or the JSON document when format is json). Shared by analyze and the end of a run.
ExitCode analyze_and_report(const std::filesystem::path& run, const AnalyzeOptions& options,
                            bool print_paths);

}  // namespace soak::cli
