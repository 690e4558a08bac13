// The POSIX launcher: posix_spawnp into a process group of its own, waitpid, kill.

#include "soak/sampler/launcher.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "procfs.hpp"

extern char** environ;

namespace soak::sampler {

namespace {

std::vector<std::string> merged_environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto eq = entry.find('=');
    const std::string key(entry.substr(0, eq));
    if (extra.find(key) == extra.end()) env.emplace_back(entry);
  }
  for (const auto& [key, value] : extra) env.push_back(key + "=" + value);
  return env;
}

}  // namespace

LaunchedProcess::LaunchedProcess(const LaunchOptions& options) {
  if (options.argv.empty()) throw LaunchError("no command given to launch");
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);

  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (options.output_file) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, options.output_file->c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  }
  if (options.working_directory) {
    posix_spawn_file_actions_addchdir_np(&actions, options.working_directory->c_str());
  }
  // Own process group: the terminal's Ctrl-C goes to soak, which then ends the run in order.
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGCHLD, SIGHUP, SIGQUIT}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = merged_environment(options.environment);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    std::string what = "cannot start '" + options.argv[0] + "': " + std::strerror(rc);
    if (rc == ENOENT) what += " (check the command name and PATH)";
    if (rc == EACCES) what += " (is it executable?)";
    throw LaunchError(what);
  }
  pid_ = pid;
  wait_for_exec_to_settle();
}

void LaunchedProcess::wait_for_exec_to_settle() const {
  // posix_spawn returns once the child's new memory map is installed, which is before the
  // kernel sets its argument area and, briefly, its name: a read in that window sees an empty
  // /proc/PID/cmdline. Wait (bounded) until the arguments are readable or the child ended.
  const detail::ProcPath path(pid_, "cmdline");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      const log::UniqueFd fd = detail::open_read_only(path.c_str());
      if (!fd) return;
      char byte = 0;
      if (::read(fd.get(), &byte, 1) != 0) return;
    }
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == pid_) {
      return;  // already ended; left for try_reap()/wait()
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

LaunchedProcess::~LaunchedProcess() {
  if (!released_ && !exit_) terminate(std::chrono::milliseconds(2000));
}

ExitInfo LaunchedProcess::record(int status) {
  ExitInfo info;
  if (WIFEXITED(status)) {
    info.exit_code = WEXITSTATUS(status);
    info.detail = "exit code " + std::to_string(*info.exit_code);
  } else if (WIFSIGNALED(status)) {
    info.signal = WTERMSIG(status);
    info.detail =
        "killed by signal " + std::to_string(*info.signal) + " (" + strsignal(*info.signal) + ")";
  } else {
    info.detail = "ended with status " + std::to_string(status);
  }
  exit_ = info;
  return info;
}

bool LaunchedProcess::try_reap() {
  if (exit_) return true;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    record(status);
    return true;
  }
  return false;
}

ExitInfo LaunchedProcess::wait() {
  if (exit_) return *exit_;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) {
    exit_ = ExitInfo{"exit status unknown", {}, {}};
    return *exit_;
  }
  return record(status);
}

ExitInfo LaunchedProcess::terminate(std::chrono::milliseconds grace) {
  if (try_reap()) return *exit_;
  ::kill(-pid_, SIGTERM);
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (try_reap()) {
      ::kill(-pid_, SIGKILL);  // stragglers left in the group
      return *exit_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  return wait();
}

}  // namespace soak::sampler
