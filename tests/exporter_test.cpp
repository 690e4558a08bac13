// The live exporter's names (soak/importers/prometheus_names.hpp): every soak metric under its
// Prometheus name in base units, growth per second, the classification and the verdict as state
// sets; `promtool check metrics` on what a real run serves over a real socket; the Grafana
// dashboard in examples/grafana/ asks only for what the exporter serves.

#include "soak/probes/exporter.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "soak/importers/prometheus_names.hpp"
#include "soak/log/metrics.hpp"
#include "soak/probes/http_client.hpp"
#include "soak/probes/prometheus.hpp"
#include "support.hpp"

using namespace soak::probes;
using namespace soak::test;
namespace metric = soak::log::metric;

namespace {

constexpr const char* kPromtool = "/usr/bin/promtool";

/// What a scrape of `exporter` returns over its socket.
std::string scrape(const Exporter& exporter) {
  const HttpResult r = http_get(parse_http_url(exporter.url()), {}, 5s, 1 << 20);
  REQUIRE(r.ok());
  REQUIRE(r.status == 200);
  return r.body;
}

/// `promtool check metrics` on `text`: its exit code and what it said.
std::pair<int, std::string> promtool_check(const std::string& text) {
  TempDir dir;
  const fs::path file = dir / "scrape.txt";
  std::ofstream(file) << text;
  Child promtool({"sh", "-c", std::string(kPromtool) + " check metrics < '" + file.string() + "'"});
  const auto code = promtool.wait_for(30s);
  return {code.value_or(-1), promtool.out() + promtool.err()};
}

/// Every metric soak writes itself (log/metrics.hpp), with a value each, and members of each
/// family: what a launched run with a scenario, a probe, regions and a cgroup could sample.
std::vector<std::pair<std::string, double>> every_metric() {
  std::vector<std::pair<std::string, double>> all;
  double v = 1;
  for (const std::string_view name : {metric::rss_bytes,
                                      metric::vms_bytes,
                                      metric::anon_bytes,
                                      metric::threads,
                                      metric::fds,
                                      metric::handles,
                                      metric::private_bytes,
                                      metric::gdi_objects,
                                      metric::user_objects,
                                      metric::cpu_s,
                                      metric::minor_faults,
                                      metric::major_faults,
                                      metric::pss_bytes,
                                      metric::uss_bytes,
                                      metric::swap_bytes,
                                      metric::children,
                                      metric::children_rss_bytes,
                                      metric::load_level,
                                      metric::load_sent_rps,
                                      metric::load_rps,
                                      metric::load_errors,
                                      metric::load_p50_ms,
                                      metric::load_p95_ms,
                                      metric::load_p99_ms,
                                      metric::load_in_flight,
                                      metric::load_jobs_done,
                                      metric::load_jobs_failed,
                                      metric::load_job_s,
                                      metric::cgroup_memory_bytes,
                                      metric::cgroup_limit_bytes,
                                      metric::cgroup_anon_bytes,
                                      metric::cgroup_file_bytes,
                                      metric::rss_bytes_after_gc}) {
    all.emplace_back(std::string(name), v++);
  }
  for (const char* other :
       {"region.heap", "region.file:/usr/lib/libc.so.6", "region.files.other",
        "load.errors.timeout", "load.errors.http_503", "heap.go_heap_inuse_bytes",
        "heap.go_goroutines", "heap.gc_pause_ms", "heap.usedHeap-Size", "heap.requests_total",
        "heap.go_heap_inuse_bytes_after_gc", "cgroup.pressure_some", "some_new_thing_s",
        "heap.in-use", "heap.in_use"}) {
    all.emplace_back(other, v++);
  }
  return all;
}

/// The analysis of every metric of every_metric(): each with a class and a growth.
std::vector<GrowthFigures> every_growth(const std::string& classification) {
  std::vector<GrowthFigures> growth;
  for (const auto& [name, value] : every_metric()) {
    growth.push_back({name, classification, true, value / 100, value / 200, value / 50});
  }
  return growth;
}

/// The series of `text` whose name is `name`, as label sets.
std::set<Labels> series_of(const PromDocument& doc, const std::string& name) {
  std::set<Labels> out;
  for (const PromSample& s : doc.samples) {
    if (s.name == name) out.insert(s.labels);
  }
  return out;
}

double value_of(const PromDocument& doc, const std::string& selector) {
  const auto v = select_sum(doc, *parse_selector(selector));
  REQUIRE(v);
  return *v;
}

}  // namespace

TEST_CASE("the exporter serves each soak metric under its Prometheus name, in base units") {
  Exporter exporter("127.0.0.1:0");
  exporter.set_target("soak-example-leaky \"x\"\\y", 42);
  exporter.set_sample({{"rss_bytes", 1.5e6},
                       {"cpu_s", 2.5},
                       {"threads", 3},
                       {"fds", 7},
                       {"minor_faults", 11},
                       {"load.p95_ms", 250},
                       {"region.heap", 4096},
                       {"region.stack", 8192},
                       {"load.errors.timeout", 2},
                       {"heap.gc_pause_ms", 12},
                       {"heap.go_heap_inuse_bytes", 5e6},
                       {"rss_bytes_after_gc", 1.4e6}},
                      9);
  const PromDocument doc = parse_prometheus_text(scrape(exporter));
  CHECK(doc.skipped_lines == 0);
  const std::string target = "{target=\"soak-example-leaky \\\"x\\\"\\\\y\",pid=\"42\"}";
  CHECK(value_of(doc, "soak_target_resident_memory_bytes" + target) == 1.5e6);
  CHECK(value_of(doc, "soak_target_cpu_seconds_total" + target) == 2.5);
  CHECK(doc.types.at("soak_target_cpu_seconds_total") == "counter");
  CHECK(doc.types.at("soak_target_resident_memory_bytes") == "gauge");
  CHECK(value_of(doc, "soak_target_threads") == 3);
  CHECK(value_of(doc, "soak_target_open_fds") == 7);
  CHECK(value_of(doc, "soak_target_minor_page_faults_total") == 11);
  CHECK(doc.types.at("soak_target_minor_page_faults_total") == "counter");
  CHECK(value_of(doc, "soak_load_latency_p95_seconds") == Approx(0.25));  // ms in the log
  // One family for all regions, told apart by a label; the sum over it is meaningful.
  CHECK(value_of(doc, "soak_target_region_resident_memory_bytes{region=\"heap\"}") == 4096);
  CHECK(value_of(doc, "soak_target_region_resident_memory_bytes") == 4096 + 8192);
  CHECK(value_of(doc, "soak_load_interval_errors_of_kind{kind=\"timeout\"}") == 2);
  CHECK(value_of(doc, "soak_probe_gc_pause_seconds") == Approx(0.012));
  CHECK(value_of(doc, "soak_probe_go_heap_inuse_bytes") == 5e6);
  CHECK(value_of(doc, "soak_target_resident_memory_after_gc_bytes") == 1.4e6);
  CHECK(value_of(doc, "soak_samples_total") == 9);
  CHECK(value_of(doc, "process_resident_memory_bytes") > 1e6);  // soak's own, standard names
  CHECK(doc.types.at("process_cpu_seconds_total") == "counter");
  // The names of before are gone.
  CHECK(series_of(doc, "soak_target_value").empty());
  CHECK(series_of(doc, "soak_process_resident_bytes").empty());
}

TEST_CASE("the exported names follow the conventions and read back as soak's metrics") {
  using soak::importers::exported_name;
  using soak::importers::growth_name;
  using soak::importers::soak_metric_of;
  const std::regex valid("[a-zA-Z_][a-zA-Z0-9_]*");
  for (const auto& [name, value] : every_metric()) {
    INFO(name);
    const auto e = exported_name(name);
    CHECK(std::regex_match(e.name, valid));
    CHECK(std::regex_match(growth_name(e), valid));
    CHECK(e.name.ends_with("_total") == (e.type == soak::importers::PromType::counter));
    if (!e.unit.empty()) CHECK(e.name.find("_" + e.unit) != std::string::npos);
  }
  CHECK(growth_name(exported_name("rss_bytes")) ==
        "soak_target_resident_memory_growth_bytes_per_second");
  CHECK(growth_name(exported_name("threads")) == "soak_target_threads_growth_per_second");
  CHECK(growth_name(exported_name("cpu_s")) == "soak_target_cpu_growth_seconds_per_second");
  CHECK(exported_name("heap.usedHeap-Size").name == "soak_probe_used_heap_size");
  CHECK(exported_name("heap.requests_total").type == soak::importers::PromType::counter);
  // soak analyze --prometheus reads the exporter's series as the metrics they came from.
  for (const char* name : {"rss_bytes", "cpu_s", "fds", "load.p95_ms", "rss_bytes_after_gc",
                           "region.heap", "load.errors.timeout", "heap.go_heap_inuse_bytes"}) {
    INFO(name);
    const auto e = exported_name(name);
    std::map<std::string, std::string> labels = {{"__name__", e.name}, {"job", "soak"}};
    if (!e.label.empty()) labels[e.label] = e.label_value;
    CHECK(soak_metric_of(labels) == name);
  }
  CHECK_FALSE(soak_metric_of({{"__name__", "node_load1"}}).has_value());
}

TEST_CASE("a change of class changes values, never the labels of a growth series") {
  Exporter exporter("127.0.0.1:0");
  exporter.set_target("soak-example-leaky", 42);
  exporter.set_sample({{"rss_bytes", 1e6}, {"threads", 4}}, 1);
  const auto analysis = [](const char* rss_class, double per_s) {
    return std::vector<GrowthFigures>{{"rss_bytes", rss_class, true, per_s, per_s / 2, per_s * 2},
                                      {"threads", "steady", true, 0, -0.001, 0.001}};
  };
  exporter.set_analysis("inconclusive", analysis("warmup", 100));
  const PromDocument before = parse_prometheus_text(scrape(exporter));
  exporter.set_analysis("fail", analysis("leak", 104857.6));
  const PromDocument after = parse_prometheus_text(scrape(exporter));
  const std::string growth = "soak_target_resident_memory_growth_bytes_per_second";
  REQUIRE(series_of(before, growth).size() == 3);  // estimate, low, high
  CHECK(series_of(before, growth) == series_of(after, growth));
  CHECK(value_of(after, growth + "{bound=\"estimate\"}") == Approx(104857.6));
  CHECK(value_of(after, growth + "{bound=\"low\"}") == Approx(104857.6 / 2));
  CHECK(value_of(after, growth + "{bound=\"high\"}") == Approx(104857.6 * 2));
  CHECK(value_of(before, "soak_target_threads_growth_per_second{bound=\"estimate\"}") == 0);
  // The class is a state set: the same series before and after, the 1 moves.
  CHECK(series_of(before, "soak_classification") == series_of(after, "soak_classification"));
  CHECK(series_of(after, "soak_classification").size() == 2 * std::size(kClassifications));
  CHECK(value_of(before, "soak_classification{metric=\"rss_bytes\",class=\"warmup\"}") == 1);
  CHECK(value_of(after, "soak_classification{metric=\"rss_bytes\",class=\"warmup\"}") == 0);
  CHECK(value_of(after, "soak_classification{metric=\"rss_bytes\",class=\"leak\"}") == 1);
  CHECK(value_of(after, "soak_classification{metric=\"rss_bytes\"}") == 1);
  CHECK(series_of(before, "soak_verdict_so_far") == series_of(after, "soak_verdict_so_far"));
  CHECK(value_of(before, "soak_verdict_so_far{verdict=\"inconclusive\"}") == 1);
  CHECK(value_of(after, "soak_verdict_so_far{verdict=\"fail\"}") == 1);
  CHECK(value_of(after, "soak_verdict_so_far") == 1);
  // Too little data: a class, no growth series.
  exporter.set_analysis("inconclusive", {{"rss_bytes", "insufficient", false, 0, 0, 0}});
  const PromDocument early = parse_prometheus_text(scrape(exporter));
  CHECK(series_of(early, growth).empty());
  CHECK(value_of(early, "soak_classification{class=\"insufficient\"}") == 1);
}

TEST_CASE("promtool check metrics finds every name the exporter can serve clean") {
  if (!fs::exists(kPromtool)) SOAK_SKIP("promtool is not installed (Debian package prometheus)");
  Exporter exporter("127.0.0.1:0");
  exporter.set_target("a name with \"quotes\", a \\ and \xff invalid UTF-8", 42);
  exporter.set_sample(every_metric(), 5);
  exporter.set_analysis("fail", every_growth("leak"));
  const std::string text = scrape(exporter);
  const auto [code, said] = promtool_check(text);
  INFO(said << "\n" << text);
  CHECK(code == 0);
  CHECK(said.empty());
  // heap.in-use and heap.in_use have one name: the first is served, the second dropped (a duplicate
  // series is an error to promtool and to Prometheus).
  const PromDocument doc = parse_prometheus_text(text);
  REQUIRE(series_of(doc, "soak_probe_in_use").size() == 1);
  CHECK(value_of(doc, "soak_probe_in_use") == every_metric().end()[-2].second);
}

TEST_CASE("promtool check metrics finds a real run's exporter clean, scraped over its socket") {
  if (!fs::exists(kPromtool)) SOAK_SKIP("promtool is not installed (Debian package prometheus)");
  auto target = start_leaky({"--leak-mib-per-min", "60"});
  TempDir dir;
  Child soak({soak_binary().string(), "attach", std::to_string(target->pid()), "-d", "5s", "-i",
              "200ms", "-q", "--metrics-listen", "127.0.0.1:0", "--out", (dir / "run").string()});
  std::string url;
  REQUIRE(wait_until([&] {
    const std::string err = soak.err();
    const auto at = err.find("http://");
    if (at == std::string::npos) return false;
    url = err.substr(at, err.find_first_of(" \n", at) - at);
    return true;
  }));
  std::string text;
  REQUIRE(wait_until([&] {
    const HttpResult r = http_get(parse_http_url(url), {}, 5s, 1 << 20);
    text = r.ok() ? r.body : "";
    return text.find("soak_target_resident_memory_bytes{") != std::string::npos;
  }));
  const auto [code, said] = promtool_check(text);
  INFO(said << "\n" << text);
  CHECK(code == 0);
  CHECK(said.empty());
  const PromDocument doc = parse_prometheus_text(text);
  // The full program name from the command line, not the kernel's 15-character comm.
  CHECK(value_of(doc, "soak_target_resident_memory_bytes{target=\"soak-example-leaky\",pid=\"" +
                          std::to_string(target->pid()) + "\"}") > 1e6);
  CHECK(soak.wait_for(30s).has_value());
}

TEST_CASE("a real run past its first analysis serves growth, class and verdict, promtool-clean",
          "[real]") {
  if (!fs::exists(kPromtool)) SOAK_SKIP("promtool is not installed (Debian package prometheus)");
  auto target = start_leaky({"--leak-mib-per-min", "120"});
  TempDir dir;
  Child soak({soak_binary().string(), "attach", std::to_string(target->pid()), "-d", "120s", "-i",
              "500ms", "-q", "--metrics-listen", "127.0.0.1:0", "--out", (dir / "run").string()});
  std::string url;
  REQUIRE(wait_until([&] {
    const std::string err = soak.err();
    const auto at = err.find("http://");
    if (at == std::string::npos) return false;
    url = err.substr(at, err.find_first_of(" \n", at) - at);
    return true;
  }));
  // The first interim analysis comes a minute in.
  std::string text;
  REQUIRE(wait_until(
      [&] {
        const HttpResult r = http_get(parse_http_url(url), {}, 5s, 1 << 20);
        text = r.ok() ? r.body : "";
        return text.find("soak_target_resident_memory_growth_bytes_per_second{") !=
               std::string::npos;
      },
      100s));
  const auto [code, said] = promtool_check(text);
  INFO(said << "\n" << text);
  CHECK(code == 0);
  CHECK(said.empty());
  const PromDocument doc = parse_prometheus_text(text);
  // 120 MiB/min is 2 MiB/s; the estimate of the first minute within 25 %.
  const double growth =
      value_of(doc, "soak_target_resident_memory_growth_bytes_per_second{bound=\"estimate\"}");
  CHECK(growth / 1048576 == Approx(2).epsilon(0.25));
  CHECK(value_of(doc, "soak_target_resident_memory_growth_bytes_per_second{bound=\"low\"}") <=
        growth);
  CHECK(value_of(doc, "soak_classification{metric=\"rss_bytes\",class=\"leak\"}") == 1);
  CHECK(value_of(doc, "soak_verdict_so_far{verdict=\"fail\"}") == 1);
  soak.signal(SIGINT);
  CHECK(soak.wait_for(30s).has_value());
}

namespace {

/// The metric names a PromQL expression reads: its identifiers, less functions (a name before
/// '('), keywords, label matchers ({...}), grouping lists (by (...)) and range durations ([5m]).
std::set<std::string> metrics_in(std::string expr) {
  expr = std::regex_replace(expr, std::regex("\"([^\"\\\\]|\\\\.)*\""), "\"\"");
  // A Grafana variable's label_values(METRIC, LABEL): the label is not a metric.
  expr = std::regex_replace(expr, std::regex("label_values\\(([^,]*),[^)]*\\)"), "($1)");
  expr = std::regex_replace(expr, std::regex("\\{[^}]*\\}"), " ");
  expr = std::regex_replace(expr, std::regex("\\[[^\\]]*\\]"), " ");
  expr = std::regex_replace(
      expr, std::regex("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)"), " ");
  static const std::set<std::string> keywords = {
      "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "inf", "nan"};
  std::set<std::string> out;
  const std::regex identifier("[a-zA-Z_:][a-zA-Z0-9_:]*(\\s*\\()?");
  for (std::sregex_iterator it(expr.begin(), expr.end(), identifier), end; it != end; ++it) {
    const std::string token = (*it)[0];
    const auto at = static_cast<std::size_t>(it->position());
    if (token.back() == '(') continue;  // a function or an aggregation
    if (at > 0 && (std::isdigit(static_cast<unsigned char>(expr[at - 1])) || expr[at - 1] == '$' ||
                   expr[at - 1] == '.')) {
      continue;  // 1e6's e, $variables
    }
    std::string lower = token;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (keywords.count(lower) == 0) out.insert(token);
  }
  return out;
}

/// Every query in a Grafana dashboard, wherever it is: each "expr" (panels, rows, targets) and
/// each variable's query ({"query": {"query": "label_values(...)"}}).
void exprs_in(const nlohmann::json& j, std::vector<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if (key == "expr" && value.is_string()) out.push_back(value.get<std::string>());
      if (key == "query" && value.is_object() && value.contains("query") &&
          value["query"].is_string()) {
        out.push_back(value["query"].get<std::string>());
      }
      exprs_in(value, out);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) exprs_in(v, out);
  }
}

}  // namespace

TEST_CASE("PromQL names are found in an expression, and only they") {
  CHECK(metrics_in("sum by (target) (rate(soak_target_cpu_seconds_total{target=~\"$target\"}"
                   "[$__rate_interval])) / 1e6 > bool process_cpu_seconds_total") ==
        std::set<std::string>{"soak_target_cpu_seconds_total", "process_cpu_seconds_total"});
  CHECK(metrics_in("max(soak_classification{class=\"leak\"}) by (metric) offset 5m").size() == 1);
  CHECK(metrics_in("label_values(soak_up{job=~\"$job\"}, target)") ==
        std::set<std::string>{"soak_up"});
}

TEST_CASE("the Grafana dashboard asks only for metrics the exporter serves") {
  std::ifstream in(SOAK_GRAFANA_DASHBOARD);
  REQUIRE(in);
  const nlohmann::json dashboard = nlohmann::json::parse(in);
  // Everything the exporter can serve: every metric, each analyzed, a verdict.
  Exporter exporter("127.0.0.1:0");
  exporter.set_target("soak-example-leaky", 42);
  exporter.set_sample(every_metric(), 5);
  exporter.set_analysis("fail", every_growth("leak"));
  std::set<std::string> served;
  for (const PromSample& s : parse_prometheus_text(scrape(exporter)).samples) {
    served.insert(s.name);
  }
  std::vector<std::string> exprs;
  exprs_in(dashboard, exprs);
  REQUIRE(exprs.size() >= 5);
  std::set<std::string> asked;
  for (const std::string& expr : exprs) {
    INFO(expr);
    const std::set<std::string> names = metrics_in(expr);
    CHECK_FALSE(names.empty());
    for (const std::string& name : names) {
      INFO(name);
      CHECK(served.count(name) == 1);
      asked.insert(name);
    }
  }
  // The panels the dashboard promises, each asking for what it shows.
  for (const char* name :
       {"soak_target_resident_memory_bytes", "soak_target_resident_memory_growth_bytes_per_second",
        "soak_target_threads", "soak_target_open_fds", "soak_classification",
        "soak_verdict_so_far"}) {
    INFO(name);
    CHECK(asked.count(name) == 1);
  }
}

TEST_CASE("soak import prometheus reads a recording of the exporter as soak's own metrics") {
  TempDir dir;
  std::string values;
  for (int i = 0; i < 60; ++i) {
    values += std::string(i ? "," : "") + "[" + std::to_string(1764000000 + i * 10) + ",\"" +
              std::to_string(100000000 + i * 100000) + "\"]";
  }
  const auto series = [&](const std::string& labels) {
    return R"({"metric":{)" + labels + R"(},"values":[)" + values + "]}";
  };
  const std::string target = R"("target":"soak-example-leaky","pid":"42","job":"soak")";
  std::ofstream(dir / "exporter.json")
      << R"({"status":"success","data":{"resultType":"matrix","result":[)" +
             series(R"("__name__":"soak_target_resident_memory_bytes",)" + target) + "," +
             series(R"("__name__":"soak_target_region_resident_memory_bytes","region":"heap",)" +
                    target) +
             "]}}";
  const SoakResult r = run_soak(
      {"import", "prometheus", (dir / "exporter.json").string(), "--out", (dir / "run").string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::ifstream log(dir / "run" / "samples.ndjson");
  std::string first;
  std::getline(log, first);
  const auto measures = nlohmann::json::parse(first)["import"]["measures"];
  INFO(measures.dump());
  CHECK(measures.contains("rss_bytes"));
  CHECK(measures.contains("region.heap"));
}
