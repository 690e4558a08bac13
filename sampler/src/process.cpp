#include "soak/sampler/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <utility>
#include <algorithm>

#include "procfs_util.hpp"

namespace soak::sampler {

namespace {

const long kPageSize = sysconf(_SC_PAGESIZE);
const long kClockTicks = sysconf(_SC_CLK_TCK);

template <typename T>
bool parse_uint(std::string_view& rest, T& out) {
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), out);
  if (ec != std::errc()) return false;
  rest.remove_prefix(static_cast<std::size_t>(ptr - rest.data()));
  return true;
}

bool skip_fields(std::string_view& rest, int count) {
  for (int i = 0; i < count; ++i) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    const auto space = rest.find(' ');
    if (space == std::string_view::npos) return false;
    rest.remove_prefix(space);
  }
  return true;
}

}  // namespace

const char* to_string(ReadStatus status) {
  switch (status) {
    case ReadStatus::ok: return "ok";
    case ReadStatus::exited: return "exited";
    case ReadStatus::pid_reused: return "pid reused";
    case ReadStatus::permission_denied: return "permission denied";
    case ReadStatus::io_error: return "i/o error";
  }
  return "unknown";
}

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
  int ppid = 0;
  if (!parse_uint(rest, ppid)) return false;  // field 4
  out.ppid = ppid;
  if (!skip_fields(rest, 5)) return false;  // 5 pgrp .. 9 flags
  if (!parse_uint(rest, out.minor_faults)) return false;  // 10
  if (!skip_fields(rest, 1)) return false;                // 11 cminflt
  if (!parse_uint(rest, out.major_faults)) return false;  // 12
  if (!skip_fields(rest, 1)) return false;                // 13 cmajflt
  if (!parse_uint(rest, out.utime_ticks)) return false;   // 14
  if (!parse_uint(rest, out.stime_ticks)) return false;   // 15
  if (!skip_fields(rest, 4)) return false;                // 16 cutime .. 19 nice
  if (!parse_uint(rest, out.threads)) return false;       // 20
  if (!skip_fields(rest, 1)) return false;                // 21 itrealvalue
  if (!parse_uint(rest, out.start_ticks)) return false;   // 22
  if (!parse_uint(rest, out.vsize_bytes)) return false;   // 23
  if (!parse_uint(rest, out.rss_pages)) return false;     // 24
  return true;
}

ProcessReader::ProcessReader(ProcessReader&& other) noexcept { *this = std::move(other); }

ProcessReader& ProcessReader::operator=(ProcessReader&& other) noexcept {
  if (this != &other) {
    close_all();
    info_ = std::move(other.info_);
    dir_fd_ = std::exchange(other.dir_fd_, -1);
    stat_fd_ = std::exchange(other.stat_fd_, -1);
    statm_fd_ = std::exchange(other.statm_fd_, -1);
    smaps_fd_ = std::exchange(other.smaps_fd_, -1);
    task_fd_ = std::exchange(other.task_fd_, -1);
    children_fds_ = std::move(other.children_fds_);
    other.children_fds_.clear();
    fd_size_is_count_ = other.fd_size_is_count_;
    buffer_ = std::move(other.buffer_);
    pending_ = std::move(other.pending_);
    descendants_ = std::move(other.descendants_);
  }
  return *this;
}

ProcessReader::~ProcessReader() { close_all(); }

void ProcessReader::close_all() noexcept {
  for (int* fd : {&dir_fd_, &stat_fd_, &statm_fd_, &smaps_fd_, &task_fd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  for (const auto& [tid, fd] : children_fds_) ::close(fd);
  children_fds_.clear();
}

OpenResult ProcessReader::open(pid_t pid) {
  OpenResult result;
  auto fail = [&result](ReadStatus status, int err) {
    result.status = status;
    result.error_number = err;
    return std::move(result);
  };
  if (pid <= 0) return fail(ReadStatus::exited, ESRCH);

  ProcessReader reader;
  reader.buffer_.reserve(4096);
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d", static_cast<int>(pid));
  reader.dir_fd_ = ::open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (reader.dir_fd_ < 0) {
    const int err = errno;
    return fail(err == ENOENT ? ReadStatus::exited : status_from_errno(err), err);
  }
  reader.stat_fd_ = ::openat(reader.dir_fd_, "stat", O_RDONLY | O_CLOEXEC);
  reader.statm_fd_ = ::openat(reader.dir_fd_, "statm", O_RDONLY | O_CLOEXEC);
  if (reader.stat_fd_ < 0 || reader.statm_fd_ < 0) {
    const int err = errno;
    return fail(status_from_errno(err), err);
  }

  StatFields fields;
  int err = 0;
  if (!pread_all(reader.stat_fd_, reader.buffer_, err)) return fail(status_from_errno(err), err);
  if (!parse_stat(reader.buffer_, fields)) return fail(ReadStatus::io_error, EINVAL);
  if (fields.state == 'Z' || fields.state == 'X') return fail(ReadStatus::exited, ESRCH);
  reader.info_.identity = ProcessIdentity{pid, fields.start_ticks};
  reader.info_.name = fields.comm;

  struct stat dir_stat {};
  if (::fstat(reader.dir_fd_, &dir_stat) == 0) reader.info_.uid = dir_stat.st_uid;

  std::string cmdline;
  const int cmd_fd = ::openat(reader.dir_fd_, "cmdline", O_RDONLY | O_CLOEXEC);
  if (cmd_fd >= 0) {
    if (pread_all(cmd_fd, cmdline, err)) {
      std::string_view rest(cmdline);
      while (!rest.empty()) {
        const auto nul = rest.find('\0');
        reader.info_.cmdline.emplace_back(rest.substr(0, nul));
        if (nul == std::string_view::npos) break;
        rest.remove_prefix(nul + 1);
      }
    }
    ::close(cmd_fd);
  }

  // Listing the descriptors needs the same access as ptrace-read; refuse early and clearly.
  const int fd_dir = ::openat(reader.dir_fd_, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_dir < 0) {
    const int open_err = errno;
    return fail(status_from_errno(open_err), open_err);
  }
  ::close(fd_dir);
  struct stat fd_stat {};
  if (::fstatat(reader.dir_fd_, "fd", &fd_stat, 0) == 0 && fd_stat.st_size > 0) {
    reader.fd_size_is_count_ = true;
  }
  reader.smaps_fd_ = ::openat(reader.dir_fd_, "smaps_rollup", O_RDONLY | O_CLOEXEC);
  reader.task_fd_ = ::openat(reader.dir_fd_, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  result.reader.emplace(std::move(reader));
  return result;
}

ReadStatus ProcessReader::read_stat(ProcessSnapshot& out, int& error_number) {
  if (!pread_all(stat_fd_, buffer_, error_number)) return status_from_errno(error_number);
  StatFields fields;
  if (!parse_stat(buffer_, fields)) {
    error_number = EINVAL;
    return ReadStatus::io_error;
  }
  if (fields.start_ticks != info_.identity.start_ticks) return ReadStatus::pid_reused;
  if (fields.state == 'Z' || fields.state == 'X') return ReadStatus::exited;
  out.state = fields.state;
  out.threads = fields.threads;
  out.minor_faults = fields.minor_faults;
  out.major_faults = fields.major_faults;
  out.cpu_s = static_cast<double>(fields.utime_ticks + fields.stime_ticks) /
              static_cast<double>(kClockTicks);
  out.vms_bytes = fields.vsize_bytes;
  return ReadStatus::ok;
}

ReadStatus ProcessReader::read_statm(ProcessSnapshot& out, int& error_number) {
  if (!pread_all(statm_fd_, buffer_, error_number)) return status_from_errno(error_number);
  std::string_view rest(buffer_);
  std::uint64_t size_pages = 0, resident_pages = 0, shared_pages = 0;
  if (!parse_uint(rest, size_pages) || !parse_uint(rest, resident_pages) ||
      !parse_uint(rest, shared_pages)) {
    error_number = EINVAL;
    return ReadStatus::io_error;
  }
  const auto page = static_cast<std::uint64_t>(kPageSize);
  out.rss_bytes = resident_pages * page;
  // statm's "shared" is file-backed plus shmem resident pages, so the rest is anonymous.
  out.anon_bytes = (resident_pages - std::min(shared_pages, resident_pages)) * page;
  return ReadStatus::ok;
}

std::optional<std::uint32_t> ProcessReader::count_fds() {
  if (fd_size_is_count_) {
    struct stat st {};
    if (::fstatat(dir_fd_, "fd", &st, 0) != 0) return std::nullopt;
    return static_cast<std::uint32_t>(st.st_size);
  }
  const int fd_dir = ::openat(dir_fd_, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_dir < 0) return std::nullopt;
  std::uint32_t count = 0;
  for_each_dir_entry(fd_dir, [&count](std::string_view) { ++count; });
  ::close(fd_dir);
  return count;
}

void ProcessReader::read_smaps_rollup(ProcessSnapshot& out) {
  int err = 0;
  if (smaps_fd_ < 0 || !pread_all(smaps_fd_, buffer_, err)) return;
  std::uint64_t pss_kb = 0, private_kb = 0, swap_kb = 0;
  bool saw_pss = false;
  std::string_view rest(buffer_);
  while (!rest.empty()) {
    const auto eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 1);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    std::uint64_t kb = 0;
    if (!parse_uint(value, kb)) continue;
    if (key == "Pss") {
      pss_kb = kb;
      saw_pss = true;
    } else if (key == "Private_Clean" || key == "Private_Dirty" || key == "Private_Hugetlb") {
      private_kb += kb;
    } else if (key == "Swap") {
      swap_kb = kb;
    }
  }
  if (!saw_pss) return;
  out.pss_bytes = pss_kb * 1024;
  out.uss_bytes = private_kb * 1024;
  out.swap_bytes = swap_kb * 1024;
}

void ProcessReader::list_own_children(std::vector<pid_t>& out) {
  // Keeping a descriptor per thread costs soak descriptors of its own; past this many threads
  // the rest are opened and closed on each detail tick instead.
  constexpr std::size_t kMaxCachedThreads = 256;
  if (task_fd_ < 0 || ::lseek(task_fd_, 0, SEEK_SET) != 0) {
    list_children(info_.identity.pid, out, buffer_);
    return;
  }
  children_fds_next_.clear();
  std::size_t cursor = 0;  // threads come back in the same order: search from the last hit
  for_each_dir_entry(task_fd_, [&](std::string_view name) {
    pid_t tid = 0;
    if (std::from_chars(name.data(), name.data() + name.size(), tid).ec != std::errc()) return;
    int fd = -1;
    for (std::size_t k = 0; k < children_fds_.size() && fd < 0; ++k) {
      const std::size_t i = (cursor + k) % children_fds_.size();
      if (children_fds_[i].first == tid) {
        fd = std::exchange(children_fds_[i].second, -1);
        cursor = i + 1;
      }
    }
    if (fd < 0) {
      char rel[48];
      std::snprintf(rel, sizeof rel, "%d/children", static_cast<int>(tid));
      fd = ::openat(task_fd_, rel, O_RDONLY | O_CLOEXEC);
      if (fd < 0) return;
    }
    int err = 0;
    if (pread_all(fd, buffer_, err)) parse_pid_list(buffer_, out);
    if (err == 0 && children_fds_next_.size() < kMaxCachedThreads) {
      children_fds_next_.emplace_back(tid, fd);
    } else {
      ::close(fd);
    }
  });
  for (const auto& [tid, fd] : children_fds_) {
    if (fd >= 0) ::close(fd);  // threads that ended
  }
  children_fds_.swap(children_fds_next_);
}

void ProcessReader::read_descendants(ProcessSnapshot& out) {
  constexpr std::size_t kMaxDescendants = 65536;  // a fork bomb must not stall the sampler
  descendants_.clear();
  pending_.clear();
  list_own_children(descendants_);
  pending_.assign(descendants_.begin(), descendants_.end());
  while (!pending_.empty() && descendants_.size() < kMaxDescendants) {
    const pid_t parent = pending_.back();
    pending_.pop_back();
    const std::size_t before = descendants_.size();
    list_children(parent, descendants_, buffer_);
    for (std::size_t i = before; i < descendants_.size(); ++i) pending_.push_back(descendants_[i]);
  }
  std::uint64_t rss = 0;
  std::uint32_t alive = 0;
  for (const pid_t child : descendants_) {
    std::uint64_t resident_pages = 0;
    if (read_resident_pages(child, buffer_, resident_pages)) {
      rss += resident_pages * static_cast<std::uint64_t>(kPageSize);
      ++alive;
    }
  }
  out.children = alive;
  out.children_rss_bytes = rss;
}

ReadResult ProcessReader::read(ReadDetail detail) {
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
  result.snapshot.fds = count_fds();
  if (detail.smaps) read_smaps_rollup(result.snapshot);
  if (detail.children) read_descendants(result.snapshot);
  return result;
}

HostInfo read_host_info() {
  HostInfo host;
  struct utsname names {};
  if (::uname(&names) == 0) host.kernel = names.release;
  host.page_size = static_cast<std::uint64_t>(kPageSize);
  host.clock_ticks_per_s = kClockTicks;
  std::string text;
  int err = 0;
  const int fd = ::open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
  if (fd >= 0 && pread_all(fd, text, err)) {
    std::string_view rest(text);
    if (rest.starts_with("MemTotal:")) {
      rest.remove_prefix(9);
      std::uint64_t kb = 0;
      if (parse_uint(rest, kb)) host.mem_total_bytes = kb * 1024;
    }
  }
  if (fd >= 0) ::close(fd);
  return host;
}

bool process_exists(pid_t pid) {
  if (pid <= 0) return false;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d", static_cast<int>(pid));
  struct stat st {};
  return ::stat(path, &st) == 0;
}

}  // namespace soak::sampler
