#include "soak/scenarios/session.hpp"

#include <signal.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>

#include "soak/analysis/stop_rule.hpp"
#include "soak/log/header.hpp"
#include "soak/log/metrics.hpp"
#include "soak/log/redact.hpp"
#include "soak/log/run_dir.hpp"
#include "soak/log/run_log_builder.hpp"
#include "soak/probes/exporter.hpp"
#include "soak/probes/http_probe.hpp"
#include "soak/report/words.hpp"
#include "soak/sampler/launcher.hpp"
#include "soak/sampler/memory_sources.hpp"
#include "soak/sampler/periodic.hpp"
#include "soak/sampler/process.hpp"
#include "soak/sampler/stop_signals.hpp"
#include "soak/scenarios/driver.hpp"
#include "soak/scenarios/external_load.hpp"
#include "soak/scenarios/gc_checkpoint.hpp"
#include "soak/scenarios/runner.hpp"
#include "soak/scenarios/scenario.hpp"

namespace soak::scenarios {

namespace fs = std::filesystem;
using sampler::ReadStatus;

namespace {

/// How long a launched target is given to end after SIGTERM before SIGKILL.
constexpr std::chrono::milliseconds kStopGrace{5000};
/// How often the sampling thread looks for a stop request: a Ctrl-C is acted on within this.
constexpr std::chrono::milliseconds kStopPoll{50};
/// How often the interim analysis judges the run so far: often enough for a live view; its cost
/// is bounded (a snapshot of the live log, log::kSeriesCapacity points a series) however long
/// the run.
constexpr std::chrono::minutes kInterimPeriod{1};
/// The first interim analysis comes early, once the costlier readings (every 10 s) have come:
/// it says "too little data" yet, but its copy of the live log takes its memory now, so soak's
/// RSS is what it will be from the first minute on (log/run_log_builder.hpp).
constexpr std::chrono::seconds kFirstInterim{15};

std::optional<double> seconds(const std::optional<std::chrono::nanoseconds>& d) {
  if (!d) return std::nullopt;
  return std::chrono::duration<double>(*d).count();
}

/// The program's full name: the kernel keeps only 15 characters of it (comm: "soak-example-le"),
/// the command line has all of it. When argv[0]'s file name starts with comm it is that name;
/// otherwise (an interpreter, a renamed process) comm is what there is.
std::string display_name(const sampler::ProcessInfo& info) {
  if (info.cmdline.empty()) return info.name;
  const std::string program = fs::path(info.cmdline.front()).filename().string();
  if (program.size() > info.name.size() && program.starts_with(info.name)) return program;
  return info.name;
}

nlohmann::ordered_json make_header(const sampler::ProcessInfo& info, const SessionOptions& options,
                                   const char* mode) {
  const sampler::HostInfo host = sampler::read_host_info();
  log::HeaderFields fields;
  fields.started_at = log::utc_now_iso();
  fields.interval_s = std::chrono::duration<double>(options.interval).count();
  // Secrets in the target's command line never reach the log (nor the report or JUnit).
  fields.target = {info.identity.pid, display_name(info),
                   log::redact_command_line(info.cmdline, log::compile_redactions(options.redact)),
                   info.identity.start_ticks, static_cast<std::uint32_t>(info.uid)};
  fields.host = {host.kernel, host.page_size, host.mem_total_bytes, host.clock_ticks_per_s};
  fields.mode = mode;
  fields.planned_duration_s = seconds(options.duration);
  fields.soak_version = SOAK_VERSION;
  return log::make_header(fields);
}

/// Opens the process soak is to sample, or says in one sentence why it cannot.
/// `gone` is what to say when there is no such process.
std::unique_ptr<sampler::ProcessReader> open_target(sampler::Pid pid, const StartError& gone) {
  sampler::OpenResult opened = sampler::ProcessReader::open(pid);
  if (opened.status == ReadStatus::exited) throw gone;
  if (opened.status == ReadStatus::permission_denied) {
    throw StartError(StartError::Kind::runtime,
                     "cannot read process " + std::to_string(pid) +
                         ": permission denied; run soak as the target's user or as root");
  }
  if (opened.status == ReadStatus::kernel_thread) {
    throw StartError(StartError::Kind::bad_input,
                     "process " + std::to_string(pid) +
                         " is a kernel thread: it has no user memory to sample; give the PID "
                         "of a user process");
  }
  if (opened.status != ReadStatus::ok) {
    throw StartError(StartError::Kind::runtime, "cannot read process " + std::to_string(pid) +
                                                    ": " + std::strerror(opened.error_number));
  }
  return std::move(opened.reader);
}

/// The exporter's figures: each analyzed metric's class, and its growth per second with its
/// interval when there was data enough for one.
std::vector<probes::GrowthFigures> growth_of(const analysis::Verdict& verdict) {
  std::vector<probes::GrowthFigures> growth;
  for (const auto& m : verdict.metrics) {
    if (!m.analysis) continue;
    const analysis::SeriesAnalysis& a = *m.analysis;
    growth.push_back({m.name, analysis::to_string(a.classification),
                      a.classification != analysis::Classification::insufficient, a.growth_per_s,
                      a.ci_low_per_s, a.ci_high_per_s});
  }
  return growth;
}

/// Re-analyzes the run every minute, off the sampling thread, for the view and the exporter:
/// a snapshot of `live`, which must outlive the task.
/// The interim analysis copies the live log and analyzes it on threads of its own, once a
/// minute; what it freed stays in the allocator's per-thread arenas unless given back, and over
/// a night soak's RSS would saw up and down by the size of a snapshot. glibc gives it back on
/// request; elsewhere the allocator's own policy applies.
void return_freed_memory() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

/// --stop-on-fail: every interim verdict goes through the stop rule, on the interim thread; a
/// decision is picked up by the sampling thread's stop watch, which ends the run in order.
class StopOnFail {
 public:
  explicit StopOnFail(const SessionOptions& options) : rule_(rule_options(options)) {}
  void consider(const analysis::Verdict& so_far) {
    const std::lock_guard lock(mutex_);
    if (decision_) return;
    decision_ = rule_.decide(so_far);
    if (!decision_) return;
    sentence_ = report::verdict_sentence(so_far);
    requested_.store(true);
  }
  bool requested() const { return requested_.load(); }
  /// The decision and the verdict's sentence at that moment; only once requested().
  std::pair<analysis::StopDecision, std::string> decision() const {
    const std::lock_guard lock(mutex_);
    return {*decision_, sentence_};
  }

 private:
  static analysis::StopRuleOptions rule_options(const SessionOptions& options) {
    analysis::StopRuleOptions r;
    r.planned_duration_s = seconds(options.duration);
    r.oom_within_s = seconds(options.stop_if_oom_within);
    return r;
  }
  mutable std::mutex mutex_;
  analysis::StopRule rule_;
  std::optional<analysis::StopDecision> decision_;
  std::string sentence_;
  std::atomic<bool> requested_{false};
};

std::unique_ptr<sampler::PeriodicTask> start_interim(const log::LiveRunLog& live,
                                                     const SessionOptions& options,
                                                     SessionView& view, probes::Exporter* exporter,
                                                     StopOnFail* stop_on_fail) {
  const analysis::Targets targets = judge::load_targets(options.judge);
  return std::make_unique<sampler::PeriodicTask>(
      kFirstInterim,
      [&live, targets, &view, exporter, stop_on_fail, copy = std::make_shared<log::RunLog>(),
       first = std::make_shared<bool>(true)] {
        try {
          // The same RunLog every minute: the copy reuses its memory instead of taking a new
          // snapshot's worth, so soak's RSS does not saw by a snapshot a minute.
          live.snapshot_into(*copy);
          const analysis::Verdict so_far = judge::interim(*copy, targets);
          if (stop_on_fail != nullptr) stop_on_fail->consider(so_far);
          view.on_interim(so_far);
          if (exporter)
            exporter->set_analysis(analysis::to_string(so_far.verdict), growth_of(so_far));
        } catch (const std::exception& e) {
          view.on_interim_failed(e.what());
        }
        return_freed_memory();
        // Then on the minute, as before: a minute, two minutes, ... after the start.
        return std::chrono::nanoseconds(
            std::exchange(*first, false) ? kInterimPeriod - kFirstInterim : kInterimPeriod);
      });
}

/// What the load driver of a scenario adds to a session: started on the session's io_context,
/// torn down before it.
struct LoadHooks {
  std::function<void(boost::asio::io_context&, sampler::Sampler&)> setup;
  std::function<void()> teardown;
  /// The load for the live view, from a sample's metrics; on the sampling thread.
  std::function<LoadReading(const std::vector<std::pair<std::string, double>>&)> read;
};

/// The sampler and its companions on one io_context, from the first tick to the end.
class Session {
 public:
  /// `exporter` (may be null) was bound before anything was written: a bad address is a bad
  /// start, not a stub run directory.
  Session(std::unique_ptr<sampler::ProcessReader> reader, log::SampleWriter& writer,
          const SessionOptions& options, SessionView& view,
          std::unique_ptr<probes::Exporter> exporter)
      : options_(options),
        view_(view),
        writer_(writer),
        exporter_(std::move(exporter)),
        sampler_(io_.get_executor(), std::move(reader), writer, sampler_options(options)),
        stop_watch_(io_),
        stop_on_fail_(options.stop_on_fail ? std::make_unique<StopOnFail>(options) : nullptr) {}

  sampler::Sampler& sampler() { return sampler_; }
  std::chrono::steady_clock::time_point start_time() const { return sampler_.start_time(); }

  sampler::EndReason run(const std::string& title, sampler::LaunchedProcess* launched,
                         const LoadHooks& load = {}) {
    if (launched != nullptr) sampler_.set_exit_info([launched] { return launched->wait(); });
    view_.begin(title, seconds(options_.duration));
    sampler_.set_on_sample([this](const sampler::SamplerStatus& s) { view_.on_sample(s); });
    start_exporter();
    install_metrics_tap(load.read);
    // Every line written from here on is also fed to the live log (the ones before are read
    // back), so the interim analysis never re-reads the file.
    const log::LiveRunLog live(writer_);
    const auto interim = start_interim(live, options_, view_, exporter_.get(), stop_on_fail_.get());
    add_sources();
    if (load.setup) load.setup(io_, sampler_);
    sampler::EndReason reason = sampler::EndReason::stopped;
    sampler_.start([&](sampler::EndReason r) {
      reason = r;
      ended_ = true;  // a poll already due when the run ends must not re-arm
      stop_watch_.cancel();
    });
    watch_stop_requests();
    io_.run();
    // Whatever the load hung on this io_context goes before the io_context does.
    if (load.teardown) load.teardown();
    view_.end(sampler_.status());
    return reason;
  }

  double seconds_since_start() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time()).count();
  }

 private:
  static sampler::SamplerOptions sampler_options(const SessionOptions& options) {
    sampler::SamplerOptions s;
    s.interval = options.interval;
    s.duration = options.duration;
    s.detail_period = options.detail_interval;
    s.redact = options.redact;
    return s;
  }

  /// Ctrl-C, SIGTERM or a closed terminal (counted by sampler/stop_signals.hpp from soak's
  /// first instant) end the run in order; polled on the sampling thread, 20 times a second.
  void watch_stop_requests() {
    if (ended_) return;
    if (sampler::stop_requests() > 0) {
      sampler_.stop(sampler::stop_signal_name(sampler::last_stop_signal()));
      return;
    }
    if (stop_on_fail_ && stop_on_fail_->requested()) {
      const auto [decision, sentence] = stop_on_fail_->decision();
      const nlohmann::json fields = {{"check", decision.check},
                                     {"why", analysis::to_string(decision.why)},
                                     {"decided_at_s", decision.at_s}};
      writer_.event(seconds_since_start(), "stopped_on_fail", sentence, fields);
      view_.note("--stop-on-fail: the verdict can no longer change; ending the run");
      sampler_.stop("stop-on-fail");
      return;
    }
    stop_watch_.expires_after(kStopPoll);
    stop_watch_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) watch_stop_requests();
    });
  }

  void start_exporter() {
    if (!exporter_) return;
    const sampler::ProcessInfo& info = sampler_.reader().info();
    exporter_->set_target(display_name(info), info.identity.pid);
    view_.note("serving the run at " + exporter_->url());
  }

  /// Every sample's metrics to the exporter and, for a load, the view (only when either wants
  /// them: the tap costs a copy of the names a tick).
  void install_metrics_tap(const decltype(LoadHooks::read)& read_load) {
    if (!exporter_ && !read_load) return;
    if (read_load) view_.on_load(LoadReading{});
    sampler_.set_metrics_tap(
        [this, read_load](const std::vector<std::pair<std::string, double>>& m) {
          if (exporter_) exporter_->set_sample(m, sampler_.status().samples + 1);
          if (read_load) view_.on_load(read_load(m));
        });
  }

  void add_sources() {
    const sampler::Pid pid = sampler_.reader().info().identity.pid;
    // The target's cgroup, when it has a memory controller of its own (containers, services).
    cgroup_ = sampler::make_cgroup_source(pid);
    if (cgroup_) sampler_.add_source(*cgroup_);
    // Where it grows: memory regions at the start, every regions_interval and at the end.
    regions_ = sampler::make_regions_source(pid, options_.regions_interval);
    if (regions_) sampler_.add_source(*regions_);
    // Probes fetch on their own threads; the sampler takes what they have on each tick.
    for (const auto& text : options_.probes) {
      probes_.push_back(
          std::make_unique<probes::HttpProbe>(probes::parse_probe_spec(text), options_.interval));
      sampler_.add_source(*probes_.back());
    }
    add_gc_checkpoint(pid);
  }

  /// Forced collections at an interval, read after they settle (--gc-checkpoint). Its events
  /// are written on this io_context's thread, between ticks, while the run lasts.
  void add_gc_checkpoint(sampler::Pid pid) {
    if (options_.gc_checkpoint.empty()) return;
    GcCheckpointHooks hooks;
    if (!probes_.empty()) {
      hooks.read_heap = [this] {
        std::map<std::string, double> all;
        for (const auto& probe : probes_) {
          std::map<std::string, double> values;
          std::string error;
          if (probe->fetch_now(values, error)) all.insert(values.begin(), values.end());
        }
        return all;
      };
    }
    hooks.record = [this](std::string_view kind, std::string detail, nlohmann::json extra) {
      boost::asio::post(io_, [this, kind = std::string(kind), detail = std::move(detail),
                              extra = std::move(extra)] {
        if (sampler_.running()) writer_.event(seconds_since_start(), kind, detail, extra);
      });
    };
    gc_checkpoint_ = std::make_unique<GcCheckpoint>(
        parse_gc_checkpoint(options_.gc_checkpoint), pid,
        writer_.path().parent_path() / log::gc_checkpoint_output_file, std::move(hooks));
    sampler_.add_source(*gc_checkpoint_);
  }

  const SessionOptions& options_;
  SessionView& view_;
  log::SampleWriter& writer_;
  std::unique_ptr<probes::Exporter> exporter_;
  boost::asio::io_context io_;
  sampler::Sampler sampler_;
  boost::asio::steady_timer stop_watch_;
  std::unique_ptr<StopOnFail> stop_on_fail_;  ///< --stop-on-fail; null without it
  bool ended_ = false;  ///< the sampler has finished (on the io_context's thread)
  std::unique_ptr<sampler::Source> cgroup_;
  std::unique_ptr<sampler::Source> regions_;
  std::vector<std::unique_ptr<probes::HttpProbe>> probes_;
  std::unique_ptr<GcCheckpoint> gc_checkpoint_;  // after probes_: its reads use them
};

/// The live exporter, bound now when asked for (ExporterError on a bad or busy address).
std::unique_ptr<probes::Exporter> bind_exporter(const SessionOptions& options) {
  if (options.metrics_listen.empty()) return nullptr;
  return std::make_unique<probes::Exporter>(options.metrics_listen);
}

/// Stops a launched target still running at the end (not with --keep-running) and logs it.
void stop_if_running(sampler::LaunchedProcess& target, log::SampleWriter& writer, double t,
                     bool keep_running, SessionResult& result) {
  if (!target.exit_info() && !keep_running) {
    // A second Ctrl-C skips what is left of the grace.
    const int requests = sampler::stop_requests();
    const sampler::ExitInfo stopped =
        target.terminate(kStopGrace, [requests] { return sampler::stop_requests() > requests; });
    writer.event(t, log::event::target_stopped,
                 "soak stopped the target at the end of the run: " + stopped.detail);
    result.stopped_by_soak = true;
  }
  result.target_exit = target.exit_info();
}

/// The command ended before it could be read even once: a complete, honest record of it.
void record_early_exit(const fs::path& dir, const std::vector<std::string>& argv,
                       sampler::LaunchedProcess& target, const SessionOptions& options) {
  sampler::ProcessInfo info;
  info.identity.pid = target.pid();
  info.name = fs::path(argv.front()).filename().string();
  info.cmdline = argv;
  log::SampleWriter writer(dir / log::samples_file, make_header(info, options, "run"));
  const sampler::ExitInfo exit = target.wait();
  nlohmann::json extra = nlohmann::json::object();
  if (exit.exit_code) extra["exit_code"] = *exit.exit_code;
  if (exit.signal) extra["signal"] = *exit.signal;
  writer.event(0.0, log::event::target_exited, exit.detail, extra);
  writer.event(0.0, log::event::run_ended, sampler::to_string(sampler::EndReason::target_exited));
}

}  // namespace

SessionResult attach(sampler::Pid pid, const SessionOptions& options, SessionView& view) {
  auto reader =
      open_target(pid, StartError(StartError::Kind::bad_input,
                                  "no process with PID " + std::to_string(pid) +
                                      " (it may have exited); check the PID with `ps -e`"));
  const sampler::ProcessInfo info = reader->info();
  const std::string name = display_name(info);
  auto exporter = bind_exporter(options);
  SessionResult result;
  result.judge = options.judge;
  result.dir = log::create_run_dir(options.out_dir, name);
  log::SampleWriter writer(result.dir / log::samples_file, make_header(info, options, "attach"),
                           options.log_segments);
  view.note("attached to " + std::to_string(pid) + " (" + name + "); writing " +
            result.dir.string());
  Session session(std::move(reader), writer, options, view, std::move(exporter));
  result.reason = session.run("attach " + std::to_string(pid) + " (" + name + ")", nullptr);
  return result;
}

SessionResult run_command(const std::vector<std::string>& argv, const SessionOptions& options,
                          SessionView& view) {
  const std::string name = fs::path(argv.front()).filename().string();
  auto exporter = bind_exporter(options);
  SessionResult result;
  result.judge = options.judge;
  result.dir = log::create_run_dir(options.out_dir, name);
  sampler::LaunchOptions launch;
  launch.argv = argv;
  launch.output_file = result.dir / log::target_output_file;
  launch.dies_with_soak = !options.keep_running;
  sampler::LaunchedProcess target(launch);
  if (options.keep_running) target.release();

  sampler::OpenResult opened = sampler::ProcessReader::open(target.pid());
  if (opened.status != ReadStatus::ok) {
    record_early_exit(result.dir, argv, target, options);
    result.reason = sampler::EndReason::target_exited;
    result.target_exit = target.exit_info();
    return result;
  }
  const sampler::ProcessInfo info = opened.reader->info();
  log::SampleWriter writer(result.dir / log::samples_file, make_header(info, options, "run"),
                           options.log_segments);
  view.note("started " + name + " as pid " + std::to_string(target.pid()) + "; writing " +
            result.dir.string() + " (target output: " + launch.output_file->string() + ")");
  Session session(std::move(opened.reader), writer, options, view, std::move(exporter));
  result.reason =
      session.run("run " + name + " (pid " + std::to_string(target.pid()) + ")", &target);
  stop_if_running(target, writer, session.seconds_since_start(), options.keep_running, result);
  return result;
}

namespace {

/// The sampling options a scenario asks for, with the command line's overrides applied.
SessionOptions scenario_options(const Scenario& scenario, const SessionOptions& given) {
  auto ns = [](double s) { return std::chrono::nanoseconds(static_cast<std::int64_t>(s * 1e9)); };
  SessionOptions options = given;
  if (!given.interval_given) options.interval = ns(scenario.interval_s);
  if (given.gc_checkpoint.empty()) options.gc_checkpoint = scenario.gc_checkpoint;
  options.duration = ns(scenario.duration_s);
  options.detail_interval = ns(scenario.detail_interval_s);
  if (!scenario.targets.empty() && !options.judge.targets_document) {
    options.judge.targets_document = scenario.targets;
  }
  return options;
}

/// Launches the scenario's command, or names the PID it attaches to.
sampler::Pid start_target(const Scenario& scenario, const SessionOptions& options,
                          const fs::path& dir, std::optional<sampler::LaunchedProcess>& launched) {
  if (scenario.attach_pid) return *scenario.attach_pid;
  sampler::LaunchOptions launch;
  launch.argv = scenario.command;
  launch.working_directory = scenario.working_directory;
  launch.environment = scenario.environment;
  launch.output_file = dir / log::target_output_file;
  launch.dies_with_soak = !options.keep_running;
  launched.emplace(launch);
  if (options.keep_running) launched->release();
  return launched->pid();
}

/// Finds the target's URL and waits until it answers; then the probes can name it.
std::string make_ready(const Scenario& scenario, const fs::path& dir, sampler::Pid pid,
                       SessionOptions& options) {
  std::string base_url;
  try {
    base_url = discover_base_url(scenario.base_url, scenario.port_from_output,
                                 dir / log::target_output_file, pid, scenario.ready_timeout_s);
    wait_until_ready(base_url, scenario.ready_path, pid, scenario.ready_timeout_s);
  } catch (const TargetNotReady& e) {
    throw StartError(StartError::Kind::runtime, e.what());
  }
  for (std::string spec : scenario.probes) {
    for (auto pos = spec.find("${base_url}"); pos != std::string::npos;
         pos = spec.find("${base_url}")) {
      spec.replace(pos, std::string_view("${base_url}").size(), base_url);
    }
    options.probes.push_back(probes::parse_probe_spec(spec).text);
  }
  return base_url;
}

/// A figure of the load to a sensible precision (the log and verdict.json are read by people).
double rounded(double v, double digits = 1000) {
  return std::round(v * digits) / digits;
}

/// p50, p95, p99 and the exact max of a histogram, in `scale` units a second; null when empty.
nlohmann::json percentiles(const LatencyHistogram& h, double max_s, double scale) {
  if (h.count() == 0) return nullptr;
  return {{"p50", rounded(h.quantile(0.50) * scale)},
          {"p95", rounded(h.quantile(0.95) * scale)},
          {"p99", rounded(h.quantile(0.99) * scale)},
          {"max", rounded(max_s * scale)}};
}

/// One request name's (or all requests') figures, as verdict.json's `load` has them.
nlohmann::ordered_json request_figures(const RequestTotals& t, double duration_s) {
  nlohmann::ordered_json j;
  j["requests"] = t.requests;
  j["answered"] = t.answered;
  j["errors"] = nlohmann::json::object();
  for (const auto& [kind, n] : t.errors) j["errors"][kind] = n;
  const std::uint64_t errors = t.error_count();
  j["error_rate"] =
      t.requests > 0 ? rounded(static_cast<double>(errors) / static_cast<double>(t.requests), 1e6)
                     : 0.0;
  j["rps"] = duration_s > 0 ? rounded(static_cast<double>(t.requests) / duration_s) : 0.0;
  j["latency_ms"] = percentiles(t.latency, t.max_latency_s, 1000);
  return j;
}

/// The whole load of a run, for the load_summary event (verdict.json's `load` is a copy).
nlohmann::ordered_json load_figures(const LoadTotals& t) {
  nlohmann::ordered_json j = request_figures(t.all, t.duration_s);
  j["sent"] = t.sent;
  j["duration_s"] = rounded(t.duration_s);
  j["by_request"] = nlohmann::json::object();
  for (const auto& [name, figures] : t.by_request)
    j["by_request"][name] = request_figures(figures, t.duration_s);
  if (t.jobs_done + t.jobs_failed > 0) {
    j["jobs"] = {{"done", t.jobs_done},
                 {"failed", t.jobs_failed},
                 {"duration_s", percentiles(t.job_duration, t.max_job_s, 1)}};
  }
  return j;
}

/// "sent 2000 requests: 1627 answered without error, 373 errors (http_5xx 373)".
std::string load_sentence(const LoadTotals& t) {
  const std::uint64_t errors = t.all.error_count();
  std::string s =
      "sent " + std::to_string(t.sent) + " requests: " + std::to_string(t.all.requests - errors) +
      " answered without error, " + std::to_string(errors) + (errors == 1 ? " error" : " errors");
  if (errors > 0) {
    std::string kinds;
    for (const auto& [kind, n] : t.all.errors) {
      kinds += (kinds.empty() ? "" : ", ") + kind + " " + std::to_string(n);
    }
    s += " (" + kinds + ")";
  }
  if (t.sent > t.all.requests)
    s += ", " + std::to_string(t.sent - t.all.requests) + " in flight at the end";
  return s;
}

/// The load driver as a session companion: created on the session's io_context, its figures a
/// source on the sampling clock; at teardown it is stopped and its totals kept.
struct Load {
  explicit Load(const Scenario& s) : scenario(s) {}
  const Scenario& scenario;
  boost::asio::ip::tcp::endpoint endpoint;
  std::string host_header;
  std::unique_ptr<LoadDriver> driver;
  std::unique_ptr<LoadSource> source;
  LoadTotals totals;
  std::uint64_t seen_sent = 0, seen_ended = 0;  ///< at the previous reading
  std::chrono::steady_clock::time_point seen_at{};

  bool active() const { return !scenario.requests.empty() || scenario.jobs.has_value(); }
  LoadHooks hooks() {
    if (!active()) return {};
    return {[this](boost::asio::io_context& io, sampler::Sampler& s) {
              driver =
                  std::make_unique<LoadDriver>(io.get_executor(), scenario, endpoint, host_header);
              source = std::make_unique<LoadSource>(*driver);
              s.add_source(*source);
              driver->start();
            },
            [this] {
              if (driver) {
                driver->stop();
                totals = driver->totals();
              }
              source.reset();
              driver.reset();
            },
            [this](const std::vector<std::pair<std::string, double>>& metrics) {
              return reading(metrics);
            }};
  }

  LoadReading reading(const std::vector<std::pair<std::string, double>>& metrics) {
    LoadReading r;
    if (!driver) return r;
    const LoadTotals& now = driver->totals();
    const auto at = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(at - seen_at).count();
    if (seen_at != std::chrono::steady_clock::time_point{} && dt > 0) {
      r.measured = true;
      r.sent_rps = static_cast<double>(now.sent - seen_sent) / dt;
      r.answered_rps = static_cast<double>(now.all.requests - seen_ended) / dt;
    }
    seen_sent = now.sent;
    seen_ended = now.all.requests;
    seen_at = at;
    if (now.all.requests > 0) {
      r.error_rate =
          static_cast<double>(now.all.error_count()) / static_cast<double>(now.all.requests);
    }
    for (const auto& [name, value] : metrics) {
      if (name == log::metric::load_p95_ms) r.p95_ms = value;
    }
    return r;
  }
};

/// An external load (load.command, load.locust, load.wrk) as a session companion: launched
/// when sampling begins (the target is ready), a source on the sampling clock, and stopped
/// after the sampling ended, when its final figures are read.
struct External {
  External(const Scenario& s, std::string url, fs::path run_dir, log::SampleWriter& w)
      : scenario(s), base_url(std::move(url)), dir(std::move(run_dir)), writer(w) {}
  const Scenario& scenario;
  std::string base_url;
  fs::path dir;
  log::SampleWriter& writer;
  std::unique_ptr<ExternalLoadRun> run;

  bool active() const { return scenario.external_load.has_value(); }
  LoadHooks hooks(double planned_s) {
    if (!active()) return {};
    return {[this, planned_s](boost::asio::io_context&, sampler::Sampler& s) {
              run = std::make_unique<ExternalLoadRun>(*scenario.external_load, base_url, dir,
                                                      planned_s);
              writer.event(0.0, log::event::load_started,
                           std::string("the load (") + to_string(scenario.external_load->kind) +
                               ") started; its output: " + (dir / kLoadOutputFile).string());
              s.add_source(*run);
            },
            {},
            [](const std::vector<std::pair<std::string, double>>& metrics) {
              LoadReading r;
              for (const auto& [name, value] : metrics) {
                if (name == log::metric::load_rps) {
                  r.measured = true;
                  r.answered_rps = r.sent_rps = value;
                }
                if (name == log::metric::load_p95_ms) r.p95_ms = value;
              }
              return r;
            }};
  }
  /// The load_summary event, once sampling has ended.
  void finish(double run_s) {
    if (!run) return;
    const nlohmann::ordered_json figures = run->finish(run_s);
    writer.event(run_s, log::event::load_summary, run->sentence(), {{"load", figures}});
  }
};

}  // namespace

SessionResult run_scenario(const Scenario& scenario, const SessionOptions& given,
                           SessionView& view) {
  SessionOptions options = scenario_options(scenario, given);
  judge::load_targets(options.judge);  // a bad targets block fails now, not after the run
  auto exporter = bind_exporter(options);
  SessionResult result;
  result.judge = options.judge;
  result.dir = log::create_run_dir(options.out_dir, scenario.name);
  std::optional<sampler::LaunchedProcess> launched;
  const sampler::Pid pid = start_target(scenario, options, result.dir, launched);
  const std::string base_url = make_ready(scenario, result.dir, pid, options);
  auto reader =
      open_target(pid, launched ? StartError(StartError::Kind::runtime,
                                             "the target exited before sampling began; see " +
                                                 (result.dir / log::target_output_file).string())
                                : StartError(StartError::Kind::bad_input,
                                             "no process with PID " + std::to_string(pid) +
                                                 " (from the scenario's target.pid)"));

  Load load(scenario);
  try {
    load.endpoint = parse_base_url(base_url, load.host_header);
  } catch (const std::invalid_argument& e) {  // a port the target printed that is no port
    throw StartError(StartError::Kind::runtime,
                     std::string(e.what()) +
                         " (from the target's output); check the scenario's "
                         "target.port_from_output");
  }
  nlohmann::ordered_json header = make_header(reader->info(), options, "scenario");
  log::add_scenario(header, {scenario.name, fs::absolute(scenario.file).string(),
                             probes::redact_urls(base_url), scenario.model,
                             scenario.limits.error_rate, scenario.limits.p95_s, scenario.targets});
  log::SampleWriter writer(result.dir / log::samples_file, header, options.log_segments);
  view.note("scenario " + scenario.name + " against " + probes::redact_urls(base_url) + " (pid " +
            std::to_string(pid) + "); writing " + result.dir.string());
  External external(scenario, base_url, result.dir, writer);
  Session session(std::move(reader), writer, options, view, std::move(exporter));
  result.reason =
      session.run("scenario " + scenario.name + " (pid " + std::to_string(pid) + ")",
                  launched ? &*launched : nullptr,
                  external.active() ? external.hooks(scenario.duration_s) : load.hooks());
  external.finish(session.seconds_since_start());
  if (load.active()) {
    writer.event(session.seconds_since_start(), log::event::load_summary,
                 load_sentence(load.totals), {{"load", load_figures(load.totals)}});
  }
  if (launched) {
    stop_if_running(*launched, writer, session.seconds_since_start(), options.keep_running, result);
  }
  return result;
}

}  // namespace soak::scenarios
