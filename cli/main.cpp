// soak: the command line. Parses arguments, calls a command, maps every failure to one line
// on stderr and a named exit code (SPEC.md).

#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "reference.hpp"
#include "soak/log/redact.hpp"
#include "soak/log/run_dir.hpp"
#include "soak/probes/exporter.hpp"
#include "soak/probes/http_probe.hpp"
#include "soak/report/words.hpp"
#include "soak/sampler/duration.hpp"
#include "soak/sampler/launcher.hpp"
#include "soak/sampler/stop_signals.hpp"
#include "soak/scenarios/gc_checkpoint.hpp"
#include "soak/scenarios/scenario.hpp"

namespace {

using soak::cli::ExitCode;
using soak::cli::UsageError;

std::chrono::nanoseconds parse_flag_duration(const std::string& flag, const std::string& text) {
  try {
    return soak::sampler::parse_duration(text);
  } catch (const soak::sampler::DurationError& e) {
    throw UsageError(flag + ": " + e.what());
  }
}

/// The flags of one subcommand, as typed.
struct Flags {
  std::vector<std::string> probes;
  std::vector<std::string> gc_checkpoint;  ///< the words of --gc-checkpoint
  std::vector<std::string> redact;         ///< --redact patterns
  std::string metrics_listen, targets, warmup, duration, interval = "1s", out, junit;
  std::string junit_inconclusive = "failure";
  std::string format = "text", prometheus, query, since = "1h", step = "15s", end, as_metric;
  bool keep_running = false;
  bool stop_on_fail = false;
  std::string stop_if_oom_within;      ///< --stop-if-oom-within D
  std::string full_rate_for = "1h";    ///< --full-rate-for D|all
  std::string segment_size = "64MiB";  ///< --segment-size SIZE
  bool quiet = false;
  soak::cli::LocustFlags locust;
};

void add_judge_flags(CLI::App& cmd, Flags& flags) {
  cmd.add_option("--targets", flags.targets,
                 "targets file (JSON) overriding the documented memory targets");
  cmd.add_option("--warmup", flags.warmup,
                 "treat this long from the start as warm-up (default: found automatically)");
}

/// An output file named on the command line must be writable before any work starts: its
/// folder exists and is writable, and it is not a folder itself (exit 3 otherwise).
std::filesystem::path usable_output_file(const std::string& flag, const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path file(path);
  std::error_code ec;
  if (fs::is_directory(file, ec)) {
    throw UsageError(flag + " " + path + " is a directory; give the path of a file to write");
  }
  const fs::path parent = file.has_parent_path() ? file.parent_path() : fs::path(".");
  if (!fs::is_directory(parent, ec)) {
    throw UsageError(flag + " " + path + ": no folder " + parent.string() + "; create it first");
  }
  if (::access(parent.c_str(), W_OK) != 0) {
    throw UsageError(flag + " " + path + ": the folder " + parent.string() +
                     " is not writable; choose another path");
  }
  return file;
}

soak::judge::JudgeOptions to_judge(const Flags& flags) {
  soak::judge::JudgeOptions judge;
  if (!flags.targets.empty()) {
    if (!std::filesystem::is_regular_file(flags.targets)) {
      throw UsageError("--targets: no such file " + flags.targets);
    }
    judge.targets_file = flags.targets;
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
                 "'prom URL metric{label=\"v\"} as name, ... | "
                 "preset=go|node|jvm|dotnet|python|process' [auth=ENV_VAR] [timeout=2s] "
                 "[every=5s]; repeatable");
  cmd.add_option("--metrics-listen", flags.metrics_listen,
                 "serve the live run in Prometheus format at ADDR (PORT, :PORT or HOST:PORT; "
                 "127.0.0.1 when no host is given)");
  cmd.add_option("--gc-checkpoint", flags.gc_checkpoint,
                 "force a full collection at an interval and record memory after it "
                 "(rss_bytes_after_gc, heap.*_after_gc): 'ACTION every=D [settle=3s] "
                 "[timeout=30s]'; ACTION is a URL to POST to (http://HOST:PORT/PATH?Q), "
                 "http:METHOD URL, jcmd (jcmd PID GC.run), signal:NAME (signal:USR1) or "
                 "cmd:PROGRAM ARGS (no shell; ${pid} replaced); put PID before it or quote it")
      ->expected(1, 8);
  cmd.add_flag("--stop-on-fail", flags.stop_on_fail,
               "end the run as soon as the verdict can no longer change (a hard limit crossed, "
               "a leak over its target measured over a tenth of the run); exit 1");
  cmd.add_option("--stop-if-oom-within", flags.stop_if_oom_within,
                 "with --stop-on-fail: also end a failing run once its leaking memory would "
                 "reach a limit (host memory, cgroup memory.max) within D");
  cmd.add_option("--redact", flags.redact,
                 "a regular expression for more of the target's command line to write as *** "
                 "(passwords, tokens and URL credentials always are); repeatable");
  cmd.add_option("--full-rate-for", flags.full_rate_for,
                 "keep samples on disk at full rate this long, then bin them to the resolution "
                 "the analysis reads (1h by default; 'all' keeps every sample)")
      ->capture_default_str();
  cmd.add_option("--segment-size", flags.segment_size,
                 "close the log into a compressed segment past this size (64MiB by default; "
                 "KiB, MiB, GiB; at least 64KiB)")
      ->capture_default_str();
  add_judge_flags(cmd, flags);
}

/// A size such as 64MiB, 512KiB, 1GiB or plain bytes; UsageError naming `flag` otherwise.
std::uint64_t parse_flag_size(const std::string& flag, const std::string& text) {
  std::size_t used = 0;
  double number = -1;
  try {
    number = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = text.substr(used);
  double scale = 0;
  for (const auto& [name, factor] : {std::pair{"", 1.0},
                                     {"B", 1.0},
                                     {"KiB", 1024.0},
                                     {"MiB", 1048576.0},
                                     {"GiB", 1073741824.0}}) {
    if (unit == name) scale = factor;
  }
  if (used == 0 || scale == 0 || !(number > 0) || number * scale > 1e15) {
    throw UsageError(flag + ": '" + text + "' is not a size; use e.g. 64MiB, 512KiB or 1GiB");
  }
  return static_cast<std::uint64_t>(number * scale);
}

/// --full-rate-for and --segment-size as the log's segment options.
soak::log::SegmentOptions log_segments(const Flags& flags) {
  soak::log::SegmentOptions segments{soak::log::kDefaultSegmentBytes,
                                     soak::log::kDefaultSegmentSeconds,
                                     soak::log::kDefaultFullRateSeconds};
  segments.segment_bytes = parse_flag_size("--segment-size", flags.segment_size);
  if (segments.segment_bytes < (std::uint64_t{64} << 10)) {
    throw UsageError("--segment-size: '" + flags.segment_size +
                     "' is below the 64KiB minimum; use 64KiB or more");
  }
  if (flags.full_rate_for == "all") {
    segments.full_rate_s = -1;
  } else {
    segments.full_rate_s =
        std::chrono::duration<double>(parse_flag_duration("--full-rate-for", flags.full_rate_for))
            .count();
  }
  return segments;
}

/// The words of --gc-checkpoint as one spec, checked now: a bad spec is a bad start.
std::string gc_checkpoint_spec(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& w : words) text += (text.empty() ? "" : " ") + w;
  if (text.empty()) return text;
  try {
    soak::scenarios::parse_gc_checkpoint(text);
  } catch (const soak::scenarios::GcCheckpointSpecError& e) {
    throw UsageError("--gc-checkpoint: " + std::string(e.what()));
  }
  return text;
}

soak::scenarios::SessionOptions to_session(const Flags& flags, const CLI::App& cmd) {
  soak::scenarios::SessionOptions options;
  if (!flags.duration.empty()) {
    options.duration = parse_flag_duration("--duration", flags.duration);
    if (options.duration->count() <= 0) throw UsageError("--duration: must be greater than zero");
  }
  options.interval = parse_flag_duration("--interval", flags.interval);
  if (options.interval < std::chrono::milliseconds(1)) {
    throw UsageError("--interval: '" + flags.interval +
                     "' is below the 1ms minimum; use 1ms or more");
  }
  options.interval_given = cmd.count("--interval") > 0;
  if (!flags.out.empty()) options.out_dir = flags.out;
  options.keep_running = flags.keep_running;
  options.stop_on_fail = flags.stop_on_fail || !flags.stop_if_oom_within.empty();
  if (!flags.stop_if_oom_within.empty()) {
    options.stop_if_oom_within =
        parse_flag_duration("--stop-if-oom-within", flags.stop_if_oom_within);
  }
  options.judge = to_judge(flags);
  options.log_segments = log_segments(flags);
  for (const auto& spec : flags.probes) {
    soak::probes::parse_probe_spec(spec);  // every spec checked before anything starts
  }
  options.probes = flags.probes;
  try {
    soak::log::compile_redactions(flags.redact);  // a bad pattern is a bad start
  } catch (const soak::log::RedactError& e) {
    throw UsageError(e.what());
  }
  options.redact = flags.redact;
  options.metrics_listen = flags.metrics_listen;
  options.gc_checkpoint = gc_checkpoint_spec(flags.gc_checkpoint);
  return options;
}

/// The last second of the year 9999: the latest --end a time stamp can show.
constexpr double kMaxEndUnixS = 253402300799;

soak::cli::FleetOptions to_fleet(const Flags& flags) {
  soak::cli::FleetOptions fleet;
  fleet.prometheus_url = flags.prometheus;
  fleet.query = flags.query;
  if (fleet.query.empty()) throw UsageError("--prometheus needs --query 'PROMQL'");
  fleet.since_s =
      std::chrono::duration<double>(parse_flag_duration("--since", flags.since)).count();
  fleet.step_s = std::chrono::duration<double>(parse_flag_duration("--step", flags.step)).count();
  if (fleet.step_s <= 0) throw UsageError("--step: must be greater than zero");
  if (!flags.end.empty()) {
    char* rest = nullptr;
    const double end = std::strtod(flags.end.c_str(), &rest);
    // Up to the year 9999 (strtod reads "inf" and "1e300", which no time stamp shows).
    if (rest == flags.end.c_str() || *rest != '\0' || !(end > 0 && end <= kMaxEndUnixS)) {
      throw UsageError(
          "--end: expected a Unix time in seconds from 1 to 253402300799 (the year 9999; e.g. "
          "1764633600), got '" +
          flags.end + "'");
    }
    fleet.end_unix_s = end;
  }
  if (!flags.as_metric.empty()) fleet.as_metric = flags.as_metric;
  fleet.format = flags.format;
  fleet.judge = to_judge(flags);
  if (!flags.junit.empty()) fleet.junit_file = usable_output_file("--junit", flags.junit);
  fleet.junit_inconclusive_fails = flags.junit_inconclusive == "failure";
  return fleet;
}

/// The command line, parsed: which subcommand and its flags.
struct Parsed {
  CLI::App app{"soak: a long-running soak and memory-leak detector"};
  CLI::App* attach = nullptr;
  CLI::App* run = nullptr;
  CLI::App* analyze = nullptr;
  CLI::App* report = nullptr;
  CLI::App* import = nullptr;
  CLI::App* man = nullptr;
  CLI::App* completion = nullptr;
  std::string shell;
  Flags flags;
  soak::cli::ImportCommandOptions import_options;
  std::string import_file, import_out, time_column, time_format;
  int pid = 0;
  std::string path;  ///< SCENARIO of run, RUN of analyze and report
  std::string report_out;
};

/// `soak man` and `soak completion bash`: the reference pages, from this very definition.
void define_reference_commands(Parsed& p) {
  p.man = p.app.add_subcommand("man", "print soak's man page (roff), generated from --help");
  p.completion =
      p.app.add_subcommand("completion",
                           "print a shell completion script: soak completion bash > ~/.local/share/"
                           "bash-completion/completions/soak");
  p.completion->add_option("SHELL", p.shell, "the shell (bash)")
      ->required()
      ->check(CLI::IsMember({"bash"}));
}

/// The exit codes, under every command's --help.
std::string exit_codes_footer() {
  std::string out = "Exit codes:";
  for (const auto& [code, meaning] : soak::cli::exit_code_meanings()) {
    out += "\n  " + std::to_string(code) + "  " + meaning;
  }
  return out;
}

void define_commands(Parsed& p) {
  p.app.name("soak");
  p.app.footer(exit_codes_footer());
  p.app.set_version_flag("--version", std::string("soak ") + SOAK_VERSION);
  p.app.require_subcommand(1);
  p.attach = p.app.add_subcommand(
      "attach",
      "sample a running process (and its children) until --duration elapses, the "
      "target exits, or Ctrl-C; then analyze and report");
  p.attach->add_option("PID", p.pid, "process id to attach to")->required();
  add_sampling_flags(*p.attach, p.flags);

  p.run = p.app.add_subcommand(
      "run",
      "soak run [options] -- CMD [ARGS...]: launch CMD (no load), sample it and its "
      "children until it exits or --duration elapses; its exit code is recorded");
  p.run->add_option("SCENARIO", p.path, "a scenario file (JSON)");
  add_sampling_flags(*p.run, p.flags);
  p.run->add_flag("--keep-running", p.flags.keep_running,
                  "leave the launched target running when the run ends");
  p.run->add_option("--locust", p.flags.locust.file,
                    "a Locust file as the load (headless, its stats read into the log and "
                    "verdict.json's load); with a scenario it replaces the scenario's load");
  p.run->add_option("--base-url", p.flags.locust.base_url,
                    "with --locust and '-- CMD': the target's URL (http://127.0.0.1:PORT)");
  p.run->add_option("--users", p.flags.locust.users, "with --locust: users (Locust's -u)");
  p.run->add_option("--spawn-rate", p.flags.locust.spawn_rate,
                    "with --locust: users started a second (Locust's -r)");
  p.run->add_option("--shape", p.flags.locust.shape,
                    "with --locust: the LoadTestShape class of the file to run");
  p.run->add_option("--ready", p.flags.locust.ready,
                    "with --locust and '-- CMD': a path that answers 2xx once the target is "
                    "ready (/health); the load starts then");

  p.analyze = p.app.add_subcommand("analyze",
                                   "(re)analyze a recorded run: a run directory or a samples log");
  p.analyze->add_option("RUN", p.path, "run directory or samples log (not with --prometheus)");
  p.analyze->add_option("--prometheus", p.flags.prometheus,
                        "judge the series of a Prometheus server instead of a run (with --query)");
  p.analyze->add_option("--query", p.flags.query,
                        "PromQL whose series are judged (with --prometheus)");
  p.analyze->add_option("--since", p.flags.since, "how far back to read (with --prometheus)")
      ->capture_default_str();
  p.analyze->add_option("--step", p.flags.step, "resolution to read at (with --prometheus)")
      ->capture_default_str();
  p.analyze->add_option("--end", p.flags.end,
                        "end of the window as a Unix time in seconds (with --prometheus; "
                        "default now)");
  p.analyze->add_option("--as", p.flags.as_metric,
                        "judge every series as this metric, e.g. rss_bytes for process memory "
                        "(with --prometheus; default: its metric label, else its name)");
  p.analyze->add_option("--format", p.flags.format, "text or json (json goes to stdout)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  add_judge_flags(*p.analyze, p.flags);
  p.analyze->add_option("--junit", p.flags.junit,
                        "also write the checks as JUnit XML to this file");
  p.analyze
      ->add_option("--junit-inconclusive", p.flags.junit_inconclusive,
                   "how JUnit shows an inconclusive check: failure (a release gate must not "
                   "go green on 'could not tell') or skipped (CI tools count it as green)")
      ->check(CLI::IsMember({"failure", "skipped"}))
      ->capture_default_str();

  p.report = p.app.add_subcommand(
      "report", "render the self-contained HTML report of a run (a run directory or a log)");
  p.report->add_option("RUN", p.path, "run directory or samples log")->required();
  p.report->add_option("-o,--output", p.report_out, "where to write it (default RUN/report.html)");
  add_judge_flags(*p.report, p.flags);

  p.import =
      p.app.add_subcommand("import", "turn another tool's recording into a run soak can analyze: " +
                                         soak::importers::format_names());
  p.import->add_option("FORMAT", p.import_options.format, "the recording's format")->required();
  p.import->add_option("FILE", p.import_file, "the recording")->required();
  p.import->add_option("--out", p.import_out,
                       "the run directory to write (default ./soak-runs/<time>-<name>/)");
  p.import->add_option("--time-column", p.time_column,
                       "csv: the time column, by name or 1-based number (default the first)");
  p.import
      ->add_option("--time-format", p.time_format,
                   "csv: epoch-s, epoch-ms, iso8601 or elapsed-s (default: detected)")
      ->check(CLI::IsMember({"epoch-s", "epoch-ms", "iso8601", "elapsed-s"}));
  p.import->add_option("--metric", p.import_options.read.csv.metrics,
                       "csv: METRIC=COLUMN[:UNIT], e.g. rss_bytes=RSS:KiB (repeatable; default "
                       "every column, named from its header)");
}

ExitCode dispatch(const Parsed& p, const std::vector<std::string>& command) {
  const Flags& f = p.flags;
  if (p.man->parsed() || p.completion->parsed()) {
    const std::string text = p.man->parsed()
                                 ? soak::cli::man_page(p.app, std::string("soak ") + SOAK_VERSION)
                                 : soak::cli::bash_completion(p.app);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0 ? ExitCode::pass : ExitCode::runtime_error;
  }
  if (!command.empty() && !p.run->parsed()) {
    throw UsageError("'-- CMD' is only valid after 'soak run'");
  }
  if (p.attach->parsed()) {
    if (p.pid <= 0) throw UsageError("PID must be a positive number, got " + std::to_string(p.pid));
    return soak::cli::attach_command(p.pid, to_session(f, *p.attach), f.quiet);
  }
  if (p.run->parsed()) {
    if (!command.empty() && !p.path.empty()) {
      throw UsageError("give either a scenario file or '-- CMD', not both");
    }
    if (!f.locust.file.empty()) {
      return soak::cli::locust_command(p.path, command, f.locust, to_session(f, *p.run), f.quiet);
    }
    if (!f.locust.base_url.empty() || !f.locust.shape.empty() || f.locust.users ||
        f.locust.spawn_rate || !f.locust.ready.empty()) {
      throw UsageError("--base-url, --users, --spawn-rate, --shape and --ready go with --locust");
    }
    if (!command.empty()) return soak::cli::run_command(command, to_session(f, *p.run), f.quiet);
    if (p.path.empty()) {
      throw UsageError(
          "nothing to run: give 'soak run SCENARIO.json' or 'soak run -- CMD [ARGS...]'");
    }
    return soak::cli::scenario_command(p.path, to_session(f, *p.run), f.quiet);
  }
  if (p.analyze->parsed()) {
    if (!f.prometheus.empty()) {
      if (!p.path.empty()) throw UsageError("give either RUN or --prometheus, not both");
      return soak::cli::fleet_command(to_fleet(f));
    }
    if (p.path.empty()) {
      throw UsageError(
          "analyze needs RUN (a run directory or a samples log), or --prometheus "
          "URL --query PROMQL");
    }
    soak::cli::AnalyzeOptions options{f.format, to_judge(f), std::nullopt};
    if (!f.junit.empty()) options.junit_file = usable_output_file("--junit", f.junit);
    options.junit_inconclusive_fails = f.junit_inconclusive == "failure";
    return soak::cli::analyze_command(p.path, options);
  }
  if (p.import->parsed()) {
    soak::cli::ImportCommandOptions options = p.import_options;
    options.file = p.import_file;
    if (!p.import_out.empty()) options.out = p.import_out;
    if (!p.time_column.empty()) options.read.csv.time_column = p.time_column;
    if (!p.time_format.empty()) options.read.csv.time_format = p.time_format;
    return soak::cli::import_command(options);
  }
  std::optional<std::filesystem::path> out;
  if (!p.report_out.empty()) out = usable_output_file("-o", p.report_out);
  return soak::cli::report_command(p.path, out, to_judge(f));
}

int run_cli(int argc, char** argv) {
  // Everything after "--" is the command soak run launches, verbatim.
  std::vector<std::string> args, command;
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
  Parsed parsed;
  define_commands(parsed);
  define_reference_commands(parsed);
  std::reverse(args.begin(), args.end());  // CLI11 consumes a reversed vector
  try {
    parsed.app.parse(args);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return parsed.app.exit(e);
    std::fprintf(stderr, "soak: %s (see soak --help)\n", e.what());
    return static_cast<int>(ExitCode::usage_error);
  }
  return static_cast<int>(dispatch(parsed, command));
}

/// The one line of a failure: what it says may quote a target's name, a file's bytes or a
/// scenario's text, so it reaches the terminal escaped.
int fail(ExitCode code, const char* what) {
  std::fprintf(stderr, "soak: %s\n", soak::report::escape_terminal(what).c_str());
  return static_cast<int>(code);
}

/// soak is itself a long-running process, and its analysis takes large blocks for a moment
/// every minute (the exact Theil-Sen selection enumerates up to a few million slopes). glibc's
/// default raises its mmap threshold to the largest block freed, and its trim threshold to twice
/// that, so after the first such block the next ones come from a thread's arena and stay
/// resident there: a night soak's RSS would carry the largest analysis it ever ran. Fixed
/// thresholds keep every block over 256 KiB mapped (given back the moment it is freed) and trim
/// free memory over 1 MiB at the top of the heap.
void keep_allocator_thresholds_fixed() {
#if defined(__GLIBC__)
  constexpr int kMapAbove = 256 * 1024;
  constexpr int kTrimAbove = 1024 * 1024;
  ::mallopt(M_MMAP_THRESHOLD, kMapAbove);
  ::mallopt(M_TRIM_THRESHOLD, kTrimAbove);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  using soak::scenarios::StartError;
  // From the first instant: a Ctrl-C while waiting for a target to be ready, or during the
  // stop grace, ends the run in order instead of killing soak.
  soak::sampler::install_stop_signals();
  keep_allocator_thresholds_fixed();
  try {
    return run_cli(argc, argv);
  } catch (const UsageError& e) {
    return fail(ExitCode::usage_error, e.what());
  } catch (const StartError& e) {
    return fail(
        e.kind() == StartError::Kind::bad_input ? ExitCode::usage_error : ExitCode::runtime_error,
        e.what());
  } catch (const soak::scenarios::ScenarioError& e) {
    using soak::report::escape_terminal;
    std::fprintf(stderr, "soak: %s is not a valid scenario (%zu problem%s):\n",
                 escape_terminal(e.file()).c_str(), e.errors().size(),
                 e.errors().size() == 1 ? "" : "s");
    for (const auto& error : e.errors()) {
      std::fprintf(stderr, "soak:   %s\n", escape_terminal(error).c_str());
    }
    return static_cast<int>(ExitCode::usage_error);
  } catch (const soak::sampler::LaunchError& e) {
    return fail(ExitCode::usage_error, e.what());
  } catch (const soak::log::LogWriteError& e) {
    return fail(ExitCode::runtime_error, e.what());
  } catch (const soak::log::LogError& e) {
    return fail(ExitCode::usage_error, e.what());
  } catch (const soak::log::RunDirError& e) {
    return fail(ExitCode::usage_error, e.what());
  } catch (const soak::judge::TargetsInputError& e) {
    return fail(ExitCode::usage_error, e.what());
  } catch (const soak::probes::ProbeSpecError& e) {
    return fail(ExitCode::usage_error, e.what());
  } catch (const soak::probes::ExporterError& e) {
    return fail(ExitCode::usage_error, e.what());
  } catch (const soak::importers::ImportError& e) {
    return fail(ExitCode::usage_error, e.what());
  } catch (const soak::cli::RuntimeError& e) {
    return fail(ExitCode::runtime_error, e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "soak: unexpected failure (%s); please report it with the command line\n",
                 e.what());
    return static_cast<int>(ExitCode::runtime_error);
  }
}
