// attach and run: one sampling session from the out directory to the summary.

#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <functional>
#include <cstring>
#include <ctime>

#include "commands.hpp"
#include "live_view.hpp"
#include "soak/sampler/launcher.hpp"
#include "soak/sampler/periodic.hpp"
#include "soak/sampler/process.hpp"
#include "soak/probes/http_probe.hpp"
#include "soak/sampler/memory_sources.hpp"
#include "soak/sampler/sampler.hpp"
#include "soak/scenarios/driver.hpp"
#include "soak/scenarios/runner.hpp"
#include "soak/scenarios/scenario.hpp"

namespace soak::cli {

namespace fs = std::filesystem;
using sampler::ReadStatus;

namespace {

std::string utc_now_iso() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string utc_now_compact() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string safe_name(const std::string& name) {
  std::string out;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    out.push_back(ok ? c : '_');
  }
  return out.empty() ? "target" : out;
}

/// Creates the run directory; refuses one that already holds a run (never overwrite data).
fs::path prepare_out_dir(const SamplingOptions& options, const std::string& target_name) {
  const fs::path dir = options.out_dir ? *options.out_dir
                                       : fs::path("soak-runs") /
                                             (utc_now_compact() + "-" + safe_name(target_name));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw UsageError("cannot create output directory " + dir.string() + ": " +
                     (ec ? ec.message() : std::string("exists and is not a directory")) +
                     "; pass a writable --out DIR");
  }
  if (fs::exists(dir / "samples.ndjson")) {
    throw UsageError(dir.string() +
                     " already holds a run (samples.ndjson); pass a new --out DIR so no "
                     "recorded data is overwritten");
  }
  return dir;
}

nlohmann::ordered_json make_header(const sampler::ProcessInfo& info, const SamplingOptions& options,
                           const char* mode) {
  const sampler::HostInfo host = sampler::read_host_info();
  nlohmann::ordered_json header = {
      {"type", "header"},
      {"format", log::kLogFormat},
      {"version", log::kLogVersion},
      {"started_at", utc_now_iso()},
      {"interval_s", std::chrono::duration<double>(options.interval).count()},
      {"target",
       {{"pid", info.identity.pid},
        {"name", info.name},
        {"cmdline", info.cmdline},
        {"start_ticks", info.identity.start_ticks},
        {"uid", info.uid}}},
      {"host",
       {{"kernel", host.kernel},
        {"page_size", host.page_size},
        {"mem_total_bytes", host.mem_total_bytes},
        {"clock_ticks_per_s", host.clock_ticks_per_s}}},
      {"mode", mode},
      {"soak_version", SOAK_VERSION},
  };
  if (options.duration) {
    header["planned_duration_s"] = std::chrono::duration<double>(*options.duration).count();
  }
  return header;
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "signal";
  }
}

/// Re-analyzes the log every minute, off the sampling thread, and hands the live view (and the
/// exporter) the result.
std::unique_ptr<sampler::PeriodicTask> start_interim_analysis(fs::path log, JudgeOptions judge, LiveView& view,
                                                              probes::Exporter* exporter) {
  const auto minute = std::chrono::minutes(1);
  return std::make_unique<sampler::PeriodicTask>(minute, [=, &view] {
    try {
      const InterimResult result = interim_summary(log, judge);
      view.set_analysis(result.line);
      if (exporter) exporter->set_analysis(result.verdict, result.growth);
    } catch (const std::exception& e) {
      view.set_analysis(std::string("(interim analysis failed: ") + e.what() + ")");
    }
    return std::chrono::nanoseconds(minute);
  });
}

struct SessionEnd {
  sampler::EndReason reason = sampler::EndReason::stopped;
  std::chrono::steady_clock::time_point start;  ///< t = 0 of the log
  double seconds_since_start() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
};

/// Samples `reader`'s process into `writer` until the run ends.
using SessionSetup = std::function<void(boost::asio::io_context&, sampler::Sampler&)>;

SessionEnd sample_until_end(std::unique_ptr<sampler::ProcessReader> reader, log::SampleWriter& writer,
                            const SamplingOptions& options, const std::string& title,
                            sampler::LaunchedProcess* launched, const SessionSetup& setup = {},
                            const std::function<void()>& teardown = {}) {
  boost::asio::io_context io;
  sampler::SamplerOptions sampler_options;
  sampler_options.interval = options.interval;
  sampler_options.duration = options.duration;
  sampler_options.detail_period = options.detail_interval;
  sampler::Sampler sampler(io.get_executor(), std::move(reader), writer, sampler_options);
  if (launched != nullptr) {
    sampler.set_exit_info([launched] { return launched->wait(); });
  }
  std::optional<double> planned;
  if (options.duration) planned = std::chrono::duration<double>(*options.duration).count();
  LiveView view(stderr, title, planned, options.quiet);
  sampler.set_on_sample([&view](const sampler::SamplerStatus& s) { view.update(s); });

  // The live exporter, when asked for: the latest sample, and the analysis once a minute.
  std::unique_ptr<probes::Exporter> exporter;
  if (!options.metrics_listen.empty()) {
    try {
      exporter = std::make_unique<probes::Exporter>(options.metrics_listen);
    } catch (const probes::ExporterError& e) {
      throw UsageError(e.what());
    }
    exporter->set_target(sampler.reader().info().name, sampler.reader().info().identity.pid);
    std::fprintf(stderr, "soak: serving the run at %s\n", exporter->url().c_str());
    sampler.set_metrics_tap([&exporter, &sampler](const std::vector<std::pair<std::string, double>>& m) {
      exporter->set_sample(m, sampler.status().samples + 1);
    });
  }
  // Interim analysis once a minute, off the sampling thread so ticks stay on time.
  const auto interim = start_interim_analysis(writer.path(), options.judge, view, exporter.get());

  boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  signals.async_wait([&sampler](const boost::system::error_code& ec, int sig) {
    if (!ec) sampler.stop(signal_name(sig));
  });
  // The target's cgroup, when it has a memory controller of its own (containers, services).
  const auto cgroup = sampler::make_cgroup_source(sampler.reader().info().identity.pid);
  if (cgroup) sampler.add_source(*cgroup);
  // Where it grows: smaps regions at the start, every regions_interval and at the end.
  const auto regions =
      sampler::make_regions_source(sampler.reader().info().identity.pid, options.regions_interval);
  sampler.add_source(*regions);
  // Probes fetch on their own threads; the sampler only takes what they have on each tick.
  std::vector<std::unique_ptr<probes::HttpProbe>> probe_sources;
  for (const auto& text : options.probes) {
    probe_sources.push_back(std::make_unique<probes::HttpProbe>(probes::parse_probe_spec(text), options.interval));
    sampler.add_source(*probe_sources.back());
  }
  if (setup) setup(io, sampler);
  sampler::EndReason reason = sampler::EndReason::stopped;
  sampler.start([&](sampler::EndReason r) {
    reason = r;
    signals.cancel();
  });
  io.run();
  // Whatever the setup hung on this io_context (the load driver) goes before the io_context.
  if (teardown) teardown();
  view.finish(sampler.status());
  return SessionEnd{reason, sampler.start_time()};
}

/// Stops a launched target still running at the end of the run (not with --keep-running) and
/// logs it. Returns whether soak stopped it.
bool stop_if_running(sampler::LaunchedProcess& target, log::SampleWriter& writer,
                     const SessionEnd& end, bool keep_running) {
  if (target.exit_info() || keep_running) return false;
  const sampler::ExitInfo stopped = target.terminate(std::chrono::milliseconds(5000));
  writer.event(end.seconds_since_start(), "target_stopped",
               "soak stopped the target at the end of the run: " + stopped.detail);
  return true;
}

void print_target_exit(const sampler::LaunchedProcess& target, bool stopped_by_soak) {
  if (!target.exit_info()) return;
  std::printf(stopped_by_soak ? "target: stopped by soak at the end of the run (%s)\n" : "target: %s\n",
              target.exit_info()->detail.c_str());
}

ExitCode finish_run(const fs::path& dir, sampler::EndReason reason, const JudgeOptions& judge) {
  AnalyzeOptions analyze_options;
  analyze_options.judge = judge;
  analyze_options.report_file = dir / "report.html";
  std::printf("run ended: %s\n", sampler::to_string(reason));
  const ExitCode code = analyze_and_report(dir, analyze_options, true);
  if (reason == sampler::EndReason::write_failed) {
    throw RuntimeError("writing " + (dir / "samples.ndjson").string() +
                       " failed (disk full?); the log is valid up to the last sample written");
  }
  if (reason == sampler::EndReason::target_unreadable) {
    throw RuntimeError("the target became unreadable during the run (see the target_unreadable "
                       "event in the log); the data gathered until then was analyzed");
  }
  return code;
}

}  // namespace

ExitCode attach_command(sampler::Pid pid, const SamplingOptions& options) {
  sampler::OpenResult opened = sampler::ProcessReader::open(pid);
  if (opened.status == ReadStatus::exited) {
    throw UsageError("no process with PID " + std::to_string(pid) +
                     " (it may have exited); check the PID with `ps -e`");
  }
  if (opened.status == ReadStatus::permission_denied) {
    throw RuntimeError("cannot read process " + std::to_string(pid) +
                       ": permission denied; run soak as the target's user or as root");
  }
  if (opened.status != ReadStatus::ok) {
    throw RuntimeError("cannot read process " + std::to_string(pid) + ": " +
                       std::strerror(opened.error_number));
  }
  std::unique_ptr<sampler::ProcessReader> reader = std::move(opened.reader);
  const sampler::ProcessInfo info = reader->info();
  const fs::path dir = prepare_out_dir(options, info.name);
  SessionEnd end;
  {
    log::SampleWriter writer(dir / "samples.ndjson", make_header(info, options, "attach"));
    std::fprintf(stderr, "soak: attached to %d (%s); writing %s\n", pid, info.name.c_str(),
                 dir.c_str());
    end = sample_until_end(std::move(reader), writer, options,
                           "attach " + std::to_string(pid) + " (" + info.name + ")", nullptr);
  }
  return finish_run(dir, end.reason, options.judge);
}

ExitCode run_command(const std::vector<std::string>& command, const SamplingOptions& options) {
  const std::string name = fs::path(command.front()).filename().string();
  const fs::path dir = prepare_out_dir(options, name);
  sampler::LaunchOptions launch;
  launch.argv = command;
  launch.output_file = dir / "target.log";
  sampler::LaunchedProcess target(launch);
  if (options.keep_running) target.release();

  sampler::OpenResult opened = sampler::ProcessReader::open(target.pid());
  SessionEnd end{sampler::EndReason::target_exited, {}};
  bool stopped_by_soak = false;
  {
    if (opened.status == ReadStatus::ok) {
      const sampler::ProcessInfo info = opened.reader->info();
      log::SampleWriter writer(dir / "samples.ndjson", make_header(info, options, "run"));
      std::fprintf(stderr, "soak: started %s as pid %d; writing %s (target output: %s)\n",
                   name.c_str(), target.pid(), dir.c_str(), launch.output_file->c_str());
      end = sample_until_end(std::move(opened.reader), writer, options,
                             "run " + name + " (pid " + std::to_string(target.pid()) + ")",
                             &target);
      stopped_by_soak = stop_if_running(target, writer, end, options.keep_running);
    } else {
      // The command ended before it could be read even once: keep a complete, honest record.
      sampler::ProcessInfo info;
      info.identity.pid = target.pid();
      info.name = name;
      info.cmdline = command;
      log::SampleWriter writer(dir / "samples.ndjson", make_header(info, options, "run"));
      const sampler::ExitInfo exit = target.wait();
      nlohmann::json extra = nlohmann::json::object();
      if (exit.exit_code) extra["exit_code"] = *exit.exit_code;
      if (exit.signal) extra["signal"] = *exit.signal;
      writer.event(0.0, "target_exited", exit.detail, extra);
      writer.event(0.0, "run_ended", sampler::to_string(end.reason));
    }
  }
  print_target_exit(target, stopped_by_soak);
  return finish_run(dir, end.reason, options.judge);
}

}  // namespace soak::cli

namespace soak::cli {

ExitCode scenario_command(const fs::path& file, const SamplingOptions& cli_options) {
  const scenarios::Scenario scenario = scenarios::load_scenario(file, cli_options.duration);
  SamplingOptions options = cli_options;
  options.interval = std::chrono::nanoseconds(static_cast<std::int64_t>(scenario.interval_s * 1e9));
  if (cli_options.interval_given) options.interval = cli_options.interval;
  const double duration_s = scenario.duration_s;
  options.duration = std::chrono::nanoseconds(static_cast<std::int64_t>(duration_s * 1e9));
  options.detail_interval = std::chrono::nanoseconds(static_cast<std::int64_t>(scenario.detail_interval_s * 1e9));
  if (!scenario.targets.empty() && !options.judge.targets_document) {
    options.judge.targets_document = scenario.targets;
  }
  const fs::path dir = prepare_out_dir(options, scenario.name);

  std::optional<sampler::LaunchedProcess> launched;
  sampler::Pid pid = 0;
  if (scenario.attach_pid) {
    pid = *scenario.attach_pid;
  } else {
    sampler::LaunchOptions launch;
    launch.argv = scenario.command;
    launch.working_directory = scenario.working_directory;
    launch.environment = scenario.environment;
    launch.output_file = dir / "target.log";
    launched.emplace(launch);
    if (options.keep_running) launched->release();
    pid = launched->pid();
  }
  std::string base_url;
  try {
    base_url = scenarios::discover_base_url(scenario.base_url, scenario.port_from_output,
                                            dir / "target.log", pid, scenario.ready_timeout_s);
    scenarios::wait_until_ready(base_url, scenario.ready_path, pid, scenario.ready_timeout_s);
  } catch (const scenarios::TargetNotReady& e) {
    throw RuntimeError(e.what());
  }
  sampler::OpenResult opened = sampler::ProcessReader::open(pid);
  if (opened.status == ReadStatus::exited) {
    if (scenario.attach_pid) {
      throw UsageError("no process with PID " + std::to_string(pid) +
                       " (from the scenario's target.pid)");
    }
    throw RuntimeError("the target exited before sampling began; see " +
                       (dir / "target.log").string());
  }
  if (opened.status != ReadStatus::ok) {
    throw RuntimeError("cannot read process " + std::to_string(pid) + ": " +
                       sampler::to_string(opened.status) +
                       "; run soak as the target's user or as root");
  }
  for (std::string spec : scenario.probes) {
    for (auto pos = spec.find("${base_url}"); pos != std::string::npos; pos = spec.find("${base_url}")) {
      spec.replace(pos, 11, base_url);
    }
    options.probes.push_back(probes::parse_probe_spec(spec).text);
  }
  const sampler::ProcessInfo info = opened.reader->info();
  std::string host_header;
  const auto endpoint = scenarios::parse_base_url(base_url, host_header);

  SessionEnd end;
  bool stopped_by_soak = false;
  {
    nlohmann::ordered_json header = make_header(info, options, "scenario");
    header["scenario"] = {{"name", scenario.name}, {"file", fs::absolute(file).string()},
                          {"base_url", base_url}, {"model", scenario.model}};
    nlohmann::ordered_json limits = nlohmann::ordered_json::object();
    if (scenario.limits.error_rate) limits["error_rate"] = *scenario.limits.error_rate;
    if (scenario.limits.p95_s) limits["p95_s"] = *scenario.limits.p95_s;
    header["scenario"]["limits"] = limits;
    // The log carries the scenario's targets: a later `soak analyze` judges the same way.
    if (!scenario.targets.empty()) header["targets"] = scenario.targets;
    log::SampleWriter writer(dir / "samples.ndjson", header);
    std::fprintf(stderr, "soak: scenario %s against %s (pid %d); writing %s\n",
                 scenario.name.c_str(), base_url.c_str(), pid, dir.c_str());
    std::unique_ptr<scenarios::LoadDriver> driver;
    std::unique_ptr<scenarios::LoadSource> source;
    const bool has_load = !scenario.requests.empty() || scenario.jobs.has_value();
    auto setup = [&](boost::asio::io_context& io, sampler::Sampler& s) {
      if (!has_load) return;
      driver = std::make_unique<scenarios::LoadDriver>(io.get_executor(), scenario, endpoint, host_header);
      source = std::make_unique<scenarios::LoadSource>(*driver);
      s.add_source(*source);
      driver->start();
    };
    std::uint64_t sent = 0, answered = 0;
    auto teardown = [&] {
      if (driver) {
        driver->stop();
        sent = driver->total_sent();
        answered = driver->total_completed();
      }
      source.reset();
      driver.reset();
    };
    end = sample_until_end(std::move(opened.reader), writer, options,
                           "scenario " + scenario.name + " (pid " + std::to_string(pid) + ")",
                           launched ? &*launched : nullptr, setup, teardown);
    if (has_load) {
      writer.event(end.seconds_since_start(), "load_summary",
                   "sent " + std::to_string(sent) + " requests, " + std::to_string(answered) + " answered");
    }
    if (launched) stopped_by_soak = stop_if_running(*launched, writer, end, options.keep_running);
  }
  if (launched) print_target_exit(*launched, stopped_by_soak);
  return finish_run(dir, end.reason, options.judge);
}

}  // namespace soak::cli
