#pragma once
// Checkpoints after a forced collection: at an interval, ask the target for a full garbage
// collection, wait for it to settle, then read RSS (and the heap probes) once more. The readings
// land in the log as `rss_bytes_after_gc` and `heap.<name>_after_gc`, which the analysis prefers
// for the growth of `rss_bytes` and `heap.<name>`: memory after a full collection has the GC's
// sawtooth taken out, the standard way to tell a growing live set from a lazy collector.
//
//   --gc-checkpoint 'ACTION every=D [settle=D] [timeout=D]'    (one argument, or several words)
//   ACTION   http://HOST:PORT/PATH?QUERY   POST to the URL (e.g. .../gc/collect?generation=2)
//            http:METHOD URL               GET, POST, PUT or DELETE to the URL
//            jcmd                          `jcmd PID GC.run` for the target (a JVM)
//            signal:NAME                   the signal to the target (USR1, SIGUSR2, HUP, ...)
//            cmd:PROGRAM [ARG...]          PROGRAM run without a shell, looked up in PATH,
//                                          `${pid}` replaced by the target's PID in every word
//   every=D  time between checkpoints (>= 1s), from the start of one to the start of the next
//   settle=D wait after the action before reading (default 3s)
//   timeout=D bound on the action (default 30s): an HTTP exchange as a whole, a command until
//            it is killed (SIGTERM to its process group, SIGKILL 1 s later)
//
// The words are split like a shell splits them, without expansion: '...' and "..." group words,
// a backslash escapes the next character. The trailing words every=, settle= and timeout= are
// the options; every other word belongs to the action (so a command's own KEY=VALUE arguments
// stay its own, except those three keys). A command that needs a shell names one:
// `cmd:sh -c 'kill -USR1 ${pid}'`. A command's stdout and stderr go to DIR/gc_checkpoint.log.
// An HTTP answer with a status of 300 or more is a failure; its body is read up to 1 MiB.
//
// Events: `gc_checkpoint` (fields action, duration_s: how long the action took, the pause it
// asked for) and `gc_checkpoint_failed` (fields action, duration_s, reason). A failed action is
// an event, never an exception: the run goes on and tries again at the next interval.
//
// Thread-safety: parse_gc_checkpoint and run_gc_action are reentrant. A GcCheckpoint runs its
// actions on a thread of its own; contribute() and stop() are called on the sampling thread.
// Failure modes: a spec that cannot be used throws GcCheckpointSpecError (a bad start, exit 3).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "soak/sampler/process.hpp"
#include "soak/sampler/source.hpp"

namespace soak::scenarios {

/// A --gc-checkpoint spec (or a scenario's gc_checkpoint) that cannot be used. what() names the
/// part at fault and what to write instead, without the flag's or field's name.
class GcCheckpointSpecError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

enum class GcActionKind { http, jcmd, signal, command };

struct GcCheckpointSpec {
  GcActionKind kind = GcActionKind::jcmd;
  std::string method = "POST";    ///< http: the method
  std::string url;                ///< http: the URL, as parse_http_url accepts it
  int signal_number = 0;          ///< signal: the signal
  std::string signal_name;        ///< signal: "USR1"
  std::vector<std::string> argv;  ///< command: the program and its arguments, ${pid} unreplaced
  std::chrono::nanoseconds every{0};
  std::chrono::nanoseconds settle = std::chrono::seconds(3);
  std::chrono::nanoseconds timeout = std::chrono::seconds(30);
  std::string text;  ///< the spec as given, for messages
  /// The action in a few words for events: "POST http://...", "jcmd GC.run", "signal USR1".
  std::string action_text() const;
};

/// Defaults, each with the reason for its value.
/// A full collection returns memory to the OS lazily (G1 uncommits, glibc trims at free):
/// a few seconds let RSS show it.
inline constexpr std::chrono::seconds kGcDefaultSettle{3};
/// A full collection of a heap of several GiB takes seconds; jcmd itself needs about one to
/// attach. Thirty seconds is well past both and still bounds a hung endpoint.
inline constexpr std::chrono::seconds kGcDefaultTimeout{30};
/// Checkpoints closer than this would be a collection per sample, not a checkpoint.
inline constexpr std::chrono::seconds kGcMinEvery{1};
/// An HTTP trigger's answer is read up to this size: a trigger answers with a line or nothing.
inline constexpr std::size_t kGcMaxAnswerBytes = std::size_t{1} << 20;

/// Parses "ACTION every=D [settle=D] [timeout=D]" (see the top of this file).
/// Throws GcCheckpointSpecError.
GcCheckpointSpec parse_gc_checkpoint(std::string_view text);

/// The scenario form {"action": ACTION, "every": D, "settle": D, "timeout": D} as the spec text
/// parse_gc_checkpoint reads. Durations are strings ("5m") or seconds (numbers). Throws
/// GcCheckpointSpecError naming the field ("every: ...").
std::string gc_checkpoint_text(const nlohmann::json& object);

enum class GcFailure {
  none,
  refused,       ///< HTTP: nothing listens there
  http_error,    ///< HTTP: unreachable, not HTTP, too large, or a status >= 300
  timeout,       ///< the action did not finish within its timeout (a command is killed)
  exit_code,     ///< the command (or jcmd) ended with a non-zero code or a signal
  cannot_start,  ///< the command (or jcmd) could not be started
  no_process,    ///< signal: the target is gone
  denied,        ///< signal: not permitted
  stopped,       ///< the run ended while the action ran
};
const char* to_string(GcFailure failure);

struct GcActionResult {
  GcFailure failure = GcFailure::none;
  std::string message;  ///< one sentence when failed
  double duration_s = 0;
  bool ok() const { return failure == GcFailure::none; }
};

/// Runs the action once for process `pid`, bounded by spec.timeout; a command's output is
/// appended to `output_file`. `stopping` set by another thread ends a running command early.
/// Never throws for what the target or the command does.
GcActionResult run_gc_action(const GcCheckpointSpec& spec, sampler::Pid pid,
                             const std::filesystem::path& output_file,
                             const std::atomic<bool>& stopping);

/// What a GcCheckpoint needs from its session.
struct GcCheckpointHooks {
  /// Reads the heap probes once, now (heap.<name> -> value); may block for a probe's timeout.
  /// Empty: no heap probes.
  std::function<std::map<std::string, double>()> read_heap;
  /// Records an event (kind, detail, extra fields); called on the checkpoint's thread, so it
  /// must hand the write to the sampling thread.
  std::function<void(std::string_view, std::string, nlohmann::json)> record;
};

/// The checkpoints of one run, as a sampler source: its thread runs the action every
/// spec.every, waits spec.settle, reads RSS and the heap probes; the next tick carries the
/// readings as METRIC_after_gc.
class GcCheckpoint : public sampler::Source {
 public:
  /// Starts the thread; the first checkpoint is one `every` from now. Throws nothing: a target
  /// that cannot be read gives failed checkpoints.
  GcCheckpoint(GcCheckpointSpec spec, sampler::Pid pid, std::filesystem::path output_file,
               GcCheckpointHooks hooks);
  ~GcCheckpoint() override;
  std::string_view name() const override { return "gc_checkpoint"; }
  void contribute(sampler::TickSink& sink) override;
  /// Ends the thread: a running command is killed, an HTTP exchange runs out (at most its
  /// timeout). Idempotent.
  void stop() override;

 private:
  void loop();
  void checkpoint();
  bool wait_for(std::chrono::nanoseconds d);  ///< false when stopping
  std::map<std::string, double> read_after_gc();

  GcCheckpointSpec spec_;
  sampler::Pid pid_;
  std::filesystem::path output_file_;
  GcCheckpointHooks hooks_;
  std::unique_ptr<sampler::ProcessReader> reader_;  ///< used on the checkpoint's thread only
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, double> pending_;  ///< readings for the next tick, under mutex_
  std::thread thread_;                     // last: starts after the members it uses
};

}  // namespace soak::scenarios
