#pragma once
// Launching the target of `soak run -- CMD ARGS`: the command itself (no wrapper shell, so the
// PID soak samples is the program the user named) in a process group of its own, so that
// Ctrl-C reaches soak first and the run can end cleanly. The platform code is in
// sampler/src/<os>/launcher.cpp (Linux: fork and execve, process groups, a parent-death
// signal, waitpid, kill).
//
// Thread-safety: a LaunchedProcess is used from one thread at a time.
// Failure modes: a command that cannot be started throws LaunchError (a bad start); how the
// target later ends is a value (ExitInfo), never an exception.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "soak/sampler/sampler.hpp"

namespace soak::sampler {

/// The command could not be started (not found, not executable). what() is one sentence.
class LaunchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LaunchOptions {
  std::vector<std::string> argv;  ///< argv[0] is looked up in PATH
  std::optional<std::filesystem::path> working_directory;
  std::map<std::string, std::string> environment;  ///< added to (overriding) soak's own
  /// Where the target's stdout and stderr go; nullopt inherits soak's.
  std::optional<std::filesystem::path> output_file;
  /// The kernel kills the target when soak dies, even by `kill -9` (Linux: the parent-death
  /// signal), so a launched target never outlives soak; false for `--keep-running`. The
  /// signal follows the thread that launched: launch from a thread that lives for the run.
  bool dies_with_soak = true;
};

/// A child process soak started. The destructor stops it (SIGTERM, then SIGKILL) unless
/// release() was called, so a throwing caller never leaves a target behind.
class LaunchedProcess {
 public:
  explicit LaunchedProcess(const LaunchOptions& options);  // throws LaunchError
  LaunchedProcess(const LaunchedProcess&) = delete;
  LaunchedProcess& operator=(const LaunchedProcess&) = delete;
  ~LaunchedProcess();

  Pid pid() const { return pid_; }
  /// Reaps the child if it has ended (never blocks); its exit status is then kept.
  bool try_reap();
  /// Waits for the child to end (it must be ending: a zombie or signalled).
  ExitInfo wait();
  const std::optional<ExitInfo>& exit_info() const { return exit_; }
  /// SIGTERM to the process group, SIGKILL after `grace` (or as soon as `hurry` says so: a
  /// second Ctrl-C); reaps. No-op once reaped.
  ExitInfo terminate(std::chrono::milliseconds grace, const std::function<bool()>& hurry = {});
  /// Leave the child running when this object goes away (`--keep-running`).
  void release() { released_ = true; }

 private:
  ExitInfo record(int status);
  void wait_for_exec_to_settle() const;
  Pid pid_ = -1;
  bool released_ = false;
  std::optional<ExitInfo> exit_;
};

}  // namespace soak::sampler
