#pragma once
// The sampling loop: a steady_timer on absolute deadlines (start + k * interval). A tick that
// runs late is recorded, deadlines already missed are skipped, and the grid never drifts.
// Platform-neutral: it reads the target through the ProcessReader interface.
//
// Units: durations are std::chrono types; SamplerStatus::elapsed_s is seconds since start.
// Thread-safety: none; everything runs on the executor passed in (see Sampler).
// Failure modes: the target ending, becoming unreadable or the log failing end the run with
// an EndReason and an event in the log; nothing throws after construction.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "soak/log/log.hpp"
#include "soak/sampler/process.hpp"
#include "soak/sampler/source.hpp"

namespace soak::sampler {

struct SamplerOptions {
  std::chrono::nanoseconds interval = std::chrono::seconds(1);
  /// Stop after this long; nullopt runs until the target exits or stop() is called.
  std::optional<std::chrono::nanoseconds> duration;
  /// How often the costlier readings (ReadDetail: memory breakdown, descendant walk) are taken.
  /// They are taken on the first tick, then on the first tick at least this long after
  /// the previous one; with a long interval that is every tick.
  std::chrono::nanoseconds detail_period = std::chrono::seconds(10);
  /// How often the log is fdatasync'ed (each line is written at once regardless).
  std::chrono::nanoseconds sync_period = std::chrono::seconds(10);
  /// --redact patterns for a command line the target takes on at an exec (log/redact.hpp).
  std::vector<std::string> redact;
};

enum class EndReason {
  duration_elapsed,
  target_exited,
  pid_reused,
  target_unreadable,
  stopped,       ///< stop() was called (Ctrl-C, SIGTERM)
  write_failed,  ///< the log could not be written (disk full, ...)
};
const char* to_string(EndReason reason);

/// How a launched target ended; supplied by whoever can reap it.
struct ExitInfo {
  std::string detail;  ///< "exit code 0", "killed by signal 9 (Killed)"
  std::optional<int> exit_code;
  std::optional<int> signal;
};

/// Live figures for status displays. Updated on the sampling executor.
struct SamplerStatus {
  std::uint64_t samples = 0;
  std::uint64_t late_ticks = 0;     ///< ticks taken more than half an interval late
  std::uint64_t skipped_ticks = 0;  ///< deadlines passed over because a tick overran
  double elapsed_s = 0;             ///< t of the latest sample
  ProcessSnapshot first;
  ProcessSnapshot latest;
  std::optional<std::uint32_t> children;  ///< latest descendant count, when one was taken
  std::optional<std::uint64_t> children_rss_bytes;
};

/// Samples one process until the duration elapses, the target ends, or stop() is called.
/// Owns no threads: everything runs on the executor passed in. Not thread-safe; call stop()
/// through the executor (e.g. from an asio::signal_set handler on the same io_context).
class Sampler : private TickSink {
 public:
  /// `reader` must be set (from ProcessReader::open); `writer` must outlive the sampler.
  Sampler(boost::asio::any_io_executor executor, std::unique_ptr<ProcessReader> reader,
          log::SampleWriter& writer, SamplerOptions options);

  /// Extra metric sources, asked on every tick. Must outlive the sampler.
  void add_source(Source& source) { sources_.push_back(&source); }
  /// Called when the target is seen to exit, to name its exit status (launch mode).
  void set_exit_info(std::function<ExitInfo()> fn) { exit_info_ = std::move(fn); }
  /// Called after every sample is written.
  void set_on_sample(std::function<void(const SamplerStatus&)> fn) { on_sample_ = std::move(fn); }
  /// Called after every sample with all of its metrics (the exporter's feed). Costs a copy of
  /// the names per tick, so only when set.
  using MetricsTap = std::function<void(const std::vector<std::pair<std::string, double>>&)>;
  void set_metrics_tap(MetricsTap fn) { tap_fn_ = std::move(fn); }

  /// Takes the first sample now and schedules the rest. on_end runs once, on the executor.
  void start(std::function<void(EndReason)> on_end);
  /// Ends the run now, logging a "stopped" event with `why` (e.g. "SIGINT").
  void stop(std::string_view why);

  /// Takes one sample immediately, outside the timer (benchmarks, tests). Returns false when
  /// the run ended.
  bool tick_now();

  const SamplerStatus& status() const { return status_; }
  bool running() const { return running_; }
  const ProcessReader& reader() const { return *reader_; }
  std::chrono::steady_clock::time_point start_time() const { return start_; }

 private:
  void schedule_next();
  void on_timer(const boost::system::error_code& ec);
  bool take_sample();
  void finish(EndReason reason);
  void report_late(double t);
  void record_exec(double t, const ExecSeen& exec);
  void emit(std::string_view name, double value);
  double seconds_since_start(std::chrono::steady_clock::time_point when) const;
  void metric(std::string_view name, double value) override;
  void event(std::string_view kind, std::string_view detail) override;
  bool last_tick() const override { return last_tick_; }

  boost::asio::steady_timer timer_;
  std::unique_ptr<ProcessReader> reader_;
  log::SampleWriter& writer_;
  SamplerOptions options_;
  std::vector<Source*> sources_;
  std::vector<std::pair<std::string, std::string>> pending_events_;
  std::function<ExitInfo()> exit_info_;
  std::function<void(const SamplerStatus&)> on_sample_;
  std::function<void(EndReason)> on_end_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::steady_clock::time_point last_detail_;
  std::chrono::steady_clock::time_point last_sync_;
  std::chrono::steady_clock::time_point last_late_report_;
  std::uint64_t late_unreported_ = 0;
  std::uint64_t skipped_unreported_ = 0;
  double worst_late_s_ = 0;
  double current_t_ = 0;
  SamplerStatus status_;
  bool running_ = false;
  bool last_tick_ = false;
  MetricsTap tap_fn_;
  std::vector<std::pair<std::string, double>> tap_;
};

}  // namespace soak::sampler
