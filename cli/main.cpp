// soak: the command line. Parses arguments, calls a command, maps every failure to one line
// on stderr and a named exit code (SPEC.md).

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "soak/probes/http_probe.hpp"
#include "soak/sampler/duration.hpp"
#include "soak/sampler/launcher.hpp"
#include "soak/log/log.hpp"
#include "soak/scenarios/scenario.hpp"

namespace {

using soak::cli::ExitCode;

std::chrono::nanoseconds parse_flag_duration(const std::string& flag, const std::string& text) {
  try {
    return soak::sampler::parse_duration(text);
  } catch (const soak::sampler::DurationError& e) {
    throw soak::cli::UsageError(flag + ": " + e.what());
  }
}

struct Flags {
  std::vector<std::string> probes;
  std::string metrics_listen;
  std::string targets;
  std::string warmup;
  std::string duration;
  std::string interval = "1s";
  std::string out;
  bool keep_running = false;
  bool quiet = false;
};

void add_judge_flags(CLI::App& cmd, Flags& flags) {
  cmd.add_option("--targets", flags.targets,
                 "targets file (JSON) overriding the documented memory targets");
  cmd.add_option("--warmup", flags.warmup,
                 "treat this long from the start as warm-up (default: found automatically)");
}

soak::cli::JudgeOptions to_judge(const Flags& flags) {
  soak::cli::JudgeOptions judge;
  if (!flags.targets.empty()) {
    judge.targets_file = flags.targets;
    if (!std::filesystem::is_regular_file(flags.targets)) {
      throw soak::cli::UsageError("--targets: no such file " + flags.targets);
    }
  }
  if (!flags.warmup.empty()) judge.warmup = parse_flag_duration("--warmup", flags.warmup);
  return judge;
}

void add_sampling_flags(CLI::App& cmd, Flags& flags) {
  cmd.add_option("--duration,-d", flags.duration,
                 "how long to sample (500ms, 30s, 10m, 8h); default: until the target exits "
                 "or Ctrl-C");
  cmd.add_option("--interval,-i", flags.interval, "time between samples, down to 1ms")
      ->capture_default_str();
  cmd.add_option("--out,-o", flags.out,
                 "run directory; default ./soak-runs/<UTC timestamp>-<target name>/");
  cmd.add_flag("--quiet,-q", flags.quiet, "no live status while sampling");
  cmd.add_option("--probe", flags.probes,
                 "also sample the target's own figures: 'json URL /pointer as name, ...' or "
                 "'prom URL metric{label=\"v\"} as name, ... | preset=go|node|jvm|dotnet|python|process'"
                 " [auth=ENV_VAR] [timeout=2s] [every=5s]; repeatable");
  cmd.add_option("--metrics-listen", flags.metrics_listen,
                 "serve the live run in Prometheus format at ADDR (PORT, :PORT or HOST:PORT; "
                 "127.0.0.1 when no host is given)");
  add_judge_flags(cmd, flags);
}

soak::cli::SamplingOptions to_options(const Flags& flags) {
  soak::cli::SamplingOptions options;
  if (!flags.duration.empty()) {
    options.duration = parse_flag_duration("--duration", flags.duration);
    if (options.duration->count() <= 0) {
      throw soak::cli::UsageError("--duration: must be greater than zero");
    }
  }
  options.interval = parse_flag_duration("--interval", flags.interval);
  if (options.interval < std::chrono::milliseconds(1)) {
    throw soak::cli::UsageError("--interval: '" + flags.interval +
                                "' is below the 1ms minimum; use 1ms or more");
  }
  if (!flags.out.empty()) options.out_dir = flags.out;
  options.keep_running = flags.keep_running;
  options.quiet = flags.quiet;
  options.judge = to_judge(flags);
  for (const auto& spec : flags.probes) {
    try {
      soak::probes::parse_probe_spec(spec);  // every spec checked before anything starts
    } catch (const soak::probes::ProbeSpecError& e) {
      throw soak::cli::UsageError(e.what());
    }
  }
  options.probes = flags.probes;
  options.metrics_listen = flags.metrics_listen;
  return options;
}

int run_cli(int argc, char** argv) {
  // Everything after "--" is the command soak run launches, verbatim.
  std::vector<std::string> args;
  std::vector<std::string> command;
  bool after_dashes = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (after_dashes) {
      command.push_back(arg);
    } else if (arg == "--") {
      after_dashes = true;
    } else {
      args.push_back(arg);
    }
  }

  CLI::App app{"soak: a long-running soak and memory-leak detector"};
  app.set_version_flag("--version", std::string("soak ") + SOAK_VERSION);
  app.require_subcommand(1);

  Flags attach_flags;
  int pid = 0;
  CLI::App* attach = app.add_subcommand(
      "attach", "sample a running process (and its children) until --duration elapses, the "
                "target exits, or Ctrl-C; then analyze and report");
  attach->add_option("PID", pid, "process id to attach to")->required();
  add_sampling_flags(*attach, attach_flags);

  Flags run_flags;
  std::string scenario;
  CLI::App* run = app.add_subcommand(
      "run", "soak run [options] -- CMD [ARGS...]: launch CMD (no load), sample it and its "
             "children until it exits or --duration elapses; its exit code is recorded");
  run->add_option("SCENARIO", scenario, "a scenario file (JSON)");
  add_sampling_flags(*run, run_flags);
  run->add_flag("--keep-running", run_flags.keep_running,
                "leave the launched target running when the run ends");

  std::string run_path;
  soak::cli::AnalyzeOptions analyze_options;
  Flags analyze_flags;
  CLI::App* analyze = app.add_subcommand(
      "analyze", "(re)analyze a recorded run: a run directory or a samples log");
  analyze->add_option("RUN", run_path, "run directory or samples log (not with --prometheus)");
  soak::cli::FleetOptions fleet;
  std::string since = "1h", step = "15s";
  analyze->add_option("--prometheus", fleet.prometheus_url,
                      "judge the series of a Prometheus server instead of a run (with --query)");
  analyze->add_option("--query", fleet.query, "PromQL whose series are judged (with --prometheus)");
  analyze->add_option("--since", since, "how far back to read (with --prometheus)")->capture_default_str();
  analyze->add_option("--step", step, "resolution to read at (with --prometheus)")->capture_default_str();
  analyze->add_option("--format", analyze_options.format, "text or json (json goes to stdout)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  add_judge_flags(*analyze, analyze_flags);
  std::string junit;
  analyze->add_option("--junit", junit, "also write the checks as JUnit XML to this file");

  std::string report_run, report_out;
  Flags report_flags;
  CLI::App* report = app.add_subcommand(
      "report", "render the self-contained HTML report of a run (a run directory or a log)");
  report->add_option("RUN", report_run, "run directory or samples log")->required();
  report->add_option("-o,--output", report_out, "where to write it (default RUN/report.html)");
  add_judge_flags(*report, report_flags);

  std::reverse(args.begin(), args.end());  // CLI11 consumes a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "soak: %s (see soak --help)\n", e.what());
    return static_cast<int>(ExitCode::usage_error);
  }

  if (!command.empty() && !run->parsed()) {
    throw soak::cli::UsageError("'-- CMD' is only valid after 'soak run'");
  }
  ExitCode code = ExitCode::usage_error;
  if (attach->parsed()) {
    if (pid <= 0) throw soak::cli::UsageError("PID must be a positive number, got " + std::to_string(pid));
    code = soak::cli::attach_command(pid, to_options(attach_flags));
  } else if (run->parsed()) {
    if (command.empty()) {
      if (scenario.empty()) {
        throw soak::cli::UsageError("nothing to run: give 'soak run SCENARIO.json' or 'soak run -- CMD [ARGS...]'");
      }
      soak::cli::SamplingOptions options = to_options(run_flags);
      options.interval_given = run->count("--interval") > 0;
      return static_cast<int>(soak::cli::scenario_command(scenario, options));
    }
    if (!scenario.empty()) {
      throw soak::cli::UsageError("give either a scenario file or '-- CMD', not both");
    }
    code = soak::cli::run_command(command, to_options(run_flags));
  } else if (analyze->parsed()) {
    if (!fleet.prometheus_url.empty()) {
      if (fleet.query.empty()) throw soak::cli::UsageError("--prometheus needs --query 'PROMQL'");
      if (!run_path.empty()) throw soak::cli::UsageError("give either RUN or --prometheus, not both");
      fleet.since_s = std::chrono::duration<double>(parse_flag_duration("--since", since)).count();
      fleet.step_s = std::chrono::duration<double>(parse_flag_duration("--step", step)).count();
      if (fleet.step_s <= 0) throw soak::cli::UsageError("--step: must be greater than zero");
      fleet.format = analyze_options.format;
      return static_cast<int>(soak::cli::fleet_command(fleet));
    }
    if (run_path.empty()) throw soak::cli::UsageError("analyze needs RUN (a run directory or a samples log), or --prometheus URL --query PROMQL");
    analyze_options.judge = to_judge(analyze_flags);
    if (!junit.empty()) analyze_options.junit_file = junit;
    code = soak::cli::analyze_command(run_path, analyze_options);
  } else if (report->parsed()) {
    std::optional<std::filesystem::path> out;
    if (!report_out.empty()) out = report_out;
    code = soak::cli::report_command(report_run, out, to_judge(report_flags));
  }
  return static_cast<int>(code);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_cli(argc, argv);
  } catch (const soak::cli::UsageError& e) {
    std::fprintf(stderr, "soak: %s\n", e.what());
    return static_cast<int>(ExitCode::usage_error);
  } catch (const soak::sampler::LaunchError& e) {
    std::fprintf(stderr, "soak: %s\n", e.what());
    return static_cast<int>(ExitCode::usage_error);
  } catch (const soak::log::LogError& e) {
    std::fprintf(stderr, "soak: %s\n", e.what());
    return static_cast<int>(ExitCode::usage_error);
  } catch (const soak::probes::ProbeSpecError& e) {
    std::fprintf(stderr, "soak: %s\n", e.what());
    return static_cast<int>(ExitCode::usage_error);
  } catch (const soak::scenarios::ScenarioError& e) {
    std::fprintf(stderr, "soak: %s is not a valid scenario (%zu problem%s):\n", e.file().c_str(),
                 e.errors().size(), e.errors().size() == 1 ? "" : "s");
    for (const auto& error : e.errors()) std::fprintf(stderr, "soak:   %s\n", error.c_str());
    return static_cast<int>(ExitCode::usage_error);
  } catch (const soak::cli::RuntimeError& e) {
    std::fprintf(stderr, "soak: %s\n", e.what());
    return static_cast<int>(ExitCode::runtime_error);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "soak: unexpected failure (%s); please report it with the command line\n",
                 e.what());
    return static_cast<int>(ExitCode::runtime_error);
  }
}
