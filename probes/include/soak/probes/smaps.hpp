#pragma once
// Where memory grows: /proc/PID/smaps reduced to regions, sampled at the start, every
// `period` and on the run's last tick. Regions: heap ([heap]), stack ([stack]), thread_stacks
// (read-write blocks right above a guard page), anonymous (other unnamed mappings, where
// allocators put large blocks and arenas),
// shared (shared memory: /dev/shm, memfd, SysV), kernel ([vdso], [vvar]...), and each
// file-backed path. Logged as region.<name> metrics (resident bytes), so every region is
// analyzed and plotted like RSS; the analysis lists the regions that grew most.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <memory>
#include <vector>

#include "soak/sampler/periodic.hpp"
#include "soak/sampler/source.hpp"

namespace soak::probes {

/// Resident bytes per region of one smaps text. Exposed for tests.
std::map<std::string, double> reduce_smaps(std::string_view smaps_text);

class SmapsSource : public sampler::Source {
 public:
  /// Reads on its own thread (smaps of a large process costs milliseconds) every `period`.
  /// At most `max_files` file paths are kept (the largest); the rest add up in "files.other".
  SmapsSource(pid_t pid, std::chrono::nanoseconds period, std::size_t max_files = 20);
  ~SmapsSource() override;
  std::string_view name() const override { return "smaps"; }
  void contribute(sampler::TickSink& sink) override;
  void stop() override;

 private:
  bool snapshot(std::map<std::string, double>& out);
  pid_t pid_;
  std::size_t max_files_;
  std::mutex mutex_;
  std::map<std::string, double> fresh_;
  std::vector<std::string> names_;
  std::unique_ptr<sampler::PeriodicTask> task_;  // last: stops before the members it uses
};

}  // namespace soak::probes
