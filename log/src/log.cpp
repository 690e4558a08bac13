#include "soak/log/log.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <span>

#include "soak/log/run_dir.hpp"

namespace soak::log {

namespace {

void append_number(std::string& out, double value) {
  char buf[32];
  std::to_chars_result r;
  if (value == std::floor(value) && std::fabs(value) < 9.0e15) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(value));
  } else {
    r = std::to_chars(buf, buf + sizeof buf, value);
  }
  out.append(buf, r.ptr);
}

std::string errno_text(int err) {
  return std::strerror(err);
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(c));
          out += esc;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

SampleWriter::SampleWriter(const std::filesystem::path& path, const nlohmann::ordered_json& header)
    : path_(path) {
  fd_.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644));
  if (!fd_) {
    throw LogError("cannot create " + path.string() + ": " + errno_text(errno));
  }
  line_.reserve(1024);
  // Invalid UTF-8 from a target's command line is replaced, never a reason to fail.
  line_ = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (!write_line()) {
    const int error = error_number_;
    fd_.reset();
    ::unlink(path.c_str());  // nothing was recorded: leave nothing that blocks a retry
    throw LogWriteError("cannot write " + path.string() + ": " + errno_text(error) +
                        "; free some space (or choose another --out) and retry");
  }
}

SampleWriter::~SampleWriter() {
  if (fd_) ::fdatasync(fd_.get());
}

bool SampleWriter::write_line() {
  line_.push_back('\n');
  std::size_t done = 0;
  while (done < line_.size()) {
    const ssize_t n = ::write(fd_.get(), line_.data() + done, line_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (error_number_ == 0) error_number_ = errno;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  bytes_written_ += done;
  return true;
}

void SampleWriter::begin_sample(double t, std::string_view process) {
  line_.assign(R"({"type":"sample","t":)");
  append_number(line_, std::round(t * 1e6) / 1e6);
  if (!process.empty()) {
    line_ += ",\"";
    line_ += kProcessKey;
    line_ += "\":";
    append_json_string(line_, process);
  }
}

void SampleWriter::metric(std::string_view name, double value) {
  if (!std::isfinite(value)) return;  // absent means "not measured"; JSON has no NaN
  line_.push_back(',');
  append_json_string(line_, name);
  line_.push_back(':');
  append_number(line_, value);
}

bool SampleWriter::end_sample() {
  line_.push_back('}');
  return write_line();
}

bool SampleWriter::event(double t, std::string_view kind, std::string_view detail,
                         const nlohmann::json& extra) {
  line_.assign(R"({"type":"event","t":)");
  append_number(line_, std::round(t * 1e6) / 1e6);
  line_ += R"(,"kind":)";
  append_json_string(line_, kind);
  line_ += R"(,"detail":)";
  append_json_string(line_, detail);
  if (extra.is_object()) {
    for (const auto& [key, value] : extra.items()) {
      line_.push_back(',');
      append_json_string(line_, key);
      line_.push_back(':');
      line_ += value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  }
  line_.push_back('}');
  return write_line();
}

bool SampleWriter::sync() {
  if (::fdatasync(fd_.get()) != 0) {
    if (error_number_ == 0) error_number_ = errno;
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------

namespace {

/// Fast path for the common sample line: a flat object of a "type" string and numbers.
/// Returns false on anything else (escapes, nesting, literals), and the caller falls back to
/// the full JSON parser, so the fast path never decides what a line means on its own.
/// The series of the previous line's keys, in order: lines of one log repeat their keys in
/// the same order, so most lookups are one string comparison instead of a map search.
struct KeyCache {
  std::vector<std::pair<std::string, Series*>> slots;
  std::size_t expected_lines = 0;  ///< new series reserve this much: no regrowth copies
  std::size_t backwards = 0;       ///< samples dropped because their t went backwards
};

/// object[key] as a string when it is one, else "" (a wrong type is a bad field, not a crash).
std::string string_field(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

struct FlatPair {
  std::string_view key;
  double value;
};

/// Appends one parsed sample's values to their series (the cache finds them without a lookup).
void store_flat_sample(std::span<const FlatPair> pairs, double t, RunLog& log, KeyCache& cache);

bool parse_flat_sample(std::string_view line, RunLog& log, KeyCache& cache) {
  FlatPair pairs[64];
  std::size_t count = 0;
  double t = NAN;
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
    if (p == end || *p++ != '"') return false;
    const char* key_begin = p;
    while (p < end && *p != '"' && *p != '\\') ++p;
    if (p == end || *p == '\\') return false;
    const std::string_view key(key_begin, static_cast<std::size_t>(p - key_begin));
    ++p;
    skip_ws();
    if (p == end || *p++ != ':') return false;
    skip_ws();
    if (p == end) return false;
    if (*p == '"') {
      const char* v = ++p;
      while (p < end && *p != '"' && *p != '\\') ++p;
      if (p == end || *p == '\\') return false;
      const std::string_view text(v, static_cast<std::size_t>(p - v));
      ++p;
      if (key != "type" || text != "sample") return false;
      is_sample = true;
    } else {
      // JSON numbers start with '-' or a digit: from_chars would also take NaN, inf and
      // Infinity, which are not JSON (the general path then refuses the line).
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
        t = value;
      } else {
        if (count == std::size(pairs)) return false;
        pairs[count++] = FlatPair{key, value};
      }
    }
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
  if (!is_sample || !std::isfinite(t)) return false;
  if (log.samples > 0 && t < log.last_t) {
    ++cache.backwards;  // consumed and dropped: time never runs backwards in a log
    return true;
  }
  store_flat_sample(std::span<const FlatPair>(pairs, count), t, log, cache);
  return true;
}

void store_flat_sample(std::span<const FlatPair> pairs, double t, RunLog& log, KeyCache& cache) {
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    Series* series = nullptr;
    if (i < cache.slots.size() && cache.slots[i].first == pairs[i].key) {
      series = cache.slots[i].second;
    } else {
      auto it = log.series.find(pairs[i].key);
      if (it == log.series.end()) {
        it = log.series.emplace(std::string(pairs[i].key), Series{}).first;
        it->second.t.reserve(cache.expected_lines);
        it->second.value.reserve(cache.expected_lines);
      }
      series = &it->second;  // std::map nodes are stable
      if (i < cache.slots.size()) {
        cache.slots[i] = {std::string(pairs[i].key), series};
      } else {
        cache.slots.emplace_back(std::string(pairs[i].key), series);
      }
    }
    series->t.push_back(t);
    series->value.push_back(pairs[i].value);
  }
  if (log.samples == 0) log.first_t = t;
  ++log.samples;
  log.last_t = t;
}

/// The general path: any valid JSON object line. Returns a warning text, empty when accepted.
std::string parse_general_line(std::string_view line, RunLog& log, KeyCache& cache) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return "not a JSON object";
  const auto type = string_field(j, "type");
  const auto t_it = j.find("t");
  if (t_it == j.end() || !t_it->is_number()) return "no numeric \"t\"";
  const double t = t_it->get<double>();
  const auto key_it = j.find(kProcessKey);
  std::string process;
  if (key_it != j.end() && key_it->is_string()) process = key_it->get<std::string>();
  if (type == "sample") {
    const double last = process.empty() ? log.last_t : log.processes[process].last_t;
    const std::size_t seen = process.empty() ? log.samples : log.processes[process].samples;
    if (seen > 0 && t < last) {
      ++cache.backwards;
      return {};
    }
    auto add = [&](std::map<std::string, Series, std::less<>>& by_metric, std::size_t& samples,
                   double& first_t, double& last_t) {
      for (const auto& [key, value] : j.items()) {
        if (key == "type" || key == "t" || !value.is_number()) continue;
        auto& series = by_metric[key];
        series.t.push_back(t);
        series.value.push_back(value.get<double>());
      }
      if (samples == 0) first_t = t;
      ++samples;
      last_t = t;
    };
    if (process.empty()) {
      add(log.series, log.samples, log.first_t, log.last_t);
    } else {
      ProcessLog& p = log.processes[process];
      add(p.series, p.samples, p.first_t, p.last_t);
    }
  } else if (type == "event") {
    LogEvent event;
    event.t = t;
    event.kind = string_field(j, "kind");
    event.detail = string_field(j, "detail");
    event.process = std::move(process);
    event.fields = std::move(j);
    log.events.push_back(std::move(event));
  }
  // Other types are from a newer writer: skipped silently, as the format promises.
  return {};
}

}  // namespace

std::filesystem::path resolve_log_path(const std::filesystem::path& run) {
  std::error_code ec;
  if (std::filesystem::is_directory(run, ec)) return run / samples_file;
  return run;
}

namespace {

/// The longest header line read: a header is a few hundred bytes (a scenario's targets a few
/// KiB); a first line longer than this is no soak log.
constexpr std::size_t kMaxHeaderBytes = std::size_t{1} << 20;

/// Throws LogError unless `start` (the file's beginning) opens with a soak header line.
void refuse_unless_header(std::string_view start, const std::filesystem::path& path) {
  if (start.empty()) return;  // said later: "is empty"
  const std::size_t eol = start.find('\n');
  const std::string_view first = start.substr(0, std::min(eol, kMaxHeaderBytes));
  nlohmann::json header = eol == std::string_view::npos && start.size() >= kMaxHeaderBytes
                              ? nlohmann::json()
                              : nlohmann::json::parse(first, nullptr, false);
  if (header.is_discarded() || !header.is_object() ||
      string_field(header, "format") != kLogFormat) {
    throw LogError(path.string() + " is not a soak samples log (line 1 must be its header)");
  }
}

/// A log's bytes: mapped (no copy, no zero-fill: a day's log is ~16 MB), or read(2) for what
/// cannot be mapped (pipes, empty files).
class LogBytes {
 public:
  explicit LogBytes(const std::filesystem::path& path) {
    const UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file) throw LogError("cannot open " + path.string() + ": " + errno_text(errno));
    struct stat st {};
    size_ = ::fstat(file.get(), &st) == 0 && S_ISREG(st.st_mode)
                ? static_cast<std::size_t>(st.st_size)
                : 0;
    if (size_ > 0) {
      mapping_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, file.get(), 0);
    }
    if (mapping_ == MAP_FAILED) read_all(file.get(), path);
  }
  LogBytes(const LogBytes&) = delete;
  LogBytes& operator=(const LogBytes&) = delete;
  ~LogBytes() {
    if (mapping_ != MAP_FAILED) ::munmap(mapping_, size_);
  }
  std::string_view content() const {
    return mapping_ == MAP_FAILED ? std::string_view(fallback_)
                                  : std::string_view(static_cast<const char*>(mapping_), size_);
  }

 private:
  void read_all(int fd, const std::filesystem::path& path) {
    char chunk[1 << 16];
    for (;;) {
      // A device or pipe that is no log (/dev/zero, /dev/urandom) is refused at its first
      // line, not read until memory runs out.
      if (fallback_.size() >= kMaxHeaderBytes || fallback_.find('\n') != std::string::npos) {
        refuse_unless_header(fallback_, path);
      }
      const ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw LogError("cannot read " + path.string() + ": " + errno_text(errno));
      if (n == 0) break;
      fallback_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  void* mapping_ = MAP_FAILED;
  std::size_t size_ = 0;
  std::string fallback_;
};

}  // namespace

RunLog read_run_log(const std::filesystem::path& run) {
  RunLog log;
  log.path = resolve_log_path(run);
  std::error_code ec;
  if (!std::filesystem::exists(log.path, ec)) {
    throw LogError("no samples log at " + log.path.string() +
                   ": pass a run directory or the path of a samples.ndjson file");
  }
  const LogBytes bytes(log.path);
  const std::string_view content = bytes.content();
  refuse_unless_header(content.substr(0, kMaxHeaderBytes), log.path);
  std::string_view rest(content);
  std::size_t line_number = 0;
  std::size_t skipped = 0;
  std::size_t first_skipped = 0;
  KeyCache cache;
  cache.expected_lines = static_cast<std::size_t>(std::count(content.begin(), content.end(), '\n'));
  while (!rest.empty()) {
    const auto eol = rest.find('\n');
    const bool complete = eol != std::string_view::npos;
    std::string_view line = rest.substr(0, complete ? eol : rest.size());
    rest.remove_prefix(complete ? eol + 1 : rest.size());
    ++line_number;
    if (line.empty()) continue;
    if (line_number == 1) {
      nlohmann::json header = nlohmann::json::parse(line, nullptr, false);
      if (header.is_discarded() || !header.is_object() ||
          string_field(header, "format") != kLogFormat) {
        throw LogError(log.path.string() +
                       " is not a soak samples log (line 1 must be its header)");
      }
      const std::int64_t version =
          header.contains("version") && header["version"].is_number_integer()
              ? header["version"].get<std::int64_t>()
              : 0;
      if (version > kLogVersionRead) {
        log.warnings.push_back("log format version " + std::to_string(version) +
                               " is newer than this soak reads (" +
                               std::to_string(kLogVersionRead) + "); unknown fields are ignored");
      }
      log.header = std::move(header);
      continue;
    }
    if (!complete) {
      // The writer ends every line with '\n'; a last line without one was torn by a crash.
      if (!parse_flat_sample(line, log, cache) && !parse_general_line(line, log, cache).empty()) {
        log.warnings.push_back("ignored a torn last line (" + std::to_string(line.size()) +
                               " bytes at line " + std::to_string(line_number) +
                               "): the run ended mid-write");
      }
      break;
    }
    if (parse_flat_sample(line, log, cache)) continue;
    if (!parse_general_line(line, log, cache).empty()) {
      if (skipped++ == 0) first_skipped = line_number;
    }
  }
  if (log.header.is_null()) {
    throw LogError(log.path.string() + " is empty: no header line was written");
  }
  if (cache.backwards > 0) {
    log.warnings.push_back("dropped " + std::to_string(cache.backwards) +
                           " sample(s) whose time went backwards");
  }
  if (skipped > 0) {
    log.warnings.push_back("skipped " + std::to_string(skipped) +
                           " malformed line(s), the first at line " +
                           std::to_string(first_skipped));
  }
  return log;
}

}  // namespace soak::log
