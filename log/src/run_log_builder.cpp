#include "soak/log/run_log_builder.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <span>

#include "chunk_reader.hpp"
#include "line_parse.hpp"
#include "soak/log/metrics.hpp"
#include "soak/log/segments.hpp"

namespace soak::log {

namespace fs = std::filesystem;

namespace {

/// Warnings listed one by one; past this many they end with "and N more".
constexpr std::size_t kMaxWarnings = 20;

/// How much of the file is read at once: large enough that read(2) costs nothing beside the
/// parsing, small beside the 100 MiB a million-line log may use at most.
constexpr std::size_t kReadChunkBytes = std::size_t{1} << 20;

/// The longest header line read: a header is a few hundred bytes (a scenario's targets a few
/// KiB); a first line longer than this is no soak log.
constexpr std::size_t kMaxHeaderBytes = std::size_t{1} << 20;

/// One series being built: full points up to the capacity, then bins of `width` readings.
struct Bins {
  std::vector<double> t, value, max, min;   ///< completed points (max, min once binned)
  std::size_t width = 1;                    ///< readings per completed point
  double pending_t = 0, pending_value = 0;  ///< sums of the bin still filling
  double pending_max = 0, pending_min = 0;
  std::size_t pending = 0;  ///< readings in the bin still filling
  std::size_t readings = 0;
  double first = 0, last = 0;

  void add(double at, double v, std::size_t capacity) {
    if (readings == 0) first = v;
    last = v;
    ++readings;
    if (width == 1 && t.size() < capacity) {
      t.push_back(at);
      value.push_back(v);
      if (!max.empty()) {  // binned by a bin of several readings (add_bin): its own extreme
        max.push_back(v);
        min.push_back(v);
      }
      return;
    }
    if (pending == 0 && t.size() == capacity) halve();
    pending_t += at;
    pending_value += v;
    pending_max = pending == 0 ? v : std::max(pending_max, v);
    pending_min = pending == 0 ? v : std::min(pending_min, v);
    if (++pending < width) return;
    complete_pending();
  }

  /// A bin of `bin.n` readings written by the segment compactor (segments.hpp), one part of a
  /// group of `bin.w` readings that starts at a multiple of w. When this series is still finer
  /// than w and the group starts here, its points are first merged to width w, as a reader of
  /// the full-rate lines would have merged them by the end of the log: the result is then the
  /// same points. Otherwise (a reader already coarser, or a log whose counts disagree) the
  /// bin's readings join the bin still filling, weighted by their number.
  void add_bin(const detail::StoredBin& bin, std::size_t capacity) {
    if (bin.n == 0) return;
    if (readings == 0) first = bin.v0;
    last = bin.v1;
    if (bin.w > width && pending == 0 && readings % bin.w == 0) {
      while (width < bin.w && t.size() % 2 == 0) halve();
    }
    readings += bin.n;
    if (width == 1 && bin.n == 1 && t.size() < capacity) {
      t.push_back(bin.t);
      value.push_back(bin.v);
      if (!max.empty()) {
        max.push_back(bin.max);
        min.push_back(bin.min);
      }
      return;
    }
    if (pending == 0 && t.size() == capacity) halve();
    const auto n = static_cast<double>(bin.n);
    pending_max = pending == 0 ? bin.max : std::max(pending_max, bin.max);
    pending_min = pending == 0 ? bin.min : std::min(pending_min, bin.min);
    pending_t += n * bin.t;
    pending_value += n * bin.v;
    pending += bin.n;
    if (pending >= width) complete_pending();
  }

  /// The bin still filling becomes a point.
  void complete_pending() {
    if (max.size() != t.size()) {  // the first binned point of a series of single readings
      max = value;
      min = value;
    }
    const auto n = static_cast<double>(pending);
    t.push_back(pending_t / n);
    value.push_back(pending_value / n);
    max.push_back(pending_max);
    min.push_back(pending_min);
    pending = 0;
    pending_t = pending_value = 0;
  }

  /// Merges neighbouring points pairwise: half the points, each twice as wide.
  void halve() {
    const std::size_t half = t.size() / 2;
    if (max.empty()) {  // the points were single readings: each is its own extreme
      max = value;
      min = value;
    }
    for (std::size_t i = 0; i < half; ++i) {
      t[i] = (t[2 * i] + t[2 * i + 1]) / 2;
      value[i] = (value[2 * i] + value[2 * i + 1]) / 2;
      max[i] = std::max(max[2 * i], max[2 * i + 1]);
      min[i] = std::min(min[2 * i], min[2 * i + 1]);
    }
    for (auto* v : {&t, &value, &max, &min}) v->resize(half);
    width *= 2;
  }

  /// The series: the completed points and the bin still filling, as its mean.
  Series series() const& {
    Series s{t, value, max, min, readings, first, last};
    append_pending(s);
    return s;
  }
  /// The series into `s`, reusing the memory `s` already holds.
  void series_into(Series& s) const {
    s.t.assign(t.begin(), t.end());
    s.value.assign(value.begin(), value.end());
    s.max.assign(max.begin(), max.end());
    s.min.assign(min.begin(), min.end());
    s.readings = readings;
    s.first = first;
    s.last = last;
    append_pending(s);
  }
  Series series() && {
    Series s{std::move(t), std::move(value), std::move(max), std::move(min), readings, first, last};
    append_pending(s);
    return s;
  }

 private:
  void append_pending(Series& s) const {
    if (pending == 0) return;
    const auto n = static_cast<double>(pending);
    s.t.push_back(pending_t / n);
    s.value.push_back(pending_value / n);
    s.max.push_back(pending_max);
    s.min.push_back(pending_min);
  }
};

using BinsMap = std::map<std::string, Bins, std::less<>>;

struct ProcessBins {
  BinsMap series;
  std::size_t samples = 0;
  double first_t = 0;
  double last_t = 0;

  void count_sample(double t) {
    if (samples == 0) first_t = t;
    ++samples;
    last_t = t;
  }
  /// A compacted segment's `count` samples from `from` to `to` (s).
  void count_span(std::size_t count, double from, double to) {
    if (count == 0) return;
    if (samples == 0) first_t = from;
    samples += count;
    last_t = std::max(last_t, to);
  }
};

/// One event kind: how many came, how many are kept, and which (every stride-th).
struct KindTally {
  std::size_t count = 0;
  std::size_t kept = 0;
  std::size_t stride = 1;
};

/// The kinds the analysis reads one by one (judge/): job ends, forced collections.
bool analysed_kind(std::string_view kind) {
  return kind == event::job_finished || kind == event::job_failed || kind == event::gc_checkpoint ||
         kind == event::gc_checkpoint_failed;
}

/// object[key] as a string when it is one, else "" (a wrong type is a bad field, not a crash).
std::string string_field(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

struct RunLogBuilder::State {
  fs::path path;
  std::size_t capacity = kSeriesCapacity;
  nlohmann::json header;
  bool has_header = false;
  std::size_t line_number = 0;
  ProcessBins main;
  std::map<std::string, ProcessBins, std::less<>> processes;
  std::vector<LogEvent> events;
  std::map<std::string, KindTally, std::less<>> kinds;
  /// The series of the previous flat line's keys, in order: lines of one log repeat their keys
  /// in the same order, so most lookups are one string comparison instead of a map search.
  std::vector<std::pair<std::string, Bins*>> slots;
  std::size_t backwards = 0;  ///< samples dropped because their t went backwards
  std::size_t skipped = 0;    ///< malformed lines
  std::size_t first_skipped = 0;
  std::vector<std::string> warnings;  ///< said once (a newer version, a torn last line)
  bool preallocate = false;           ///< series take their whole capacity when they appear

  /// A new series: with `preallocate`, its points' memory is taken (and touched) now, so a
  /// live log's memory is the same from its first minute to its last.
  Bins new_bins() const {
    Bins b;
    if (preallocate) {
      for (auto* v : {&b.t, &b.value, &b.max, &b.min}) {
        v->resize(capacity);
        v->clear();
      }
    }
    return b;
  }

  void read_header(std::string_view line);
  void store_flat(const detail::FlatLine& sample);
  void store_bin(const detail::FlatLine& line, ProcessBins& p);
  void store_bin_general(const nlohmann::json& j, double t, const std::string& process);
  bool parse_line(std::string_view line);
  bool parse_general(std::string_view line);
  void add_sample(const nlohmann::json& j, double t, const std::string& process);
  void add_event(LogEvent&& e);
  void thin(const std::string& kind, KindTally& tally);
  std::vector<std::string> all_warnings() const;
  RunLog base() const;
};

void RunLogBuilder::State::read_header(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object() || string_field(j, "format") != kLogFormat) {
    throw LogError(path.string() + " is not a soak samples log (line 1 must be its header)");
  }
  const std::int64_t version = j.contains("version") && j["version"].is_number_integer()
                                   ? j["version"].get<std::int64_t>()
                                   : 0;
  if (version > kLogVersionRead) {
    warnings.push_back("log format version " + std::to_string(version) +
                       " is newer than this soak reads (" + std::to_string(kLogVersionRead) +
                       "); unknown fields are ignored");
  }
  header = std::move(j);
  has_header = true;
}

void RunLogBuilder::State::store_flat(const detail::FlatLine& sample) {
  if (main.samples > 0 && sample.t < main.last_t) {
    ++backwards;  // consumed and dropped: time never runs backwards in a log
    return;
  }
  for (std::size_t i = 0; i < sample.count; ++i) {
    const detail::FlatPair& pair = sample.pairs[i];
    Bins* bins = nullptr;
    if (i < slots.size() && slots[i].first == pair.key) {
      bins = slots[i].second;
    } else {
      auto it = main.series.find(pair.key);
      if (it == main.series.end())
        it = main.series.emplace(std::string(pair.key), new_bins()).first;
      bins = &it->second;  // std::map nodes are stable
      if (i < slots.size()) {
        slots[i] = {std::string(pair.key), bins};
      } else {
        slots.emplace_back(std::string(pair.key), bins);
      }
    }
    bins->add(sample.t, pair.value, capacity);
  }
  main.count_sample(sample.t);
}

void RunLogBuilder::State::add_sample(const nlohmann::json& j, double t,
                                      const std::string& process) {
  ProcessBins& p = process.empty() ? main : processes[process];
  if (p.samples > 0 && t < p.last_t) {
    ++backwards;
    return;
  }
  for (const auto& [key, value] : j.items()) {
    if (key == "type" || key == "t" || !value.is_number()) continue;
    auto it = p.series.find(key);
    if (it == p.series.end()) it = p.series.emplace(key, new_bins()).first;
    it->second.add(t, value.get<double>(), capacity);
  }
  p.count_sample(t);
}

/// The general path: any valid JSON object line. False when the line is malformed.
bool RunLogBuilder::State::parse_general(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  const auto type = string_field(j, "type");
  if (type == "header") return true;  // a later segment's copy of the header (segments.hpp)
  const auto t_it = j.find("t");
  if (t_it == j.end() || !t_it->is_number()) return false;
  const double t = t_it->get<double>();
  const auto key_it = j.find(kProcessKey);
  std::string process;
  if (key_it != j.end() && key_it->is_string()) process = key_it->get<std::string>();
  if (type == "sample") {
    add_sample(j, t, process);
  } else if (type == "bin") {
    store_bin_general(j, t, process);
  } else if (type == "event") {
    LogEvent event;
    event.t = t;
    event.kind = string_field(j, "kind");
    event.detail = string_field(j, "detail");
    event.process = std::move(process);
    // What the struct holds already is not kept twice: a fast run's late_tick events would
    // otherwise hold each line's tree whole, live and in the minute copy.
    for (const std::string_view held :
         {std::string_view("type"), std::string_view("t"), std::string_view("kind"),
          std::string_view("detail"), kProcessKey}) {
      j.erase(std::string(held));
    }
    event.fields = std::move(j);
    add_event(std::move(event));
  }
  // Other types are from a newer writer: skipped silently, as the format promises.
  return true;
}

bool RunLogBuilder::State::parse_line(std::string_view line) {
  detail::FlatLine flat;
  if (detail::parse_flat_line(line, flat)) {
    if (flat.type == "sample") {
      store_flat(flat);
      return true;
    }
    if (flat.type == "bin") {
      store_bin(flat, main);
      return true;
    }
  }
  return parse_general(line);
}

/// A compacted segment's line: one series' bin (with "m") or the segment's sample span.
void RunLogBuilder::State::store_bin(const detail::FlatLine& line, ProcessBins& p) {
  if (line.metric.empty()) {
    const double count = line.get("samples"), to = line.get("t_end");
    if (count >= 0 && count <= 9.0e15 && std::isfinite(to)) {
      p.count_span(static_cast<std::size_t>(count), line.t, to);
    }
    return;
  }
  detail::StoredBin bin;
  if (!detail::stored_bin_of(line, bin)) return;
  auto it = p.series.find(line.metric);
  if (it == p.series.end()) it = p.series.emplace(std::string(line.metric), new_bins()).first;
  it->second.add_bin(bin, capacity);
}

/// A bin line the fast path did not take (one with a process key): its numbers are read into
/// a flat line and stored the same way.
void RunLogBuilder::State::store_bin_general(const nlohmann::json& j, double t,
                                             const std::string& process) {
  detail::FlatLine flat;
  flat.type = "bin";
  flat.t = t;
  const std::string metric = string_field(j, "m");
  flat.metric = metric;
  for (const auto& [key, value] : j.items()) {
    if (key == "t" || !value.is_number() || flat.count == std::size(flat.pairs)) continue;
    flat.pairs[flat.count++] = detail::FlatPair{key, value.get<double>()};
  }
  store_bin(flat, process.empty() ? main : processes[process]);
}

void RunLogBuilder::State::add_event(LogEvent&& e) {
  auto it = kinds.find(e.kind);
  if (it == kinds.end()) it = kinds.emplace(e.kind, KindTally{}).first;
  KindTally& tally = it->second;
  const std::size_t index = tally.count++;
  if (index % tally.stride != 0) return;
  const std::size_t cap = analysed_kind(e.kind) ? kEventsKeptPerAnalysedKind : kEventsKeptPerKind;
  events.push_back(std::move(e));
  if (++tally.kept > cap) thin(it->first, tally);
}

/// Drops every second kept event of `kind` (the kept ones are then every 2 x stride-th).
void RunLogBuilder::State::thin(const std::string& kind, KindTally& tally) {
  std::size_t position = 0;
  std::erase_if(events, [&](const LogEvent& e) {
    if (e.kind != kind) return false;
    return (position++ % 2) == 1;
  });
  tally.kept = (tally.kept + 1) / 2;
  tally.stride *= 2;
}

std::vector<std::string> RunLogBuilder::State::all_warnings() const {
  std::vector<std::string> out = warnings;
  for (const auto& [kind, tally] : kinds) {
    if (tally.stride == 1) continue;
    out.push_back("kept " + std::to_string(tally.kept) + " of the " + std::to_string(tally.count) +
                  " \"" + kind + "\" events, evenly spread (their count is exact)");
  }
  if (backwards > 0) {
    out.push_back("dropped " + std::to_string(backwards) + " sample(s) whose time went backwards");
  }
  if (skipped > 0) {
    out.push_back("skipped " + std::to_string(skipped) + " malformed line(s), the first at line " +
                  std::to_string(first_skipped));
  }
  if (out.size() > kMaxWarnings) {
    const std::size_t more = out.size() - (kMaxWarnings - 1);
    out.resize(kMaxWarnings - 1);
    out.push_back("and " + std::to_string(more) + " more warnings");
  }
  return out;
}

/// Everything but the series and events.
RunLog RunLogBuilder::State::base() const {
  if (!has_header) throw LogError(path.string() + " is empty: no header line was written");
  RunLog log;
  log.path = path;
  log.header = header;
  log.samples = main.samples;
  log.first_t = main.first_t;
  log.last_t = main.last_t;
  log.warnings = all_warnings();
  for (const auto& [kind, tally] : kinds) log.event_counts.emplace(kind, tally.count);
  return log;
}

RunLogBuilder::RunLogBuilder(fs::path path, std::size_t capacity)
    : state_(std::make_unique<State>()) {
  assert(capacity >= 2 && capacity % 2 == 0);
  state_->path = std::move(path);
  state_->capacity = capacity;
}

RunLogBuilder::~RunLogBuilder() = default;
RunLogBuilder::RunLogBuilder(RunLogBuilder&&) noexcept = default;
RunLogBuilder& RunLogBuilder::operator=(RunLogBuilder&&) noexcept = default;

void RunLogBuilder::add_line(std::string_view line) {
  State& s = *state_;
  ++s.line_number;
  if (s.line_number == 1) {
    s.read_header(line);
    return;
  }
  if (line.empty()) return;
  if (!s.parse_line(line) && s.skipped++ == 0) s.first_skipped = s.line_number;
}

void RunLogBuilder::add_torn_line(std::string_view line) {
  State& s = *state_;
  if (s.line_number == 0) {
    add_line(line);  // a header without its newline
    return;
  }
  ++s.line_number;
  if (line.empty() || s.parse_line(line)) return;
  // The writer ends every line with '\n'; a last line without one was torn by a crash.
  s.warnings.push_back("ignored a torn last line (" + std::to_string(line.size()) +
                       " bytes at line " + std::to_string(s.line_number) +
                       "): the run ended mid-write");
}

void RunLogBuilder::add_warning(std::string warning) {
  state_->warnings.push_back(std::move(warning));
}

void RunLogBuilder::skip_long_line() {
  State& s = *state_;
  if (++s.line_number == 1) {
    throw LogError(s.path.string() + " is not a soak samples log (line 1 must be its header)");
  }
  if (s.skipped++ == 0) s.first_skipped = s.line_number;
}

bool RunLogBuilder::has_header() const {
  return state_->has_header;
}

RunLog RunLogBuilder::snapshot() const {
  const State& s = *state_;
  RunLog log = s.base();
  for (const auto& [name, bins] : s.main.series) log.series.emplace(name, bins.series());
  for (const auto& [key, p] : s.processes) {
    ProcessLog& out = log.processes[key];
    for (const auto& [name, bins] : p.series) out.series.emplace(name, bins.series());
    out.samples = p.samples;
    out.first_t = p.first_t;
    out.last_t = p.last_t;
  }
  log.events = s.events;
  return log;
}

void RunLogBuilder::preallocate_series() {
  state_->preallocate = true;
}

namespace {

/// `into`'s series named like `from`'s, refilled in place (a new one takes its whole capacity
/// at once when the builder preallocates).
template <class From, class Into>
void refill(const From& from, Into& into, std::size_t capacity, bool preallocate) {
  for (const auto& [name, bins] : from) {
    auto it = into.find(name);
    if (it == into.end()) {
      it = into.emplace(name, Series{}).first;
      if (preallocate) {
        for (auto* v : {&it->second.t, &it->second.value, &it->second.max, &it->second.min}) {
          v->resize(capacity + 1);  // + the bin still filling
          v->clear();
        }
      }
    }
    bins.series_into(it->second);
  }
}

}  // namespace

void RunLogBuilder::snapshot_into(RunLog& out) const {
  const State& s = *state_;
  RunLog base = s.base();
  out.path = std::move(base.path);
  out.header = std::move(base.header);
  out.event_counts = std::move(base.event_counts);
  out.samples = base.samples;
  out.first_t = base.first_t;
  out.last_t = base.last_t;
  out.warnings = std::move(base.warnings);
  refill(s.main.series, out.series, s.capacity, s.preallocate);
  for (const auto& [key, p] : s.processes) {
    ProcessLog& into = out.processes[key];
    refill(p.series, into.series, s.capacity, s.preallocate);
    into.samples = p.samples;
    into.first_t = p.first_t;
    into.last_t = p.last_t;
  }
  out.events = s.events;
}

RunLog RunLogBuilder::finish() && {
  State& s = *state_;
  RunLog log = s.base();
  for (auto& [name, bins] : s.main.series) log.series.emplace(name, std::move(bins).series());
  for (auto& [key, p] : s.processes) {
    ProcessLog& out = log.processes[key];
    for (auto& [name, bins] : p.series) out.series.emplace(name, std::move(bins).series());
    out.samples = p.samples;
    out.first_t = p.first_t;
    out.last_t = p.last_t;
  }
  log.events = std::move(s.events);
  state_.reset();
  return log;
}

// ---------------------------------------------------------------------------------------------

namespace {

/// The "segment" field of the header at the start of `active` (segments.hpp), 0 without one.
std::uint64_t segments_before(const fs::path& active) {
  const UniqueFd fd(::open(active.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return 0;
  std::string head(4096, '\0');
  const ssize_t n = ::pread(fd.get(), head.data(), head.size(), 0);
  if (n <= 0) return 0;
  head.resize(static_cast<std::size_t>(n));
  const auto eol = head.find('\n');
  if (eol == std::string::npos) return 0;
  const auto j = nlohmann::json::parse(std::string_view(head).substr(0, eol), nullptr, false);
  if (!j.is_object()) return 0;
  const auto it = j.find("segment");
  return it != j.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

}  // namespace

void read_log_into(const fs::path& log_path, RunLogBuilder& builder) {
  const fs::path path = resolve_log_path(log_path);
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw LogError("no samples log at " + path.string() +
                   ": pass a run directory or the path of a samples.ndjson file");
  }
  const auto not_a_log = [&] {
    // A device or pipe that is no log (/dev/zero) is refused at its first line, not read
    // until memory runs out; any other overlong line is skipped.
    throw LogError(path.string() + " is not a soak samples log (line 1 must be its header)");
  };
  const std::vector<fs::path> files = log_files(path);
  // The active file's header counts the segments closed before it: fewer found means some
  // were moved or deleted, and the run reads from where its files begin.
  const std::uint64_t before = segments_before(path);
  if (before > files.size() - 1) {
    builder.add_warning(std::to_string(before - (files.size() - 1)) + " of the log's " +
                        std::to_string(before) + " earlier segments are missing from " +
                        (path.parent_path() / segments_dir).string() +
                        ": the run is read from the samples that are there");
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    const bool active = i + 1 == files.size();
    // A closed segment may have been compressed or binned since it was listed: its newer form
    // replaced it by rename before the older one was removed.
    fs::path file = files[i];
    if (!active && !fs::exists(file, ec)) file = segment_now(file);
    detail::for_each_line(
        file, kReadChunkBytes, kMaxLineBytes,
        builder.has_header() ? kMaxLineBytes : kMaxHeaderBytes,
        [&](std::string_view line) { builder.add_line(line); }, [&] { builder.skip_long_line(); },
        [&](std::string_view line) {
          // Only the active file can end mid-line; a closed segment ended at a whole line.
          if (active) {
            builder.add_torn_line(line);
          } else {
            builder.add_line(line);
          }
        },
        not_a_log);
  }
}

LiveRunLog::LiveRunLog(SampleWriter& writer, std::size_t capacity)
    : writer_(writer), builder_(writer.path(), capacity) {
  builder_.preallocate_series();
  // What was written before (the header, the first events) is read back; both happen on the
  // writer's thread, so no line falls between the two.
  read_log_into(writer.path(), builder_);
  writer_.set_line_observer([this](std::string_view line) {
    const std::lock_guard lock(mutex_);
    builder_.add_line(line);
  });
}

LiveRunLog::~LiveRunLog() {
  writer_.set_line_observer({});
}

RunLog LiveRunLog::snapshot() const {
  const std::lock_guard lock(mutex_);
  return builder_.snapshot();
}

void LiveRunLog::snapshot_into(RunLog& out) const {
  const std::lock_guard lock(mutex_);
  builder_.snapshot_into(out);
}

}  // namespace soak::log
