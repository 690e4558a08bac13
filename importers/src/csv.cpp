// A CSV file with a header row, a time column and value columns (`soak import csv`).

#include <algorithm>
#include <cctype>

#include "readers.hpp"
#include "soak/importers/text.hpp"
#include "units.hpp"

namespace soak::importers::readers {

namespace {

enum class TimeFormat { epoch_s, epoch_ms, iso8601, elapsed_s };

std::optional<TimeFormat> time_format_named(std::string_view name) {
  if (name == "epoch-s") return TimeFormat::epoch_s;
  if (name == "epoch-ms") return TimeFormat::epoch_ms;
  if (name == "iso8601") return TimeFormat::iso8601;
  if (name == "elapsed-s") return TimeFormat::elapsed_s;
  return std::nullopt;
}

/// The format of a first time value: an ISO stamp, else a number's size says which clock.
std::optional<TimeFormat> detect(std::string_view value) {
  if (text::iso8601(value)) return TimeFormat::iso8601;
  const auto n = text::number(value);
  if (!n) return std::nullopt;
  if (*n >= 1e11) return TimeFormat::epoch_ms;  // 1e11 ms is 1973; 1e11 s is year 5138
  if (*n >= 1e8) return TimeFormat::epoch_s;    // 1e8 s is 1973; no elapsed run is 3 years
  return TimeFormat::elapsed_s;
}

char separator_of(std::string_view header) {
  const auto count = [&](char c) { return std::count(header.begin(), header.end(), c); };
  if (count(',') == 0 && count(';') > 0) return ';';
  if (count(',') == 0 && count('\t') > 0) return '\t';
  return ',';
}

/// A header cell as a metric name: lower case, runs of other characters as one '_'.
std::string metric_name_of(std::string_view header) {
  std::string out;
  for (const char c : header) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      out.push_back(static_cast<char>(std::tolower(u)));
    } else if (!out.empty() && out.back() != '_') {
      out.push_back('_');
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.empty() ? "value" : out;
}

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '.';
  });
}

std::string column_list(const std::vector<text::Field>& header) {
  std::string out;
  for (const auto& f : header) {
    if (!out.empty()) out += ", ";
    out += text::shown(text::trim(f.value));
  }
  return out;
}

/// The column a --time-column or --metric names: a header cell (exactly, else ignoring case),
/// or a 1-based number.
std::optional<std::size_t> find_column(const std::vector<text::Field>& header,
                                       std::string_view name) {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (text::trim(header[i].value) == name) return i;
  }
  const auto lower = [](std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (lower(text::trim(header[i].value)) == lower(name)) return i;
  }
  if (const auto n = text::number(name);
      n && *n >= 1 && *n == std::floor(*n) && *n <= static_cast<double>(header.size())) {
    return static_cast<std::size_t>(*n) - 1;
  }
  return std::nullopt;
}

struct Mapping {
  std::string metric;
  std::size_t column = 0;
  double scale = 1;
  std::string unit;
};

Mapping parse_mapping(const std::string& spec, const std::vector<text::Field>& header,
                      const std::string& file) {
  const std::size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
    text::fail(file, 0, 0,
               "--metric " + text::shown(spec) +
                   " is not METRIC=COLUMN[:UNIT]; write e.g. "
                   "rss_bytes=RSS:KiB");
  }
  Mapping m;
  m.metric = spec.substr(0, eq);
  if (!valid_metric_name(m.metric)) {
    text::fail(file, 0, 0,
               "--metric names " + text::shown(m.metric) +
                   ": a metric name is lower-case letters, digits, '_' and '.' (rss_bytes)");
  }
  std::string column = spec.substr(eq + 1);
  // The unit is after the last ':' when that part is a unit (a column name may hold ':').
  if (const std::size_t colon = column.rfind(':'); colon != std::string::npos) {
    if (const auto scale = unit_scale(column.substr(colon + 1))) {
      m.scale = *scale;
      m.unit = column.substr(colon + 1);
      column.resize(colon);
    } else if (!find_column(header, column)) {
      text::fail(file, 0, 0,
                 "--metric " + text::shown(spec) + ": unknown unit " +
                     text::shown(column.substr(colon + 1)) + "; units are " + unit_names());
    }
  }
  const auto index = find_column(header, column);
  if (!index) {
    text::fail(file, 1, 0,
               "no column " + text::shown(column) + " for --metric " + m.metric +
                   "; the header has " + column_list(header));
  }
  m.column = *index;
  return m;
}

/// What the header row and the options say: where the header is, the separator, the time
/// column and format, and which columns become which metrics.
struct Layout {
  std::vector<text::Line> lines;
  std::size_t header_line = 0;  ///< index into lines
  char separator = ',';
  std::vector<text::Field> header;
  std::size_t time_column = 0;
  std::vector<Mapping> mappings;
  std::optional<TimeFormat> format;
};

Layout read_layout(std::string_view content, const std::string& file, const CsvOptions& options) {
  Layout l;
  l.lines = text::lines(content);
  const std::vector<text::Line>& all = l.lines;
  std::size_t first = 0;
  while (first < all.size() &&
         (text::trim(all[first].text).empty() || all[first].text.starts_with('#'))) {
    ++first;
  }
  if (first == all.size()) {
    text::fail(file, 0, 0, "empty: expected a header row (time and value columns) and samples");
  }
  const text::Line& head = all[first];
  l.header_line = first;
  l.separator = separator_of(head.text);
  l.header = text::csv_fields(head.text, l.separator);
  const std::vector<text::Field>& header = l.header;
  if (header.size() < 2) {
    text::fail(file, head.number, 1,
               "expected a header row with a time column and value columns, found " +
                   text::shown(head.text));
  }
  if (options.time_column) {
    const auto index = find_column(header, *options.time_column);
    if (!index) {
      text::fail(file, head.number, 0,
                 "no time column " + text::shown(*options.time_column) + "; the header has " +
                     column_list(header));
    }
    l.time_column = *index;
  }
  for (const auto& spec : options.metrics) l.mappings.push_back(parse_mapping(spec, header, file));
  if (l.mappings.empty()) {
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (i == l.time_column) continue;
      l.mappings.push_back({metric_name_of(text::trim(header[i].value)), i, 1, ""});
    }
  }
  if (options.time_format) {
    l.format = time_format_named(*options.time_format);
    if (!l.format) {
      text::fail(file, 0, 0,
                 "--time-format " + text::shown(*options.time_format) +
                     " is not one of epoch-s, epoch-ms, iso8601, elapsed-s");
    }
  }
  return l;
}

}  // namespace

Recording csv(std::string_view content, const std::string& file, const CsvOptions& options) {
  Layout l = read_layout(content, file, options);
  const std::vector<text::Line>& all = l.lines;
  const text::Line& head = all[l.header_line];
  const std::size_t first = l.header_line;
  const char separator = l.separator;
  const std::vector<text::Field>& header = l.header;
  const std::size_t time_column = l.time_column;
  const std::vector<Mapping>& mappings = l.mappings;
  std::optional<TimeFormat>& format = l.format;

  Recording rec;
  rec.format = Format::csv;
  ImportedProcess p;
  p.name = "";
  for (const auto& m : mappings) {
    std::string what = "CSV column " + text::shown(text::trim(header[m.column].value));
    if (!m.unit.empty()) what += " in " + m.unit;
    rec.measures[m.metric] = what;
  }
  std::optional<double> t0;
  bool zoneless = false;
  std::size_t bad_times = 0, bad_values = 0;
  const text::Line* first_bad_time = nullptr;
  std::size_t first_bad_column = 0;
  std::string first_bad_found;
  for (std::size_t li = first + 1; li < all.size(); ++li) {
    const text::Line& line = all[li];
    if (text::trim(line.text).empty() || line.text.starts_with('#')) continue;
    const std::vector<text::Field> fields = text::csv_fields(line.text, separator);
    const std::string_view time_text =
        time_column < fields.size() ? text::trim(fields[time_column].value) : std::string_view{};
    if (!format) format = detect(time_text);
    std::optional<double> t;
    if (format == TimeFormat::iso8601) {
      bool has_zone = true;
      t = text::iso8601(time_text, &has_zone);
      zoneless |= t && !has_zone;
    } else if (format) {
      const auto number = text::number(time_text);
      const double value = number.value_or(0) / (format == TimeFormat::epoch_ms ? 1000 : 1);
      // A stamp past the year 9999 (1e300) is a bad time, as text is.
      const bool in_range =
          format == TimeFormat::elapsed_s ? text::elapsed_ok(value) : text::unix_time_ok(value);
      if (number && in_range) t = value;
    }
    if (!t) {
      if (first_bad_time == nullptr) {
        first_bad_time = &line;
        first_bad_column = time_column < fields.size() ? fields[time_column].column : 0;
        first_bad_found = std::string(time_text);
      }
      ++bad_times;
      continue;
    }
    if (!t0) {
      t0 = *t;
      if (format != TimeFormat::elapsed_s) rec.start_unix_s = *t;
    }
    const std::size_t row = p.add_row(*t - *t0);
    for (const auto& m : mappings) {
      if (m.column >= fields.size()) continue;
      const std::string_view cell = text::trim(fields[m.column].value);
      if (cell.empty()) continue;  // blank: not measured
      if (const auto v = text::number(cell)) {
        p.set(row, m.metric, *v * m.scale);
      } else {
        ++bad_values;
      }
    }
  }
  if (!t0) {
    if (first_bad_time == nullptr) {
      text::fail(file, head.number, 0, "expected samples after the header row, found none");
    }
    text::fail(file, first_bad_time->number, first_bad_column,
               "no usable time stamps: expected epoch seconds or milliseconds, ISO 8601 or "
               "elapsed seconds in column " +
                   text::shown(text::trim(header[time_column].value)) + ", found " +
                   text::shown(first_bad_found) + " (name the time column with --time-column)");
  }
  text::warn_count(rec.warnings, bad_times, "rows without a usable time stamp were skipped");
  text::warn_count(rec.warnings, bad_values, "values that are not numbers were read as missing");
  if (zoneless) rec.warnings.push_back("time stamps have no zone: read as UTC");
  rec.processes.push_back(std::move(p));
  return rec;
}

}  // namespace soak::importers::readers
