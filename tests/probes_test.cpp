// soak::probes: the Prometheus text parser (a table of corner cases and a fuzz-style test),
// probe specs, and probes against the example server and against endpoints that fail.

#include <netinet/in.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <thread>

#include "soak/probes/http_probe.hpp"
#include "soak/probes/prometheus.hpp"
#include "soak/log/log.hpp"
#include "support.hpp"

using namespace soak::probes;
using namespace soak::test;

TEST_CASE("the exposition-format parser handles the corner cases") {
  const PromDocument doc = parse_prometheus_text(
      "# HELP http_requests_total The total number of HTTP requests.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
      "\n"
      "# Escaping in label values:\n"
      "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n"
      "metric_without_timestamp_and_labels 12.47\n"
      "something_weird{problem=\"division by zero\"} +Inf -3982045\n"
      "negative_inf -Inf\n"
      "not_a_number NaN\n"
      "trailing_comma{a=\"1\",} 5\n"
      "  indented_metric 7\r\n"
      "# TYPE http_request_duration_seconds histogram\n"
      "http_request_duration_seconds_bucket{le=\"0.05\"} 24054\n"
      "http_request_duration_seconds_bucket{le=\"+Inf\"} 144320\n"
      "http_request_duration_seconds_sum 53423\n"
      "http_request_duration_seconds_count 144320\n"
      "# TYPE rpc_duration_seconds summary\n"
      "rpc_duration_seconds{quantile=\"0.99\"} 76656\n"
      "rpc_duration_seconds_sum 1.7560473e+07\n"
      "openmetrics_with_exemplar_total 17 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n"
      "openmetrics_ts 3 1520879607.789\n"
      "junk line here\n"
      "unterminated{a=\"b 1\n"
      "no_value{a=\"b\"}\n"
      "bad{=\"x\"} 1\n"
      "1starts_with_digit 4\n"
      "# EOF\n");
  CHECK(doc.skipped_lines == 5);
  CHECK(doc.saw_eof);
  CHECK(doc.types.at("http_requests_total") == "counter");
  CHECK(doc.types.at("http_request_duration_seconds") == "histogram");
  REQUIRE(doc.samples.size() == 17);
  CHECK(doc.samples[0].labels == Labels{{"method", "post"}, {"code", "200"}});
  CHECK(doc.samples[0].value == 1027);
  CHECK(*doc.samples[0].timestamp == 1395066363000.0);
  CHECK(doc.samples[2].labels[0].second == "C:\\DIR\\FILE.TXT");
  CHECK(doc.samples[2].labels[1].second == "Cannot find file:\n\"FILE.TXT\"");
  CHECK(doc.samples[2].value == 1.458255915e9);
  CHECK_FALSE(doc.samples[3].timestamp.has_value());
  CHECK(std::isinf(doc.samples[4].value));
  CHECK(*doc.samples[4].timestamp == -3982045);
  CHECK(doc.samples[5].value == -INFINITY);
  CHECK(std::isnan(doc.samples[6].value));
  CHECK(doc.samples[7].labels == Labels{{"a", "1"}});
  CHECK(doc.samples[8].name == "indented_metric");
  CHECK(doc.samples[10].labels[0].second == "+Inf");
  CHECK(doc.samples[15].value == 17);  // the exemplar is not the value
  CHECK(*doc.samples[16].timestamp == Approx(1520879607.789));

  const auto sel = parse_selector("http_requests_total{method=\"post\"}");
  REQUIRE(sel);
  CHECK(*select_sum(doc, *sel) == 1030);  // both codes add up
  CHECK_FALSE(select_sum(doc, *parse_selector("absent_metric")));
  CHECK_FALSE(parse_selector("bad{selector"));
}

TEST_CASE("random and truncated inputs never crash the parser") {
  const std::string valid =
      "# TYPE a counter\na_total{x=\"1\",y=\"\\\\\\\"\\n\"} 1.5e3 123\nb +Inf\nc{le=\"0.1\"} 4\n# EOF\n";
  for (std::size_t cut = 0; cut <= valid.size(); ++cut) {
    const PromDocument doc = parse_prometheus_text(std::string_view(valid).substr(0, cut));
    CHECK(doc.samples.size() <= 3);
  }
  std::mt19937_64 rng(99);
  const std::string alphabet = "ab_{}=\",.#\\ \n\t0123456789+-eEInfNa";
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    const std::size_t length = rng() % 400;
    for (std::size_t i = 0; i < length; ++i) {
      text.push_back(round % 2 ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()]);
    }
    const PromDocument doc = parse_prometheus_text(text);
    const auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    CHECK(doc.samples.size() + doc.skipped_lines <= lines);
  }
}

TEST_CASE("probe specs parse, with presets, and bad ones say what to write") {
  const ProbeSpec json = parse_probe_spec("json http://127.0.0.1:9/perf /heap/used as used, /jobs/running timeout=1s every=5s");
  CHECK(json.kind == ProbeKind::json);
  REQUIRE(json.fields.size() == 2);
  CHECK(json.fields[0].metric == "heap.used");
  CHECK(json.fields[1].metric == "heap.running");
  CHECK(json.timeout_s == 1);
  CHECK(*json.every_s == 5);
  const ProbeSpec prom = parse_probe_spec("prom http://[::1]:9/metrics preset=jvm go_goroutines");
  CHECK(prom.fields.size() == 4);
  CHECK(prom.fields[0].selector == "jvm_memory_used_bytes{area=\"heap\"}");
  CHECK(prom.fields[3].metric == "heap.go_goroutines");
  CHECK_THROWS_WITH(parse_probe_spec("json http://127.0.0.1:9/x heap/used"), Catch::Contains("not a JSON pointer"));
  CHECK_THROWS_WITH(parse_probe_spec("xml http://127.0.0.1:9/x /a"), Catch::Contains("unknown kind 'xml'"));
  CHECK_THROWS_WITH(parse_probe_spec("prom http://127.0.0.1:9/x preset=cobol"), Catch::Contains("unknown preset"));
  CHECK_THROWS_WITH(parse_probe_spec("prom http://127.0.0.1:9/x m auth=SOAK_TEST_UNSET_VAR"),
                    Catch::Contains("SOAK_TEST_UNSET_VAR names an environment variable that is not set"));
}

namespace {

/// A listener that accepts connections and never answers (the kernel completes the handshake).
struct SilentServer {
  int fd = -1;
  int port = 0;
  SilentServer() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd, 64);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~SilentServer() { ::close(fd); }
};

std::unique_ptr<Child> start_server(std::vector<std::string> flags, int& port) {
  flags.insert(flags.begin(), {server_binary().string(), "--port", "0"});
  auto child = std::make_unique<Child>(flags);
  REQUIRE(child->wait_for_output("listening on"));
  const std::string out = child->out();
  port = std::stoi(out.substr(out.rfind(':') + 1));
  return child;
}

}  // namespace

TEST_CASE("heap metrics from the server's JSON and /metrics land in the log, verdict and report") {
  int port = 0;
  auto server = start_server({"--leak-per-request-kib", "64"}, port);
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  // Traffic that makes the server leak while soak watches it (bounded: 35 s at 20/s).
  std::atomic<bool> done{false};
  std::thread traffic([&] {
    for (int i = 0; i < 700 && !done; ++i) {
      Child c({"curl", "-s", "-o", "/dev/null", base + "/api/items"});
      c.wait_for(5s);
      std::this_thread::sleep_for(30ms);
    }
  });
  TempDir dir;
  const SoakResult r = run_soak({"attach", std::to_string(server->pid()), "-d", "33s", "-i", "1s", "-q",
                                 "--out", (dir / "run").string(),
                                 "--probe", "json " + base + "/api/perf /heap/leaked_bytes as leaked_bytes",
                                 "--probe", "prom " + base + "/metrics demo_heap_in_use_bytes as in_use_bytes"},
                                120s);
  done = true;
  traffic.join();
  INFO(r.err);
  REQUIRE(r.exit_code <= 2);
  const auto log = soak::log::read_run_log(dir / "run");
  const auto& leaked = log.series.at("heap.leaked_bytes");
  // A value is logged once, on the tick after it was fetched, at most one fetch a second: 33 s
  // give ~32 values; 20 leaves room for slow fetches on a loaded (or sanitized) build.
  CHECK(leaked.size() >= 20);
  CHECK(leaked.value.back() > leaked.value.front() + 5e6);
  CHECK(log.series.at("heap.in_use_bytes").size() >= 20);
  const auto verdict = nlohmann::json::parse(read_file(dir / "run" / "verdict.json"));
  CHECK(verdict["metrics"]["heap.leaked_bytes"]["classification"] == "leak");
  const std::string html = read_file(dir / "run" / "report.html");
  CHECK_THAT(html, Catch::Contains("id=\"chart-heap-bytes\""));
  CHECK_THAT(html, Catch::Contains("heap.leaked_bytes"));
}

TEST_CASE("probes at a closed port, a silent server and garbage leave sampling on time") {
  int port = 0;
  auto server = start_server({}, port);
  SilentServer silent;
  TempDir dir;
  setenv("SOAK_TEST_TOKEN", "Bearer s3cret-value", 1);
  const SoakResult r = run_soak(
      {"attach", std::to_string(server->pid()), "-d", "6s", "-i", "200ms", "-q", "--out", (dir / "run").string(),
       "--probe", "json http://127.0.0.1:1/perf /a",
       "--probe", "json http://127.0.0.1:" + std::to_string(silent.port) + "/perf /a timeout=500ms",
       "--probe", "json http://127.0.0.1:" + std::to_string(port) + "/metrics /a auth=SOAK_TEST_TOKEN"},
      60s);
  INFO(r.err);
  REQUIRE(r.exit_code <= 2);
  const auto log = soak::log::read_run_log(dir / "run");
  // 6 s at 200 ms: 31 samples, none late (the probes' failures happen on their own threads).
  CHECK(log.samples >= 30);
  std::size_t late = 0, refused = 0, timeout = 0, garbage = 0;
  for (const auto& e : log.events) {
    late += e.kind == "late_tick";
    refused += e.kind == "probe_error" && e.detail.find("127.0.0.1:1/") != std::string::npos;
    timeout += e.kind == "probe_timeout";
    garbage += e.kind == "probe_bad_payload";
  }
  CHECK(late == 0);
  CHECK(refused >= 1);
  CHECK(timeout >= 1);
  CHECK(garbage >= 1);
  CHECK(refused <= 4);  // one event per doubling of the back-off, not one per attempt
  // The credential is sent, never written.
  CHECK(read_file(dir / "run" / "samples.ndjson").find("s3cret") == std::string::npos);
  CHECK(read_file(dir / "run" / "report.html").find("s3cret") == std::string::npos);
}

namespace {

/// The exporter URL soak prints on stderr ("serving the run at http://..."), or "" after 10 s.
std::string exporter_url(const Child& soak) {
  std::string url;
  wait_until([&] {
    const std::string err = soak.err();
    const auto at = err.find("http://");
    if (at == std::string::npos) return false;
    url = err.substr(at, err.find_first_of(" \n", at) - at);
    return true;
  });
  return url;
}

}  // namespace

TEST_CASE("the live exporter (--metrics-listen) serves the run in Prometheus format") {
  auto target = start_leaky({"--leak-mib-per-min", "60"});
  TempDir dir;
  Child soak({soak_binary().string(), "attach", std::to_string(target->pid()), "-d", "4s", "-i", "200ms", "-q",
              "--metrics-listen", "127.0.0.1:0", "--out", (dir / "run").string()});
  const std::string url = exporter_url(soak);
  REQUIRE_FALSE(url.empty());
  std::string scraped;
  REQUIRE(wait_until([&] {
    Child curl({"curl", "-s", url});
    curl.wait_for(5s);
    scraped = curl.out();
    return scraped.find("metric=\"rss_bytes\"") != std::string::npos;
  }));
  // What Prometheus would read: every line parses, the target's RSS and soak's own are there.
  const PromDocument doc = parse_prometheus_text(scraped);
  CHECK(doc.skipped_lines == 0);
  const auto rss = select_sum(doc, *parse_selector("soak_target_value{metric=\"rss_bytes\"}"));
  REQUIRE(rss);
  CHECK(*rss > 1e6);
  CHECK(*select_sum(doc, *parse_selector("soak_process_resident_bytes")) > 1e6);
  CHECK(*select_sum(doc, *parse_selector("soak_up")) == 1);
  CHECK(soak.wait_for(30s).has_value());
  // A port that is taken is a usage error before anything is sampled.
  SilentServer taken;
  const SoakResult clash = run_soak({"attach", std::to_string(target->pid()), "-d", "1s",
                                     "--metrics-listen", std::to_string(taken.port), "--out", (dir / "clash").string()});
  CHECK(clash.exit_code == 3);
  CHECK_THAT(clash.err, Catch::Contains("cannot listen there"));
}

TEST_CASE("a real Prometheus scrapes soak's exporter; soak analyze --prometheus finds the leak") {
  const fs::path prometheus = "/usr/bin/prometheus";
  REQUIRE(fs::exists(prometheus));  // Debian's prometheus package, installed by scripts/setup.sh
  auto target = start_leaky({"--leak-mib-per-min", "120"});
  TempDir dir;
  Child soak({soak_binary().string(), "attach", std::to_string(target->pid()), "-d", "70s", "-i", "1s", "-q",
              "--metrics-listen", "127.0.0.1:0", "--out", (dir / "run").string()});
  const std::string url = exporter_url(soak);
  REQUIRE_FALSE(url.empty());
  const std::string exporter = url.substr(7, url.find("/metrics") - 7);  // host:port
  int web_port = 0;
  {
    SilentServer probe_port;  // borrow a free port number for Prometheus's web listener
    web_port = probe_port.port;
  }
  std::ofstream(dir / "prometheus.yml") << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                           "scrape_configs:\n  - job_name: soak\n    static_configs:\n"
                                           "      - targets: ['" << exporter << "']\n";
  Child server({prometheus.string(), "--config.file=" + (dir / "prometheus.yml").string(),
                "--storage.tsdb.path=" + (dir / "tsdb").string(),
                "--web.listen-address=127.0.0.1:" + std::to_string(web_port)});
  const std::string base = "http://127.0.0.1:" + std::to_string(web_port);
  REQUIRE(wait_until([&] {
    Child curl({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", base + "/-/ready"});
    curl.wait_for(5s);
    return curl.out() == "200";
  }, 30s));
  // 45 s of 1 s scrapes of a 120 MiB/min leak.
  std::this_thread::sleep_for(45s);
  const SoakResult r = run_soak({"analyze", "--prometheus", base, "--query",
                                 "soak_target_value{metric=\"rss_bytes\"}", "--since", "2m", "--step", "1s",
                                 "--format", "json"});
  INFO(r.err << r.out);
  CHECK(r.exit_code == 1);
  const auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["verdict"] == "fail");
  REQUIRE(doc["series"].size() == 1);
  CHECK(doc["series"][0]["classification"] == "leak");
  CHECK(doc["series"][0]["labels"]["metric"] == "rss_bytes");
  CHECK(doc["series"][0]["growth_per_min"].get<double>() / 1048576 == Approx(120).epsilon(0.15));
  soak.signal(SIGINT);
  CHECK(soak.wait_for(30s).has_value());
  // A query Prometheus refuses is a usage error naming it.
  const SoakResult bad = run_soak({"analyze", "--prometheus", base, "--query", "rate(", "--since", "1m"});
  CHECK(bad.exit_code == 3);
  CHECK_THAT(bad.err, Catch::Contains("Prometheus refused the query"));
}
