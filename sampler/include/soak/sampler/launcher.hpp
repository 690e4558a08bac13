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
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "soak/log/unique_fd.hpp"
#include "soak/sampler/sampler.hpp"

namespace soak::sampler {

/// The command could not be started (not found, not executable). what() is one sentence.
class LaunchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A launched target's output file is kept under this size (then rotated once): a chatty
/// target's week of logging must not fill the disk of the machine it is tested on, and the
/// last 32 MiB is far more than anyone reads to see why a target failed.
inline constexpr std::uint64_t kTargetOutputFileCapBytes = 32ull << 20;

struct LaunchOptions {
  std::vector<std::string> argv;  ///< argv[0] is looked up in PATH
  std::optional<std::filesystem::path> working_directory;
  std::map<std::string, std::string> environment;  ///< added to (overriding) soak's own
  /// Where the target's stdout and stderr go; nullopt inherits soak's. While soak runs the
  /// output is copied there by soak's keeper and kept bounded: past output_file_cap_bytes the
  /// file becomes FILE.1 (replacing an older one) and a new FILE starts, so the target's
  /// output never takes more than twice the cap on disk.
  std::optional<std::filesystem::path> output_file;
  std::uint64_t output_file_cap_bytes = kTargetOutputFileCapBytes;
  /// The target and everything it starts in its process group never outlive soak, even after
  /// `kill -9` of soak: the kernel kills the target (Linux: the parent-death signal), and a
  /// keeper process beside it, which sees soak's end as its pipe's end, kills the group.
  /// False for `--keep-running` (no keeper: the output goes straight to output_file). The
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
  void start_keeper(const LaunchOptions& options, int output_read);
  /// Tells the keeper the end is a normal one and waits (bounded) for it to copy the rest.
  void finish_keeper();
  Pid pid_ = -1;
  Pid keeper_pid_ = -1;
  log::UniqueFd keeper_control_;
  bool released_ = false;
  std::optional<ExitInfo> exit_;
};

}  // namespace soak::sampler
