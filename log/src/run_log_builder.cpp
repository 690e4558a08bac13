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

#include "soak/log/metrics.hpp"

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
      return;
    }
    if (pending == 0 && t.size() == capacity) halve();
    pending_t += at;
    pending_value += v;
    pending_max = pending == 0 ? v : std::max(pending_max, v);
    pending_min = pending == 0 ? v : std::min(pending_min, v);
    if (++pending < width) return;
    const auto n = static_cast<double>(width);
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

struct FlatPair {
  std::string_view key;
  double value;
};

/// The parsed fields of a flat sample line (the fast path).
struct FlatSample {
  FlatPair pairs[64];
  std::size_t count = 0;
  double t = NAN;
};

/// One "key": value of a flat line at `p`; false on anything but a plain key and a number or
/// the string "sample" for "type". Advances `p` past the value.
bool parse_flat_field(const char*& p, const char* end, FlatSample& out, bool& is_sample) {
  if (p == end || *p++ != '"') return false;
  const char* key_begin = p;
  while (p < end && *p != '"' && *p != '\\') ++p;
  if (p == end || *p == '\\') return false;
  const std::string_view key(key_begin, static_cast<std::size_t>(p - key_begin));
  ++p;
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) ++p;
  if (p == end || *p++ != ':') return false;
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) ++p;
  if (p == end) return false;
  if (*p == '"') {
    const char* v = ++p;
    while (p < end && *p != '"' && *p != '\\') ++p;
    if (p == end || *p == '\\') return false;
    const std::string_view text(v, static_cast<std::size_t>(p - v));
    ++p;
    if (key != "type" || text != "sample") return false;
    is_sample = true;
    return true;
  }
  // JSON numbers start with '-' or a digit: from_chars would also take NaN, inf and Infinity,
  // which are not JSON (the general path then refuses the line).
  if (*p != '-' && (*p < '0' || *p > '9')) return false;
  // Most values are integers (bytes, counts): parse those as such, which is much faster.
  double value = 0;
  std::int64_t whole = 0;
  auto [int_end, int_ec] = std::from_chars(p, end, whole);
  if (int_ec == std::errc() && int_end != end && *int_end != '.' && *int_end != 'e' &&
      *int_end != 'E') {
    value = static_cast<double>(whole);
    p = int_end;
  } else {
    auto [next, ec] = std::from_chars(p, end, value);
    if (ec != std::errc() || !std::isfinite(value)) return false;
    p = next;
  }
  if (key == "t") {
    out.t = value;
  } else {
    if (out.count == std::size(out.pairs)) return false;
    out.pairs[out.count++] = FlatPair{key, value};
  }
  return true;
}

/// Fast path for the common sample line: a flat object of a "type" string and numbers.
/// Returns false on anything else (escapes, nesting, literals), and the caller falls back to
/// the full JSON parser, so the fast path never decides what a line means on its own.
bool parse_flat_sample(std::string_view line, FlatSample& out) {
  bool is_sample = false;
  const char* p = line.data();
  const char* end = p + line.size();
  auto skip_ws = [&] {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) ++p;
  };
  skip_ws();
  if (p == end || *p++ != '{') return false;
  for (;;) {
    skip_ws();
    if (!parse_flat_field(p, end, out, is_sample)) return false;
    skip_ws();
    if (p == end) return false;
    if (*p == ',') {
      ++p;
      continue;
    }
    if (*p++ != '}') return false;
    skip_ws();
    if (p != end) return false;
    break;
  }
  return is_sample && std::isfinite(out.t);
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

  void read_header(std::string_view line);
  void store_flat(const FlatSample& sample);
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

void RunLogBuilder::State::store_flat(const FlatSample& sample) {
  if (main.samples > 0 && sample.t < main.last_t) {
    ++backwards;  // consumed and dropped: time never runs backwards in a log
    return;
  }
  for (std::size_t i = 0; i < sample.count; ++i) {
    const FlatPair& pair = sample.pairs[i];
    Bins* bins = nullptr;
    if (i < slots.size() && slots[i].first == pair.key) {
      bins = slots[i].second;
    } else {
      auto it = main.series.find(pair.key);
      if (it == main.series.end()) it = main.series.emplace(std::string(pair.key), Bins{}).first;
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
    p.series[key].add(t, value.get<double>(), capacity);
  }
  p.count_sample(t);
}

/// The general path: any valid JSON object line. False when the line is malformed.
bool RunLogBuilder::State::parse_general(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  const auto type = string_field(j, "type");
  const auto t_it = j.find("t");
  if (t_it == j.end() || !t_it->is_number()) return false;
  const double t = t_it->get<double>();
  const auto key_it = j.find(kProcessKey);
  std::string process;
  if (key_it != j.end() && key_it->is_string()) process = key_it->get<std::string>();
  if (type == "sample") {
    add_sample(j, t, process);
  } else if (type == "event") {
    LogEvent event;
    event.t = t;
    event.kind = string_field(j, "kind");
    event.detail = string_field(j, "detail");
    event.process = std::move(process);
    event.fields = std::move(j);
    add_event(std::move(event));
  }
  // Other types are from a newer writer: skipped silently, as the format promises.
  return true;
}

bool RunLogBuilder::State::parse_line(std::string_view line) {
  FlatSample sample;
  if (parse_flat_sample(line, sample)) {
    store_flat(sample);
    return true;
  }
  return parse_general(line);
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

std::string errno_text(int err) {
  return std::strerror(err);
}

/// Reads `fd` into `buffer` (appending at most kReadChunkBytes); 0 at the end of the file.
std::size_t read_chunk(int fd, std::string& buffer, const fs::path& path) {
  const std::size_t old = buffer.size();
  buffer.resize(old + kReadChunkBytes);
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data() + old, kReadChunkBytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw LogError("cannot read " + path.string() + ": " + errno_text(errno));
    buffer.resize(old + static_cast<std::size_t>(n));
    return static_cast<std::size_t>(n);
  }
}

}  // namespace

void read_log_into(const fs::path& log_path, RunLogBuilder& builder) {
  const fs::path path = resolve_log_path(log_path);
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw LogError("no samples log at " + path.string() +
                   ": pass a run directory or the path of a samples.ndjson file");
  }
  const UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file) throw LogError("cannot open " + path.string() + ": " + errno_text(errno));
  ::posix_fadvise(file.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  std::string buffer;
  buffer.reserve(2 * kReadChunkBytes);
  bool skipping = false;  // inside a line longer than kMaxLineBytes
  while (read_chunk(file.get(), buffer, path) > 0) {
    std::string_view rest(buffer);
    for (auto eol = rest.find('\n'); eol != std::string_view::npos; eol = rest.find('\n')) {
      if (skipping) {
        builder.skip_long_line();
        skipping = false;
      } else {
        builder.add_line(rest.substr(0, eol));
      }
      rest.remove_prefix(eol + 1);
    }
    // A device or pipe that is no log (/dev/zero) is refused at its first line, not read
    // until memory runs out; any other overlong line is skipped.
    if (!builder.has_header() && rest.size() >= kMaxHeaderBytes) {
      throw LogError(path.string() + " is not a soak samples log (line 1 must be its header)");
    }
    if (rest.size() > kMaxLineBytes) {
      skipping = true;
      rest = {};
    }
    buffer.erase(0, buffer.size() - rest.size());
  }
  if (skipping) {
    builder.skip_long_line();
  } else if (!buffer.empty()) {
    builder.add_torn_line(buffer);
  }
}

LiveRunLog::LiveRunLog(SampleWriter& writer, std::size_t capacity)
    : writer_(writer), builder_(writer.path(), capacity) {
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

}  // namespace soak::log
