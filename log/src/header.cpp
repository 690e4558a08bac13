#include "soak/log/header.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <type_traits>
#include <utility>

#include "soak/log/log.hpp"

namespace soak::log {

namespace {

std::string utc_at(std::time_t when, const char* format) {
  std::tm tm{};
  ::gmtime_r(&when, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

std::optional<double> number_at(const nlohmann::json& header, const char* object, const char* key) {
  if (!header.is_object() || !header.contains(object)) return std::nullopt;
  const nlohmann::json& o = header[object];
  if (!o.is_object() || !o.contains(key) || !o[key].is_number()) return std::nullopt;
  return o[key].get<double>();
}

}  // namespace

constexpr const char* kIso = "%Y-%m-%dT%H:%M:%SZ";

std::string utc_now_iso() {
  return utc_at(std::time(nullptr), kIso);
}
std::string utc_now_compact() {
  return utc_at(std::time(nullptr), "%Y%m%dT%H%M%SZ");
}
std::string utc_iso(double unix_s) {
  // Years 0000 to 9999 only: a time from a file (1e300, inf, NaN) is not cast beyond time_t.
  constexpr double kYear0 = -62167219200, kYear10000 = 253402300800;
  if (!(unix_s >= kYear0 && unix_s < kYear10000)) return std::string(kOutOfRangeTime);
  const auto when = static_cast<std::time_t>(std::floor(unix_s));
  std::tm tm{};
  ::gmtime_r(&when, &tm);
  char buf[80];  // the year in four digits (strftime's %Y writes the year 0 as "0")
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

nlohmann::ordered_json make_header(const HeaderFields& f) {
  nlohmann::ordered_json header = {
      {"type", "header"},
      {"format", kLogFormat},
      {"version", kLogVersion},
      {"started_at", f.started_at},
      {"interval_s", f.interval_s},
      {"target",
       {{"pid", f.target.pid},
        {"name", f.target.name},
        {"cmdline", f.target.cmdline},
        {"start_ticks", f.target.start_ticks},
        {"uid", f.target.uid}}},
      {"host",
       {{"kernel", f.host.kernel},
        {"page_size", f.host.page_size},
        {"mem_total_bytes", f.host.mem_total_bytes},
        {"clock_ticks_per_s", f.host.clock_ticks_per_s}}},
      {"mode", f.mode},
      {"soak_version", f.soak_version},
  };
  if (f.planned_duration_s) header["planned_duration_s"] = *f.planned_duration_s;
  return header;
}

void add_import(nlohmann::ordered_json& header, const ImportFacts& f) {
  nlohmann::ordered_json facts = {{"format", f.format},
                                  {"file", f.file},
                                  {"bytes", f.bytes},
                                  {"sha1", f.sha1},
                                  {"started_at_estimated", f.started_at_estimated},
                                  {"measures", nlohmann::ordered_json::object()}};
  for (const auto& [metric, what] : f.measures) facts["measures"][metric] = what;
  if (!f.judged_series.empty()) facts["judged_series"] = f.judged_series;
  if (!f.processes.empty()) {
    facts["processes"] = nlohmann::ordered_json::object();
    for (const auto& [key, id] : f.processes) {
      nlohmann::ordered_json p = {{"name", id.name}, {"pid", id.pid}, {"cmdline", id.cmdline}};
      if (!id.labels.empty()) p["labels"] = id.labels;
      facts["processes"][key] = std::move(p);
    }
    header["version"] = kLogVersionRead;
  }
  header["import"] = std::move(facts);
}

void add_scenario(nlohmann::ordered_json& header, const ScenarioFacts& s) {
  nlohmann::ordered_json limits = nlohmann::ordered_json::object();
  if (s.error_rate_limit) limits["error_rate"] = *s.error_rate_limit;
  if (s.p95_limit_s) limits["p95_s"] = *s.p95_limit_s;
  header["scenario"] = {{"name", s.name},
                        {"file", s.file},
                        {"base_url", s.base_url},
                        {"model", s.model},
                        {"limits", limits}};
  if (s.targets.is_object() && !s.targets.empty()) header["targets"] = s.targets;
}

namespace {

const nlohmann::json& object_at(const nlohmann::json& header, const char* key) {
  static const nlohmann::json empty = nlohmann::json::object();
  if (!header.is_object() || !header.contains(key) || !header[key].is_object()) return empty;
  return header[key];
}

/// The number `v` as the integer type T, or `fallback` when T cannot hold it (a pid of 1e100,
/// a negative page size): converting it would be undefined, and it is a mistyped field.
template <typename T>
T integer_or(const nlohmann::json& v, T fallback) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    return std::in_range<T>(u) ? static_cast<T>(u) : fallback;
  }
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    return std::in_range<T>(i) ? static_cast<T>(i) : fallback;
  }
  const double d = v.get<double>();
  const double bound = std::ldexp(1.0, std::numeric_limits<T>::digits);  // T's max + 1
  const double low = std::is_signed_v<T> ? -bound : 0.0;
  return d >= low && d < bound ? static_cast<T>(d) : fallback;
}

template <typename T>
T value_at(const nlohmann::json& object, const char* key, T fallback) {
  if (!object.is_object() || !object.contains(key)) return fallback;
  const nlohmann::json& v = object[key];
  if constexpr (std::is_same_v<T, std::string>) {
    return v.is_string() ? v.get<std::string>() : fallback;
  } else if constexpr (std::is_integral_v<T>) {
    return v.is_number() ? integer_or<T>(v, fallback) : fallback;
  } else {
    return v.is_number() ? v.get<T>() : fallback;
  }
}

}  // namespace

TargetFacts target_facts(const nlohmann::json& header) {
  const nlohmann::json& t = object_at(header, "target");
  TargetFacts facts;
  facts.pid = value_at<std::int64_t>(t, "pid", 0);
  facts.name = value_at<std::string>(t, "name", "");
  if (t.contains("cmdline") && t["cmdline"].is_array()) {
    for (const auto& arg : t["cmdline"]) {
      if (arg.is_string()) facts.cmdline.push_back(arg.get<std::string>());
    }
  }
  facts.start_ticks = value_at<std::uint64_t>(t, "start_ticks", 0);
  facts.uid = value_at<std::uint32_t>(t, "uid", 0);
  return facts;
}

HeaderFields read_header(const nlohmann::json& header) {
  HeaderFields f;
  f.started_at = value_at<std::string>(header, "started_at", "");
  f.interval_s = value_at<double>(header, "interval_s", 0);
  f.target = target_facts(header);
  const nlohmann::json& h = object_at(header, "host");
  f.host.kernel = value_at<std::string>(h, "kernel", "");
  f.host.page_size = value_at<std::uint64_t>(h, "page_size", 0);
  f.host.mem_total_bytes = value_at<std::uint64_t>(h, "mem_total_bytes", 0);
  f.host.clock_ticks_per_s = value_at<long>(h, "clock_ticks_per_s", 0);
  f.mode = value_at<std::string>(header, "mode", "");
  if (header.is_object() && header.contains("planned_duration_s") &&
      header["planned_duration_s"].is_number()) {
    f.planned_duration_s = header["planned_duration_s"].get<double>();
  }
  f.soak_version = value_at<std::string>(header, "soak_version", "");
  return f;
}

namespace {

std::map<std::string, std::string> string_map(const nlohmann::json& object) {
  std::map<std::string, std::string> out;
  if (!object.is_object()) return out;
  for (const auto& [key, value] : object.items()) {
    if (value.is_string()) out[key] = value.get<std::string>();
  }
  return out;
}

}  // namespace

std::optional<ImportFacts> import_facts(const nlohmann::json& header) {
  if (!header.is_object() || !header.contains("import") || !header["import"].is_object()) {
    return std::nullopt;
  }
  const nlohmann::json& i = header["import"];
  ImportFacts f;
  f.format = value_at<std::string>(i, "format", "");
  f.file = value_at<std::string>(i, "file", "");
  f.bytes = value_at<std::uint64_t>(i, "bytes", 0);
  f.sha1 = value_at<std::string>(i, "sha1", "");
  f.started_at_estimated = i.contains("started_at_estimated") &&
                           i["started_at_estimated"].is_boolean() &&
                           i["started_at_estimated"].get<bool>();
  if (i.contains("measures")) f.measures = string_map(i["measures"]);
  f.judged_series = value_at<std::string>(i, "judged_series", "");
  if (i.contains("processes") && i["processes"].is_object()) {
    for (const auto& [key, p] : i["processes"].items()) {
      ImportedIdentity id;
      id.name = value_at<std::string>(p, "name", key);
      id.pid = value_at<std::int64_t>(p, "pid", 0);
      if (p.is_object() && p.contains("cmdline") && p["cmdline"].is_array()) {
        for (const auto& arg : p["cmdline"]) {
          if (arg.is_string()) id.cmdline.push_back(arg.get<std::string>());
        }
      }
      if (p.is_object() && p.contains("labels")) id.labels = string_map(p["labels"]);
      f.processes[key] = std::move(id);
    }
  }
  return f;
}

std::optional<double> host_memory_bytes(const nlohmann::json& header) {
  const auto bytes = number_at(header, "host", "mem_total_bytes");
  if (!bytes || *bytes <= 0) return std::nullopt;
  return bytes;
}

std::optional<nlohmann::json> targets_document(const nlohmann::json& header) {
  if (!header.is_object() || !header.contains("targets") || !header["targets"].is_object()) {
    return std::nullopt;
  }
  return header["targets"];
}

namespace {

std::optional<double> scenario_limit(const nlohmann::json& header, const char* key) {
  if (!header.is_object() || !header.contains("scenario")) return std::nullopt;
  return number_at(header["scenario"], "limits", key);
}

}  // namespace

std::optional<double> scenario_error_rate_limit(const nlohmann::json& header) {
  return scenario_limit(header, "error_rate");
}

std::optional<double> scenario_p95_limit_s(const nlohmann::json& header) {
  return scenario_limit(header, "p95_s");
}

}  // namespace soak::log
