// The Linux launcher: fork and execve into a process group of its own, with a parent-death
// signal (so the target never outlives soak), waitpid, kill.

#include "soak/sampler/launcher.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
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

/// argv[0] as execve needs it: a name without '/' looked up in PATH (before fork: the child
/// may only make async-signal-safe calls). nullopt when nothing executable has that name.
std::optional<std::string> resolve_command(const std::string& name, int& error) {
  error = ENOENT;
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) == 0) return name;
    error = errno;
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    const auto colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      error = EACCES;
    }
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

/// Everything the child needs, prepared before fork.
struct ChildPlan {
  std::string file;
  std::vector<char*> argv, envp;
  const char* output = nullptr;
  const char* directory = nullptr;
  bool dies_with_parent = true;
  pid_t parent = 0;
  int report_fd = -1;  ///< CLOEXEC pipe: the child writes errno there when exec fails
};

/// In the forked child: async-signal-safe calls only, then execve. Never returns.
[[noreturn]] void become_target(const ChildPlan& plan) {
  auto fail = [&](int error) {
    (void)!::write(plan.report_fd, &error, sizeof error);
    ::_exit(127);
  };
  // Own process group: the terminal's Ctrl-C goes to soak, which then ends the run in order.
  ::setpgid(0, 0);
  if (plan.dies_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != plan.parent) ::_exit(127);  // soak died before the signal was armed
  }
  struct sigaction defaults {};
  defaults.sa_handler = SIG_DFL;
  for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGCHLD, SIGHUP, SIGQUIT}) {
    ::sigaction(sig, &defaults, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  const int in = ::open("/dev/null", O_RDONLY);
  if (in < 0 || ::dup2(in, STDIN_FILENO) < 0) fail(errno);
  if (plan.output != nullptr) {
    const int out = ::open(plan.output, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out < 0 || ::dup2(out, STDOUT_FILENO) < 0 || ::dup2(out, STDERR_FILENO) < 0) fail(errno);
  }
  if (plan.directory != nullptr && ::chdir(plan.directory) != 0) fail(errno);
  ::execve(plan.file.c_str(), plan.argv.data(), plan.envp.data());
  fail(errno);
  ::_exit(127);
}

}  // namespace

LaunchedProcess::LaunchedProcess(const LaunchOptions& options) {
  if (options.argv.empty()) throw LaunchError("no command given to launch");
  int error = 0;
  const std::optional<std::string> file = resolve_command(options.argv[0], error);
  auto launch_error = [&](int rc) {
    std::string what = "cannot start '" + options.argv[0] + "': " + std::strerror(rc);
    if (rc == ENOENT) what += " (check the command name and PATH)";
    if (rc == EACCES) what += " (is it executable?)";
    return LaunchError(what);
  };
  if (!file) throw launch_error(error);

  ChildPlan plan;
  plan.file = *file;
  for (const auto& a : options.argv) plan.argv.push_back(const_cast<char*>(a.c_str()));
  plan.argv.push_back(nullptr);
  std::vector<std::string> env_strings = merged_environment(options.environment);
  for (auto& e : env_strings) plan.envp.push_back(e.data());
  plan.envp.push_back(nullptr);
  const std::string output = options.output_file ? options.output_file->string() : "";
  const std::string directory =
      options.working_directory ? options.working_directory->string() : "";
  if (options.output_file) plan.output = output.c_str();
  if (options.working_directory) plan.directory = directory.c_str();
  plan.dies_with_parent = options.dies_with_soak;
  plan.parent = ::getpid();
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw launch_error(errno);
  plan.report_fd = report[1];

  const pid_t pid = ::fork();
  if (pid == 0) become_target(plan);
  ::close(report[1]);
  if (pid < 0) {
    const int rc = errno;
    ::close(report[0]);
    throw launch_error(rc);
  }
  // The pipe closes at a successful exec; an errno on it is an exec that failed.
  int child_error = 0;
  ssize_t n = 0;
  do {
    n = ::read(report[0], &child_error, sizeof child_error);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof child_error)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    throw launch_error(child_error);
  }
  // The parent sets the group too: no window where a signal to the group misses the child.
  ::setpgid(pid, pid);
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

ExitInfo LaunchedProcess::terminate(std::chrono::milliseconds grace,
                                    const std::function<bool()>& hurry) {
  if (try_reap()) return *exit_;
  ::kill(-pid_, SIGTERM);
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline && !(hurry && hurry())) {
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
