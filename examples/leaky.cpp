// soak-example-leaky: a deliberately leaky (or, with no leak flags, healthy) process for the
// demo, the tests and the benchmarks. It grows its heap at a set rate and can leak file
// descriptors, threads and child processes.
//
//   soak-example-leaky [--leak-mib-per-min R [--leak-cap-mib M]] [--fd-leak-per-s N]
//   [--thread-leak-per-s N]
//                      [--child-leak-per-s N] [--children N] [--threads N] [--open-fds N]
//                      [--hold-mib M] [--churn-mib M --churn-period SECONDS]
//                      [--duration SECONDS] [--exit-code C]
//
// --churn-mib makes a healthy allocator sawtooth: memory climbs by M MiB over each period,
// then is all freed (and returned to the system), so the floor stays flat.
//
// Prints "ready pid=<pid>" on stdout once its initial state is built.

#include <fcntl.h>
#include <malloc.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Options {
  double leak_mib_per_min = 0;
  double leak_cap_mib = 0;  // 0 = no cap: a cache that fills to this size, then stops
  double fd_leak_per_s = 0;
  double thread_leak_per_s = 0;
  double child_leak_per_s = 0;
  int children = 0;
  int threads = 0;
  int open_fds = 0;
  double hold_mib = 0;
  double churn_mib = 0;
  double churn_period_s = 30;
  double duration_s = 0;  // 0 = forever
  int exit_code = 0;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "soak-example-leaky: %s\n", why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + flag).c_str());
    const char* value = argv[++i];
    char* end = nullptr;
    const double v = std::strtod(value, &end);
    if (end == value || *end != '\0' || v < 0) usage(("bad value for " + flag).c_str());
    if (flag == "--leak-mib-per-min")
      o.leak_mib_per_min = v;
    else if (flag == "--leak-cap-mib")
      o.leak_cap_mib = v;
    else if (flag == "--fd-leak-per-s")
      o.fd_leak_per_s = v;
    else if (flag == "--thread-leak-per-s")
      o.thread_leak_per_s = v;
    else if (flag == "--child-leak-per-s")
      o.child_leak_per_s = v;
    else if (flag == "--children")
      o.children = static_cast<int>(v);
    else if (flag == "--threads")
      o.threads = static_cast<int>(v);
    else if (flag == "--open-fds")
      o.open_fds = static_cast<int>(v);
    else if (flag == "--hold-mib")
      o.hold_mib = v;
    else if (flag == "--churn-mib")
      o.churn_mib = v;
    else if (flag == "--churn-period")
      o.churn_period_s = v;
    else if (flag == "--duration")
      o.duration_s = v;
    else if (flag == "--exit-code")
      o.exit_code = static_cast<int>(v);
    else
      usage(("unknown flag " + flag).c_str());
  }
  return o;
}

std::mutex park_mutex;
std::condition_variable park_cv;

void park_forever() {
  std::unique_lock lock(park_mutex);
  park_cv.wait(lock, [] { return false; });
}

void spawn_idle_child() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the parent
    for (;;) ::pause();
  }
}

std::vector<char*> heap;

void grow_heap(std::size_t bytes) {
  if (bytes == 0) return;
  auto* block = static_cast<char*>(std::malloc(bytes));
  if (block == nullptr) return;
  std::memset(block, 0xA5, bytes);  // touch every page so it is resident
  heap.push_back(block);
}

std::vector<char*> churn;

/// Follows the sawtooth: `wanted` bytes of churn now; frees all of it when the cycle restarts.
void follow_churn(double wanted_bytes) {
  constexpr std::size_t kChunk = 1 << 20;  // above the mmap threshold: freeing returns it
  const auto wanted = static_cast<std::size_t>(wanted_bytes / kChunk);
  if (wanted < churn.size()) {
    for (char* block : churn) std::free(block);
    churn.clear();
    malloc_trim(0);
  }
  while (churn.size() < wanted) {
    auto* block = static_cast<char*>(std::malloc(kChunk));
    if (block == nullptr) return;
    std::memset(block, 0x5A, kChunk);
    churn.push_back(block);
  }
}

std::vector<std::thread> threads;

void leak_thread() {
  threads.emplace_back(park_forever);
  threads.back().detach();
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<int> fds;
  for (int i = 0; i < o.open_fds; ++i) fds.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  for (int i = 0; i < o.threads; ++i) leak_thread();
  for (int i = 0; i < o.children; ++i) spawn_idle_child();
  grow_heap(static_cast<std::size_t>(o.hold_mib * 1024 * 1024));
  std::printf("ready pid=%d\n", static_cast<int>(::getpid()));
  std::fflush(stdout);

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  constexpr auto kStep = std::chrono::milliseconds(100);
  const double step_s = std::chrono::duration<double>(kStep).count();
  double owed_bytes = 0, owed_fds = 0, owed_threads = 0, owed_children = 0;
  std::size_t leaked_bytes = 0;
  auto next = start;
  for (;;) {
    next += kStep;
    std::this_thread::sleep_until(next);
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (o.duration_s > 0 && elapsed >= o.duration_s) break;
    const bool capped =
        o.leak_cap_mib > 0 && static_cast<double>(leaked_bytes) >= o.leak_cap_mib * 1024 * 1024;
    if (!capped) owed_bytes += o.leak_mib_per_min * 1024.0 * 1024.0 / 60.0 * step_s;
    owed_fds += o.fd_leak_per_s * step_s;
    owed_threads += o.thread_leak_per_s * step_s;
    owed_children += o.child_leak_per_s * step_s;
    if (owed_bytes >= 4096) {
      const auto bytes = static_cast<std::size_t>(owed_bytes);
      grow_heap(bytes);
      leaked_bytes += bytes;
      owed_bytes -= static_cast<double>(bytes);
    }
    if (o.churn_mib > 0) {
      const double phase = std::fmod(elapsed, o.churn_period_s) / o.churn_period_s;
      follow_churn(phase * o.churn_mib * 1024 * 1024);
    }
    for (; owed_fds >= 1; owed_fds -= 1) fds.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    for (; owed_threads >= 1; owed_threads -= 1) leak_thread();
    for (; owed_children >= 1; owed_children -= 1) spawn_idle_child();
  }
  std::fflush(stdout);
  std::_Exit(o.exit_code);  // leaked threads are parked; skip their destructors
}
