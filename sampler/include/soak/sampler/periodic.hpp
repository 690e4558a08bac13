#pragma once
// Work that runs on its own thread, off the sampling clock, again and again until stopped:
// probe fetches, memory-region snapshots, the interim analysis. One place for the thread, the
// wake-up and the prompt stop that each of them needs.
//
// Thread-safety: `step` runs on the task's own thread, never concurrently with itself; it
// shares data with other threads under its own lock. stop() may be called from any thread, and
// more than once. Failure modes: `step` must not throw (an escaping exception terminates).

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace soak::sampler {

class PeriodicTask {
 public:
  /// After `first_delay`, calls `step` on a thread of its own; `step` returns how long to wait
  /// before the next call (a back-off can lengthen it). stop() (or the destructor) wakes the
  /// wait and joins; a step already running finishes first.
  PeriodicTask(std::chrono::nanoseconds first_delay, std::function<std::chrono::nanoseconds()> step)
      : step_(std::move(step)), thread_([this, first_delay] { run(first_delay); }) {}
  ~PeriodicTask() { stop(); }
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  }

 private:
  void run(std::chrono::nanoseconds delay) {
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        if (wake_.wait_for(lock, delay, [this] { return stopping_; })) return;
      }
      delay = step_();
    }
  }

  std::function<std::chrono::nanoseconds()> step_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace soak::sampler
