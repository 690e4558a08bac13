// soak analyze --prometheus URL --query PROMQL: every series of a query over a window, each
// judged on its own through the same verdict path as a run (soak::judge).

#include <chrono>
#include <cstdio>

#include "commands.hpp"
#include "soak/importers/prometheus_names.hpp"
#include "soak/log/header.hpp"
#include "soak/probes/prometheus_client.hpp"
#include "soak/report/format.hpp"

namespace soak::cli {

namespace {

/// One query_range exchange, whole: Prometheus answers big windows in seconds.
constexpr auto kQueryTimeout = std::chrono::seconds(60);

/// The query's series, or the failure mapped to its exit code (a refused query is the user's
/// to fix; a server that cannot be reached or does not speak Prometheus is the world's).
std::vector<probes::RangeSeries> fetch(const FleetOptions& options, double start, double end) {
  try {
    return probes::query_range(options.prometheus_url, options.query, start, end, options.step_s,
                               kQueryTimeout);
  } catch (const probes::UrlError& e) {
    throw UsageError(std::string("--prometheus: ") + e.what());
  } catch (const probes::PrometheusError& e) {
    const std::string& url = options.prometheus_url;
    switch (e.reason()) {
      case probes::PrometheusFailure::unreachable:
        throw RuntimeError("cannot reach the Prometheus server at " + url + " (" + e.detail() +
                           "); check --prometheus");
      case probes::PrometheusFailure::not_prometheus:
        throw RuntimeError(url + " did not answer with Prometheus JSON (HTTP " +
                           std::to_string(e.http_status()) + ")");
      case probes::PrometheusFailure::refused:
        throw UsageError("Prometheus refused the query: " + e.detail() + "; check --query");
    }
    throw;
  }
}

/// The soak metric the series are, when the user did not say (--as) and every one is a series
/// soak's exporter serves for the same metric (soak_target_resident_memory_bytes: rss_bytes),
/// so that they get that metric's checks; otherwise --as as given.
std::optional<std::string> judged_as(const FleetOptions& options,
                                     const std::vector<judge::LabelledSeries>& series) {
  if (options.as_metric || series.empty()) return options.as_metric;
  std::optional<std::string> common;
  for (const auto& s : series) {
    const auto metric = importers::soak_metric_of(s.labels);
    if (!metric || s.labels.count("metric") > 0 || (common && *common != *metric)) {
      return std::nullopt;
    }
    common = metric;
  }
  return common;
}

}  // namespace

ExitCode fleet_command(const FleetOptions& options) {
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const double end = options.end_unix_s.value_or(now);
  const double start = end - options.since_s;
  std::vector<judge::LabelledSeries> series;
  for (auto& r : fetch(options, start, end)) {
    judge::LabelledSeries s;
    s.labels = std::move(r.labels);
    for (const auto& [t, v] : r.points) {
      s.t.push_back(t - start);
      s.value.push_back(v);
    }
    series.push_back(std::move(s));
  }
  const judge::Judgement judgement = judge::judge_series(
      series, judged_as(options, series), {options.prometheus_url, log::utc_iso(start)},
      options.judge,
      {std::nullopt, options.junit_file, std::nullopt, options.junit_inconclusive_fails});
  for (const auto& w : judgement.warnings) std::fprintf(stderr, "soak: warning: %s\n", w.c_str());
  if (options.format == "json") {
    nlohmann::ordered_json document = judgement.document;
    document["source"] = {{"prometheus", options.prometheus_url},
                          {"query", options.query},
                          {"start", log::utc_iso(start)},
                          {"since_s", options.since_s},
                          {"step_s", options.step_s}};
    std::printf("%s\n", document.dump(2).c_str());
  } else {
    std::fputs(report::verdict_to_text(judgement.verdict, {false}).c_str(), stdout);
    std::printf("  %zu series of %s from %s\n", series.size(), options.query.c_str(),
                options.prometheus_url.c_str());
  }
  std::fflush(stdout);
  return exit_code_for(judgement.verdict.verdict);
}

}  // namespace soak::cli
