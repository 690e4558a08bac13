#pragma once
// Where memory grows: /proc/PID/smaps reduced to regions, sampled at the start, every
// `period` and on the run's last tick. Regions: heap ([heap]), stack ([stack]), thread_stacks
// (read-write blocks right above a guard page), anonymous (other unnamed mappings, where
// allocators put large blocks and arenas), shared (shared memory: /dev/shm, memfd, SysV),
// kernel ([vdso], [vvar]...), and each file-backed path. Logged as region.<name> metrics
// (resident bytes), so every region is analyzed and plotted like RSS; the analysis lists the
// regions that grew most. Private to soak::sampler (made by make_regions_source).
//
// Thread-safety: reads on a thread of its own; contribute() and stop() from the sampling
// executor. Failure modes: an unreadable smaps (the target ended) leaves a gap.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "soak/sampler/periodic.hpp"
#include "soak/sampler/process.hpp"
#include "soak/sampler/source.hpp"

namespace soak::sampler::detail {

/// Resident bytes per region of one smaps text. Exposed for tests.
std::map<std::string, double> reduce_smaps(std::string_view smaps_text);

/// At most this many file paths are logged as regions (the largest); the rest add up in
/// "files.other", so the log's width stays bounded for a process that maps thousands of files.
inline constexpr std::size_t kMaxRegionFiles = 20;

class SmapsSource : public Source {
 public:
  /// Reads on its own thread (smaps of a large process costs milliseconds) every `period`.
  SmapsSource(Pid pid, std::chrono::nanoseconds period, std::size_t max_files = kMaxRegionFiles);
  ~SmapsSource() override;
  std::string_view name() const override { return "smaps"; }
  void contribute(TickSink& sink) override;
  void stop() override;

 private:
  bool snapshot(std::map<std::string, double>& out);
  Pid pid_;
  std::size_t max_files_;
  std::mutex mutex_;
  std::map<std::string, double> fresh_;
  std::vector<std::string> names_;
  std::unique_ptr<PeriodicTask> task_;  // last: stops before the members it uses
};

}  // namespace soak::sampler::detail
