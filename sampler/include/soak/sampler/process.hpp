#pragma once
// Reading one process (and its descendants): platform-neutral types and the ProcessReader
// interface. Each operating system implements it in its own folder under sampler/src/
// (src/linux/ today), chosen by sampler/CMakeLists.txt; nothing here names an OS type.
//
// Units: sizes in bytes, CPU time in seconds, counts as counts. A field that was not measured
// on a tick is an empty optional, never zero.
//
// Thread-safety: a ProcessReader is used from one thread at a time (the sampling executor).
// The free functions are safe to call from any thread.
//
// Failure modes: nothing here throws for a target that goes away, belongs to another user or
// cannot be read; those are ReadStatus values (expected outcomes of a run, not bugs).
// std::bad_alloc is the only exception.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace soak::sampler {

/// A process ID as the platform numbers processes (Linux and Windows process IDs both fit).
using Pid = std::int32_t;

/// A process is its PID plus its start time: PIDs are reused.
struct ProcessIdentity {
  Pid pid = 0;
  /// When the process started, in the platform's own units (Linux: clock ticks after boot,
  /// see HostInfo::clock_ticks_per_s). Only compared for equality and written to the log.
  std::uint64_t start_ticks = 0;
  friend bool operator==(const ProcessIdentity&, const ProcessIdentity&) = default;
};

/// Why a read did not produce a snapshot. Expected runtime outcomes, not bugs.
enum class ReadStatus {
  ok,
  exited,             ///< the process is gone or a zombie
  pid_reused,         ///< the PID now names another process
  permission_denied,  ///< the platform refused (the target belongs to another user)
  kernel_thread,      ///< a kernel thread: no user memory to sample (opening only)
  io_error,           ///< any other failure; the platform's code is kept in error_number
};

/// "ok", "exited", "pid reused", "permission denied", "kernel thread", "i/o error". Never null.
const char* to_string(ReadStatus status);

/// Static facts about a process, read once when it is opened.
struct ProcessInfo {
  ProcessIdentity identity;
  std::string name;                  ///< the short name the platform gives it (Linux: comm)
  std::vector<std::string> cmdline;  ///< argv; empty when the platform shows none
  std::uint32_t uid = 0;             ///< the user it runs as (Linux: its real uid)
};

/// One reading. Optional fields are "not measured on this tick", never zero.
struct ProcessSnapshot {
  char state = '?';              ///< one-letter state as the platform shows it ('R', 'S', ...)
  std::uint64_t rss_bytes = 0;   ///< resident memory
  std::uint64_t vms_bytes = 0;   ///< virtual address space
  std::uint64_t anon_bytes = 0;  ///< resident anonymous memory (not backed by a file)
  std::uint32_t threads = 0;
  std::optional<std::uint32_t> fds;  ///< open descriptors (handles); absent when unreadable
  double cpu_s = 0;                  ///< user + system CPU seconds since the process started
  std::uint64_t minor_faults = 0;
  std::uint64_t major_faults = 0;
  // ReadDetail::memory_breakdown only, and only where the platform measures them.
  std::optional<std::uint64_t> pss_bytes;   ///< proportional set size
  std::optional<std::uint64_t> uss_bytes;   ///< unique (private) set size
  std::optional<std::uint64_t> swap_bytes;  ///< swapped out
  // Descendants (children, grandchildren, ...), ReadDetail::children only.
  std::optional<std::uint32_t> children;
  std::optional<std::uint64_t> children_rss_bytes;
};

/// The process ran exec (it is the same process, now running another program): what it runs now.
struct ExecSeen {
  std::string name;
  std::vector<std::string> cmdline;
};

struct ReadResult {
  ReadStatus status = ReadStatus::ok;
  int error_number = 0;  ///< the platform's error code (Linux: errno) when status is not ok
  ProcessSnapshot snapshot;
  /// Set on the read that first sees an exec. info() keeps what was opened. Linux: on the
  /// first read when the name or the code and stack placement in stat changed (exec places
  /// them anew, so a program of the same name is seen too); otherwise, within a second, when
  /// /proc/PID/exe names another file (device and inode). An exec of the very same file with
  /// address-space randomization turned off is not seen.
  std::optional<ExecSeen> exec;
  bool ok() const { return status == ReadStatus::ok; }
};

/// What to read besides the cheap per-tick set (memory, threads, CPU, faults, fd count).
struct ReadDetail {
  bool memory_breakdown = false;  ///< PSS, USS and swap, where the platform measures them
  bool children = false;          ///< count the descendants and sum their resident memory
};

struct OpenResult;

/// Reads one process, again and again, cheaply. Bound to the process it was opened on: once
/// that process is gone a read says exited or pid_reused, never a newer process that was handed
/// the same PID. The Linux reader keeps the process's files open and re-reads them, so a tick
/// costs a few system calls and no path lookups.
///
/// Not thread-safe: one thread at a time (reads reuse internal buffers).
class ProcessReader {
 public:
  /// Opens the process for reading. status is exited when there is no such process (or it is
  /// a zombie), permission_denied when this user may not read it; reader is set only when
  /// status is ok. Never throws for these outcomes.
  static OpenResult open(Pid pid);

  virtual ~ProcessReader() = default;
  ProcessReader(const ProcessReader&) = delete;
  ProcessReader& operator=(const ProcessReader&) = delete;

  /// What was read when the process was opened; unchanged afterwards.
  virtual const ProcessInfo& info() const = 0;

  /// Reads the process now: the cheap set always, plus what `detail` asks for. Never throws
  /// for target failures; see ReadStatus. Costs microseconds (see bench/sampler_bench).
  virtual ReadResult read(ReadDetail detail) = 0;

 protected:
  ProcessReader() = default;
};

/// Result of opening a process: either a reader or the reason there is none.
struct OpenResult {
  ReadStatus status = ReadStatus::ok;
  int error_number = 0;  ///< the platform's error code (Linux: errno) when status is not ok
  std::unique_ptr<ProcessReader> reader;  ///< set exactly when status is ok
};

/// Host facts for the log header. Fields the platform does not give stay empty or zero.
struct HostInfo {
  std::string kernel;           ///< kernel release (Linux: uname -r)
  std::uint64_t page_size = 0;  ///< bytes
  std::uint64_t mem_total_bytes = 0;
  long clock_ticks_per_s = 0;  ///< the unit of ProcessIdentity::start_ticks
};
HostInfo read_host_info();

/// True when a process with this PID exists; a zombie (ended, not yet reaped) counts as
/// existing. False for pid <= 0.
bool process_exists(Pid pid);

/// True while a process with this PID runs: false when it is gone and when it is a zombie
/// (ended, not yet reaped), so it can watch a child without reaping it. False for pid <= 0.
bool process_running(Pid pid);

/// soak's own figures (for its exporter's process metrics).
struct SelfUsage {
  std::uint64_t resident_bytes = 0;  ///< soak's resident memory
  double cpu_s = 0;                  ///< soak's user + system CPU seconds
};
/// Reads soak's own resident memory and CPU time; zeros when the platform cannot tell.
SelfUsage read_self_usage();

}  // namespace soak::sampler
