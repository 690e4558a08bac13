// The Linux ProcessReader: procfs, through descriptors opened once per process.
//
// The reader keeps descriptors open on /proc/PID/{stat,statm} and re-reads them with pread(2)
// at offset 0, so a tick costs two reads and one fstatat, no path lookups. Those descriptors
// stay bound to the process they were opened on: once it is gone they fail with ESRCH and never
// show a newer process that was handed the same PID. The start time in /proc/PID/stat is
// compared on every read as a second guard.

#include "soak/sampler/process.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <string_view>
#include <utility>

#include "procfs.hpp"

namespace soak::sampler {

namespace detail {

std::uint64_t page_size_bytes() {
  static const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

long clock_ticks_per_s() {
  static const long ticks = ::sysconf(_SC_CLK_TCK);
  return ticks;
}

namespace {

bool skip_fields(std::string_view& rest, int count) {
  for (int i = 0; i < count; ++i) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    const auto space = rest.find(' ');
    if (space == std::string_view::npos) return false;
    rest.remove_prefix(space);
  }
  return true;
}

/// Fields 25 (rsslim, skipped) to 28 (startstack): optional, a line that ends early (an old
/// kernel, a test's short line) leaves them zero.
bool parse_layout(std::string_view rest, StatFields& out) {
  std::uint64_t rss_limit = 0;
  if (parse_number(rest, rss_limit) && parse_number(rest, out.start_code) &&
      parse_number(rest, out.end_code)) {
    parse_number(rest, out.start_stack);
  }
  return true;
}

/// Fields 4 (ppid) to 24 (rss) of a stat line, `rest` starting after the state letter.
bool parse_stat_numbers(std::string_view rest, StatFields& out) {
  return parse_number(rest, out.ppid) &&          // 4
         skip_fields(rest, 4) &&                  // 5 pgrp .. 8 tpgid
         parse_number(rest, out.flags) &&         // 9
         parse_number(rest, out.minor_faults) &&  // 10
         skip_fields(rest, 1) &&                  // 11 cminflt
         parse_number(rest, out.major_faults) &&  // 12
         skip_fields(rest, 1) &&                  // 13 cmajflt
         parse_number(rest, out.utime_ticks) &&   // 14
         parse_number(rest, out.stime_ticks) &&   // 15
         skip_fields(rest, 4) &&                  // 16 cutime .. 19 nice
         parse_number(rest, out.threads) &&       // 20
         skip_fields(rest, 1) &&                  // 21 itrealvalue
         parse_number(rest, out.start_ticks) &&   // 22
         parse_number(rest, out.vsize_bytes) &&   // 23
         parse_number(rest, out.rss_pages) &&     // 24
         parse_layout(rest, out);                 // 25 .. 28, optional
}

/// PF_KTHREAD in stat's flags (include/linux/sched.h): a kernel thread, with no user memory.
constexpr std::uint64_t kKernelThreadFlag = 0x00200000;

bool is_gone_state(char state) {
  return state == 'Z' || state == 'X';
}

}  // namespace

bool parse_stat(std::string_view text, StatFields& out) {
  // "pid (comm) state ppid ...": comm may hold spaces and ')', so split at the last ')'.
  const auto open = text.find('(');
  const auto close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return false;
  }
  out.comm.assign(text.substr(open + 1, close - open - 1));
  std::string_view rest = text.substr(close + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest.empty()) return false;
  out.state = rest.front();  // field 3
  rest.remove_prefix(1);
  return parse_stat_numbers(rest, out);
}

namespace {

/// Keeping a descriptor per thread for the children files costs soak descriptors of its own;
/// past this many threads the rest are opened and closed on each detail tick instead.
constexpr std::size_t kMaxCachedThreads = 256;
/// A fork bomb must not stall the sampler: the descendant walk stops after this many.
constexpr std::size_t kMaxDescendants = 65536;
/// How often the program file behind /proc/PID/exe (its device and inode) is compared with the
/// one opened: the backstop for an exec that keeps the name and the layout in stat (no
/// address-space randomization, a copy of the same binary). One stat() of a symlink target
/// costs about a floor sample, so at a 1 ms interval it is taken once a second, not per tick.
constexpr std::chrono::seconds kExeCheckPeriod{1};

/// The program a process runs, as far as stat and /proc/PID/exe tell it apart.
struct ProgramLayout {
  std::uint64_t start_code = 0, end_code = 0, start_stack = 0;
  friend bool operator==(const ProgramLayout&, const ProgramLayout&) = default;
};
struct ProgramFile {
  std::uint64_t device = 0, inode = 0;
  bool known = false;  ///< false when /proc/PID/exe cannot be followed (permissions, a kernel
                       ///< thread): never compared then
  friend bool operator==(const ProgramFile&, const ProgramFile&) = default;
};

class LinuxProcessReader final : public ProcessReader {
 public:
  /// Opens /proc/PID and reads the static facts; fills `result` (reader or reason).
  static void open_into(Pid pid, OpenResult& result);

  const ProcessInfo& info() const override { return info_; }
  ReadResult read(ReadDetail detail) override;

 private:
  LinuxProcessReader() { buffer_.reserve(4096); }
  ReadStatus open_files(Pid pid, int& error_number);
  void read_cmdline();
  std::vector<std::string> current_cmdline() const;
  ProgramFile program_file() const;
  void check_program_file();
  ReadStatus read_stat(ProcessSnapshot& out, int& error_number);
  ReadStatus read_statm(ProcessSnapshot& out, int& error_number);
  std::optional<std::uint32_t> count_fds();
  void read_smaps_rollup(ProcessSnapshot& out);
  void read_descendants(ProcessSnapshot& out);
  void list_own_children(std::vector<Pid>& out);
  UniqueFd children_file(Pid tid, std::size_t& cursor);

  ProcessInfo info_;
  UniqueFd dir_fd_;
  UniqueFd stat_fd_;
  UniqueFd statm_fd_;
  UniqueFd smaps_fd_;
  UniqueFd task_fd_;  ///< /proc/PID/task, listed on detail ticks
  /// Open /proc/PID/task/TID/children of the target's threads, kept between detail ticks so
  /// a many-threaded target costs one pread per thread, not a path walk.
  std::vector<std::pair<Pid, UniqueFd>> children_fds_;
  std::vector<std::pair<Pid, UniqueFd>> children_fds_next_;
  bool fd_size_is_count_ = false;  ///< Linux >= 6.2: st_size of /proc/PID/fd is the count
  std::string buffer_;             ///< reused read buffer (no allocation per tick)
  std::string current_name_;       ///< the name now (it changes at an exec)
  ProgramLayout current_layout_;   ///< stat's code and stack placement now (set at an exec)
  ProgramFile current_file_;       ///< /proc/PID/exe's device and inode now
  std::chrono::steady_clock::time_point last_exe_check_;
  bool exec_pending_ = false;
  std::vector<Pid> pending_;  ///< reused work lists for the descendant walk
  std::vector<Pid> descendants_;
};

void LinuxProcessReader::open_into(Pid pid, OpenResult& result) {
  auto fail = [&result](ReadStatus status, int err) {
    result.status = status;
    result.error_number = err;
  };
  if (pid <= 0) return fail(ReadStatus::exited, ESRCH);
  std::unique_ptr<LinuxProcessReader> reader(new LinuxProcessReader());
  int err = 0;
  if (const ReadStatus opened = reader->open_files(pid, err); opened != ReadStatus::ok) {
    return fail(opened, err);
  }
  StatFields fields;
  if (!pread_all(reader->stat_fd_.get(), reader->buffer_, err)) {
    return fail(status_from_errno(err), err);
  }
  if (!parse_stat(reader->buffer_, fields)) return fail(ReadStatus::io_error, EINVAL);
  if (is_gone_state(fields.state)) return fail(ReadStatus::exited, ESRCH);
  if ((fields.flags & kKernelThreadFlag) != 0) return fail(ReadStatus::kernel_thread, EINVAL);
  reader->info_.identity = ProcessIdentity{pid, fields.start_ticks};
  reader->info_.name = fields.comm;
  reader->current_layout_ = {fields.start_code, fields.end_code, fields.start_stack};
  reader->current_file_ = reader->program_file();
  reader->last_exe_check_ = std::chrono::steady_clock::now();
  struct stat dir_stat {};
  if (::fstat(reader->dir_fd_.get(), &dir_stat) == 0) reader->info_.uid = dir_stat.st_uid;
  reader->read_cmdline();

  // Listing the descriptors needs the same access as ptrace-read; refuse early and clearly.
  const int dir = reader->dir_fd_.get();
  if (!UniqueFd(::openat(dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC))) {
    const int open_err = errno;
    return fail(status_from_errno(open_err), open_err);
  }
  struct stat fd_stat {};
  reader->fd_size_is_count_ = ::fstatat(dir, "fd", &fd_stat, 0) == 0 && fd_stat.st_size > 0;
  reader->smaps_fd_ = open_read_only_at(dir, "smaps_rollup");
  reader->task_fd_ = UniqueFd(::openat(dir, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  result.reader = std::move(reader);
}

ReadStatus LinuxProcessReader::open_files(Pid pid, int& error_number) {
  dir_fd_ = UniqueFd(::open(ProcPath(pid).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd_) {
    error_number = errno;
    return error_number == ENOENT ? ReadStatus::exited : status_from_errno(error_number);
  }
  stat_fd_ = open_read_only_at(dir_fd_.get(), "stat");
  statm_fd_ = open_read_only_at(dir_fd_.get(), "statm");
  if (!stat_fd_ || !statm_fd_) {
    error_number = errno;
    return status_from_errno(error_number);
  }
  return ReadStatus::ok;
}

std::vector<std::string> LinuxProcessReader::current_cmdline() const {
  std::vector<std::string> args;
  const UniqueFd fd = open_read_only_at(dir_fd_.get(), "cmdline");
  std::string cmdline;
  int err = 0;
  if (!fd || !pread_all(fd.get(), cmdline, err)) return args;
  std::string_view rest(cmdline);
  while (!rest.empty()) {
    const auto nul = rest.find('\0');
    args.emplace_back(rest.substr(0, nul));
    if (nul == std::string_view::npos) break;
    rest.remove_prefix(nul + 1);
  }
  return args;
}

ProgramFile LinuxProcessReader::program_file() const {
  struct stat st {};
  if (::fstatat(dir_fd_.get(), "exe", &st, 0) != 0) return {};
  return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino), true};
}

void LinuxProcessReader::check_program_file() {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_exe_check_ < kExeCheckPeriod) return;
  last_exe_check_ = now;
  const ProgramFile file = program_file();
  if (!file.known) return;  // gone or hidden now: the next read says which
  if (current_file_.known && file != current_file_) exec_pending_ = true;
  current_file_ = file;
}

void LinuxProcessReader::read_cmdline() {
  info_.cmdline = current_cmdline();
  current_name_ = info_.name;
}

ReadStatus LinuxProcessReader::read_stat(ProcessSnapshot& out, int& error_number) {
  if (!pread_all(stat_fd_.get(), buffer_, error_number)) return status_from_errno(error_number);
  StatFields fields;
  if (!parse_stat(buffer_, fields)) {
    error_number = EINVAL;
    return ReadStatus::io_error;
  }
  if (fields.start_ticks != info_.identity.start_ticks) return ReadStatus::pid_reused;
  if (is_gone_state(fields.state)) return ReadStatus::exited;
  // An exec: the same process runs another program. A new name says so at once; a program
  // of the same name is seen by where exec placed its code and stack.
  const ProgramLayout layout{fields.start_code, fields.end_code, fields.start_stack};
  if (fields.comm != current_name_ || layout != current_layout_) {
    current_name_ = fields.comm;
    current_layout_ = layout;
    exec_pending_ = true;
  }
  out.state = fields.state;
  out.threads = fields.threads;
  out.minor_faults = fields.minor_faults;
  out.major_faults = fields.major_faults;
  out.cpu_s = static_cast<double>(fields.utime_ticks + fields.stime_ticks) /
              static_cast<double>(clock_ticks_per_s());
  out.vms_bytes = fields.vsize_bytes;
  return ReadStatus::ok;
}

ReadStatus LinuxProcessReader::read_statm(ProcessSnapshot& out, int& error_number) {
  if (!pread_all(statm_fd_.get(), buffer_, error_number)) return status_from_errno(error_number);
  std::string_view rest(buffer_);
  std::uint64_t size_pages = 0, resident_pages = 0, shared_pages = 0;
  if (!parse_number(rest, size_pages) || !parse_number(rest, resident_pages) ||
      !parse_number(rest, shared_pages)) {
    error_number = EINVAL;
    return ReadStatus::io_error;
  }
  const std::uint64_t page = page_size_bytes();
  out.rss_bytes = resident_pages * page;
  // statm's "shared" is file-backed plus shmem resident pages, so the rest is anonymous.
  out.anon_bytes = (resident_pages - std::min(shared_pages, resident_pages)) * page;
  return ReadStatus::ok;
}

std::optional<std::uint32_t> LinuxProcessReader::count_fds() {
  if (fd_size_is_count_) {
    struct stat st {};
    if (::fstatat(dir_fd_.get(), "fd", &st, 0) != 0) return std::nullopt;
    return static_cast<std::uint32_t>(st.st_size);
  }
  const UniqueFd fd_dir(::openat(dir_fd_.get(), "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd_dir) return std::nullopt;
  std::uint32_t count = 0;
  for_each_dir_entry(fd_dir.get(), [&count](std::string_view) { ++count; });
  return count;
}

void LinuxProcessReader::read_smaps_rollup(ProcessSnapshot& out) {
  int err = 0;
  if (!smaps_fd_ || !pread_all(smaps_fd_.get(), buffer_, err)) return;
  const std::optional<SmapsRollup> rollup = parse_smaps_rollup(buffer_);
  if (!rollup) return;
  out.pss_bytes = rollup->pss_bytes;
  out.uss_bytes = rollup->uss_bytes;
  out.swap_bytes = rollup->swap_bytes;
}

/// The children file of thread `tid`: the one kept from the last detail tick, else a new one.
UniqueFd LinuxProcessReader::children_file(Pid tid, std::size_t& cursor) {
  // Threads come back in the same order: search from the last hit.
  for (std::size_t k = 0; k < children_fds_.size(); ++k) {
    const std::size_t i = (cursor + k) % children_fds_.size();
    if (children_fds_[i].first == tid && children_fds_[i].second) {
      cursor = i + 1;
      return std::move(children_fds_[i].second);
    }
  }
  char rel[48];
  std::snprintf(rel, sizeof rel, "%d/children", static_cast<int>(tid));
  return open_read_only_at(task_fd_.get(), rel);
}

void LinuxProcessReader::list_own_children(std::vector<Pid>& out) {
  if (!task_fd_ || ::lseek(task_fd_.get(), 0, SEEK_SET) != 0) {
    list_children(info_.identity.pid, out, buffer_);
    return;
  }
  children_fds_next_.clear();
  std::size_t cursor = 0;
  for_each_dir_entry(task_fd_.get(), [&](std::string_view name) {
    Pid tid = 0;
    if (std::from_chars(name.data(), name.data() + name.size(), tid).ec != std::errc()) return;
    UniqueFd fd = children_file(tid, cursor);
    if (!fd) return;
    int err = 0;
    if (pread_all(fd.get(), buffer_, err)) parse_pid_list(buffer_, out);
    if (err == 0 && children_fds_next_.size() < kMaxCachedThreads) {
      children_fds_next_.emplace_back(tid, std::move(fd));
    }
  });
  children_fds_.swap(children_fds_next_);  // the files of threads that ended close here
  children_fds_next_.clear();
}

void LinuxProcessReader::read_descendants(ProcessSnapshot& out) {
  descendants_.clear();
  pending_.clear();
  list_own_children(descendants_);
  pending_.assign(descendants_.begin(), descendants_.end());
  while (!pending_.empty() && descendants_.size() < kMaxDescendants) {
    const Pid parent = pending_.back();
    pending_.pop_back();
    const std::size_t before = descendants_.size();
    list_children(parent, descendants_, buffer_);
    for (std::size_t i = before; i < descendants_.size(); ++i) pending_.push_back(descendants_[i]);
  }
  std::uint64_t rss = 0;
  std::uint32_t alive = 0;
  for (const Pid child : descendants_) {
    std::uint64_t resident_pages = 0;
    if (read_resident_pages(child, buffer_, resident_pages)) {
      rss += resident_pages * page_size_bytes();
      ++alive;
    }
  }
  out.children = alive;
  out.children_rss_bytes = rss;
}

ReadResult LinuxProcessReader::read(ReadDetail detail) {
  ReadResult result;
  result.status = read_stat(result.snapshot, result.error_number);
  if (result.status == ReadStatus::ok) {
    result.status = read_statm(result.snapshot, result.error_number);
  }
  if (result.status == ReadStatus::exited && result.error_number == ESRCH) {
    // Our descriptors are bound to the old process and it has been reaped (a zombie still
    // reads, with state Z). Whatever /proc/PID names now is another process, even one whose
    // start time falls in the same clock tick.
    if (process_exists(info_.identity.pid)) result.status = ReadStatus::pid_reused;
  }
  if (!result.ok()) return result;
  check_program_file();
  if (exec_pending_) {
    exec_pending_ = false;
    current_file_ = program_file();  // the program seen now, whichever check saw the exec
    last_exe_check_ = std::chrono::steady_clock::now();
    result.exec = ExecSeen{current_name_, current_cmdline()};
  }
  result.snapshot.fds = count_fds();
  if (detail.memory_breakdown) read_smaps_rollup(result.snapshot);
  if (detail.children) read_descendants(result.snapshot);
  return result;
}

}  // namespace

}  // namespace detail

const char* to_string(ReadStatus status) {
  switch (status) {
    case ReadStatus::ok:
      return "ok";
    case ReadStatus::exited:
      return "exited";
    case ReadStatus::pid_reused:
      return "pid reused";
    case ReadStatus::permission_denied:
      return "permission denied";
    case ReadStatus::kernel_thread:
      return "kernel thread";
    case ReadStatus::io_error:
      return "i/o error";
  }
  return "unknown";
}

OpenResult ProcessReader::open(Pid pid) {
  OpenResult result;
  detail::LinuxProcessReader::open_into(pid, result);
  return result;
}

HostInfo read_host_info() {
  HostInfo host;
  struct utsname names {};
  if (::uname(&names) == 0) host.kernel = names.release;
  host.page_size = detail::page_size_bytes();
  host.clock_ticks_per_s = detail::clock_ticks_per_s();
  std::string text;
  int err = 0;
  if (detail::read_whole_file("/proc/meminfo", text, err)) {
    std::string_view rest(text);
    std::uint64_t kb = 0;
    if (rest.starts_with("MemTotal:")) {
      rest.remove_prefix(9);
      if (detail::parse_number(rest, kb)) host.mem_total_bytes = kb * 1024;
    }
  }
  return host;
}

bool process_exists(Pid pid) {
  if (pid <= 0) return false;
  struct stat st {};
  return ::stat(detail::ProcPath(pid).c_str(), &st) == 0;
}

bool process_running(Pid pid) {
  if (pid <= 0) return false;
  std::string text;
  int err = 0;
  if (!detail::read_whole_file(detail::ProcPath(pid, "stat").c_str(), text, err)) return false;
  detail::StatFields fields;
  // Unparsable means the kernel is mid-teardown of the entry: treat it as still there.
  if (!detail::parse_stat(text, fields)) return true;
  return !detail::is_gone_state(fields.state);
}

SelfUsage read_self_usage() {
  SelfUsage usage;
  std::string text;
  int err = 0;
  detail::StatFields fields;
  if (!detail::read_whole_file("/proc/self/stat", text, err) || !detail::parse_stat(text, fields)) {
    return usage;
  }
  usage.resident_bytes = fields.rss_pages * detail::page_size_bytes();
  usage.cpu_s = static_cast<double>(fields.utime_ticks + fields.stime_ticks) /
                static_cast<double>(detail::clock_ticks_per_s());
  return usage;
}

}  // namespace soak::sampler
