#pragma once
// The subcommands: each wires the libraries together, prints what people read and returns the
// exit code. Failures are thrown (UsageError, RuntimeError, or a library's typed error) for
// main() to map in one place.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "exit_code.hpp"
#include "soak/importers/recording.hpp"
#include "soak/judge/judge.hpp"
#include "soak/scenarios/session.hpp"

namespace soak::cli {

struct AnalyzeOptions {
  std::string format = "text";  ///< text | json
  judge::JudgeOptions judge;
  std::optional<std::filesystem::path> junit_file;
  bool junit_inconclusive_fails = true;  ///< --junit-inconclusive failure (default) | skipped
};

ExitCode attach_command(sampler::Pid pid, const scenarios::SessionOptions& options, bool quiet);
ExitCode run_command(const std::vector<std::string>& command,
                     const scenarios::SessionOptions& options, bool quiet);
ExitCode scenario_command(const std::filesystem::path& file,
                          const scenarios::SessionOptions& options, bool quiet);
/// `soak run --locust FILE ...`: a team's Locust file as the load of a scenario (replacing the
/// scenario's own load) or of a command line (then base_url is the target's URL).
struct LocustFlags {
  std::string file, base_url, shape, ready;
  std::optional<int> users;
  std::optional<double> spawn_rate;
};
ExitCode locust_command(const std::filesystem::path& scenario_file,
                        const std::vector<std::string>& command, const LocustFlags& locust,
                        const scenarios::SessionOptions& options, bool quiet);
ExitCode analyze_command(const std::filesystem::path& run, const AnalyzeOptions& options);
/// Renders the HTML report of a run (to DIR/report.html unless `out` is given).
ExitCode report_command(const std::filesystem::path& run,
                        const std::optional<std::filesystem::path>& out,
                        const judge::JudgeOptions& judge);

struct FleetOptions {
  std::string prometheus_url;
  std::string query;
  double since_s = 3600;
  double step_s = 15;
  std::optional<double> end_unix_s;      ///< the window's end; now when not given
  std::optional<std::string> as_metric;  ///< judge every series as this metric (rss_bytes)
  std::string format = "text";
  judge::JudgeOptions judge;
  std::optional<std::filesystem::path> junit_file;
  bool junit_inconclusive_fails = true;  ///< --junit-inconclusive failure (default) | skipped
};
/// soak analyze --prometheus URL --query PROMQL: every series of the query, judged.
ExitCode fleet_command(const FleetOptions& options);

struct ImportCommandOptions {
  std::string format;  ///< a name of importers::Format
  std::filesystem::path file;
  std::optional<std::filesystem::path> out;
  importers::ImportOptions read;
};
/// soak import FORMAT FILE [--out RUN]: another tool's recording as a run directory.
ExitCode import_command(const ImportCommandOptions& options);

/// The one mapping from a verdict to the exit code SPEC.md pins.
ExitCode exit_code_for(analysis::VerdictKind kind);

}  // namespace soak::cli
