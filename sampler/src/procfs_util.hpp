#pragma once
// Small procfs helpers shared by the reader's source files. Private to soak::sampler.

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "soak/sampler/process.hpp"

namespace soak::sampler {

inline ReadStatus status_from_errno(int err) {
  switch (err) {
    case ESRCH:
    case ENOENT: return ReadStatus::exited;
    case EACCES:
    case EPERM: return ReadStatus::permission_denied;
    default: return ReadStatus::io_error;
  }
}

/// Reads a whole procfs file from offset 0 into `out` (reusing its capacity).
/// procfs single_open files produce their whole text on the first read, so a read shorter
/// than the space offered is the end and costs no second syscall.
inline bool pread_all(int fd, std::string& out, int& error_number) {
  if (out.capacity() < 4096) out.reserve(4096);
  out.resize(out.capacity());
  std::size_t total = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, out.data() + total, out.size() - total,
                              static_cast<off_t>(total));
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

/// Appends the PIDs listed (space-separated) in a children file's text to `out`.
inline void parse_pid_list(std::string_view text, std::vector<pid_t>& out) {
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    int pid = 0;
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
inline void list_children(pid_t parent, std::vector<pid_t>& out, std::string& buffer) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/task", static_cast<int>(parent));
  const int task_fd = ::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (task_fd < 0) return;
  for_each_dir_entry(task_fd, [&](std::string_view tid) {
    char rel[48];
    std::snprintf(rel, sizeof rel, "%.*s/children", static_cast<int>(tid.size()), tid.data());
    const int fd = ::openat(task_fd, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    int err = 0;
    if (pread_all(fd, buffer, err)) parse_pid_list(buffer, out);
    ::close(fd);
  });
  ::close(task_fd);
}

/// Resident pages of any process from /proc/PID/statm; false when it is gone.
inline bool read_resident_pages(pid_t pid, std::string& buffer, std::uint64_t& pages) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/statm", static_cast<int>(pid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  int err = 0;
  const bool ok = pread_all(fd, buffer, err);
  ::close(fd);
  if (!ok) return false;
  const char* p = buffer.data();
  const char* end = p + buffer.size();
  std::uint64_t size_pages = 0;
  auto r1 = std::from_chars(p, end, size_pages);
  if (r1.ec != std::errc() || r1.ptr == end) return false;
  auto r2 = std::from_chars(r1.ptr + 1, end, pages);
  return r2.ec == std::errc();
}

}  // namespace soak::sampler
