#pragma once
// The memory of the target's cgroup: what a container's OOM killer judges. cgroup v2
// (memory.current, memory.max, memory.stat anon/file) and, on hosts still on v1 for the memory
// controller, its equivalents (memory.usage_in_bytes, memory.limit_in_bytes, total_rss and
// total_cache). Metrics: cgroup.memory_bytes, cgroup.limit_bytes (when a limit is set),
// cgroup.anon_bytes, cgroup.file_bytes. Two preads per tick on descriptors opened once (no path
// walk: at a 1 ms interval the walk cost more than the target's own reading); memory.stat
// every 10th tick.
// Private to soak::sampler (made by make_cgroup_source); tests reach it for the parsers.
//
// Thread-safety: contribute() runs on the sampling executor only.
// Failure modes: a cgroup that goes away mid-run leaves a gap (no metrics), never an error.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "soak/log/unique_fd.hpp"
#include "soak/sampler/process.hpp"
#include "soak/sampler/source.hpp"

namespace soak::sampler::detail {

/// A cgroup v1 "no limit" is a page-rounded 2^63; anything at or above this is no limit.
inline constexpr double kCgroupV1NoLimitBytes = 4.6e18;
/// memory.stat is larger and changes slowly: read it on every this-many-th tick.
inline constexpr std::uint64_t kCgroupStatEveryTicks = 10;

/// The number in a cgroup value file ("104857600\n"); nullopt for "max" (no limit), v1's
/// huge "no limit" value and anything that is not a number.
std::optional<double> parse_cgroup_value(std::string_view text);
/// The value of `key` in a memory.stat text ("anon 73400320\nfile ..."), if present.
std::optional<double> parse_cgroup_stat_field(std::string_view stat_text, std::string_view key);

/// The v2 path and the v1 memory-controller path of /proc/PID/cgroup's text (either empty).
struct CgroupPaths {
  std::string v2;
  std::string v1_memory;
};
CgroupPaths parse_proc_cgroup(std::string_view text);

class CgroupSource : public Source {
 public:
  /// The cgroup of `pid`, or nullptr when it has no readable memory controller (the root
  /// cgroup, or no cgroup filesystem). The roots are parameters for tests.
  static std::unique_ptr<CgroupSource> discover(
      Pid pid, const std::filesystem::path& sys_root = "/sys/fs/cgroup",
      const std::filesystem::path& proc_root = "/proc");
  std::string_view name() const override { return "cgroup"; }
  void contribute(TickSink& sink) override;
  void target_ended(nlohmann::json& event_fields) override;
  int version() const { return version_; }
  const std::filesystem::path& directory() const { return dir_; }

 private:
  CgroupSource(std::filesystem::path dir, int version, std::string cgroup_path);
  std::optional<double> read_value(const log::UniqueFd& file);

  std::filesystem::path dir_;
  int version_;
  std::string cgroup_path_;
  std::optional<double> oom_kills();
  /// memory.current, memory.max and memory.stat (or v1's), opened once and re-read at offset
  /// 0: kernfs regenerates the text on each read from the start. Closed (a gap) if the
  /// cgroup goes away.
  log::UniqueFd current_fd_, limit_fd_, stat_fd_;
  std::string events_file_;  ///< memory.events (v2) or memory.oom_control (v1)
  std::optional<double> oom_kills_at_start_;
  std::string buffer_;  ///< reused read buffer
  std::uint64_t calls_ = 0;
};

}  // namespace soak::sampler::detail
