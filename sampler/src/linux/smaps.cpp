#include "smaps.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

#include "procfs.hpp"
#include "soak/log/metrics.hpp"

namespace soak::sampler::detail {

namespace metric = log::metric;

namespace {

bool is_mapping_header(std::string_view line) {
  // "7f2c3a000000-7f2c3a021000 rw-p 00000000 00:00 0    [heap]": starts with hex, has '-'.
  const auto dash = line.find('-');
  if (dash == std::string_view::npos || dash == 0) return false;
  for (std::size_t i = 0; i < dash; ++i) {
    if (!std::isxdigit(static_cast<unsigned char>(line[i]))) return false;
  }
  return true;
}

/// The length of the valid UTF-8 sequence at the start of `text`, or 0 when it is not one
/// (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF, cut short).
std::size_t utf8_sequence_length(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xbf;  // the second byte's range
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;   // overlong
    if (lead == 0xed) high = 0x9f;  // surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;   // overlong
    if (lead == 0xf4) high = 0x8f;  // past U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  }
  return length;
}

/// A path as valid UTF-8, so the log's line stays valid JSON: each byte that is not part of a
/// valid sequence is written as the text \xNN (a file named "bad\xff" is region
/// "file:bad\\xff" in JSON). Valid paths are kept as they are.
std::string valid_utf8(std::string_view path) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(path.size());
  while (!path.empty()) {
    const std::size_t length = utf8_sequence_length(path);
    if (length == 0) {
      const auto bad = static_cast<unsigned char>(path.front());
      out.append("\\x").push_back(kHex[bad >> 4]);
      out.push_back(kHex[bad & 0xf]);
      path.remove_prefix(1);
    } else {
      out.append(path.substr(0, length));
      path.remove_prefix(length);
    }
  }
  return out;
}

std::string region_of(std::string_view header) {
  // Fields: range perms offset dev inode [pathname...]
  std::size_t pos = 0;
  for (int field = 0; field < 5; ++field) {
    pos = header.find_first_not_of(' ', pos);
    pos = header.find(' ', pos);
    if (pos == std::string_view::npos) return "anonymous";
  }
  pos = header.find_first_not_of(' ', pos);
  if (pos == std::string_view::npos) return "anonymous";
  const std::string_view path = header.substr(pos);
  if (path == "[heap]") return "heap";
  if (path.starts_with("[stack")) return "stack";
  if (path.starts_with("[anon")) return "anonymous";
  if (path.front() == '[') return "kernel";
  if (path.starts_with("/dev/shm/") || path.starts_with("/memfd:") || path.starts_with("/SYSV")) {
    return "shared";
  }
  std::string file(path);
  if (const auto deleted = file.rfind(" (deleted)"); deleted != std::string::npos) {
    file.resize(deleted);
  }
  return "file:" + valid_utf8(file);
}

/// Follows the mapping headers of one smaps text and names the region each belongs to.
class RegionTracker {
 public:
  const std::string& current() const { return current_; }

  void enter(std::string_view header) {
    current_ = region_of(header);
    const auto dash = header.find('-');
    // A header line cut short has no space after the range: the range runs to its end.
    const auto space = std::min(header.find(' '), header.size());
    std::uint64_t start = 0, end = 0;
    std::from_chars(header.data(), header.data() + dash, start, 16);
    std::from_chars(header.data() + dash + 1, header.data() + space, end, 16);
    const std::string_view perms = header.substr(std::min(space + 1, header.size()), 4);
    // Thread stacks are unnamed: glibc maps each as a PROT_NONE guard page directly below a
    // read-write block. (malloc arenas are the other way round: read-write, then PROT_NONE.)
    const bool anonymous = current_ == "anonymous";
    if (anonymous && perms.starts_with("rw") && previous_was_anonymous_guard_ &&
        previous_end_ == start) {
      current_ = "thread_stacks";
    }
    previous_was_anonymous_guard_ = anonymous && perms.starts_with("---");
    previous_end_ = end;
  }

 private:
  std::string current_ = "anonymous";
  std::uint64_t previous_end_ = 0;
  bool previous_was_anonymous_guard_ = false;
};

}  // namespace

std::map<std::string, double> reduce_smaps(std::string_view text) {
  std::map<std::string, double> regions;
  RegionTracker tracker;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    const std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (is_mapping_header(line)) {
      tracker.enter(line);
      continue;
    }
    if (line.starts_with("Rss:")) {
      std::string_view rest = line.substr(4);
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      // A whole number of kB, as parse_smaps_rollup reads it: a double would take "nan" and
      // "inf", and a NaN breaks the sort of the regions by size.
      std::uint64_t kb = 0;
      if (std::from_chars(rest.data(), rest.data() + rest.size(), kb).ec == std::errc()) {
        regions[tracker.current()] += static_cast<double>(kb) * 1024;
      }
    }
  }
  return regions;
}

SmapsSource::SmapsSource(Pid pid, std::chrono::nanoseconds period, std::size_t max_files)
    : pid_(pid), max_files_(max_files) {
  task_ = std::make_unique<PeriodicTask>(std::chrono::nanoseconds(0), [this, period] {
    std::map<std::string, double> regions;
    if (snapshot(regions)) {
      std::lock_guard lock(mutex_);
      fresh_ = std::move(regions);
    }
    return period;
  });
}

SmapsSource::~SmapsSource() {
  stop();
}

void SmapsSource::stop() {
  task_->stop();
}

bool SmapsSource::snapshot(std::map<std::string, double>& out) {
  // Local buffer: the snapshot thread and the last tick may both be here at once.
  std::string text;
  int err = 0;
  if (!read_whole_file(ProcPath(pid_, "smaps").c_str(), text, err)) return false;
  std::map<std::string, double> regions = reduce_smaps(text);
  if (regions.empty()) return false;
  // Keep the largest file paths; sum the rest so the log's width stays bounded.
  std::vector<std::pair<double, std::string>> files;
  for (const auto& [name, bytes] : regions) {
    if (name.starts_with("file:")) files.emplace_back(bytes, name);
  }
  std::sort(files.rbegin(), files.rend());
  for (std::size_t i = max_files_; i < files.size(); ++i) {
    regions["files.other"] += files[i].first;
    regions.erase(files[i].second);
  }
  out.clear();
  for (const auto& [name, bytes] : regions) out[std::string(metric::region_prefix) + name] = bytes;
  return true;
}

void SmapsSource::contribute(TickSink& sink) {
  std::map<std::string, double> regions;
  if (sink.last_tick()) {
    snapshot(regions);  // the closing reading, taken now: a one-off cost at the very end
  } else {
    std::lock_guard lock(mutex_);
    regions.swap(fresh_);
  }
  names_.clear();
  for (const auto& [name, bytes] : regions) names_.push_back(name);
  for (const auto& name : names_) sink.metric(name, regions[name]);
}

}  // namespace soak::sampler::detail
