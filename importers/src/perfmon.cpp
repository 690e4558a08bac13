// soak import perfmon: Windows PerfMon CSV as typeperf (`typeperf -f CSV -o file.csv`) and
// relog (`relog in.blg -f csv -o out.csv`) write it.
//
// Line 1 is the PDH header: `"(PDH-CSV 4.0) (Pacific Standard Time)(480)"` (the zone's name and
// its bias, the minutes to add to local time to get UTC), then one counter path per column,
// `\\HOST\Process(app)\Working Set`. Each row is a local time stamp `"12/01/2026 10:00:00.123"`
// then the values, every cell quoted, a blank (`" "` or `""`) where PDH had no value (typeperf's
// first row of rate counters, a process that had not started or had ended).
//
// Each instance (`app`, `app#1`) is its own process, keyed by its instance name; the Process and
// .NET CLR Memory objects of one instance name are the same process. Only counters whose meaning
// soak knows are read: a counter under heap.* would be taken by the analysis for the target's
// managed heap (a flat one explains RSS filling up), so an arbitrary counter must not go there.
// Everything else (machine-wide objects, rates, percentages, peaks) is skipped with a warning.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "readers.hpp"
#include "soak/importers/text.hpp"
#include "soak/log/metrics.hpp"

namespace soak::importers::readers {

namespace {

namespace metric = soak::log::metric;

constexpr std::string_view kPdhTag = "(PDH-CSV 4.0)";
/// The largest time zone bias (minutes) a PDH header can name: a day.
constexpr double kMaxBiasMinutes = 1440;

/// A counter path split: `\\HOST\Object(Instance)\Counter`.
struct CounterPath {
  std::string host, object, instance, counter;
};

std::optional<CounterPath> split_path(std::string_view path) {
  path = text::trim(path);
  CounterPath out;
  if (path.starts_with("\\\\")) {
    path.remove_prefix(2);
    const std::size_t slash = path.find('\\');
    if (slash == std::string_view::npos) return std::nullopt;
    out.host = path.substr(0, slash);
    path.remove_prefix(slash + 1);
  } else if (path.starts_with('\\')) {
    path.remove_prefix(1);
  }
  // The counter is after the last backslash; an instance may hold parentheses ("app (x86)").
  const std::size_t last = path.rfind('\\');
  if (last == std::string_view::npos || last + 1 == path.size()) return std::nullopt;
  out.counter = path.substr(last + 1);
  std::string_view object = path.substr(0, last);
  if (const std::size_t open = object.find('('); open != std::string_view::npos) {
    if (!object.ends_with(')')) return std::nullopt;
    out.instance = object.substr(open + 1, object.size() - open - 2);
    object = object.substr(0, open);
  }
  out.object = object;
  return out;
}

/// A Process or .NET CLR Memory counter in soak's terms.
struct Known {
  std::string_view object, counter, metric;
};

constexpr Known kKnown[] = {
    {"Process", "Working Set", metric::rss_bytes},
    {"Process", "Private Bytes", "private_bytes"},
    {"Process", "Virtual Bytes", metric::vms_bytes},
    {"Process", "Handle Count", metric::handles},
    {"Process", "Thread Count", metric::threads},
    // The working set's pages no other process shares: what USS is (psutil's uss on Windows).
    {"Process", "Working Set - Private", metric::uss_bytes},
    {".NET CLR Memory", "# Bytes in all Heaps", "heap.gc_heap_size_bytes"},
    {".NET CLR Memory", "Gen 0 heap size", "heap.gen0_size_bytes"},
    {".NET CLR Memory", "Gen 1 heap size", "heap.gen1_size_bytes"},
    {".NET CLR Memory", "Gen 2 heap size", "heap.gen2_size_bytes"},
    {".NET CLR Memory", "Large Object Heap size", "heap.loh_size_bytes"},
    {".NET CLR Memory", "# Total committed Bytes", "heap.gc_committed_bytes"},
};

bool same_text(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

/// What a column becomes: a metric of one instance, its pid, or nothing.
struct Column {
  std::size_t process = 0;  ///< index into the recording's processes
  std::string metric;       ///< empty: the `ID Process` column
  std::string path;         ///< the counter path as the header wrote it
};

/// The bias of a PDH header's first cell `(PDH-CSV 4.0) (Zone name)(480)`; nullopt when it
/// names no zone. Throws when the cell is not a PDH header.
std::optional<double> header_bias_min(const text::Field& cell, std::size_t line,
                                      const std::string& file) {
  const std::string_view head = text::trim(cell.value);
  if (!head.starts_with(kPdhTag)) {
    text::fail(file, line, cell.column,
               "expected a PerfMon CSV header (typeperf or relog) whose first cell starts with "
               "\"(PDH-CSV 4.0)\", found " +
                   text::shown(head));
  }
  std::string_view rest = text::trim(head.substr(kPdhTag.size()));
  if (!rest.ends_with(')')) return std::nullopt;
  const std::size_t open = rest.rfind('(');
  const std::string_view bias = rest.substr(open + 1, rest.size() - open - 2);
  const auto minutes = text::number(bias);
  // Windows' biases lie within a day (UTC-12 to UTC+14); (1e300) would move the stamps past
  // any time a recording has.
  if (minutes && std::fabs(*minutes) > kMaxBiasMinutes) {
    text::fail(
        file, line, cell.column,
        "expected a PDH time zone bias from -1440 to 1440 minutes, found " + text::shown(bias));
  }
  return minutes;
}

/// `MM/DD/YYYY HH:MM:SS[.mmm]` (PDH writes it so in every locale), as civil seconds.
std::optional<double> pdh_time(std::string_view s) {
  s = text::trim(s);
  int month = 0, day = 0, year = 0, hour = 0, minute = 0;
  double second = 0;
  std::size_t p = 0;
  const auto integer = [&](int& out, char until) {
    const std::size_t from = p;
    out = 0;
    while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p])) && p - from < 4) {
      out = out * 10 + (s[p++] - '0');
    }
    if (p == from || p >= s.size() || s[p] != until) return false;
    ++p;
    return true;
  };
  if (!integer(month, '/') || !integer(day, '/') || !integer(year, ' ') || !integer(hour, ':') ||
      !integer(minute, ':')) {
    return std::nullopt;
  }
  const auto sec = text::number(s.substr(p));
  if (!sec || s.substr(p).find_first_not_of("0123456789.") != std::string_view::npos) {
    return std::nullopt;
  }
  second = *sec;
  if (month < 1 || month > 12 || day < 1 || day > 31 || year < 1970 || hour > 23 || minute > 59 ||
      second >= 61) {
    return std::nullopt;
  }
  return text::unix_seconds(year, month, day, hour, minute, second);
}

/// The header's counters as columns; instances become processes in order of first column.
std::vector<std::optional<Column>> read_header(const std::vector<text::Field>& header,
                                               std::size_t line, Recording& rec,
                                               const std::string& file) {
  std::vector<std::optional<Column>> columns(header.size());
  std::map<std::string, std::size_t> process_of;
  std::map<std::string, std::size_t> skipped;  // counter -> columns
  std::size_t cpu_columns = 0;
  for (std::size_t i = 1; i < header.size(); ++i) {
    const std::string raw(text::trim(header[i].value));
    const auto path = split_path(raw);
    if (!path) {
      text::fail(file, line, header[i].column,
                 "expected a counter path like \\\\HOST\\Process(app)\\Working Set, found " +
                     text::shown(raw));
    }
    std::optional<Column> column;
    const bool per_process =
        same_text(path->object, "Process") || same_text(path->object, ".NET CLR Memory");
    if (per_process && !path->instance.empty() && path->instance != "_Total" &&
        path->instance != "_Global_") {
      if (same_text(path->object, "Process") && same_text(path->counter, "ID Process")) {
        column = Column{0, "", raw};
      }
      for (const auto& k : kKnown) {
        if (same_text(path->object, k.object) && same_text(path->counter, k.counter)) {
          column = Column{0, std::string(k.metric), raw};
        }
      }
      cpu_columns += same_text(path->counter, "% Processor Time");
    }
    if (!column) {
      const bool total = path->instance.starts_with('_');  // _Total, _Global_
      ++skipped[path->object + (total ? "(" + path->instance + ")" : "") + "\\" + path->counter];
      continue;
    }
    auto [it, fresh] = process_of.emplace(path->instance, rec.processes.size());
    if (fresh) {
      ImportedProcess p;
      p.name = path->instance;
      p.key = path->instance;
      rec.processes.push_back(std::move(p));
    }
    column->process = it->second;
    columns[i] = std::move(column);
  }
  if (rec.processes.empty()) {
    text::fail(file, line, 0,
               "no per-process counters: expected Process(INSTANCE) or .NET CLR Memory(INSTANCE) "
               "counters such as \\\\HOST\\Process(app)\\Private Bytes in the header");
  }
  if (cpu_columns > 0) {
    rec.warnings.push_back(
        "% Processor Time skipped: a percentage of each interval, not cumulative CPU seconds "
        "(cpu_s)");
  }
  std::string names;
  std::size_t count = 0;
  for (const auto& [name, n] : skipped) {
    if (name.ends_with("\\% Processor Time")) continue;
    count += n;
    if (names.size() < 200) names += (names.empty() ? "" : ", ") + name;
  }
  text::warn_count(rec.warnings, count,
                   "counter columns soak does not judge were skipped (" + names + ")");
  return columns;
}

/// Per metric, the counter it was read from: the full path when one instance holds it, else the
/// path without host and instance (`Process\Private Bytes`).
void record_measures(const std::vector<std::optional<Column>>& columns, Recording& rec) {
  std::map<std::string, std::vector<std::string>> paths;
  for (const auto& c : columns) {
    if (c && !c->metric.empty()) paths[c->metric].push_back(c->path);
  }
  for (const auto& [name, list] : paths) {
    if (list.size() == 1) {
      rec.measures[name] = "PerfMon " + list.front();
      continue;
    }
    const auto path = split_path(list.front());
    rec.measures[name] = "PerfMon " + path->object + "(*)\\" + path->counter;
  }
}

}  // namespace

Recording perfmon(std::string_view content, const std::string& file) {
  const std::vector<text::Line> all = text::lines(content);
  std::size_t head = 0;  // typeperf's console output starts with an empty line
  while (head < all.size() && text::trim(all[head].text).empty()) ++head;
  if (head == all.size()) {
    text::fail(file, 1, 0,
               "empty: expected a PerfMon CSV header starting with \"(PDH-CSV 4.0)\" on line 1");
  }
  const std::vector<text::Field> header = text::csv_fields(all[head].text);
  Recording rec;
  rec.format = Format::perfmon;
  const std::optional<double> bias_min = header_bias_min(header.front(), all[head].number, file);
  const std::vector<std::optional<Column>> columns =
      read_header(header, all[head].number, rec, file);
  record_measures(columns, rec);

  std::optional<double> t0;
  std::size_t bad_times = 0, bad_values = 0;
  const text::Line* first_bad = nullptr;
  std::vector<std::size_t> row_of(rec.processes.size());
  for (std::size_t li = head + 1; li < all.size(); ++li) {
    const text::Line& line = all[li];
    if (text::trim(line.text).empty()) continue;  // relog's trailing empty line
    const std::vector<text::Field> fields = text::csv_fields(line.text);
    const auto t = pdh_time(fields.front().value);
    if (!t) {
      if (first_bad == nullptr) first_bad = &line;
      ++bad_times;
      continue;
    }
    if (!t0) t0 = *t;
    for (std::size_t k = 0; k < rec.processes.size(); ++k) {
      row_of[k] = rec.processes[k].add_row(*t - *t0);
    }
    for (std::size_t i = 1; i < fields.size() && i < columns.size(); ++i) {
      if (!columns[i]) continue;
      const std::string_view cell = text::trim(fields[i].value);
      if (cell.empty()) continue;  // PDH had no value: a gap, not a zero
      const auto v = text::number(cell);
      if (!v) {
        ++bad_values;
        continue;
      }
      ImportedProcess& p = rec.processes[columns[i]->process];
      if (columns[i]->metric.empty()) {
        const auto id = text::pid(cell);
        if (p.pid == 0 && id && *id > 0) p.pid = *id;
      } else {
        p.set(row_of[columns[i]->process], columns[i]->metric, *v);
      }
    }
  }
  if (!t0) {
    if (first_bad == nullptr) {
      text::fail(file, all[head].number, 0, "expected samples after the PDH header, found none");
    }
    text::fail(file, first_bad->number, 1,
               "expected a PDH time stamp like \"12/01/2026 10:00:00.123\", found " +
                   text::shown(text::csv_fields(first_bad->text).front().value));
  }
  // PDH stamps are local time; the bias (minutes) takes them to UTC.
  rec.start_unix_s = *t0 + bias_min.value_or(0) * 60;
  if (!bias_min) rec.warnings.push_back("the PDH header names no time zone: read as UTC");
  text::warn_count(rec.warnings, bad_times, "rows without a PDH time stamp were skipped");
  text::warn_count(rec.warnings, bad_values, "values that are not numbers were read as missing");
  return rec;
}

}  // namespace soak::importers::readers
