#pragma once
// A load soak does not drive itself (scenario "load": {"command" | "locust" | "wrk"}): launched
// in a process group of its own once the target is ready, its output kept (bounded) in
// DIR/load.log, its figures read back as they are written (Locust's stats history, wrk's
// per-second progress from a generated Lua wrapper) into the log's load.* series, and its final
// figures (Locust's final stats CSV, wrk's summary) into the load_summary event, the same fields
// soak's own driver fills.
//
// Units: seconds; latencies in the figures in milliseconds (as verdict.json's `load`).
// Thread-safety: an ExternalLoadRun is used on the sampling thread only (a sampler Source),
// and finish() after the sampling has ended, on the thread that ran the session.
// Failure modes: a program that cannot be started throws sampler::LaunchError (a bad start);
// a load that dies later is a load_failed event, never an exception. Everything read back is
// bounded: lines past kMaxLineBytes are skipped, at most kMaxReadBytes are read a tick, at
// most kMaxEndpoints endpoints are kept.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "soak/sampler/launcher.hpp"
#include "soak/sampler/source.hpp"
#include "soak/scenarios/scenario.hpp"

namespace soak::scenarios {

inline constexpr std::size_t kMaxLineBytes = 16 * 1024;
inline constexpr std::size_t kMaxReadBytes = 4 * 1024 * 1024;
inline constexpr std::size_t kMaxEndpoints = 64;
/// The file in the run directory that the load's stdout and stderr go to (rotated at
/// sampler::kTargetOutputFileCapBytes, as target.log is).
inline constexpr std::string_view kLoadOutputFile = "load.log";
/// The folder in the run directory for the load's own files (Locust's CSVs, wrappers).
inline constexpr std::string_view kLoadFolder = "load";

/// How the external load will be started: the argv and environment after ${base_url} is
/// replaced, and the files soak reads back.
struct ExternalPlan {
  std::vector<std::string> argv;
  std::map<std::string, std::string> environment;
  std::optional<std::filesystem::path> working_directory;
  std::filesystem::path output_file;    ///< DIR/load.log
  std::filesystem::path csv_prefix;     ///< locust: --csv=PREFIX
  std::filesystem::path progress_file;  ///< wrk: one line a thread a second
  std::string request_name;             ///< wrk: "GET /path", its one endpoint
};

/// Writes the wrapper files (Locust's locustfile, wrk's Lua script) into DIR/load/ and says
/// how to start the load. Throws sampler::LaunchError when the folder cannot be written.
ExternalPlan plan_external_load(const ExternalLoad& load, const std::string& base_url,
                                const std::filesystem::path& run_dir, double run_s);

/// One CSV line split into fields (double quotes, "" inside them); nullopt for a line that is
/// not one (an unterminated quote).
std::optional<std::vector<std::string>> split_csv_line(std::string_view line);

/// verdict.json's `load` fields from Locust's final `_stats.csv` (and `_failures.csv`, for the
/// errors by kind: http_4xx, http_5xx, connect, timeout, other). Null when the stats hold no
/// Aggregated row. Only the first kMaxReadBytes of each are read by the caller.
nlohmann::ordered_json locust_figures(std::string_view stats_csv, std::string_view failures_csv);

/// verdict.json's `load` fields from wrk's output (the "soak-wrk-summary {...}" line that soak's
/// Lua wrapper prints); null when there is none (wrk killed before its summary).
nlohmann::ordered_json wrk_figures(std::string_view output, const std::string& request_name);

/// A complete-lines reader of a file that another process appends to.
class FileTail {
 public:
  explicit FileTail(std::filesystem::path file) : file_(std::move(file)) {}
  /// The complete lines appended since the previous call (at most kMaxReadBytes read).
  std::vector<std::string> read_lines();

 private:
  std::filesystem::path file_;
  std::uint64_t offset_ = 0;
  std::string partial_;
  bool skipping_ = false;  ///< inside a line longer than kMaxLineBytes
};

/// The external load as a sampler source: it contributes load.* metrics and the load_ended /
/// load_failed events; finish() stops what still runs and reads its final figures.
class ExternalLoadRun : public sampler::Source {
 public:
  /// Launches now. Throws sampler::LaunchError.
  ExternalLoadRun(const ExternalLoad& load, const std::string& base_url,
                  const std::filesystem::path& run_dir, double run_s);
  ~ExternalLoadRun() override;
  std::string_view name() const override { return "external_load"; }
  void contribute(sampler::TickSink& sink) override;

  /// At the end of the run (`run_s` seconds long): stops the load if it still runs (SIGINT,
  /// then SIGTERM, then SIGKILL, stop_grace_s apart), reads its final figures and returns the
  /// load_summary event's `load` (with `source`, `under_load_s`, `under_load_share`, `exit`).
  nlohmann::ordered_json finish(double run_s);
  /// One sentence for the load_summary event, once finish() ran.
  std::string sentence() const { return sentence_; }

 private:
  void read_locust(sampler::TickSink& sink);
  void read_wrk(sampler::TickSink& sink);
  void check_ended(sampler::TickSink& sink);
  double since_start() const;

  const ExternalLoad& load_;
  ExternalPlan plan_;
  std::unique_ptr<sampler::LaunchedProcess> process_;
  std::chrono::steady_clock::time_point started_;
  std::optional<double> ended_at_s_;  ///< seconds after the load started
  bool failed_ = false;
  std::string end_detail_;
  FileTail tail_;
  std::vector<std::string> columns_;  ///< the history CSV's header
  double last_failures_ = -1;         ///< Locust's Total Failure Count at the previous row
  std::map<long, std::pair<double, double>> wrk_seconds_;  ///< wrk: answers, errors a second
  std::chrono::steady_clock::time_point last_read_;
  std::string sentence_;
  std::string name_buffer_;
};

}  // namespace soak::scenarios
