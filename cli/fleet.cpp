// soak analyze --prometheus URL --query PROMQL: judge every series a Prometheus server has for
// a query over a window, with the same classification as a single run.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "soak/analysis/classify.hpp"
#include "soak/analysis/verdict.hpp"
#include "soak/probes/prometheus_client.hpp"
#include "soak/report/format.hpp"
#include "soak/report/words.hpp"

namespace soak::cli {

namespace {

/// One query_range exchange, whole: Prometheus answers big windows in seconds.
constexpr auto kQueryTimeout = std::chrono::seconds(60);

struct FleetSeries {
  std::map<std::string, std::string> labels;
  std::string name;
  std::vector<double> t, v;
  analysis::SeriesAnalysis analysis;
};

std::string describe_labels(const std::map<std::string, std::string>& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    if (k == "__name__") continue;
    out += (out.empty() ? "" : ",") + k + "=" + v;
  }
  return out.empty() ? "{}" : "{" + out + "}";
}

}  // namespace

ExitCode fleet_command(const FleetOptions& options) {
  const std::string& url = options.prometheus_url;
  if (url.rfind("http://", 0) != 0) throw UsageError("--prometheus: expected an http:// URL, got '" + url + "'");
  const std::string rest = url.substr(7);
  const std::string base = "http://" + rest.substr(0, rest.find('/'));
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const double start = now - options.since_s;
  std::vector<probes::RangeSeries> answer;
  try {
    answer = probes::query_range(url, options.query, start, now, options.step_s, kQueryTimeout);
  } catch (const probes::UrlError& e) {
    throw UsageError(std::string("--prometheus: ") + e.what());
  } catch (const probes::PrometheusError& e) {
    switch (e.reason()) {
      case probes::PrometheusFailure::unreachable:
        throw RuntimeError("cannot reach the Prometheus server at " + base + " (" + e.detail() +
                           "); check --prometheus");
      case probes::PrometheusFailure::not_prometheus:
        throw RuntimeError(base + " did not answer with Prometheus JSON (HTTP " +
                           std::to_string(e.http_status()) + ")");
      case probes::PrometheusFailure::refused:
        throw UsageError("Prometheus refused the query: " + e.detail() + "; check --query");
    }
    throw;
  }
  std::vector<FleetSeries> series;
  for (auto& r : answer) {
    FleetSeries s;
    s.labels = std::move(r.labels);
    const auto name = s.labels.find("__name__");
    s.name = name != s.labels.end() ? name->second : "value";
    if (const auto metric = s.labels.find("metric"); metric != s.labels.end())
      s.name = metric->second;
    for (const auto& [t, v] : r.points) {
      s.t.push_back(t - start);
      s.v.push_back(v);
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
