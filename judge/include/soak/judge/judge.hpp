#pragma once
// One verdict path. Every front-end (a run being recorded, a samples log, a Prometheus query,
// later an imported recording) turns its data into analysis::RunInput here, is judged by
// analysis::analyze against the same targets, and gets the same verdict.json, JUnit, report and
// verdict kind (which cli/ maps to the exit code, in one place).
//
// Thread-safety: free functions on their arguments; judge_log reads files and may be called
// from any thread. Failure modes: a log that cannot be read throws log::LogError, a
// targets file or document that cannot be used throws TargetsInputError (both bad input: exit
// 3); an output file that cannot be written is a warning in Judgement::warnings, never an
// exception, so a verdict already reached is not lost.

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "soak/analysis/verdict.hpp"
#include "soak/log/log.hpp"

namespace soak::judge {

/// A targets file or document that cannot be used. what() names the file or field.
class TargetsInputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What a run is judged against, in increasing precedence: the documented profile, the targets
/// a scenario recorded in the log (or passed here), a targets file, a forced warm-up.
struct JudgeOptions {
  std::optional<nlohmann::json> targets_document;
  std::optional<std::filesystem::path> targets_file;
  std::optional<std::chrono::nanoseconds> warmup;
};

/// The targets for a run whose log header is `header` (null when there is no log).
analysis::Targets load_targets(const JudgeOptions& options, const nlohmann::json& header = nullptr);

/// The analysis input of a log. It refers into `log`'s series: `log` must outlive it.
analysis::RunInput input_from_log(const log::RunLog& log);

/// Where a judgement goes besides the returned value. Paths that are empty are not written.
struct Outputs {
  std::optional<std::filesystem::path> verdict_json;
  std::optional<std::filesystem::path> junit;
  std::optional<std::filesystem::path> report_html;
  /// How JUnit shows an inconclusive check (report::JunitInconclusive): failure unless false.
  bool junit_inconclusive_fails = true;
};

struct Judgement {
  analysis::Verdict verdict;
  nlohmann::ordered_json document;    ///< verdict.json's content
  std::vector<std::string> warnings;  ///< log warnings, outputs that could not be written
  std::vector<std::pair<std::string, std::filesystem::path>> written;  ///< ("verdict", path)...
};

/// Reads a run (a run directory or a samples log), judges it and writes the outputs.
Judgement judge_log(const std::filesystem::path& run, const JudgeOptions& options,
                    const Outputs& outputs);

/// A series recorded elsewhere (a Prometheus query, later an imported file): labels and points,
/// t in seconds since the window's start, ascending.
struct LabelledSeries {
  std::map<std::string, std::string> labels;
  std::vector<double> t;
  std::vector<double> value;
};

/// What a group of labelled series came from, for the JUnit suite names and timestamps.
struct SeriesSource {
  std::string name;        ///< e.g. the Prometheus URL
  std::string started_at;  ///< UTC ISO 8601 of the window's start
};

/// The metric a labelled series is judged as: `as_metric` when given; else its `metric` label
/// (the name soak's own exporter gives each figure); else its `__name__`; else "value". A series
/// named rss_bytes is process memory and gets every RSS check; any other is judged by its growth
/// in its own unit (analysis::RunInput::judged_series).
std::string metric_of(const LabelledSeries& series, const std::optional<std::string>& as_metric);

/// Judges every series on its own, as the members of a group (analysis::analyze_group), against
/// the same targets and into the same outputs as a log. The verdict.json document has
/// `processes`, one per series with its labels.
Judgement judge_series(const std::vector<LabelledSeries>& series,
                       const std::optional<std::string>& as_metric, const SeriesSource& source,
                       const JudgeOptions& options, const Outputs& outputs);

/// The analysis so far of a run still being recorded, for the live view and the exporter: `log`
/// is a snapshot of its log (log::LiveRunLog), so the cost is bounded by the builder's capacity,
/// not the log's length, and the snapshot at the end is judged as `judge_log` judges the file
/// (without the outputs).
analysis::Verdict interim(const log::RunLog& log, const analysis::Targets& targets);

}  // namespace soak::judge
