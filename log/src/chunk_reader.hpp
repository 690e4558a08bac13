#pragma once
// Reads a log file in chunks, plain or gzip-compressed (a name ending in .gz), for the reader
// and the segment compactor. Private to the log library. Throws LogError naming the file when
// it cannot be opened or read (a damaged .gz reads as far as it is whole, then ends).

#include <zlib.h>

#include <cstddef>
#include <filesystem>
#include <string>

#include "soak/log/unique_fd.hpp"

namespace soak::log::detail {

class ChunkReader {
 public:
  explicit ChunkReader(const std::filesystem::path& path);
  ~ChunkReader();
  ChunkReader(const ChunkReader&) = delete;
  ChunkReader& operator=(const ChunkReader&) = delete;

  /// Appends at most `max` bytes to `buffer`; 0 at the end.
  std::size_t read(std::string& buffer, std::size_t max);
  /// True when a compressed file ended before its stream did (torn by a crash).
  bool truncated() const { return truncated_; }

 private:
  std::filesystem::path path_;
  UniqueFd fd_;
  gzFile gz_ = nullptr;
  bool truncated_ = false;
};

/// Calls `line(text)` for every whole line of `path` (without its '\n'), `long_line()` for a
/// line longer than `max_line`, and `torn(text)` for a last line without a newline. A first
/// line longer than `max_first` stops the read with `not_a_log()` (a device that is no log).
template <class Line, class Long, class Torn, class NotALog>
void for_each_line(const std::filesystem::path& path, std::size_t chunk, std::size_t max_line,
                   std::size_t max_first, Line&& line, Long&& long_line, Torn&& torn,
                   NotALog&& not_a_log) {
  ChunkReader reader(path);
  std::string buffer;
  buffer.reserve(2 * chunk);
  bool skipping = false;  // inside a line longer than max_line
  bool first = true;
  while (reader.read(buffer, chunk) > 0) {
    std::string_view rest(buffer);
    for (auto eol = rest.find('\n'); eol != std::string_view::npos; eol = rest.find('\n')) {
      if (skipping) {
        long_line();
        skipping = false;
      } else {
        line(rest.substr(0, eol));
      }
      first = false;
      rest.remove_prefix(eol + 1);
    }
    if (first && rest.size() >= max_first) {
      not_a_log();
      return;
    }
    if (rest.size() > max_line) {
      skipping = true;
      rest = {};
    }
    buffer.erase(0, buffer.size() - rest.size());
  }
  if (skipping) {
    long_line();
  } else if (!buffer.empty()) {
    torn(std::string_view(buffer));
  }
}

}  // namespace soak::log::detail
