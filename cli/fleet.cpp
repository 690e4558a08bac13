// soak analyze --prometheus URL --query PROMQL: judge every series a Prometheus server has for
// a query over a window, with the same classification as a single run.

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "soak/analysis/classify.hpp"
#include "soak/analysis/verdict.hpp"
#include "soak/report/format.hpp"
#include "soak/report/words.hpp"

namespace soak::cli {

namespace {

struct FleetSeries {
  nlohmann::json labels;
  std::string name;
  std::vector<double> t, v;
  analysis::SeriesAnalysis analysis;
};

std::string describe_labels(const nlohmann::json& labels) {
  std::string out;
  for (const auto& [k, v] : labels.items()) {
    if (k == "__name__") continue;
    out += (out.empty() ? "" : ",") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out.empty() ? "{}" : "{" + out + "}";
}

}  // namespace

ExitCode fleet_command(const FleetOptions& options) {
  const std::string& url = options.prometheus_url;
  if (url.rfind("http://", 0) != 0) throw UsageError("--prometheus: expected an http:// URL, got '" + url + "'");
  const std::string rest = url.substr(7);
  const auto slash = rest.find('/');
  const std::string base = "http://" + rest.substr(0, slash);
  const std::string prefix = slash == std::string::npos ? "" : rest.substr(slash);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const double start = now - options.since_s;
  char times[160];
  std::snprintf(times, sizeof times, "&start=%.3f&end=%.3f&step=%gs", start, now, options.step_s);
  httplib::Client client(base);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(60));
  const std::string path = (prefix.empty() || prefix == "/" ? "" : prefix) + "/api/v1/query_range?query=" +
                           httplib::detail::encode_query_param(options.query) + times;
  const auto res = client.Get(path.c_str());
  if (!res) {
    throw RuntimeError("cannot reach the Prometheus server at " + base + " (" + httplib::to_string(res.error()) +
                       "); check --prometheus");
  }
  const auto doc = nlohmann::json::parse(res->body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    throw RuntimeError(base + " did not answer with Prometheus JSON (HTTP " + std::to_string(res->status) + ")");
  }
  if (doc.value("status", "") != "success") {
    throw UsageError("Prometheus refused the query: " + doc.value("error", std::string("unknown error")) +
                     "; check --query");
  }
  std::vector<FleetSeries> series;
  for (const auto& r : doc["data"].value("result", nlohmann::json::array())) {
    FleetSeries s;
    s.labels = r.value("metric", nlohmann::json::object());
    s.name = s.labels.value("__name__", std::string("value"));
    if (s.labels.contains("metric") && s.labels["metric"].is_string()) s.name = s.labels["metric"].get<std::string>();
    for (const auto& point : r.value("values", nlohmann::json::array())) {
      if (!point.is_array() || point.size() != 2 || !point[1].is_string()) continue;
      const double value = std::strtod(point[1].get<std::string>().c_str(), nullptr);
      if (!std::isfinite(value)) continue;  // NaN/Inf samples are gaps
      s.t.push_back(point[0].get<double>() - start);
      s.v.push_back(value);
    }
    analysis::ClassifyOptions copts;
    copts.integer_valued = analysis::metric_kind(s.name) == analysis::MetricKind::integer_gauge;
    s.analysis = analysis::classify_series(s.t, s.v, copts);
    series.push_back(std::move(s));
  }
  std::sort(series.begin(), series.end(), [](const FleetSeries& a, const FleetSeries& b) {
    return a.analysis.growth_per_s > b.analysis.growth_per_s;
  });
  bool any_leak = false, any_judged = false;
  for (const auto& s : series) {
    any_leak |= s.analysis.classification == analysis::Classification::leak;
    any_judged |= s.analysis.classification != analysis::Classification::insufficient;
  }
  const analysis::VerdictKind verdict = any_leak ? analysis::VerdictKind::fail
                                        : any_judged ? analysis::VerdictKind::pass
                                                     : analysis::VerdictKind::inconclusive;
  if (options.format == "json") {
    nlohmann::ordered_json out;
    out["verdict"] = analysis::to_string(verdict);
    out["query"] = options.query;
    out["since_s"] = options.since_s;
    out["series"] = nlohmann::ordered_json::array();
    for (const auto& s : series) {
      out["series"].push_back({{"labels", s.labels},
                               {"classification", analysis::to_string(s.analysis.classification)},
                               {"growth_per_min", s.analysis.growth_per_s * 60},
                               {"growth_ci95", {s.analysis.ci_low_per_s * 60, s.analysis.ci_high_per_s * 60}},
                               {"points", s.t.size()},
                               {"reason", report::describe_reason(s.analysis.reason)}});
    }
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("verdict: %s  (%zu series from %s)\n", analysis::to_string(verdict), series.size(), base.c_str());
    for (const auto& s : series) {
      const auto& a = s.analysis;
      std::printf("  %-12s %s/min [%s, %s]  %s %s\n", analysis::to_string(a.classification),
                  report::format_metric_value(s.name, a.growth_per_s * 60).c_str(),
                  report::format_metric_value(s.name, a.ci_low_per_s * 60).c_str(),
                  report::format_metric_value(s.name, a.ci_high_per_s * 60).c_str(), s.name.c_str(),
                  describe_labels(s.labels).c_str());
    }
  }
  return verdict == analysis::VerdictKind::fail ? ExitCode::fail
         : verdict == analysis::VerdictKind::pass ? ExitCode::pass
                                                   : ExitCode::inconclusive;
}

}  // namespace soak::cli
