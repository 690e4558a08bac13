// A Prometheus /api/v1/query_range answer (`soak import prometheus`), and the one parser of
// that answer (soak/importers/prometheus.hpp), which the probes' query_range client shares.

#include "soak/importers/prometheus.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "readers.hpp"
#include "soak/importers/prometheus_names.hpp"
#include "soak/importers/text.hpp"
#include "soak/log/metrics.hpp"

namespace soak::importers {

namespace {

/// A sample value as Prometheus writes it ("12.5", "NaN", "+Inf"); nullopt for a gap.
std::optional<double> finite_value(const std::string& text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

/// doc[key] when it is a string, else `fallback` (a wrong type is not worth a failure).
std::string string_field(const nlohmann::json& doc, const char* key, const std::string& fallback) {
  const auto it = doc.find(key);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : fallback;
}

RangeSeries series_of(const nlohmann::json& entry) {
  RangeSeries s;
  const auto metric = entry.find("metric");
  const auto values = entry.find("values");
  if (metric != entry.end() && metric->is_object()) {
    for (const auto& [name, value] : metric->items()) {
      s.labels[name] = value.is_string() ? value.get<std::string>() : value.dump();
    }
  }
  if (values == entry.end() || !values->is_array()) return s;
  for (const auto& point : *values) {
    if (!point.is_array() || point.size() != 2 || !point[0].is_number() || !point[1].is_string() ||
        !text::unix_time_ok(point[0].get<double>())) {  // [1e300, "1"]: no time
      ++s.malformed;
      continue;
    }
    if (const auto value = finite_value(point[1].get<std::string>())) {
      s.points.emplace_back(point[0].get<double>(), *value);
    } else {
      ++s.gaps;
    }
  }
  return s;
}

}  // namespace

QueryRangeAnswer parse_query_range(std::string_view json) {
  QueryRangeAnswer answer;
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json.begin(), json.end());
  } catch (const nlohmann::json::parse_error& e) {
    answer.failure = QueryRangeFailure::not_json;
    answer.error = e.what();
    answer.error_byte = e.byte;
    return answer;
  } catch (const nlohmann::json::exception& e) {  // a number past a double's range (1e999)
    answer.failure = QueryRangeFailure::not_json;
    answer.error = e.what();
    return answer;
  }
  if (doc.is_array()) {  // promtool query range -o json: the result alone
    answer.bare = true;
    answer.result_type = "matrix";
    bool values = false, value = false;
    for (const auto& entry : doc) {
      if (!entry.is_object()) continue;
      values |= entry.contains("values");
      value |= entry.contains("value");
      answer.series.push_back(series_of(entry));
    }
    if (value && !values) answer.result_type = "vector";
    return answer;
  }
  if (!doc.is_object()) {
    answer.failure = QueryRangeFailure::not_json;
    return answer;
  }
  for (const char* key : {"warnings", "infos"}) {
    const auto notes = doc.find(key);
    if (notes == doc.end() || !notes->is_array()) continue;
    for (const auto& note : *notes) {
      if (note.is_string()) answer.warnings.push_back(note.get<std::string>());
    }
  }
  if (string_field(doc, "status", "") != "success") {
    answer.failure = QueryRangeFailure::refused;
    answer.error = string_field(doc, "error", "unknown error");
    return answer;
  }
  const auto data = doc.find("data");
  if (data == doc.end() || !data->is_object()) {
    answer.failure = QueryRangeFailure::not_prometheus;
    return answer;
  }
  answer.result_type = string_field(*data, "resultType", "");
  const auto result = data->find("result");
  if (result == data->end() || !result->is_array()) return answer;
  for (const auto& entry : *result) {
    if (entry.is_object()) answer.series.push_back(series_of(entry));
  }
  return answer;
}

namespace readers {

namespace {

constexpr std::string_view kExpected =
    "expected a Prometheus query_range answer (curl 'http://HOST:9090/api/v1/query_range?"
    "query=...&start=...&end=...&step=...' > FILE.json)";

/// soak's own metric names (log/metrics.hpp), as a `metric` label may carry them (soak's
/// exporter labelled soak_target_value so before the renames in docs/verdicts.md).
bool soak_metric_name(std::string_view name) {
  namespace m = log::metric;
  static constexpr std::array<std::string_view, 14> kNames = {
      m::rss_bytes, m::vms_bytes,  m::anon_bytes,   m::threads,           m::fds,
      m::handles,   m::cpu_s,      m::minor_faults, m::major_faults,      m::pss_bytes,
      m::uss_bytes, m::swap_bytes, m::children,     m::children_rss_bytes};
  const std::string_view base = m::base_of(name);
  if (std::find(kNames.begin(), kNames.end(), base) != kNames.end()) return true;
  for (const auto prefix : {m::heap_prefix, m::load_prefix, m::region_prefix, m::cgroup_prefix}) {
    if (base.starts_with(prefix) && base.size() > prefix.size()) return true;
  }
  return false;
}

/// A Prometheus metric name as a soak metric name: lower case, other characters as '_'.
std::string sanitized(std::string_view name) {
  std::string out;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '_');
  }
  return out.empty() ? "value" : out;
}

std::string label(const std::map<std::string, std::string>& labels, const std::string& name) {
  const auto it = labels.find(name);
  return it == labels.end() ? "" : it->second;
}

struct Judged {
  std::string metric;
  std::string measures;
};

/// The soak metric a series is judged as, and what it measures in words.
Judged judged_as(const std::map<std::string, std::string>& labels) {
  const std::string name = label(labels, "__name__");
  const std::string what =
      name.empty() ? std::string("Prometheus series without a metric name (an expression's)")
                   : "Prometheus " + name;
  if (const auto exported = soak_metric_of(labels)) {  // a series soak's exporter serves
    return {*exported, what};
  }
  if (const std::string metric = label(labels, "metric"); soak_metric_name(metric)) {
    return {metric, what + "{metric=\"" + metric + "\"}"};
  }
  if (name == "process_resident_memory_bytes") {
    return {std::string(log::metric::rss_bytes), what + " (the process's resident set)"};
  }
  if (name == "container_memory_working_set_bytes") {
    return {std::string(log::metric::rss_bytes), what + " (the container's working set)"};
  }
  const bool jvm = name == "jvm_memory_used_bytes" || name == "jvm_memory_bytes_used";
  if (jvm && label(labels, "area") == "heap") {
    return {"heap.used_bytes", what + "{area=\"heap\"} (JVM heap in use)"};
  }
  return {sanitized(name), what};
}

/// A series' name: its identifying labels' values (the metric's name only when the series'
/// names differ, or nothing else names it); its other labels added when two would clash.
std::vector<std::string> names_of(const std::vector<RangeSeries>& series) {
  static constexpr std::array<const char*, 4> kNaming = {"job", "instance", "pod", "container"};
  const bool one_metric = std::all_of(series.begin(), series.end(), [&](const RangeSeries& s) {
    return label(s.labels, "__name__") == label(series.front().labels, "__name__");
  });
  std::vector<std::string> names;
  for (const auto& s : series) {
    std::string name = one_metric ? "" : label(s.labels, "__name__");
    for (const char* key : kNaming) {
      const std::string value = label(s.labels, key);
      if (value.empty()) continue;
      name += (name.empty() ? "" : " ") + value;
    }
    names.push_back(name.empty() ? label(s.labels, "__name__") : name);
  }
  std::vector<std::string> out = names;
  for (std::size_t i = 0; i < series.size(); ++i) {
    if (!names[i].empty() && std::count(names.begin(), names.end(), names[i]) == 1) continue;
    std::string rest;
    for (const auto& [key, value] : series[i].labels) {
      if (key == "__name__" || std::find(kNaming.begin(), kNaming.end(), key) != kNaming.end()) {
        continue;
      }
      rest += (rest.empty() ? "" : ",") + key + "=" + value;
    }
    if (!rest.empty()) out[i] += (out[i].empty() ? "{" : " {") + rest + "}";
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i].empty() || seen.count(out[i]) > 0) {
      out[i] += (out[i].empty() ? "series " : " #") + std::to_string(i + 1);
    }
    seen.insert(out[i]);
  }
  return out;
}

/// The 1-based line and column of 1-based byte `byte` of `content`.
std::pair<std::size_t, std::size_t> position_of(std::string_view content, std::size_t byte) {
  const std::size_t end = std::min(byte == 0 ? 0 : byte - 1, content.size());
  const std::string_view before = content.substr(0, end);
  const std::size_t line =
      1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
  const std::size_t newline = before.rfind('\n');
  const std::size_t column = newline == std::string_view::npos ? end + 1 : end - newline;
  return {line, column};
}

/// Throws the ImportError of an answer that is not a usable matrix.
[[noreturn]] void fail_answer(const QueryRangeAnswer& answer, std::string_view content,
                              const std::string& file) {
  if (text::trim(content).empty()) text::fail(file, 0, 0, "empty: " + std::string(kExpected));
  if (answer.failure == QueryRangeFailure::not_json) {
    const auto [line, column] = position_of(content, answer.error_byte);
    const std::size_t from =
        std::min(answer.error_byte == 0 ? 0 : answer.error_byte - 1, content.size());
    text::fail(file, answer.error_byte == 0 ? 0 : line, answer.error_byte == 0 ? 0 : column,
               "not a JSON object: " + std::string(kExpected) + ", found " +
                   text::shown(content.substr(from, 40)));
  }
  if (answer.failure == QueryRangeFailure::refused) {
    text::fail(file, 0, 0,
               "an error answer (\"" + answer.error +
                   "\"): expected a query_range (matrix) answer; fix the query and save again");
  }
  if (answer.failure == QueryRangeFailure::not_prometheus) {
    text::fail(file, 0, 0, "JSON without the API's \"data\" object: " + std::string(kExpected));
  }
  text::fail(file, 0, 0,
             (answer.result_type.empty() ? std::string("an answer without a resultType")
                                         : "a \"" + answer.result_type + "\" answer") +
                 (answer.result_type == "vector" ? " (an instant query, /api/v1/query)" : "") +
                 ": expected a query_range (matrix) answer from /api/v1/query_range");
}

}  // namespace

Recording prometheus(std::string_view content, const std::string& file) {
  const QueryRangeAnswer answer = parse_query_range(content);
  if (!answer.ok() || answer.result_type != "matrix") fail_answer(answer, content, file);
  Recording rec;
  for (const auto& warning : answer.warnings) {
    rec.warnings.push_back("Prometheus warned: " + warning);
  }
  if (answer.series.empty()) {
    text::fail(file, 0, 0, "a matrix with no series: the query matched nothing; widen it");
  }
  rec.format = Format::prometheus;
  double t0 = INFINITY;
  std::size_t gaps = 0, malformed = 0, unnamed = 0;
  for (const auto& s : answer.series) {
    for (const auto& point : s.points) t0 = std::min(t0, point.first);
    gaps += s.gaps;
    malformed += s.malformed;
    unnamed += label(s.labels, "__name__").empty() && !soak_metric_name(label(s.labels, "metric"));
  }
  if (!std::isfinite(t0)) {
    text::fail(file, 0, 0,
               "no values to import: expected finite sample values in the matrix, found " +
                   std::to_string(gaps) + " gaps (NaN, Inf) and " + std::to_string(malformed) +
                   " malformed points");
  }
  rec.start_unix_s = t0;
  const std::vector<std::string> names = names_of(answer.series);
  std::map<std::string, std::set<std::string>> measures;
  for (std::size_t i = 0; i < answer.series.size(); ++i) {
    const RangeSeries& s = answer.series[i];
    const Judged judged = judged_as(s.labels);
    ImportedProcess p;
    p.name = names[i];
    p.key = names[i];
    p.labels = s.labels;
    for (const auto& [t, value] : s.points) p.set(p.add_row(t - t0), judged.metric, value);
    if (!s.points.empty()) measures[judged.metric].insert(judged.measures);
    rec.processes.push_back(std::move(p));
  }
  for (const auto& [metric, sources] : measures) {
    std::string what;
    for (const auto& source : sources) what += (what.empty() ? "" : "; ") + source;
    rec.measures[metric] = what;
  }
  text::warn_count(rec.warnings, gaps, "NaN or Inf values were read as gaps");
  text::warn_count(rec.warnings, malformed, "points that are not [time, \"value\"] were skipped");
  text::warn_count(rec.warnings, unnamed,
                   "series have no __name__ (an aggregation or function drops it) and were "
                   "judged as \"value\"; query the metric itself, or keep its name with "
                   "label_replace(..., \"__name__\", ...)");
  return rec;
}

}  // namespace readers

}  // namespace soak::importers
