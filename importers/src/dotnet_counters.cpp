// soak import dotnet-counters: `dotnet-counters collect --format csv|json` as the tool writes it
// (dotnet/diagnostics, src/Tools/dotnet-counters/Exporters/CSVExporter.cs, JSONExporter.cs).
//
// CSV: the header `Timestamp,Provider,Counter Name,Counter Type,Mean/Increment`, then one
// counter per row, unquoted: the event's local time in the machine's culture ("12/1/2026
// 10:00:05 AM" in en-US), the provider, the display name ("Working Set (MB)", tags appended as
// "[gc.heap.generation=gen0]"), Metric or Rate, and the value.
// JSON: `{ "TargetProcess": ..., "StartTime": ..., "Events": [{ "timestamp": ISO 8601 with the
// local offset, "provider", "name", "tags", "counterType", "value" }, ...]}`; a session that
// was not stopped with q leaves the file without its closing `]}` (and with a trailing comma).
//
// The rows of one refresh form one sample. Counters of System.Runtime, EventCounters ("Working
// Set (MB)") and the .NET 9 meter ("dotnet.process.memory.working_set (By)") alike, map to
// soak's names; the others are skipped with a warning.

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "readers.hpp"
#include "soak/importers/text.hpp"
#include "soak/log/metrics.hpp"
#include "units.hpp"

namespace soak::importers::readers {

namespace {

namespace metric = soak::log::metric;

constexpr std::string_view kCsvHeader = "Timestamp,Provider,Counter Name,Counter Type";

/// Events this close to a sample's first one belong to it (the tool writes a refresh's events
/// within milliseconds; the CSV's stamps have whole seconds, so a refresh may span one tick).
constexpr double kSampleSpreadS = 1.0;

/// One counter value as the tool wrote it.
struct Event {
  double t_s = 0;         ///< civil seconds (UTC for JSON, local for CSV)
  std::string provider;   ///< "System.Runtime"
  std::string name;       ///< display name without unit and tags: "Working Set"
  std::string unit;       ///< "MB", "B", "By", "%"; empty when none
  double rate_per_s = 0;  ///< for "(B / 5 sec)": 5; 0 when not a rate
  std::string tags;       ///< "gc.heap.generation=gen0"
  double value = 0;
};

/// Splits a display name "Allocation Rate (B / 1 sec)[tag=x]" into its parts.
void split_display(std::string_view display, Event& e) {
  display = text::trim(display);
  if (display.ends_with(']')) {
    if (const std::size_t open = display.rfind('['); open != std::string_view::npos) {
      e.tags = display.substr(open + 1, display.size() - open - 2);
      display = text::trim(display.substr(0, open));
    }
  }
  if (display.ends_with(')')) {
    if (const std::size_t open = display.rfind(" ("); open != std::string_view::npos) {
      std::string_view unit = display.substr(open + 2, display.size() - open - 3);
      if (const std::size_t slash = unit.find(" / "); slash != std::string_view::npos) {
        std::string_view per = unit.substr(slash + 3);
        if (per.ends_with(" sec")) per.remove_suffix(4);
        e.rate_per_s = text::number(per).value_or(1);
        unit = unit.substr(0, slash);
      }
      e.unit = unit;
      display = display.substr(0, open);
    }
  }
  e.name = display;
}

/// What a System.Runtime counter is in soak's terms.
struct Mapping {
  std::string_view name;  ///< display name without unit
  std::string_view tags;  ///< the tags it must carry; empty: any
  std::string_view metric;
  std::string_view measures;
};

constexpr Mapping kMappings[] = {
    {"Working Set", "", metric::rss_bytes, "working set (dotnet-counters System.Runtime)"},
    {"GC Heap Size", "", "heap.gc_heap_size_bytes",
     ".NET GC heap size (dotnet-counters System.Runtime)"},
    {"Gen 0 Size", "", "heap.gen0_size_bytes", ".NET GC generation 0 size (dotnet-counters)"},
    {"Gen 1 Size", "", "heap.gen1_size_bytes", ".NET GC generation 1 size (dotnet-counters)"},
    {"Gen 2 Size", "", "heap.gen2_size_bytes", ".NET GC generation 2 size (dotnet-counters)"},
    {"LOH Size", "", "heap.loh_size_bytes", ".NET large object heap size (dotnet-counters)"},
    {"POH (Pinned Object Heap) Size", "", "heap.poh_size_bytes",
     ".NET pinned object heap size (dotnet-counters)"},
    {"POH Size", "", "heap.poh_size_bytes", ".NET pinned object heap size (dotnet-counters)"},
    {"GC Committed Bytes", "", "heap.gc_committed_bytes",
     ".NET GC committed memory (dotnet-counters)"},
    {"Allocation Rate", "", "heap.alloc_rate_bytes_per_s",
     ".NET allocation rate, bytes per second (dotnet-counters; a rate, not memory held)"},
    {"ThreadPool Thread Count", "", metric::threads,
     ".NET thread pool threads (dotnet-counters), not all the process's threads"},
    // The System.Runtime meter of .NET 9 and later.
    {"dotnet.process.memory.working_set", "", metric::rss_bytes,
     "working set (dotnet-counters System.Runtime meter)"},
    {"dotnet.gc.last_collection.heap.size", "gc.heap.generation=gen0", "heap.gen0_size_bytes",
     ".NET GC generation 0 size after the last collection (dotnet-counters)"},
    {"dotnet.gc.last_collection.heap.size", "gc.heap.generation=gen1", "heap.gen1_size_bytes",
     ".NET GC generation 1 size after the last collection (dotnet-counters)"},
    {"dotnet.gc.last_collection.heap.size", "gc.heap.generation=gen2", "heap.gen2_size_bytes",
     ".NET GC generation 2 size after the last collection (dotnet-counters)"},
    {"dotnet.gc.last_collection.heap.size", "gc.heap.generation=loh", "heap.loh_size_bytes",
     ".NET large object heap size after the last collection (dotnet-counters)"},
    {"dotnet.gc.last_collection.heap.size", "gc.heap.generation=poh", "heap.poh_size_bytes",
     ".NET pinned object heap size after the last collection (dotnet-counters)"},
    {"dotnet.gc.last_collection.memory.committed_size", "", "heap.gc_committed_bytes",
     ".NET GC committed memory after the last collection (dotnet-counters)"},
    {"dotnet.gc.heap.total_allocated", "", "heap.alloc_rate_bytes_per_s",
     ".NET allocation rate, bytes per second (dotnet-counters; a rate, not memory held)"},
    {"dotnet.thread_pool.thread.count", "", metric::threads,
     ".NET thread pool threads (dotnet-counters), not all the process's threads"},
};

constexpr std::string_view kAllocRate = "heap.alloc_rate_bytes_per_s";
constexpr std::string_view kGcHeapSize = "heap.gc_heap_size_bytes";
/// The meter's per-generation sizes; their sum is the GC heap (the meter has no total).
constexpr std::string_view kGenerationSize = "dotnet.gc.last_collection.heap.size";

/// The GC heap size of the meter, which reports it by generation only: per sample, the sum of
/// every generation the file reports, when the sample has them all.
class GenerationSum {
 public:
  explicit GenerationSum(const std::vector<Event>& events) {
    for (const auto& e : events) {
      if (e.provider == "System.Runtime" && e.name == kGenerationSize) generations_.insert(e.tags);
    }
  }
  void start() {
    seen_.clear();
    bytes_ = 0;
  }
  void add(const Event& e, double bytes) {
    if (e.name == kGenerationSize && seen_.insert(e.tags).second) bytes_ += bytes;
  }
  /// The sum, once the sample held every generation.
  std::optional<double> total() const {
    if (generations_.empty() || seen_ != generations_) return std::nullopt;
    return bytes_;
  }
  std::string measures() const {
    std::string gens;
    for (const auto& g : generations_) {
      gens += (gens.empty() ? "" : ", ") + g.substr(g.find('=') + 1);
    }
    return ".NET GC heap size after the last collection: " + std::string(kGenerationSize) +
           " summed over " + gens + " (dotnet-counters System.Runtime meter)";
  }

 private:
  std::set<std::string> generations_, seen_;
  double bytes_ = 0;
};

const Mapping* mapping_of(const Event& e) {
  if (e.provider != "System.Runtime") return nullptr;
  for (const auto& m : kMappings) {
    if (m.name == e.name && (m.tags.empty() || m.tags == e.tags)) return &m;
  }
  return nullptr;
}

/// The factor from a display unit to soak's base unit ("By" is UCUM's byte).
double scale_of(std::string_view unit) {
  if (unit == "By") return 1;
  return unit_scale(unit).value_or(1);
}

/// A culture's DateTime.ToString(): "12/1/2026 10:00:05 AM" (en-US), "01.12.2026 10:00:05" (de),
/// "2026/12/01 10:00:05" (ja), "01/12/2026 10:00:05" (en-GB: `day_first`). Civil seconds.
std::optional<double> culture_time(std::string_view s, bool day_first) {
  s = text::trim(s);
  int part[6] = {0, 0, 0, 0, 0, 0};
  int n = 0;
  std::size_t p = 0;
  while (n < 6 && p < s.size()) {
    if (!std::isdigit(static_cast<unsigned char>(s[p]))) return std::nullopt;
    const std::size_t from = p;
    while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p])) && p - from < 4) {
      part[n] = part[n] * 10 + (s[p++] - '0');
    }
    ++n;
    if (n < 6 && p < s.size() && std::string_view("/.-: ").find(s[p]) != std::string_view::npos) {
      ++p;
    }
  }
  if (n < 5) return std::nullopt;
  double second = part[5];
  if (p < s.size() && s[p] == '.') {  // a fraction, when the culture writes one
    double scale = 0.1;
    for (++p; p < s.size() && std::isdigit(static_cast<unsigned char>(s[p])); ++p) {
      second += (s[p] - '0') * scale;
      scale /= 10;
    }
  }
  const std::string_view rest = text::trim(s.substr(std::min(p, s.size())));
  int year = 0, month = 0, day = 0, hour = part[3];
  if (part[0] > 31) {
    year = part[0], month = part[1], day = part[2];
  } else {
    year = part[2];
    month = day_first ? part[1] : part[0];
    day = day_first ? part[0] : part[1];
  }
  if (rest == "PM" || rest == "pm") {
    hour = hour % 12 + 12;
  } else if (rest == "AM" || rest == "am") {
    hour %= 12;
  } else if (!rest.empty()) {
    return std::nullopt;
  }
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || part[4] > 59 ||
      second >= 61) {
    return std::nullopt;
  }
  return text::unix_seconds(year, month, day, hour, part[4], second);
}

/// Whether the CSV's dates are day first: some first number over 12, or a '.' separator.
bool csv_day_first(const std::vector<text::Line>& lines) {
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string_view s = text::trim(lines[i].text);
    const std::size_t end = s.find_first_not_of("0123456789");
    if (end == 0 || end == std::string_view::npos || end > 2) continue;
    if (s[end] == '.') return true;
    if (std::stoi(std::string(s.substr(0, end))) > 12) return true;
  }
  return false;
}

std::vector<Event> csv_events(std::string_view content, const std::string& file, Recording& rec) {
  const std::vector<text::Line> all = text::lines(content);
  if (all.empty() || !text::trim(all.front().text).starts_with(kCsvHeader)) {
    text::fail(file, 1, 1,
               "expected dotnet-counters CSV (header \"Timestamp,Provider,Counter Name,Counter "
               "Type,Mean/Increment\") or JSON, found " +
                   text::shown(all.empty() ? "" : all.front().text));
  }
  const bool day_first = csv_day_first(all);
  std::vector<Event> events;
  std::size_t bad = 0;
  const text::Line* first_bad = nullptr;
  for (std::size_t i = 1; i < all.size(); ++i) {
    const text::Line& line = all[i];
    if (text::trim(line.text).empty()) continue;
    // Nothing is quoted: the name (which may hold a comma) is what lies between the provider
    // and the last two fields.
    const std::vector<text::Field> f = text::csv_fields(line.text);
    Event e;
    const auto t = f.size() >= 5 ? culture_time(f[0].value, day_first) : std::nullopt;
    const auto v = f.size() >= 5 ? text::number(f.back().value) : std::nullopt;
    if (!t || !v) {
      if (first_bad == nullptr) first_bad = &line;
      ++bad;
      continue;
    }
    std::string display;
    for (std::size_t k = 2; k + 2 < f.size(); ++k) display += (k > 2 ? "," : "") + f[k].value;
    e.t_s = *t;
    e.provider = text::trim(f[1].value);
    split_display(display, e);
    e.value = *v;
    events.push_back(std::move(e));
  }
  if (events.empty() && first_bad != nullptr) {
    text::fail(file, first_bad->number, 1,
               "expected TIME,PROVIDER,COUNTER,TYPE,VALUE with a time stamp and a number, found " +
                   text::shown(first_bad->text));
  }
  text::warn_count(rec.warnings, bad,
                   "rows that are not TIME,PROVIDER,COUNTER,TYPE,VALUE were skipped");
  return events;
}

/// The line and column of byte `offset` in `content`.
std::pair<std::size_t, std::size_t> where(std::string_view content, std::size_t offset) {
  offset = std::min(offset, content.size());
  const std::string_view before = content.substr(0, offset);
  const std::size_t line =
      1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
  const std::size_t nl = before.rfind('\n');
  return {line, nl == std::string_view::npos ? offset + 1 : offset - nl};
}

/// The JSON document, closed when the session was stopped without closing it: the text up to
/// its last complete event, then `]}`.
nlohmann::json parse_json(std::string_view original, const std::string& file, bool& closed) {
  closed = true;
  // double.ToString() writes NaN and Infinity, which JSON has not: read them as no value.
  std::string content(original);
  for (const std::string_view bad : {"NaN", "-Infinity", "Infinity"}) {
    const std::string from = "\"value\": " + std::string(bad);
    for (std::size_t at = content.find(from); at != std::string::npos;
         at = content.find(from, at)) {
      content.replace(at, from.size(), "\"value\": null");
    }
  }
  try {
    return nlohmann::json::parse(content);
  } catch (const nlohmann::json::parse_error& first) {
    const std::size_t last = content.rfind('}');
    if (last != std::string_view::npos && content.find("\"Events\"") < last) {
      std::string repaired = content.substr(0, last + 1);
      repaired += "]}";
      auto doc = nlohmann::json::parse(repaired, nullptr, false);
      if (!doc.is_discarded()) {
        closed = false;
        return doc;
      }
    }
    const auto [line, column] = where(content, first.byte > 0 ? first.byte - 1 : 0);
    text::fail(file, line, column,
               "expected dotnet-counters JSON ({\"TargetProcess\": ..., \"Events\": [...]}), "
               "found text that is not JSON there");
  } catch (const nlohmann::json::exception&) {  // a number past a double's range (1e999)
    text::fail(file, 0, 0,
               "expected dotnet-counters JSON whose numbers a double can hold, found one that "
               "is out of range");
  }
}

/// event[key] when it is a string, else "": nlohmann's value() would throw type_error on a
/// field of another type ("provider": 1), which is no reason to refuse the file.
std::string string_field(const nlohmann::json& event, const char* key) {
  const auto it = event.find(key);
  return it != event.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<Event> json_events(std::string_view content, const std::string& file, Recording& rec,
                               std::string& target) {
  bool closed = true;
  const nlohmann::json doc = parse_json(content, file, closed);
  if (!doc.is_object() || !doc.contains("Events") || !doc["Events"].is_array()) {
    text::fail(file, 1, 1, "expected dotnet-counters JSON with an \"Events\" array, found none");
  }
  if (!closed)
    rec.warnings.push_back("the JSON ended without its closing ]}: read to its last event");
  if (doc.contains("TargetProcess") && doc["TargetProcess"].is_string()) {
    target = doc["TargetProcess"].get<std::string>();
  }
  std::vector<Event> events;
  std::size_t bad = 0;
  for (const auto& j : doc["Events"]) {
    if (!j.is_object() || !j.contains("timestamp") || !j.contains("value") ||
        !j["timestamp"].is_string() || !j["value"].is_number()) {
      ++bad;
      continue;
    }
    bool zoned = false;
    const auto t = text::iso8601(j["timestamp"].get<std::string>(), &zoned);
    if (!t) {
      ++bad;
      continue;
    }
    Event e;
    e.t_s = *t;
    e.provider = string_field(j, "provider");
    split_display(string_field(j, "name"), e);
    if (const std::string tags = string_field(j, "tags"); !tags.empty()) e.tags = tags;
    e.value = j["value"].get<double>();
    events.push_back(std::move(e));
  }
  text::warn_count(rec.warnings, bad, "events without a time stamp or a number were skipped");
  return events;
}

/// Tells apart the samples of the event stream: a refresh's events share a time (within
/// kSampleSpreadS) and name each counter once.
std::vector<std::size_t> sample_starts(const std::vector<Event>& events) {
  std::vector<std::size_t> starts;
  std::set<std::pair<std::string, std::string>> seen;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    const std::pair<std::string, std::string> key{e.provider + "/" + e.name, e.tags};
    if (starts.empty() || e.t_s - events[starts.back()].t_s > kSampleSpreadS ||
        e.t_s < events[starts.back()].t_s || seen.contains(key)) {
      starts.push_back(i);
      seen.clear();
    }
    seen.insert(key);
  }
  return starts;
}

/// The events as one process's samples; cumulative allocation made a rate.
void fill(const std::vector<Event>& events, Recording& rec) {
  ImportedProcess& p = rec.processes.front();
  const std::vector<std::size_t> starts = sample_starts(events);
  std::map<std::string, std::size_t> skipped;
  std::optional<std::pair<double, double>> last_total;  // (t, bytes) of total_allocated
  const double t0 = events.front().t_s;
  GenerationSum heap(events);
  const bool heap_reported = std::any_of(events.begin(), events.end(), [](const Event& e) {
    const Mapping* m = mapping_of(e);
    return m != nullptr && m->metric == kGcHeapSize;
  });
  for (std::size_t s = 0; s < starts.size(); ++s) {
    const std::size_t end = s + 1 < starts.size() ? starts[s + 1] : events.size();
    const double t = events[starts[s]].t_s - t0;
    const std::size_t row = p.add_row(t);
    heap.start();
    for (std::size_t i = starts[s]; i < end; ++i) {
      const Event& e = events[i];
      const Mapping* m = mapping_of(e);
      if (m == nullptr) {
        ++skipped[e.provider + "/" + e.name];
        continue;
      }
      rec.measures[std::string(m->metric)] = m->measures;
      double v = e.value * scale_of(e.unit);
      if (m->metric == kAllocRate && e.rate_per_s > 0) {
        v /= e.rate_per_s;  // an increment over the refresh interval
      } else if (m->metric == kAllocRate) {
        // .NET 8+ reports the meter's counter as its running total: the rate is its slope.
        const auto previous = last_total;
        last_total = std::pair{t, v};
        if (!previous || t <= previous->first || v < previous->second) continue;
        v = (v - previous->second) / (t - previous->first);
      }
      heap.add(e, v);
      p.set(row, m->metric, v);
    }
    if (const auto total = heap.total(); total && !heap_reported) {
      p.set(row, kGcHeapSize, *total);
      rec.measures[std::string(kGcHeapSize)] = heap.measures();
    }
  }
  std::string names;
  std::size_t count = 0;
  for (const auto& [name, n] : skipped) {
    count += n;
    if (names.size() < 200) names += (names.empty() ? "" : ", ") + name;
  }
  text::warn_count(rec.warnings, count,
                   "counter values soak does not judge were skipped (" + names + ")");
}

}  // namespace

Recording dotnet_counters(std::string_view content, const std::string& file) {
  Recording rec;
  rec.format = Format::dotnet_counters;
  rec.processes.emplace_back();
  const std::size_t first = content.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
  const bool json = first != std::string_view::npos && content[first] == '{';
  std::string target;
  std::vector<Event> events =
      json ? json_events(content.substr(first), file, rec, target) : csv_events(content, file, rec);
  if (events.empty()) {
    text::fail(file, 0, 0,
               std::string("no counter values: expected dotnet-counters ") +
                   (json ? "JSON events" : "CSV rows") + ", found none");
  }
  rec.processes.front().name = target;
  if (json) {
    rec.start_unix_s = events.front().t_s;
  } else {
    // The CSV's stamps are local time without a zone.
    rec.start_unix_s = events.front().t_s;
    rec.warnings.push_back("dotnet-counters CSV time stamps are local time: read as UTC");
  }
  fill(events, rec);
  return rec;
}

}  // namespace soak::importers::readers
