// The Linux memory sources behind soak/sampler/memory_sources.hpp.

#include "soak/sampler/memory_sources.hpp"

#include "cgroup.hpp"
#include "smaps.hpp"

namespace soak::sampler {

std::unique_ptr<Source> make_cgroup_source(Pid pid) {
  return detail::CgroupSource::discover(pid);
}

std::unique_ptr<Source> make_regions_source(Pid pid, std::chrono::nanoseconds interval) {
  return std::make_unique<detail::SmapsSource>(pid, interval);
}

}  // namespace soak::sampler
