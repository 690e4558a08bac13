// attach, run, analyze and report: the session and the judgement, wired and printed.

#include "commands.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "live_view.hpp"
#include "soak/log/run_dir.hpp"
#include "soak/report/format.hpp"
#include "soak/report/words.hpp"
#include "soak/scenarios/scenario.hpp"

namespace soak::cli {

namespace fs = std::filesystem;

namespace {

bool use_color() {
  return ::isatty(STDOUT_FILENO) != 0 && std::getenv("NO_COLOR") == nullptr;
}

/// Prints a judgement: the warnings on stderr, then text or JSON on stdout.
void print(const judge::Judgement& judgement, const std::string& format,
           const std::optional<fs::path>& log_path) {
  for (const auto& w : judgement.warnings) {
    std::fprintf(stderr, "soak: warning: %s\n", report::escape_terminal(w).c_str());
  }
  if (format == "json") {
    std::printf("%s\n", judgement.document.dump(2).c_str());
  } else if (format == "text") {
    std::fputs(report::verdict_to_text(judgement.verdict, {use_color()}).c_str(), stdout);
    if (const auto load = judgement.document.find("load"); load != judgement.document.end()) {
      std::fputs(report::load_to_text(*load).c_str(), stdout);
    }
    if (log_path) {
      std::printf("  log:     %s\n", log_path->c_str());
      for (const auto& [what, path] : judgement.written) {
        std::printf("  %-8s %s\n", (what + ":").c_str(), path.c_str());
      }
    }
  }
  std::fflush(stdout);
}

/// The end of attach and run: how the target and the run ended, the verdict, the files.
ExitCode finish_run(const scenarios::SessionResult& run) {
  if (run.target_exit) {
    std::printf(run.stopped_by_soak ? "target: stopped by soak at the end of the run (%s)\n"
                                    : "target: %s\n",
                report::escape_terminal(run.target_exit->detail).c_str());
  }
  std::printf("run ended: %s\n", sampler::to_string(run.reason));
  const fs::path log_path = run.dir / log::samples_file;
  const judge::Judgement judgement = judge::judge_log(
      run.dir, run.judge, {run.dir / log::verdict_file, std::nullopt, run.dir / log::report_file});
  print(judgement, "text", log_path);
  if (run.reason == sampler::EndReason::write_failed) {
    throw RuntimeError("writing " + log_path.string() +
                       " failed (disk full?); the log is valid up to the last sample written");
  }
  if (run.reason == sampler::EndReason::target_unreadable) {
    throw RuntimeError(
        "the target became unreadable during the run (see the target_unreadable "
        "event in the log); the data gathered until then was analyzed");
  }
  return exit_code_for(judgement.verdict.verdict);
}

}  // namespace

ExitCode exit_code_for(analysis::VerdictKind kind) {
  switch (kind) {
    case analysis::VerdictKind::pass:
      return ExitCode::pass;
    case analysis::VerdictKind::fail:
      return ExitCode::fail;
    case analysis::VerdictKind::inconclusive:
      return ExitCode::inconclusive;
  }
  return ExitCode::inconclusive;
}

ExitCode attach_command(sampler::Pid pid, const scenarios::SessionOptions& options, bool quiet) {
  LiveView view(stderr, quiet);
  return finish_run(scenarios::attach(pid, options, view));
}

ExitCode run_command(const std::vector<std::string>& command,
                     const scenarios::SessionOptions& options, bool quiet) {
  LiveView view(stderr, quiet);
  return finish_run(scenarios::run_command(command, options, view));
}

ExitCode scenario_command(const fs::path& file, const scenarios::SessionOptions& options,
                          bool quiet) {
  const scenarios::Scenario scenario = scenarios::load_scenario(file, options.duration);
  LiveView view(stderr, quiet);
  return finish_run(scenarios::run_scenario(scenario, options, view));
}

ExitCode locust_command(const fs::path& scenario_file, const std::vector<std::string>& command,
                        const LocustFlags& locust, const scenarios::SessionOptions& options,
                        bool quiet) {
  scenarios::Scenario scenario;
  if (!scenario_file.empty()) {
    scenario = scenarios::load_scenario(scenario_file, options.duration);
  } else {
    if (locust.base_url.empty()) {
      throw UsageError("--locust with '-- CMD' needs --base-url URL, the target's address");
    }
    if (!scenarios::split_base_url(locust.base_url).ok()) {
      throw UsageError("--base-url " + locust.base_url +
                       ": expected an http:// URL with an IP address or localhost and a port");
    }
    scenario.name = fs::path(command.front()).filename().string();
    scenario.file = "--locust";
    scenario.command = command;
    scenario.base_url = locust.base_url;
    scenario.ready_path = locust.ready;
    if (options.duration) {
      scenario.duration_s = std::chrono::duration<double>(*options.duration).count();
    }
  }
  scenario.requests.clear();
  scenario.jobs.reset();
  scenario.stages.clear();
  scenario.external_load = scenarios::locust_load(locust.file, locust.users, locust.spawn_rate,
                                                  locust.shape, "--locust");
  LiveView view(stderr, quiet);
  return finish_run(scenarios::run_scenario(scenario, options, view));
}

ExitCode analyze_command(const fs::path& run, const AnalyzeOptions& options) {
  const fs::path dir = log::run_dir_of(log::resolve_log_path(run));
  const judge::Judgement judgement = judge::judge_log(
      run, options.judge,
      {dir / log::verdict_file, options.junit_file, {}, options.junit_inconclusive_fails});
  print(judgement, options.format, std::nullopt);
  // The verdict is printed; a JUnit file CI waits for that could not be written is an error.
  const bool junit_written = std::any_of(judgement.written.begin(), judgement.written.end(),
                                         [](const auto& w) { return w.first == "junit"; });
  if (options.junit_file && !junit_written) {
    throw RuntimeError("the JUnit file could not be written to " + options.junit_file->string());
  }
  return exit_code_for(judgement.verdict.verdict);
}

ExitCode report_command(const fs::path& run, const std::optional<fs::path>& out,
                        const judge::JudgeOptions& judge) {
  const fs::path dir = log::run_dir_of(log::resolve_log_path(run));
  const fs::path report = out ? *out : dir / log::report_file;
  const judge::Judgement judgement =
      judge::judge_log(run, judge, {dir / log::verdict_file, std::nullopt, report});
  print(judgement, "none", std::nullopt);
  const bool written = std::any_of(judgement.written.begin(), judgement.written.end(),
                                   [](const auto& w) { return w.first == "report"; });
  if (!written) throw RuntimeError("the report could not be written to " + report.string());
  std::printf("%s\n", report.c_str());
  return ExitCode::pass;
}

}  // namespace soak::cli
