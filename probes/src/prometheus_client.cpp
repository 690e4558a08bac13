#include "soak/probes/prometheus_client.hpp"

#include <cstdio>
#include <utility>

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
  importers::QueryRangeAnswer parsed = importers::parse_query_range(answer.body);
  if (parsed.failure == importers::QueryRangeFailure::refused) {
    throw PrometheusError(PrometheusFailure::refused, parsed.error, answer.status);
  }
  if (!parsed.ok() || parsed.bare) {
    throw PrometheusError(PrometheusFailure::not_prometheus, "", answer.status);
  }
  return std::move(parsed.series);
}

}  // namespace soak::probes
