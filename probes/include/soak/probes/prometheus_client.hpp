#pragma once
// A Prometheus server's HTTP API, the part soak reads: /api/v1/query_range, the series a PromQL
// query gives over a window (`soak analyze --prometheus`). Fetched with soak's own client
// (http_client.hpp), so the same bounds hold: one timeout over the whole exchange and a bounded
// answer (kMaxQueryRangeBytes).
//
// Thread-safety: query_range shares nothing between calls; call it from any thread.
// Failure modes: every failure throws PrometheusError with a reason (see PrometheusFailure);
// a base URL that is not http:// throws UrlError (from parse_http_url) before anything is sent.

#include <chrono>
#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "soak/importers/prometheus.hpp"
#include "soak/probes/http_client.hpp"

namespace soak::probes {

/// The largest query_range answer read. A day of 1 s steps is 86,400 points of ~30 bytes per
/// series, so this is room for ~100 such series; past it the query is too wide to judge here
/// (narrow --query, or raise --step).
inline constexpr std::size_t kMaxQueryRangeBytes = std::size_t{256} << 20;

/// One series of a query_range answer (parsed by importers::parse_query_range, the one parser
/// of that answer, which `soak import prometheus` shares).
using RangeSeries = importers::RangeSeries;

enum class PrometheusFailure {
  unreachable,     ///< no answer: refused, unresolved, timed out, too large, not HTTP
  not_prometheus,  ///< an answer, but not the Prometheus API's JSON
  refused,         ///< Prometheus answered with an error for this query (bad PromQL, ...)
};

/// A query_range that gave no series. what() is one sentence; detail() is the part to show
/// after a caller's own context: the transport's message, or Prometheus's own error text.
class PrometheusError : public std::runtime_error {
 public:
  PrometheusError(PrometheusFailure reason, std::string detail, unsigned http_status);
  PrometheusFailure reason() const { return reason_; }
  const std::string& detail() const { return detail_; }
  unsigned http_status() const { return http_status_; }  ///< 0 when no answer arrived

 private:
  PrometheusFailure reason_;
  std::string detail_;
  unsigned http_status_;
};

/// Percent-encodes `text` for a URL query value: everything but A-Z a-z 0-9 - . _ ~ as %XX.
std::string percent_encode(std::string_view text);

/// GET BASE/api/v1/query_range?query=QUERY&start=..&end=..&step=..s. `base_url` is the server's
/// root ("http://127.0.0.1:9090", a path prefix kept: "http://host/prometheus"); times are unix
/// seconds; `step_s` > 0. Blocks for at most about `timeout`. Throws PrometheusError or UrlError.
std::vector<RangeSeries> query_range(const std::string& base_url, const std::string& query,
                                     double start_unix_s, double end_unix_s, double step_s,
                                     std::chrono::nanoseconds timeout);

}  // namespace soak::probes
