#pragma once
// Pieces the run session of `soak run SCENARIO.json` puts together: the load figures as a
// sampler Source (on the sampling clock), finding the port a target printed, and waiting until
// it is ready to serve.
//
// Units: timeouts in seconds. Thread-safety: LoadSource is called on the sampling executor,
// the driver's own; the readiness functions block the calling thread and share nothing.
// Failure modes: a target that never becomes usable throws TargetNotReady (exit 4); the
// waits are bounded by their timeouts and end early when the target exits.

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "soak/sampler/process.hpp"
#include "soak/sampler/source.hpp"
#include "soak/scenarios/driver.hpp"

namespace soak::scenarios {

/// The target never became usable (no port printed, readiness check never answered, exited).
/// what() is one sentence with the fix.
class TargetNotReady : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Contributes the driver's figures to each sample as load.* metrics, and its finished jobs as
/// job_finished / job_failed events:
///   load.level, load.sent_rps, load.rps, load.errors, load.errors.<kind>, load.p50_ms,
///   load.p95_ms, load.p99_ms, load.in_flight, load.jobs_done, load.jobs_failed, load.job_s
///   (mean duration of the jobs that ended in the interval)
class LoadSource : public sampler::Source {
 public:
  explicit LoadSource(LoadDriver& driver) : driver_(driver) {}
  std::string_view name() const override { return "load"; }
  void contribute(sampler::TickSink& sink) override;
  void stop() override { driver_.stop(); }

 private:
  LoadDriver& driver_;
  std::string name_buffer_;
  /// The first tick comes a moment after the load started: rates over that sliver (a couple of
  /// first sends in a few ms read as hundreds a second) say nothing, so its figures are left in
  /// the driver's interval and the second tick reports start-to-then.
  bool first_tick_ = true;
};

/// Reads `output_file` until `pattern` (a regex with one group: the port) matches, then returns
/// base_url with ${port} substituted. Throws TargetNotReady after `timeout_s` or if `pid` ends.
std::string discover_base_url(const std::string& base_url, const std::string& pattern,
                              const std::filesystem::path& output_file, sampler::Pid pid,
                              double timeout_s);

/// GETs base_url + path until it answers 2xx. Throws TargetNotReady after `timeout_s` or when
/// `pid` (if > 0) has ended.
void wait_until_ready(const std::string& base_url, const std::string& path, sampler::Pid pid,
                      double timeout_s);

}  // namespace soak::scenarios
