#pragma once
// The vocabulary of the run log: metric names and event kinds, as SPEC.md pins them. Every
// module that writes or reads a log names its metrics through these constants; a name's unit
// is in its suffix (`_bytes` bytes, `_s` seconds, no suffix a count).
//
// Header-only constants; thread-safe.

#include <string_view>

namespace soak::log::metric {

// Read from the process on every tick.
inline constexpr std::string_view rss_bytes =
    "rss_bytes";  ///< resident set (working set on Windows)
inline constexpr std::string_view vms_bytes = "vms_bytes";
inline constexpr std::string_view anon_bytes = "anon_bytes";
inline constexpr std::string_view threads = "threads";
inline constexpr std::string_view fds = "fds";
inline constexpr std::string_view handles = "handles";  ///< Windows handle count
/// Windows private bytes (commit charge): what a native leak on Windows grows.
inline constexpr std::string_view private_bytes = "private_bytes";
inline constexpr std::string_view gdi_objects = "gdi_objects";    ///< Windows GDI objects
inline constexpr std::string_view user_objects = "user_objects";  ///< Windows USER objects
inline constexpr std::string_view cpu_s = "cpu_s";                ///< cumulative user + system CPU
inline constexpr std::string_view minor_faults = "minor_faults";  ///< cumulative
inline constexpr std::string_view major_faults = "major_faults";  ///< cumulative
// Read on detail ticks.
inline constexpr std::string_view pss_bytes = "pss_bytes";
inline constexpr std::string_view uss_bytes = "uss_bytes";
inline constexpr std::string_view swap_bytes = "swap_bytes";
inline constexpr std::string_view children = "children";  ///< live descendants
inline constexpr std::string_view children_rss_bytes = "children_rss_bytes";

// Families, by prefix.
inline constexpr std::string_view heap_prefix = "heap.";      ///< the target's own figures (probes)
inline constexpr std::string_view load_prefix = "load.";      ///< the load driver's figures
inline constexpr std::string_view region_prefix = "region.";  ///< smaps regions, bytes
inline constexpr std::string_view cgroup_prefix = "cgroup.";  ///< the target's cgroup

// Members of the families that the analysis reads by name.
// The load driver's figures, per sampling interval.
inline constexpr std::string_view load_level = "load.level";  ///< asked rate or users
inline constexpr std::string_view load_sent_rps = "load.sent_rps";
inline constexpr std::string_view load_rps = "load.rps";  ///< answered per second
inline constexpr std::string_view load_errors = "load.errors";
inline constexpr std::string_view load_errors_prefix = "load.errors.";  ///< + the error's kind
inline constexpr std::string_view load_p50_ms = "load.p50_ms";
inline constexpr std::string_view load_p95_ms = "load.p95_ms";
inline constexpr std::string_view load_p99_ms = "load.p99_ms";
inline constexpr std::string_view load_in_flight = "load.in_flight";
inline constexpr std::string_view load_jobs_done = "load.jobs_done";
inline constexpr std::string_view load_jobs_failed = "load.jobs_failed";
inline constexpr std::string_view load_job_s = "load.job_s";  ///< mean duration of jobs ended
/// An external load's figures (Locust, wrk): users running, failures a second, and per
/// endpoint load.request.<name>.{rps,failures_rps,p50_ms,p95_ms,p99_ms}.
inline constexpr std::string_view load_users = "load.users";
inline constexpr std::string_view load_failures_rps = "load.failures_rps";
inline constexpr std::string_view load_request_prefix = "load.request.";
inline constexpr std::string_view cgroup_memory_bytes = "cgroup.memory_bytes";
inline constexpr std::string_view cgroup_limit_bytes = "cgroup.limit_bytes";
inline constexpr std::string_view cgroup_anon_bytes = "cgroup.anon_bytes";
inline constexpr std::string_view cgroup_file_bytes = "cgroup.file_bytes";

// Checkpoints after a forced collection (--gc-checkpoint): a reading taken once the action has
// run and settled, written beside the tick's own as METRIC + after_gc_suffix
// (`rss_bytes_after_gc`, `heap.<name>_after_gc`). The analysis prefers it for METRIC's growth.
inline constexpr std::string_view after_gc_suffix = "_after_gc";
inline constexpr std::string_view rss_bytes_after_gc = "rss_bytes_after_gc";
/// The metric a name measures: METRIC for METRIC_after_gc (whose unit is METRIC's), else itself.
constexpr std::string_view base_of(std::string_view name) {
  return name.ends_with(after_gc_suffix) ? name.substr(0, name.size() - after_gc_suffix.size())
                                         : name;
}

}  // namespace soak::log::metric

namespace soak::log::event {

inline constexpr std::string_view target_exited = "target_exited";
inline constexpr std::string_view target_stopped = "target_stopped";
/// The target ran exec (the same process, another program): fields `name`, `cmdline`.
inline constexpr std::string_view target_exec = "target_exec";
inline constexpr std::string_view run_ended = "run_ended";
inline constexpr std::string_view job_finished = "job_finished";
inline constexpr std::string_view job_failed = "job_failed";
inline constexpr std::string_view load_summary = "load_summary";
/// An external load (load.command, load.locust, load.wrk) started: detail says which.
inline constexpr std::string_view load_started = "load_started";
/// An external load that ended by itself with code 0 before the run did: sampling goes on.
inline constexpr std::string_view load_ended = "load_ended";
/// An external load that died (a non-zero code, a signal): a run that found nothing is
/// inconclusive.
inline constexpr std::string_view load_failed = "load_failed";
/// A forced collection ran: detail names the action; fields `action`, `duration_s` (how long
/// the action took: the pause it asked for).
inline constexpr std::string_view gc_checkpoint = "gc_checkpoint";
/// A forced collection could not be made (refused, timed out, exit code, no such process):
/// detail says why; fields `action`, `duration_s`, `reason`. The run goes on.
inline constexpr std::string_view gc_checkpoint_failed = "gc_checkpoint_failed";

}  // namespace soak::log::event
