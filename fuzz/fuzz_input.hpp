#pragma once
// What every fuzz target shares: the input as text, and a file that holds it for parsers that
// read a path. Not thread-safe (libFuzzer calls a target from one thread).

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace soak::fuzz {

inline std::string_view text_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// An anonymous in-memory file (memfd) that each call rewrites with `text`; path() names it as
/// /proc/self/fd/N, which open(2) follows to the memfd. Aborts when the memfd cannot be made
/// (a broken fuzzing host, not a finding).
class MemFile {
 public:
  MemFile() : fd_(::memfd_create("soak-fuzz", MFD_CLOEXEC)) {
    if (fd_ < 0) std::abort();
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  ~MemFile() { ::close(fd_); }

  void write(std::string_view text) {
    if (::ftruncate(fd_, 0) != 0) std::abort();
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n =
          ::pwrite(fd_, text.data() + done, text.size() - done, static_cast<off_t>(done));
      if (n <= 0) std::abort();
      done += static_cast<std::size_t>(n);
    }
  }
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

}  // namespace soak::fuzz
