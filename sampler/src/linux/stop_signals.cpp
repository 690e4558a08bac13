#include "soak/sampler/stop_signals.hpp"

#include <signal.h>

#include <atomic>

namespace soak::sampler {

namespace {

std::atomic<int> requests{0};
std::atomic<int> last_signal{0};
static_assert(std::atomic<int>::is_always_lock_free,
              "the handler may only touch lock-free atomics");

/// The third request forces the way out: the signal's default action, as if soak had none.
constexpr int kForceAt = 3;

extern "C" void on_stop_signal(int signal) {
  last_signal.store(signal, std::memory_order_relaxed);
  if (requests.fetch_add(1, std::memory_order_release) + 1 >= kForceAt) {
    ::signal(signal, SIG_DFL);
    ::raise(signal);
  }
}

}  // namespace

void install_stop_signals() {
  static std::atomic<bool> installed{false};
  if (installed.exchange(true)) return;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // reads and waits go on; the loops poll the count
  for (const int signal : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signal, &action, nullptr);
}

int stop_requests() {
  return requests.load(std::memory_order_acquire);
}

int last_stop_signal() {
  return last_signal.load(std::memory_order_relaxed);
}

const char* stop_signal_name(int signal) {
  switch (signal) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "signal";
  }
}

}  // namespace soak::sampler
