#pragma once
// The run directory (SPEC.md pins its file names): DIR/samples.ndjson, DIR/verdict.json,
// DIR/report.html, and, for a launched target, DIR/target.log with its output.
//
// Thread-safe free functions. Failures to create a directory are bad starts: RunDirError.

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string_view>

namespace soak::log {

inline constexpr std::string_view samples_file = "samples.ndjson";
inline constexpr std::string_view verdict_file = "verdict.json";
inline constexpr std::string_view report_file = "report.html";
inline constexpr std::string_view target_output_file = "target.log";
/// The output of --gc-checkpoint's commands (jcmd, cmd:...), appended to.
inline constexpr std::string_view gc_checkpoint_output_file = "gc_checkpoint.log";

/// The directory cannot be used (not creatable, not a directory, already holds a run).
/// what() is one sentence with the fix.
class RunDirError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Creates `out`, or ./soak-runs/<UTC timestamp>-<target name>/ when none is given (the name
/// reduced to [A-Za-z0-9._-]). Refuses a directory that already holds a samples log, so
/// recorded data is never overwritten. Throws RunDirError.
std::filesystem::path create_run_dir(const std::optional<std::filesystem::path>& out,
                                     std::string_view target_name);

/// The directory a run's files go to, given a run directory or a samples log path.
std::filesystem::path run_dir_of(const std::filesystem::path& log_path);

}  // namespace soak::log
