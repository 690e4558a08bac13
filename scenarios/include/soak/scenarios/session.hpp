#pragma once
// The run session: everything between "soak was asked to watch a process" and "the log is
// closed". It opens or launches the target, creates the run directory and the log header, starts
// the sampler with its companions (the cgroup and memory-region sources, HTTP probes, the load
// driver, the live exporter, the interim analysis once a minute) on one io_context, ends them on
// the duration, the target's exit or a signal (SIGINT, SIGTERM, SIGHUP), and stops a target it
// launched. The verdict is reached afterwards, from the log alone (soak::judge).
//
// Thread-safety: one session at a time per process (it owns the signal handlers while it runs).
// Failure modes: a target that cannot be started, opened or made ready throws StartError
// (bad_input: exit 3, runtime: exit 4); the libraries' own bad-start errors (LaunchError,
// RunDirError, ExporterError, ProbeSpecError, ScenarioError, TargetsInputError) pass through.
// Once sampling has begun nothing throws: the way the run ended is SessionResult::reason.

#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "soak/judge/judge.hpp"
#include "soak/log/segments.hpp"
#include "soak/sampler/sampler.hpp"

namespace soak::scenarios {

struct Scenario;

/// The target could not be started, opened or made ready. what() is one sentence with the fix.
class StartError : public std::runtime_error {
 public:
  enum class Kind {
    bad_input,  ///< no such PID, a scenario naming one: the user's to fix (exit 3)
    runtime,    ///< the target exists but cannot be read, or never became ready (exit 4)
  };
  StartError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

struct SessionOptions {
  std::optional<std::chrono::nanoseconds> duration;  ///< nullopt: until the target ends or Ctrl-C
  std::chrono::nanoseconds interval = std::chrono::seconds(1);
  bool interval_given = false;  ///< an explicit interval overrides a scenario's
  std::chrono::nanoseconds detail_interval = std::chrono::seconds(10);
  std::chrono::nanoseconds regions_interval = std::chrono::minutes(1);  ///< memory-region snapshots
  std::optional<std::filesystem::path> out_dir;  ///< default ./soak-runs/<UTC>-<name>/
  bool keep_running = false;                     ///< leave a launched target running at the end
  /// --stop-on-fail: end the run once the verdict so far is a failure no later sample can
  /// undo (analysis/stop_rule.hpp), recorded as a `stopped_on_fail` event; with
  /// stop_if_oom_within, also a failing run whose leaking memory nears a limit that soon.
  bool stop_on_fail = false;
  std::optional<std::chrono::nanoseconds> stop_if_oom_within;
  std::vector<std::string> probes;  ///< --probe specs, validated before anything starts
  std::string metrics_listen;       ///< --metrics-listen address; empty: no exporter
  /// --gc-checkpoint spec (gc_checkpoint.hpp), validated before anything starts; empty: none
  /// (a scenario's gc_checkpoint then applies).
  std::string gc_checkpoint;
  judge::JudgeOptions judge;  ///< for the interim analysis (a scenario adds its targets)
  /// --redact patterns: what else of the target's command line is secret (log/redact.hpp),
  /// checked before anything starts.
  std::vector<std::string> redact;
  /// The log on disk (log/segments.hpp): segments of 64 MiB or an hour, compressed once
  /// closed, binned once older than an hour (--segment-size, --full-rate-for).
  log::SegmentOptions log_segments{log::kDefaultSegmentBytes, log::kDefaultSegmentSeconds,
                                   log::kDefaultFullRateSeconds};
};

/// What the person watching sees. on_sample runs on the sampling thread at every tick and must
/// be quick; on_interim runs on the interim-analysis thread once a minute.
/// The load of a scenario run as a person watching it reads it, once a sample.
struct LoadReading {
  bool measured = false;         ///< false until a first interval has passed
  double sent_rps = 0;           ///< requests sent per second since the previous reading
  double answered_rps = 0;       ///< requests that ended (answered or failed) per second, likewise
  double error_rate = 0;         ///< errors / requests ended, over the run so far (0..1)
  std::optional<double> p95_ms;  ///< the latest interval's p95 latency, when anything answered
};

class SessionView {
 public:
  virtual ~SessionView() = default;
  /// Sampling is about to begin: "attach 1234 (server)", the planned length if there is one.
  virtual void begin(const std::string& title, std::optional<double> planned_s) = 0;
  /// One line for the person starting the run ("attached to 1234 (server); writing DIR").
  virtual void note(const std::string& line) = 0;
  virtual void on_sample(const sampler::SamplerStatus& status) = 0;
  /// Scenario runs with a load: before the first sample (not measured yet), then before every
  /// on_sample, on the sampling thread.
  virtual void on_load(const LoadReading& /*reading*/) {}
  virtual void on_interim(const analysis::Verdict& so_far) = 0;
  /// The interim analysis could not be made this minute (a torn log, ...); the run goes on.
  virtual void on_interim_failed(const std::string& why) = 0;
  virtual void end(const sampler::SamplerStatus& status) = 0;
};

struct SessionResult {
  std::filesystem::path dir;  ///< the run directory; DIR/samples.ndjson is complete
  sampler::EndReason reason = sampler::EndReason::stopped;
  std::optional<sampler::ExitInfo> target_exit;  ///< a launched target that ended
  bool stopped_by_soak = false;  ///< soak stopped a launched target at the end of the run
  judge::JudgeOptions judge;     ///< what the run is to be judged by (with a scenario's targets)
};

/// soak attach PID: samples a running process; it is never signalled.
SessionResult attach(sampler::Pid pid, const SessionOptions& options, SessionView& view);
/// soak run -- CMD: launches CMD (its output to DIR/target.log) and samples it.
SessionResult run_command(const std::vector<std::string>& argv, const SessionOptions& options,
                          SessionView& view);
/// soak run SCENARIO.json: launches or attaches, waits until ready, drives the load, samples.
SessionResult run_scenario(const Scenario& scenario, const SessionOptions& options,
                           SessionView& view);

}  // namespace soak::scenarios
