#pragma once
// The platform's own memory sources, beside the process reader: the memory of the target's
// control group (what a container's OOM killer judges) and its memory broken down by region
// (where it grows). Each platform implements them in sampler/src/<os>/; on Linux, the cgroup
// v1/v2 memory files and the process's memory map.
//
// Metrics (units in the names): cgroup.memory_bytes, cgroup.limit_bytes (when a limit is set),
// cgroup.anon_bytes, cgroup.file_bytes; region.<name> (resident bytes of heap, stack,
// thread_stacks, anonymous, shared, kernel, file:<path>, files.other).
//
// Thread-safety: make the sources on any thread; they then follow the Source contract
// (contribute() and stop() on the sampling executor). The regions source reads on a thread of
// its own and never blocks a tick.
// Failure modes: a source whose files go away mid-run (the target ended, the cgroup was
// removed) contributes nothing on those ticks: a gap, never an error or an exception.

#include <chrono>
#include <memory>

#include "soak/sampler/process.hpp"
#include "soak/sampler/source.hpp"

namespace soak::sampler {

/// The memory of `pid`'s control group, or nullptr when the target has no memory cgroup of
/// its own (the root cgroup, no cgroup filesystem) or the platform has none.
std::unique_ptr<Source> make_cgroup_source(Pid pid);

/// `pid`'s resident memory by region, read at the start, every `interval` and on the run's
/// last tick. Never null (on a platform without a breakdown it contributes nothing).
std::unique_ptr<Source> make_regions_source(Pid pid, std::chrono::nanoseconds interval);

}  // namespace soak::sampler
