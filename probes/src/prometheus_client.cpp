#include "soak/probes/prometheus_client.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "soak/probes/http_client.hpp"

namespace soak::probes {

namespace {

std::string sentence(PrometheusFailure reason, const std::string& detail, unsigned http_status) {
  switch (reason) {
    case PrometheusFailure::unreachable:
      return "cannot reach the Prometheus server (" + detail + ")";
    case PrometheusFailure::not_prometheus:
      return "the answer is not Prometheus JSON (HTTP " + std::to_string(http_status) + ")";
    case PrometheusFailure::refused:
      return "Prometheus refused the query: " + detail;
  }
  return detail;
}

/// A sample value as Prometheus writes it ("12.5", "NaN", "+Inf"); nullopt for a gap.
std::optional<double> finite_value(const std::string& text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

/// doc[key] when it is a string, else `fallback` (a wrong type is not worth an exception).
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
    if (!point.is_array() || point.size() != 2 || !point[0].is_number() || !point[1].is_string()) {
      continue;
    }
    if (const auto value = finite_value(point[1].get<std::string>())) {
      s.points.emplace_back(point[0].get<double>(), *value);
    }
  }
  return s;
}

}  // namespace

PrometheusError::PrometheusError(PrometheusFailure reason, std::string detail, unsigned http_status)
    : std::runtime_error(sentence(reason, detail, http_status)),
      reason_(reason),
      detail_(std::move(detail)),
      http_status_(http_status) {}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                            (byte >= '0' && byte <= '9') || c == '-' || c == '.' || c == '_' ||
                            c == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    }
  }
  return out;
}

std::vector<RangeSeries> query_range(const std::string& base_url, const std::string& query,
                                     double start_unix_s, double end_unix_s, double step_s,
                                     std::chrono::nanoseconds timeout) {
  HttpUrl url = parse_http_url(base_url);
  std::string prefix = url.target.substr(0, url.target.find('?'));
  while (prefix.ends_with('/')) prefix.pop_back();
  char times[160];
  std::snprintf(times, sizeof times, "&start=%.3f&end=%.3f&step=%gs", start_unix_s, end_unix_s,
                step_s);
  url.target = prefix + "/api/v1/query_range?query=" + percent_encode(query) + times;
  const HttpResult answer =
      http_get(url, {{"Accept", "application/json"}}, timeout, kMaxQueryRangeBytes);
  if (!answer.ok()) throw PrometheusError(PrometheusFailure::unreachable, answer.message, 0);
  const auto doc = nlohmann::json::parse(answer.body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    throw PrometheusError(PrometheusFailure::not_prometheus, "", answer.status);
  }
  if (string_field(doc, "status", "") != "success") {
    throw PrometheusError(PrometheusFailure::refused, string_field(doc, "error", "unknown error"),
                          answer.status);
  }
  const auto data = doc.find("data");
  if (data == doc.end() || !data->is_object()) {
    throw PrometheusError(PrometheusFailure::not_prometheus, "", answer.status);
  }
  std::vector<RangeSeries> out;
  const auto result = data->find("result");
  if (result == data->end() || !result->is_array()) return out;
  for (const auto& entry : *result) {
    if (entry.is_object()) out.push_back(series_of(entry));
  }
  return out;
}

}  // namespace soak::probes
