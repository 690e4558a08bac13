// The Linux launcher: fork and execve into a process group of its own, with a parent-death
// signal, waitpid, kill; and a keeper process beside the target that copies its output into a
// bounded file and kills the target's whole group the moment soak is gone, even by `kill -9`.

#include "soak/sampler/launcher.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
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
  const char* output = nullptr;  ///< a file to append to (no keeper: --keep-running)
  int output_pipe = -1;          ///< or the write end of the keeper's pipe
  int output_pipe_read = -1;     ///< closed in the child
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
  if (plan.output_pipe >= 0) {
    ::close(plan.output_pipe_read);
    if (::dup2(plan.output_pipe, STDOUT_FILENO) < 0 || ::dup2(plan.output_pipe, STDERR_FILENO) < 0)
      fail(errno);
    ::close(plan.output_pipe);
  } else if (plan.output != nullptr) {
    const int out = ::open(plan.output, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out < 0 || ::dup2(out, STDOUT_FILENO) < 0 || ::dup2(out, STDERR_FILENO) < 0) fail(errno);
  }
  if (plan.directory != nullptr && ::chdir(plan.directory) != 0) fail(errno);
  ::execve(plan.file.c_str(), plan.argv.data(), plan.envp.data());
  fail(errno);
  ::_exit(127);
}

/// What the keeper needs, prepared before fork.
struct KeeperPlan {
  pid_t group = 0;   ///< the target's process group
  int control = -1;  ///< read end: soak writes kKeeperDone before it closes; EOF alone is its death
  int output = -1;   ///< read end of the target's output pipe; -1 when the output is inherited
  const char* output_path = nullptr;
  const char* rotated_path = nullptr;
  std::uint64_t file_cap_bytes = 0;
};

/// The byte soak writes to the keeper at a normal end: it has stopped the target itself.
constexpr char kKeeperDone = 'd';
/// How long the keeper still copies output after soak ended (a straggler outside the group may
/// hold the pipe open): enough for what was already written, short enough not to delay the end.
constexpr int kKeeperDrainMs = 500;
constexpr std::string_view kRotatedNote =
    "[soak: the target's earlier output is in target.log.1; older output was dropped]\n";

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // disk full: the output is best effort, the run goes on
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

/// The target's output file, kept under its cap: past it the file is moved to the rotated name
/// (replacing the one before) and a new one started. Async-signal-safe calls only.
struct BoundedFile {
  const KeeperPlan* plan = nullptr;
  int fd = -1;
  std::uint64_t size = 0;

  void open_file(int flags) {
    fd = ::open(plan->output_path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
    struct stat st {};
    size = fd >= 0 && ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  }
  void append(const char* data, std::size_t n) {
    if (fd < 0) return;
    if (size + n > plan->file_cap_bytes && size > 0) {
      ::close(fd);
      ::rename(plan->output_path, plan->rotated_path);
      open_file(O_TRUNC);
      if (fd < 0) return;
      write_all(fd, kRotatedNote.data(), kRotatedNote.size());
      size += kRotatedNote.size();
    }
    write_all(fd, data, n);
    size += n;
  }
};

/// Closes every descriptor the keeper inherited except its own two, so it holds no other
/// pipe's write end open (its reader would never see the end).
void close_other_fds(int a, int b) {
  unsigned from = 3;
  for (const int fd : {std::min(a, b), std::max(a, b)}) {
    if (fd < static_cast<int>(from)) continue;
    if (static_cast<unsigned>(fd) > from) ::close_range(from, static_cast<unsigned>(fd) - 1, 0);
    from = static_cast<unsigned>(fd) + 1;
  }
  ::close_range(from, UINT_MAX, 0);
}

/// In the forked keeper: copies the target's output into its bounded file until soak ends;
/// when soak is gone without saying it is done (a crash, `kill -9`), kills the target's whole
/// group. Async-signal-safe calls only. Never returns.
[[noreturn]] void become_keeper(const KeeperPlan& plan) {
  ::setpgid(0, 0);  // not in soak's group: the terminal's Ctrl-C is soak's to handle
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  // It must outlive nothing and miss nothing: only soak's end (its pipe's EOF) ends it.
  for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT, SIGTSTP}) {
    ::sigaction(sig, &ignore, nullptr);
  }
  close_other_fds(plan.control, plan.output);
  BoundedFile file{&plan};
  if (plan.output >= 0) file.open_file(O_APPEND);
  static char buffer[64 * 1024];
  int output = plan.output;
  bool said_done = false, done = false;
  timespec drain_end{};
  while (true) {
    int timeout_ms = -1;
    if (done) {
      timespec now{};
      ::clock_gettime(CLOCK_MONOTONIC, &now);
      timeout_ms = static_cast<int>((drain_end.tv_sec - now.tv_sec) * 1000 +
                                    (drain_end.tv_nsec - now.tv_nsec) / 1000000);
      if (timeout_ms <= 0) break;  // the drain's time is up
    }
    pollfd fds[2] = {{done ? -1 : plan.control, POLLIN, 0}, {output, POLLIN, 0}};
    const int ready = ::poll(fds, 2, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    if (fds[1].revents != 0) {
      const ssize_t n = ::read(output, buffer, sizeof buffer);
      if (n > 0) {
        file.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(output);
        output = -1;
        if (done) break;
      }
    }
    if (fds[0].revents != 0) {
      char byte = 0;
      const ssize_t n = ::read(plan.control, &byte, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n == 1) {
        said_done = said_done || byte == kKeeperDone;
        continue;
      }
      if (!said_done) ::kill(-plan.group, SIGKILL);  // soak is gone: so is all it launched
      done = true;
      if (output < 0) break;
      ::clock_gettime(CLOCK_MONOTONIC, &drain_end);
      drain_end.tv_sec += kKeeperDrainMs / 1000;
      drain_end.tv_nsec += (kKeeperDrainMs % 1000) * 1000000L;
      if (drain_end.tv_nsec >= 1000000000L) {
        drain_end.tv_sec += 1;
        drain_end.tv_nsec -= 1000000000L;
      }
    }
  }
  ::_exit(0);
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
  // With a keeper, the output goes through it (bounded); without one (--keep-running: the
  // target outlives soak, and so must its output's destination) straight into the file.
  int output_pipe[2] = {-1, -1};
  if (options.dies_with_soak && options.output_file) {
    if (::pipe2(output_pipe, O_CLOEXEC) != 0) throw launch_error(errno);
    plan.output_pipe_read = output_pipe[0];
    plan.output_pipe = output_pipe[1];
  }
  const log::UniqueFd output_read(output_pipe[0]), output_write(output_pipe[1]);
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
  if (options.dies_with_soak) {
    start_keeper(options, output_read.get());
  }
  wait_for_exec_to_settle();
}

void LaunchedProcess::start_keeper(const LaunchOptions& options, int output_read) {
  const std::string output = options.output_file ? options.output_file->string() : "";
  const std::string rotated = output + ".1";
  KeeperPlan plan;
  plan.group = pid_;
  plan.output = options.output_file ? output_read : -1;
  plan.output_path = output.c_str();
  plan.rotated_path = rotated.c_str();
  plan.file_cap_bytes = options.output_file_cap_bytes;
  // Without a keeper the target could outlive soak: it is stopped and the launch fails.
  auto fail = [this](int rc) {
    terminate(std::chrono::milliseconds(0));
    return LaunchError(std::string("cannot start soak's keeper of the target: ") +
                       std::strerror(rc));
  };
  int control[2];
  if (::pipe2(control, O_CLOEXEC) != 0) throw fail(errno);
  plan.control = control[0];
  const pid_t keeper = ::fork();
  if (keeper == 0) become_keeper(plan);
  const int fork_error = errno;
  ::close(control[0]);
  if (keeper < 0) {
    ::close(control[1]);
    throw fail(fork_error);
  }
  keeper_pid_ = keeper;
  keeper_control_ = log::UniqueFd(control[1]);
}

void LaunchedProcess::finish_keeper() {
  if (keeper_pid_ <= 0) return;
  const char done = kKeeperDone;
  (void)!::write(keeper_control_.get(), &done, 1);
  keeper_control_ = log::UniqueFd();
  // The keeper drains for at most kKeeperDrainMs; wait a little longer before killing it.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(4 * kKeeperDrainMs);
  int status = 0;
  while (::waitpid(keeper_pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(keeper_pid_, SIGKILL);
      ::waitpid(keeper_pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  keeper_pid_ = -1;
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
  if (!released_) {
    if (!exit_) terminate(std::chrono::milliseconds(2000));
    ::kill(-pid_, SIGKILL);  // what the target left behind in its group
  }
  finish_keeper();
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
