#pragma once
// procfs helpers shared by the Linux sources (reader, launcher, cgroup, smaps). Private to
// soak::sampler; tests reach them through the library's private include directory.
//
// Thread-safety: every function here is reentrant (buffers are the caller's).

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "soak/log/unique_fd.hpp"
#include "soak/sampler/process.hpp"

namespace soak::sampler::detail {

using log::UniqueFd;

/// The ReadStatus an errno from a procfs call means.
inline ReadStatus status_from_errno(int err) {
  switch (err) {
    case ESRCH:
    case ENOENT:
      return ReadStatus::exited;
    case EACCES:
    case EPERM:
      return ReadStatus::permission_denied;
    default:
      return ReadStatus::io_error;
  }
}

/// "/proc/PID" or "/proc/PID/FILE" in a stack buffer (no allocation on the tick path).
struct ProcPath {
  char text[64];
  explicit ProcPath(Pid pid, const char* file = nullptr) {
    if (file == nullptr) {
      std::snprintf(text, sizeof text, "/proc/%d", static_cast<int>(pid));
    } else {
      std::snprintf(text, sizeof text, "/proc/%d/%s", static_cast<int>(pid), file);
    }
  }
  const char* c_str() const { return text; }
};

inline UniqueFd open_read_only(const char* path) {
  return UniqueFd(::open(path, O_RDONLY | O_CLOEXEC));
}

inline UniqueFd open_read_only_at(int dir_fd, const char* relative_path) {
  return UniqueFd(::openat(dir_fd, relative_path, O_RDONLY | O_CLOEXEC));
}

/// Re-reads a procfs file that is generated whole on every read (stat, statm, smaps_rollup,
/// children: the kernel's single_open files) from offset 0 into `out`, reusing its capacity.
/// Such a file yields its whole text on the first read, so a read shorter than the space
/// offered is the end and costs no second syscall. Not for seq_files that stream page by page
/// (smaps, sysfs): use read_whole_file for those.
inline bool pread_all(int fd, std::string& out, int& error_number) {
  if (out.capacity() < 4096) out.reserve(4096);
  out.resize(out.capacity());
  std::size_t total = 0;
  for (;;) {
    const ssize_t n =
        ::pread(fd, out.data() + total, out.size() - total, static_cast<off_t>(total));
    if (n < 0) {
      if (errno == EINTR) continue;
      error_number = errno;
      out.clear();
      return false;
    }
    total += static_cast<std::size_t>(n);
    if (n == 0 || total < out.size()) break;
    out.resize(out.size() * 2);
  }
  out.resize(total);
  return true;
}

/// The one "read a whole small file" helper of the Linux sources: opens `path`, reads until
/// end of file (any file: procfs, sysfs, regular) into `out`, reusing its capacity. False
/// (with `error_number` set to errno and `out` empty) when it cannot be opened or read.
inline bool read_whole_file(const char* path, std::string& out, int& error_number) {
  out.clear();
  const UniqueFd fd = open_read_only(path);
  if (!fd) {
    error_number = errno;
    return false;
  }
  constexpr std::size_t kChunkBytes = 16384;
  std::size_t total = 0;
  for (;;) {
    if (out.size() < total + kChunkBytes) out.resize(total + kChunkBytes);
    const ssize_t n = ::read(fd.get(), out.data() + total, out.size() - total);
    if (n < 0) {
      if (errno == EINTR) continue;
      error_number = errno;
      out.clear();
      return false;
    }
    if (n == 0) break;
    total += static_cast<std::size_t>(n);
  }
  out.resize(total);
  return true;
}

/// Calls fn(name) for each entry of an open directory except "." and "..".
/// Uses getdents64 into a stack buffer: no allocation.
template <typename Fn>
void for_each_dir_entry(int dir_fd, Fn&& fn) {
  alignas(8) char buf[8192];
  for (;;) {
    const ssize_t n = ::getdents64(dir_fd, buf, sizeof buf);
    if (n <= 0) return;
    for (ssize_t off = 0; off < n;) {
      // d_reclen/d_name layout of struct dirent64; see getdents64(2).
      const auto* entry = reinterpret_cast<const struct dirent64*>(buf + off);
      const std::string_view name(entry->d_name);
      if (name != "." && name != "..") fn(name);
      off += entry->d_reclen;
    }
  }
}

/// Skips spaces, then parses one unsigned (or signed) decimal from the front of `rest`.
template <typename T>
bool parse_number(std::string_view& rest, T& out) {
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), out);
  if (ec != std::errc()) return false;
  rest.remove_prefix(static_cast<std::size_t>(ptr - rest.data()));
  return true;
}

/// Appends the PIDs listed (space-separated) in a children file's text to `out`.
/// The figures soak reads from /proc/PID/smaps_rollup, in bytes.
struct SmapsRollup {
  std::uint64_t pss_bytes = 0;
  std::uint64_t uss_bytes = 0;  ///< Private_Clean + Private_Dirty + Private_Hugetlb
  std::uint64_t swap_bytes = 0;
};

/// smaps_rollup's text ("Pss:  1234 kB" lines); nullopt without a Pss line (not a rollup).
inline std::optional<SmapsRollup> parse_smaps_rollup(std::string_view text) {
  std::uint64_t pss_kb = 0, private_kb = 0, swap_kb = 0;
  bool saw_pss = false;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    const std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    std::uint64_t kb = 0;
    if (!parse_number(value, kb)) continue;
    if (key == "Pss") {
      pss_kb = kb;
      saw_pss = true;
    } else if (key == "Private_Clean" || key == "Private_Dirty" || key == "Private_Hugetlb") {
      private_kb += kb;
    } else if (key == "Swap") {
      swap_kb = kb;
    }
  }
  if (!saw_pss) return std::nullopt;
  // A kB count past 2^54 would overflow as bytes: no machine has it, so it is no rollup.
  constexpr std::uint64_t kMaxKb = std::uint64_t{1} << 54;
  if (pss_kb > kMaxKb || private_kb > kMaxKb || swap_kb > kMaxKb) return std::nullopt;
  return SmapsRollup{pss_kb * 1024, private_kb * 1024, swap_kb * 1024};
}

inline void parse_pid_list(std::string_view text, std::vector<Pid>& out) {
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    Pid pid = 0;
    auto [next, ec] = std::from_chars(p, end, pid);
    if (ec == std::errc()) {
      out.push_back(pid);
      p = next;
    } else {
      ++p;
    }
  }
}

/// Appends the PIDs of `parent`'s children (forked by any of its threads) to `out`.
inline void list_children(Pid parent, std::vector<Pid>& out, std::string& buffer) {
  const ProcPath path(parent, "task");
  const UniqueFd task_fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!task_fd) return;
  for_each_dir_entry(task_fd.get(), [&](std::string_view tid) {
    char rel[48];
    std::snprintf(rel, sizeof rel, "%.*s/children", static_cast<int>(tid.size()), tid.data());
    const UniqueFd fd = open_read_only_at(task_fd.get(), rel);
    if (!fd) return;
    int err = 0;
    if (pread_all(fd.get(), buffer, err)) parse_pid_list(buffer, out);
  });
}

/// Resident pages of any process from /proc/PID/statm; false when it is gone.
inline bool read_resident_pages(Pid pid, std::string& buffer, std::uint64_t& pages) {
  const UniqueFd fd = open_read_only(ProcPath(pid, "statm").c_str());
  if (!fd) return false;
  int err = 0;
  if (!pread_all(fd.get(), buffer, err)) return false;
  std::string_view rest(buffer);
  std::uint64_t size_pages = 0;
  return parse_number(rest, size_pages) && parse_number(rest, pages);
}

/// The fields soak uses from /proc/PID/stat (see proc(5)).
struct StatFields {
  std::string comm;
  char state = '?';
  Pid ppid = 0;
  std::uint64_t flags = 0;  ///< the kernel's PF_* flags
  std::uint64_t minor_faults = 0;
  std::uint64_t major_faults = 0;
  std::uint64_t utime_ticks = 0;
  std::uint64_t stime_ticks = 0;
  std::uint32_t threads = 0;
  std::uint64_t start_ticks = 0;
  std::uint64_t vsize_bytes = 0;
  std::uint64_t rss_pages = 0;
  // Fields 26 to 28: where the program's code and stack were placed. Set at each exec (and,
  // with address-space randomization, different at each), so a change means an exec even of
  // a program with the same name. Zero when the kernel hides them or the line ends early.
  std::uint64_t start_code = 0;
  std::uint64_t end_code = 0;
  std::uint64_t start_stack = 0;
};

/// The one /proc/PID/stat parser: splits after the last ')' (a process name may hold spaces
/// and parentheses), locale-free. Returns false when the text is malformed.
bool parse_stat(std::string_view text, StatFields& out);

/// sysconf(_SC_PAGESIZE) and sysconf(_SC_CLK_TCK), read once.
std::uint64_t page_size_bytes();
long clock_ticks_per_s();

}  // namespace soak::sampler::detail
