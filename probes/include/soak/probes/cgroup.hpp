#pragma once
// The memory of the target's cgroup: what a container's OOM killer judges. cgroup v2
// (memory.current, memory.max, memory.stat anon/file) and, on hosts still on v1 for the memory
// controller, its equivalents (memory.usage_in_bytes, memory.limit_in_bytes, total_rss and
// total_cache). Metrics: cgroup.memory_bytes, cgroup.limit_bytes (when a limit is set),
// cgroup.anon_bytes, cgroup.file_bytes. A few small file reads per tick; memory.stat every 10th.

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "soak/sampler/source.hpp"

namespace soak::probes {

class CgroupSource : public sampler::Source {
 public:
  /// The cgroup of `pid`, or nullptr when it has no readable memory controller (the root
  /// cgroup, or no cgroup filesystem). The roots are parameters for tests.
  static std::unique_ptr<CgroupSource> discover(pid_t pid,
                                                const std::filesystem::path& sys_root = "/sys/fs/cgroup",
                                                const std::filesystem::path& proc_root = "/proc");
  std::string_view name() const override { return "cgroup"; }
  void contribute(sampler::TickSink& sink) override;
  int version() const { return version_; }
  const std::filesystem::path& directory() const { return dir_; }

 private:
  CgroupSource(std::filesystem::path dir, int version, std::string cgroup_path)
      : dir_(std::move(dir)), version_(version), cgroup_path_(std::move(cgroup_path)) {}
  std::filesystem::path dir_;
  int version_;
  std::string cgroup_path_;
  std::uint64_t calls_ = 0;
};

}  // namespace soak::probes
