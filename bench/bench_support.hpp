#pragma once
// What the benchmarks share: the floor a sample is measured against (one definition, so every
// ratio printed is against the same reads), timing a call, reading a small file.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace soak::bench {

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
