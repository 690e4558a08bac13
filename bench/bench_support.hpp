#pragma once
// What the benchmarks share: the floor a sample is measured against (one definition, so every
// ratio printed is against the same reads), timing a call, reading a small file, starting and
// waiting for a child.

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace soak::bench {

/// Starts `argv` (looked up in PATH) with its stdout (and, with `with_stderr`, its stderr) into
/// `out_path`, in `cwd` when given. A program that cannot be started ends the benchmark.
inline pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& out_path,
                   const std::filesystem::path& cwd = {}, bool with_stderr = false) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  if (with_stderr) posix_spawn_file_actions_adddup2(&actions, 1, 2);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
    std::fprintf(stderr, "bench: cannot start %s\n", argv[0].c_str());
    std::exit(1);
  }
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

/// Waits for `pid`; its exit code, -1 when it did not exit normally.
inline int wait_exit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Median over `rounds` of the mean ns per call of `fn` over `iterations` calls.
inline double time_ns(int rounds, int iterations, const std::function<void()>& fn) {
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < std::max(1, iterations / 10); ++i) fn();  // warm caches
  std::vector<double> per_call;
  for (int r = 0; r < rounds; ++r) {
    const auto start = Clock::now();
    for (int i = 0; i < iterations; ++i) fn();
    per_call.push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count() /
                       iterations);
  }
  std::sort(per_call.begin(), per_call.end());
  return per_call[per_call.size() / 2];
}

/// The floor: what any sampler must do for RSS/VMS (statm), threads and CPU (stat) and the fd
/// count (one stat() of /proc/PID/fd): open, read, close, with nothing parsed.
inline void floor_sample(pid_t pid) {
  char path[64], buf[4096];
  for (const char* file : {"statm", "stat"}) {
    std::snprintf(path, sizeof path, "/proc/%d/%s", pid, file);
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      [[maybe_unused]] auto n = ::read(fd, buf, sizeof buf);
      ::close(fd);
    }
  }
  std::snprintf(path, sizeof path, "/proc/%d/fd", pid);
  struct stat st {};
  ::stat(path, &st);
}

}  // namespace soak::bench
