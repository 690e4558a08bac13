#pragma once
// Reading one process (and its descendants) from Linux procfs.
//
// A ProcessReader keeps file descriptors open on /proc/PID/{stat,statm} and re-reads them with
// pread(2) at offset 0, so a tick costs two reads and one fstatat, no path lookups. Those
// descriptors stay bound to the process they were opened on: once it is gone they fail with
// ESRCH and never show a newer process that was handed the same PID. The start time in
// /proc/PID/stat is compared on every read as a second guard.
//
// Thread-safety: a ProcessReader is used from one thread at a time.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace soak::sampler {

using Pid = std::int32_t;

/// A process is its PID plus its start time (clock ticks after boot): PIDs are reused.
struct ProcessIdentity {
  pid_t pid = 0;
  std::uint64_t start_ticks = 0;
  friend bool operator==(const ProcessIdentity&, const ProcessIdentity&) = default;
};

/// Why a read did not produce a snapshot. Expected runtime outcomes, not bugs.
enum class ReadStatus {
  ok,
  exited,             ///< the process is gone or a zombie
  pid_reused,         ///< the PID now names another process
  permission_denied,  ///< procfs refused (the target belongs to another user)
  io_error,           ///< any other failure; errno is kept in ReadResult::error_number
};

const char* to_string(ReadStatus status);

/// Static facts about a process, read once.
struct ProcessInfo {
  ProcessIdentity identity;
  std::string name;                  ///< comm, as in /proc/PID/stat
  std::vector<std::string> cmdline;  ///< argv; empty for kernel threads
  uid_t uid = 0;                     ///< real uid of the process
};

/// One reading. Optional fields are "not measured on this tick", never zero.
struct ProcessSnapshot {
  char state = '?';
  std::uint64_t rss_bytes = 0;
  std::uint64_t vms_bytes = 0;
  std::uint64_t anon_bytes = 0;  ///< resident anonymous memory (statm resident - shared)
  std::uint32_t threads = 0;
  std::optional<std::uint32_t> fds;  ///< open descriptors; absent when /proc/PID/fd is unreadable
  double cpu_s = 0;                  ///< user + system CPU seconds
  std::uint64_t minor_faults = 0;
  std::uint64_t major_faults = 0;
  // From smaps_rollup, on detail ticks only.
  std::optional<std::uint64_t> pss_bytes;
  std::optional<std::uint64_t> uss_bytes;
  std::optional<std::uint64_t> swap_bytes;
  // Descendants (children, grandchildren, ...), on detail ticks only.
  std::optional<std::uint32_t> children;
  std::optional<std::uint64_t> children_rss_bytes;
};

struct ReadResult {
  ReadStatus status = ReadStatus::ok;
  int error_number = 0;
  ProcessSnapshot snapshot;
  bool ok() const { return status == ReadStatus::ok; }
};

/// What to read besides the cheap per-tick set (stat, statm, fd count).
struct ReadDetail {
  bool smaps = false;     ///< PSS, USS and swap from /proc/PID/smaps_rollup
  bool children = false;  ///< walk /proc/PID/task/*/children and sum descendants' RSS
};

/// Result of opening a process: either a reader or the reason there is none.
class ProcessReader;
struct OpenResult;

class ProcessReader {
 public:
  /// Opens /proc/PID. status is exited when there is no such process (or it is a zombie),
  /// permission_denied when its descriptors cannot be listed by this user.
  static OpenResult open(pid_t pid);

  ProcessReader(ProcessReader&&) noexcept;
  ProcessReader& operator=(ProcessReader&&) noexcept;
  ProcessReader(const ProcessReader&) = delete;
  ProcessReader& operator=(const ProcessReader&) = delete;
  ~ProcessReader();

  const ProcessInfo& info() const { return info_; }

  /// Reads the process now. Never throws for target failures; see ReadStatus.
  ReadResult read(ReadDetail detail);

 private:
  ProcessReader() = default;
  void close_all() noexcept;
  ReadStatus read_stat(ProcessSnapshot& out, int& error_number);
  ReadStatus read_statm(ProcessSnapshot& out, int& error_number);
  std::optional<std::uint32_t> count_fds();
  void read_smaps_rollup(ProcessSnapshot& out);
  void read_descendants(ProcessSnapshot& out);
  void list_own_children(std::vector<pid_t>& out);

  ProcessInfo info_;
  int dir_fd_ = -1;
  int stat_fd_ = -1;
  int statm_fd_ = -1;
  int smaps_fd_ = -1;
  int task_fd_ = -1;  ///< /proc/PID/task, listed on detail ticks
  /// Open /proc/PID/task/TID/children of the target's threads, kept between detail ticks so
  /// a many-threaded target costs one pread per thread, not a path walk. Capped (see .cpp).
  std::vector<std::pair<pid_t, int>> children_fds_;
  std::vector<std::pair<pid_t, int>> children_fds_next_;
  bool fd_size_is_count_ = false;  ///< Linux >= 6.2: st_size of /proc/PID/fd is the count
  std::string buffer_;             ///< reused read buffer (no allocation per tick)
  std::vector<pid_t> pending_;     ///< reused work lists for the descendant walk
  std::vector<pid_t> descendants_;
};

struct OpenResult {
  ReadStatus status = ReadStatus::ok;
  int error_number = 0;
  std::optional<ProcessReader> reader;
};

/// Parses the text of /proc/PID/stat (split after the last ')', locale-free).
/// Returns false when the text is malformed. Exposed for tests with recorded lines.
struct StatFields {
  std::string comm;
  char state = '?';
  pid_t ppid = 0;
  std::uint64_t minor_faults = 0;
  std::uint64_t major_faults = 0;
  std::uint64_t utime_ticks = 0;
  std::uint64_t stime_ticks = 0;
  std::uint32_t threads = 0;
  std::uint64_t start_ticks = 0;
  std::uint64_t vsize_bytes = 0;
  std::uint64_t rss_pages = 0;
};
bool parse_stat(std::string_view text, StatFields& out);

/// Host facts for the log header.
struct HostInfo {
  std::string kernel;
  std::uint64_t page_size = 0;
  std::uint64_t mem_total_bytes = 0;
  long clock_ticks_per_s = 0;
};
HostInfo read_host_info();

/// True when a process with this PID exists (a zombie counts as existing).
bool process_exists(pid_t pid);

}  // namespace soak::sampler
