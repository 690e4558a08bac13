#include "soak/log/segments.hpp"

#include <fcntl.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "chunk_reader.hpp"
#include "line_parse.hpp"
#include "soak/log/log.hpp"
#include "soak/log/run_log_builder.hpp"

namespace soak::log {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kRawSuffix = ".ndjson";
constexpr std::string_view kCompressedSuffix = ".ndjson.gz";
constexpr std::string_view kBinnedSuffix = ".bins.ndjson.gz";
/// The keeper's reads and writes go in chunks this large: its buffers stay a few hundred KiB,
/// small beside soak's own few tens of MiB, at no cost in speed.
constexpr std::size_t kChunkBytes = std::size_t{128} << 10;
/// zlib's level for closed segments: 1 compresses soak's lines about 8:1 at a few hundred
/// MB/s, so a segment costs a fraction of a second of the keeper's thread; 6 gains a tenth.
constexpr const char* kGzipMode = "wb1";
/// A segment is binned once its readings would be at least this many a bin on average: below
/// it, bin lines (about 150 bytes for up to this many readings) save little over the samples.
constexpr double kMinBinReadings = 8;

/// What a job of the keeper freed (its buffers, zlib's state) goes back to the system: the
/// keeper's thread has an allocator arena of its own, which glibc keeps otherwise, and soak's
/// RSS would step up at every closed segment.
void return_freed_memory() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

std::string errno_text(int err) {
  return std::strerror(err);
}

std::string segment_name(std::uint64_t index, std::string_view suffix) {
  char name[32];
  std::snprintf(name, sizeof name, "%06llu", static_cast<unsigned long long>(index));
  return std::string(name) + std::string(suffix);
}

/// The segment number of a file name NNNNNN<suffix>, or 0 when it is none.
std::uint64_t index_of(const std::string& name, std::string_view suffix) {
  if (name.size() <= suffix.size() || !name.ends_with(suffix)) return 0;
  const std::string digits = name.substr(0, name.size() - suffix.size());
  if (digits.empty() || digits.size() > 12 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return 0;
  }
  return std::stoull(digits);
}

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec);
}

/// Writes lines to `path`.tmp through zlib, then renames it to `path` once whole and synced.
class GzipFile {
 public:
  explicit GzipFile(fs::path path) : path_(std::move(path)), tmp_(path_.string() + ".tmp") {
    fd_.reset(::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd_) throw LogError("cannot create " + tmp_.string() + ": " + errno_text(errno));
    const int gz_fd = ::dup(fd_.get());
    gz_ = gz_fd < 0 ? nullptr : ::gzdopen(gz_fd, kGzipMode);
    if (gz_ == nullptr) {
      if (gz_fd >= 0) ::close(gz_fd);
      fail("cannot start compressing");
    }
    buffer_.reserve(kChunkBytes + 4096);
  }
  ~GzipFile() {
    if (gz_ != nullptr) ::gzclose(gz_);
    if (!done_) ::unlink(tmp_.c_str());
  }
  GzipFile(const GzipFile&) = delete;
  GzipFile& operator=(const GzipFile&) = delete;

  std::string& buffer() { return buffer_; }
  /// Writes the buffer out once it is large.
  void maybe_flush() {
    if (buffer_.size() >= kChunkBytes) flush();
  }
  void line(std::string_view text) {
    buffer_.append(text);
    buffer_.push_back('\n');
    maybe_flush();
  }
  /// Completes the file (the last bytes, the gzip trailer, fdatasync) under its temporary
  /// name; returns its size. Unless published, it is removed when this is destroyed.
  std::uint64_t finish() {
    flush();
    gzFile gz = std::exchange(gz_, nullptr);
    if (::gzclose(gz) != Z_OK) fail("cannot complete");
    if (::fdatasync(fd_.get()) != 0) fail("cannot sync");
    std::error_code ec;
    const auto size = fs::file_size(tmp_, ec);
    return ec ? 0 : size;
  }
  /// Renames the finished file into place.
  void publish() {
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail("cannot rename");
    done_ = true;
  }
  std::uint64_t commit() {
    const auto size = finish();
    publish();
    return size;
  }

 private:
  void flush() {
    if (buffer_.empty()) return;
    const auto n = static_cast<unsigned>(buffer_.size());
    if (::gzwrite(gz_, buffer_.data(), n) != static_cast<int>(n)) fail("cannot write");
    buffer_.clear();
  }
  [[noreturn]] void fail(const char* what) {
    throw LogWriteError(std::string(what) + " " + tmp_.string() + ": " + errno_text(errno));
  }

  fs::path path_, tmp_;
  UniqueFd fd_;
  gzFile gz_ = nullptr;
  std::string buffer_;
  bool done_ = false;
};

void append_number(std::string& out, double value) {
  append_json_number(out, value);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

detail::ChunkReader::ChunkReader(const fs::path& path) : path_(path) {
  fd_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd_) throw LogError("cannot open " + path.string() + ": " + errno_text(errno));
  ::posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  if (path.string().ends_with(".gz")) {
    const int gz_fd = ::dup(fd_.get());
    gz_ = gz_fd < 0 ? nullptr : ::gzdopen(gz_fd, "rb");
    if (gz_ == nullptr) {
      if (gz_fd >= 0) ::close(gz_fd);
      throw LogError("cannot read " + path.string() + ": " + errno_text(errno));
    }
    ::gzbuffer(gz_, 1 << 17);
  }
}

detail::ChunkReader::~ChunkReader() {
  if (gz_ != nullptr) ::gzclose(gz_);
}

std::size_t detail::ChunkReader::read(std::string& buffer, std::size_t max) {
  const std::size_t old = buffer.size();
  buffer.resize(old + max);
  for (;;) {
    ssize_t n = 0;
    if (gz_ != nullptr) {
      n = ::gzread(gz_, buffer.data() + old, static_cast<unsigned>(max));
      if (n < 0) {
        int code = 0;
        ::gzerror(gz_, &code);
        // A stream cut short (a crash while a segment was written) ends the file there.
        truncated_ = true;
        n = 0;
      }
    } else {
      n = ::read(fd_.get(), buffer.data() + old, max);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw LogError("cannot read " + path_.string() + ": " + errno_text(errno));
    }
    buffer.resize(old + static_cast<std::size_t>(n));
    return static_cast<std::size_t>(n);
  }
}

// ---------------------------------------------------------------------------------------------

fs::path closed_segment_path(const fs::path& log_path, std::uint64_t index) {
  return log_path.parent_path() / segments_dir / segment_name(index, kRawSuffix);
}

fs::path segment_now(const fs::path& listed) {
  const std::string name = listed.filename().string();
  std::uint64_t index = index_of(name, kBinnedSuffix);
  if (index == 0) index = index_of(name, kCompressedSuffix);
  if (index == 0) index = index_of(name, kRawSuffix);
  if (index == 0) return listed;
  const fs::path dir = listed.parent_path();
  std::error_code ec;
  for (const auto suffix : {kBinnedSuffix, kCompressedSuffix, kRawSuffix}) {
    fs::path candidate = dir / segment_name(index, suffix);
    if (fs::exists(candidate, ec)) return candidate;
  }
  return listed;
}

std::vector<fs::path> log_files(const fs::path& log_path) {
  const fs::path dir = log_path.parent_path() / segments_dir;
  std::error_code ec;
  if (log_path.filename() != "samples.ndjson" || !fs::is_directory(dir, ec)) return {log_path};
  // For each segment, the most compact complete form: binned, compressed, then raw.
  std::map<std::uint64_t, std::pair<int, fs::path>> best;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    int rank = 0;
    std::uint64_t index = 0;
    if ((index = index_of(name, kBinnedSuffix)) != 0) {
      rank = 3;
    } else if ((index = index_of(name, kCompressedSuffix)) != 0) {
      rank = 2;
    } else if ((index = index_of(name, kRawSuffix)) != 0) {
      if (same_file(entry.path(), log_path)) continue;  // closed and still active: a crash
      rank = 1;
    } else {
      continue;  // *.tmp and anything else
    }
    auto& slot = best[index];
    if (rank > slot.first) slot = {rank, entry.path()};
  }
  std::vector<fs::path> files;
  files.reserve(best.size() + 1);
  for (auto& [index, choice] : best) files.push_back(std::move(choice.second));
  files.push_back(log_path);
  return files;
}

// ---------------------------------------------------------------------------------------------

/// Bins closed segments, oldest first. Counts every series' readings as segments are
/// compressed, so a segment is binned as wide as a reader of the whole log will bin it at
/// least (the width for the readings closed so far), and keeps, per series, where its readings
/// stand, so a group cut by a segment's end is completed in the next one and groups start at
/// multiples of their width, as RunLogBuilder's bins do.
struct SegmentKeeper::Compactor {
  using Key = std::pair<std::string, std::string>;  // process, metric
  struct Group {
    std::uint64_t target = 1;    ///< the width this segment's groups aim at
    std::uint64_t position = 0;  ///< readings of the series before this one
    std::uint64_t width = 0;     ///< the open group's width; 0: none open
    std::uint64_t filled = 0;    ///< readings in the open group so far
    std::uint64_t part = 0;      ///< of them, in this segment
    double sum_t = 0, sum_v = 0, max = 0, min = 0, v0 = 0, v1 = 0;
  };
  struct Span {
    std::uint64_t samples = 0;
    double first = 0, last = 0;
  };
  struct Counted {
    std::map<Key, std::uint64_t> through;  ///< readings per series up to this segment's end
    std::map<std::string, Span> spans;
  };
  /// Reads the samples of lines in order, as the reader does: drops samples whose time went
  /// backwards, and finds a flat line's series by its position in the line (lines of one log
  /// repeat their keys in the same order), so most readings cost one string comparison.
  template <class Slot>
  struct Visitor {
    std::map<std::string, double> last_t;  ///< per process, the last sample kept
    std::vector<std::pair<std::string, Slot*>> slots;
    std::map<Key, Slot>* by_key = nullptr;

    Slot& slot(std::size_t i, std::string_view name) {
      if (i < slots.size() && slots[i].first == name) return *slots[i].second;
      Slot& s = (*by_key)[Key(std::string(), std::string(name))];
      if (i < slots.size()) {
        slots[i] = {std::string(name), &s};
      } else if (i == slots.size()) {
        slots.emplace_back(std::string(name), &s);
      }
      return s;
    }
    bool keep(const std::string& process, double t) {
      auto [it, fresh] = last_t.try_emplace(process, t);
      if (!fresh && t < it->second) return false;
      it->second = t;
      return true;
    }
    /// Calls `reading(slot, process, t, name, value)` for every reading of a sample line and
    /// `sample(process, t)` once a line; `other(line)` for any other line.
    template <class Reading, class Sample, class Other>
    void visit(std::string_view line, Reading&& reading, Sample&& sample, Other&& other) {
      detail::FlatLine flat;
      if (detail::parse_flat_line(line, flat) && flat.type == "sample") {
        static const std::string kMain;
        if (!keep(kMain, flat.t)) return;
        sample(kMain, flat.t);
        for (std::size_t i = 0; i < flat.count; ++i) {
          const auto& pair = flat.pairs[i];
          reading(slot(i, pair.key), kMain, flat.t, pair.key, pair.value);
        }
        return;
      }
      const auto j = nlohmann::json::parse(line, nullptr, false);
      const auto type = j.is_object() ? j.find("type") : j.end();
      const auto t = j.is_object() ? j.find("t") : j.end();
      if (type == j.end() || *type != "sample" || t == j.end() || !t->is_number()) {
        other(line);
        return;
      }
      const auto proc = j.find(kProcessKey);
      const std::string process =
          proc != j.end() && proc->is_string() ? proc->get<std::string>() : std::string();
      const double at = t->get<double>();
      if (!keep(process, at)) return;
      sample(process, at);
      for (const auto& item : j.items()) {
        const std::string& key = item.key();
        const nlohmann::json& value = item.value();
        if (key == "type" || key == "t" || !value.is_number()) continue;
        reading((*by_key)[Key(process, key)], process, at, key, value.get<double>());
      }
    }
  };

  std::map<Key, std::uint64_t> total;        ///< readings per series in the segments counted so far
  std::map<std::uint64_t, Counted> counted;  ///< per counted segment not yet binned
  std::map<Key, std::uint64_t> binned_through;  ///< readings per series in binned segments
  Visitor<std::uint64_t> counter;
  std::map<Key, Group> groups;
  Visitor<Group> binner;
  std::uint64_t emitted = 0;  ///< bin lines written

  Compactor() {
    counter.by_key = &total;
    binner.by_key = &groups;
  }

  /// Counts one line of segment `index` (segments are counted in order, as they are closed).
  void count(std::uint64_t index, std::string_view line) {
    Counted& c = counted[index];
    counter.visit(
        line, [&](std::uint64_t& n, const std::string&, double, std::string_view, double) { ++n; },
        [&](const std::string& process, double t) {
          Span& span = c.spans[process];
          if (span.samples++ == 0) span.first = t;
          span.last = t;
        },
        [](std::string_view) {});
  }

  /// Segment `index` was binned and its bins kept.
  void binned(std::uint64_t index) {
    binned_through = counted[index].through;
    counted.erase(index);
  }

  /// Segment `index` was counted to its end.
  void counted_all(std::uint64_t index) { counted[index].through = total; }

  /// Readings per series in segment `index`.
  std::map<Key, std::uint64_t> readings_in(std::uint64_t index) const {
    std::map<Key, std::uint64_t> out;
    const auto it = counted.find(index);
    if (it == counted.end()) return out;
    for (const auto& [key, n] : it->second.through) {
      const auto before = binned_through.find(key);
      const std::uint64_t earlier = before == binned_through.end() ? 0 : before->second;
      if (n > earlier) out[key] = n - earlier;
    }
    return out;
  }

  /// The width each series of segment `index` is binned to: a reader of the whole log bins a
  /// series of that many readings at least as wide.
  std::map<Key, std::uint64_t> targets(std::uint64_t index) const {
    std::map<Key, std::uint64_t> out;
    for (const auto& [key, n] : readings_in(index)) {
      const auto t = total.find(key);
      out[key] = detail::bin_width_for(t == total.end() ? n : t->second, kSeriesCapacity);
    }
    return out;
  }

  /// Readings a bin segment `index` would hold on average if it were binned now.
  double mean_width(std::uint64_t index) const {
    const auto widths = targets(index);
    double readings = 0, bins = 0;
    for (const auto& [key, n] : readings_in(index)) {
      readings += static_cast<double>(n);
      bins += static_cast<double>(n) / static_cast<double>(widths.at(key));
    }
    return bins > 0 ? readings / bins : 0;
  }

  /// Where the binning stands, to undo an attempt that did not pay.
  struct Saved {
    std::map<Key, Group> groups;
    std::map<std::string, double> last_t;
  };
  Saved save() const { return {groups, binner.last_t}; }
  void restore(Saved saved) {
    groups = std::move(saved.groups);
    binner.last_t = std::move(saved.last_t);
    binner.slots.clear();  // they pointed into the groups replaced
  }

  static void bin_line(std::string& out, const std::string& process, std::string_view metric,
                       const Group& g) {
    const auto n = static_cast<double>(g.part);
    const double mean = g.sum_v / n;
    out += R"({"type":"bin","t":)";
    append_number(out, std::round(g.sum_t / n * 1e6) / 1e6);  // the writer's resolution
    out += R"(,"m":)";
    append_json_string(out, metric);
    out += R"(,"n":)";
    append_number(out, n);
    out += R"(,"w":)";
    append_number(out, static_cast<double>(g.width));
    out += R"(,"v":)";
    append_number(out, mean);
    // A reading equal to the mean is left out (the reader takes the mean): a steady series'
    // bins are then a few fields.
    for (const auto& [name, value] : {std::pair{",\"max\":", g.max},
                                      {",\"min\":", g.min},
                                      {",\"v0\":", g.v0},
                                      {",\"v1\":", g.v1}}) {
      if (value == mean) continue;
      out += name;
      append_number(out, value);
    }
    if (!process.empty()) {
      out += ",\"";
      out += kProcessKey;
      out += "\":";
      append_json_string(out, process);
    }
    out += "}\n";
  }

  void add(GzipFile& out, const std::string& process, std::string_view metric, Group& g, double t,
           double v) {
    if (g.width == 0) {  // a group starts: as wide as the target allows at this position
      const std::uint64_t low = g.position == 0 ? g.target : (g.position & (~g.position + 1));
      g.width = std::min(g.target, low);
      g.filled = 0;
    }
    if (g.part == 0) {
      g.sum_t = g.sum_v = 0;
      g.max = g.min = g.v0 = v;
    }
    g.sum_t += t;
    g.sum_v += v;
    g.max = std::max(g.max, v);
    g.min = std::min(g.min, v);
    g.v1 = v;
    ++g.part;
    ++g.filled;
    ++g.position;
    if (g.filled < g.width) return;
    bin_line(out.buffer(), process, metric, g);
    ++emitted;
    out.maybe_flush();
    g.width = 0;
    g.part = 0;
  }

  static void span_line(std::string& b, const std::string& process, const Span& span) {
    b += R"({"type":"bin","t":)";
    append_number(b, span.first);
    b += R"(,"t_end":)";
    append_number(b, span.last);
    b += R"(,"samples":)";
    append_number(b, static_cast<double>(span.samples));
    if (!process.empty()) {
      b += ",\"";
      b += kProcessKey;
      b += "\":";
      append_json_string(b, process);
    }
    b += "}\n";
  }

  /// Writes segment `index` (the file `in`) binned to `out`; returns {readings, bins}.
  std::pair<std::uint64_t, std::uint64_t> compact(std::uint64_t index, const fs::path& in,
                                                  GzipFile& out);
};

std::pair<std::uint64_t, std::uint64_t> SegmentKeeper::Compactor::compact(std::uint64_t index,
                                                                          const fs::path& in,
                                                                          GzipFile& out) {
  const Counted& c = counted[index];
  std::uint64_t readings = 0;
  for (const auto& [key, n] : readings_in(index)) readings += n;
  for (const auto& [key, w] : targets(index)) groups[key].target = w;
  bool header = true;
  const std::uint64_t emitted_before = emitted;
  detail::for_each_line(
      in, kChunkBytes, kMaxLineBytes, kMaxLineBytes,
      [&](std::string_view line) {
        if (std::exchange(header, false)) {
          out.line(line);
          for (const auto& [process, span] : c.spans) span_line(out.buffer(), process, span);
          return;
        }
        binner.visit(
            line,
            [&](Group& g, const std::string& process, double t, std::string_view name, double v) {
              add(out, process, name, g, t, v);
            },
            [](const std::string&, double) {}, [&](std::string_view other) { out.line(other); });
      },
      [] {}, [&](std::string_view) {}, [] {});
  // Groups cut by the segment's end: their part here now, the rest from the next segment.
  for (auto& [key, g] : groups) {
    if (g.part == 0) continue;
    bin_line(out.buffer(), key.first, key.second, g);
    g.part = 0;
    ++emitted;
  }
  return {readings, emitted - emitted_before};
}

// ---------------------------------------------------------------------------------------------

SegmentKeeper::SegmentKeeper(fs::path active, SegmentOptions options)
    : active_(std::move(active)),
      dir_(active_.parent_path() / segments_dir),
      options_(options),
      compactor_(std::make_unique<Compactor>()) {
  thread_ = std::thread([this] { run(); });
}

SegmentKeeper::~SegmentKeeper() {
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void SegmentKeeper::closed(std::uint64_t index, double first_t, double last_t) {
  {
    const std::lock_guard lock(mutex_);
    closed_.push_back(Closed{index, first_t, last_t});
  }
  wake_.notify_all();
}

std::vector<KeeperEvent> SegmentKeeper::take_events() {
  const std::lock_guard lock(mutex_);
  has_events_.store(false, std::memory_order_release);
  return std::exchange(events_, {});
}

void SegmentKeeper::report(KeeperEvent event) {
  const std::lock_guard lock(mutex_);
  events_.push_back(std::move(event));
  has_events_.store(true, std::memory_order_release);
}

void SegmentKeeper::settle() {
  std::unique_lock lock(mutex_);
  settle_ = true;
  wake_.notify_all();
  idle_.wait(lock, [&] { return idle_seen_; });
  idle_seen_ = false;
  settle_ = false;
}

void SegmentKeeper::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    lock.unlock();
    const bool worked = work_once();
    lock.lock();
    if (worked) continue;
    if (settle_) {
      idle_seen_ = true;
      idle_.notify_all();
    }
    if (stop_) return;
    wake_.wait_for(lock, std::chrono::seconds(2));
  }
}

bool SegmentKeeper::work_once() {
  Closed item{};
  bool compress = false;
  {
    const std::lock_guard lock(mutex_);
    const auto uncompressed =
        std::find_if(closed_.begin(), closed_.end(), [](const Closed& c) { return !c.compressed; });
    if (uncompressed != closed_.end()) {
      item = *uncompressed;
      uncompressed->compressed = true;
      compress = true;
    } else if (!closed_.empty() && compacting_ && options_.full_rate_s >= 0 &&
               closed_.front().last_t <=
                   now_t_.load(std::memory_order_relaxed) - options_.full_rate_s &&
               compactor_->mean_width(closed_.front().index) >=
                   std::max(kMinBinReadings, 2 * closed_.front().tried_width)) {
      item = closed_.front();
    } else {
      return false;
    }
  }
  if (compress) {
    compress_segment(item);
    return_freed_memory();
    return true;
  }
  const double width = compactor_->mean_width(item.index);
  const bool binned = compact_segment(item);
  return_freed_memory();
  const std::lock_guard lock(mutex_);
  if (binned) {
    closed_.pop_front();
  } else {
    closed_.front().tried_width = width;  // tried again once bins are twice as wide
  }
  return true;
}

/// Compresses a closed segment and counts its readings (which the binning needs), in one read.
/// A segment that cannot be compressed stays as it is, readable, with an event that says why.
void SegmentKeeper::compress_segment(const Closed& item) {
  const fs::path raw = dir_ / segment_name(item.index, kRawSuffix);
  std::optional<GzipFile> out;
  std::string why;
  try {
    out.emplace(dir_ / segment_name(item.index, kCompressedSuffix));
  } catch (const LogError& e) {
    why = e.what();
  }
  const auto copy = [&](std::string_view line) {
    compactor_->count(item.index, line);
    if (!out) return;
    try {
      out->line(line);
    } catch (const LogError& e) {
      why = e.what();
      out.reset();
    }
  };
  try {
    detail::for_each_line(
        raw, kChunkBytes, kMaxLineBytes, kMaxLineBytes, copy,
        [&] {
          why = "it holds a line longer than the reader takes";
          out.reset();
        },
        copy, [] {});
    compactor_->counted_all(item.index);
    if (out) {
      out->commit();
      ::unlink(raw.c_str());
      return;
    }
  } catch (const LogError& e) {
    why = e.what();
  }
  report({"log_segment_kept",
          "segment " + std::to_string(item.index) + " stays uncompressed: " + why,
          R"("segment":)" + std::to_string(item.index)});
}

/// Bins segment `item`; false when that would not halve its size (the segment then stays at
/// full rate and is tried again once its bins would be twice as wide) or failed.
bool SegmentKeeper::compact_segment(const Closed& item) {
  const fs::path binned = dir_ / segment_name(item.index, kBinnedSuffix);
  fs::path in = dir_ / segment_name(item.index, kCompressedSuffix);
  std::error_code ec;
  if (!fs::exists(in, ec)) in = dir_ / segment_name(item.index, kRawSuffix);
  try {
    const auto before = fs::file_size(in, ec);
    GzipFile out(binned);
    auto saved = compactor_->save();
    const auto [readings, bins] = compactor_->compact(item.index, in, out);
    const auto after = out.finish();
    if (!ec && after * 2 > before) {
      compactor_->restore(std::move(saved));
      return false;
    }
    out.publish();
    compactor_->binned(item.index);
    ::unlink(in.c_str());
    std::string fields = R"("segment":)" + std::to_string(item.index) + R"(,"from_s":)";
    append_number(fields, item.first_t);
    fields += R"(,"to_s":)";
    append_number(fields, item.last_t);
    fields += R"(,"readings":)" + std::to_string(readings) + R"(,"bins":)" + std::to_string(bins) +
              R"(,"bytes_before":)" + std::to_string(ec ? 0 : before) + R"(,"bytes_after":)" +
              std::to_string(after);
    char detail[160];
    std::snprintf(detail, sizeof detail,
                  "samples from %.0f s to %.0f s binned to the analysis' resolution (segment %llu)",
                  item.first_t, item.last_t, static_cast<unsigned long long>(item.index));
    report({"log_binned", detail, std::move(fields)});
    return true;
  } catch (const std::exception& e) {
    // The segment stays at full rate; later ones too, so every bin is where a reader expects.
    {
      const std::lock_guard lock(mutex_);
      compacting_ = false;
    }
    report({"log_segment_kept",
            "binning stopped at segment " + std::to_string(item.index) + ": " + e.what(),
            R"("segment":)" + std::to_string(item.index)});
    return true;  // off the queue: binning has stopped
  }
}

}  // namespace soak::log
