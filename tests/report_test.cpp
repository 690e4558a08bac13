// soak::report and `soak report`: rendered pages for recorded runs, escaping, JUnit, and the
// page opened in a real headless Chromium.

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <regex>
#include <set>

#include "soak/analysis/verdict.hpp"
#include "soak/log/log.hpp"
#include "soak/report/format.hpp"
#include "soak/report/html.hpp"
#include "soak/report/svg.hpp"
#include "soak/report/words.hpp"
#include "support.hpp"

using namespace soak::test;

namespace {

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
    ++n;
  return n;
}

/// `soak report` on a copy of a recorded log; returns the page.
std::string report_of(const std::string& trace, const TempDir& dir) {
  fs::copy_file(data_dir() / trace, dir / trace, fs::copy_options::overwrite_existing);
  const SoakResult r =
      run_soak({"report", (dir / trace).string(), "-o", (dir / "report.html").string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("report.html"));
  return read_file(dir / "report.html");
}

}  // namespace

TEST_CASE("the report of a recorded leak shows the verdict, the trend and the failing checks") {
  TempDir dir;
  const std::string html = report_of("trace_leaky.ndjson", dir);
  CHECK_THAT(html, Catch::Contains("<p class=\"verdict fail\" id=\"verdict\">fail</p>"));
  CHECK_THAT(html, Catch::Contains("fds leak: 7 new highs"));
  CHECK(count_of(html, "<svg") >= 2);
  CHECK_THAT(html, Catch::Contains("id=\"chart-memory\""));
  CHECK_THAT(html, Catch::Contains("id=\"chart-counts\""));
  CHECK(count_of(html, "class=\"trend\"") >= 2);  // RSS and fds trends
  CHECK_THAT(html, Catch::Contains("class=\"band\""));
  CHECK_THAT(html, Catch::Contains("<code class=\"name\">fds_growth</code>"));
  CHECK(std::regex_search(html, std::regex("fds_growth</code>.*?class=\"status fail\"")));
  CHECK_THAT(html, Catch::Contains("rss_bytes trend 2.11 MB/min (leak)"));  // 2.01 MiB/min
  CHECK(html.find("<script") == std::string::npos);  // self-contained and inert
  CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg"));  // no network
  CHECK(html.find("https://") == std::string::npos);
}

TEST_CASE("reports render for plateau, sawtooth, flat and crash-ended runs") {
  TempDir dir;
  const std::string plateau = report_of("trace_plateau.ndjson", dir);
  CHECK(std::regex_search(plateau,
                          std::regex("<code class=\"name\">rss_bytes</code></td><td>plateau")));
  const std::string saw = report_of("trace_healthy_churn.ndjson", dir);
  CHECK_THAT(saw, Catch::Contains("id=\"verdict\">pass"));
  CHECK_THAT(saw, Catch::Contains("rss floor (cycle minima)"));  // the floor that was judged
  CHECK(count_of(saw, "class=\"dot\"") >= 5);
  const std::string flat = report_of("trace_flat.ndjson", dir);
  CHECK(
      std::regex_search(flat, std::regex("<code class=\"name\">rss_bytes</code></td><td>steady")));
  const std::string torn = report_of("torn.ndjson", dir);
  CHECK_THAT(torn, Catch::Contains("id=\"verdict\">inconclusive"));
  CHECK_THAT(torn, Catch::Contains("torn last line"));
}

TEST_CASE("everything taken from the target is escaped") {
  TempDir dir;
  {
    nlohmann::ordered_json header = {
        {"type", "header"},
        {"format", "soak-samples"},
        {"version", 1},
        {"interval_s", 1.0},
        {"target",
         {{"pid", 7},
          {"name", "<script>alert(1)</script>"},
          {"cmdline", {"./srv", "--x=<img src=x onerror=alert(2)>", "\"quoted\" & more"}}}}};
    soak::log::SampleWriter writer(dir / "samples.ndjson", header);
    for (int i = 0; i < 40; ++i) {
      writer.begin_sample(i);
      writer.metric("rss_bytes", 1e7);
      writer.metric("heap.<b>evil</b>", 1e6);
      writer.end_sample();
    }
    writer.event(39, "probe_bad_payload", "</table><script>alert(3)</script>");
  }
  const SoakResult r = run_soak({"report", dir.path().string()});
  REQUIRE(r.exit_code == 0);
  const std::string html = read_file(dir / "report.html");
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("<b>evil") == std::string::npos);
  CHECK_THAT(html, Catch::Contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
  CHECK_THAT(html, Catch::Contains("--x=&lt;img src=x onerror=alert(2)&gt;"));
  CHECK_THAT(html, Catch::Contains("&quot;quoted&quot; &amp; more"));
  CHECK_THAT(html, Catch::Contains("&lt;/table&gt;&lt;script&gt;alert(3)"));
}

TEST_CASE("JUnit XML parses and holds one testcase per check, failures with value and limit") {
  TempDir dir;
  fs::copy_file(data_dir() / "trace_leaky.ndjson", dir / "leaky.ndjson");
  const SoakResult r = run_soak(
      {"analyze", (dir / "leaky.ndjson").string(), "--junit", (dir / "junit.xml").string()});
  CHECK(r.exit_code == 1);
  std::ofstream(dir / "parse.py")
      << "import sys, xml.etree.ElementTree as ET\n"
         "root = ET.parse(sys.argv[1]).getroot()\n"
         "suite = root.find('testsuite')\n"
         "print(root.tag, suite.get('tests'), suite.get('failures'))\n"
         "for case in suite.findall('testcase'):\n"
         "    f = case.find('failure')\n"
         "    print(case.get('name'), 'FAIL:' + f.get('message') if f is not None else 'ok')\n";
  Child py({"/usr/bin/python3", (dir / "parse.py").string(), (dir / "junit.xml").string()});
  REQUIRE(py.wait_for(30s) == 0);
  const auto lines = lines_of(py.out());
  REQUIRE(lines.size() == 10);
  CHECK(lines[0] == "testsuites 9 2");
  CHECK(lines[1] == "rss_growth ok");
  CHECK(lines[9] == "target_alive ok");  // the recorded target was alive at the end
  CHECK_THAT(py.out(), Catch::Contains("memory_growth FAIL:measured 416.1%, limit 20%"));
  CHECK_THAT(py.out(), Catch::Contains("fds_growth FAIL:measured 5 -> 12"));
}

TEST_CASE("long runs are drawn through min/max columns that keep every peak and trough") {
  std::vector<double> t(86400), v(86400, 100.0);
  for (int i = 0; i < 86400; ++i) t[i] = i;
  v[12345] = 900;  // a one-sample spike
  v[54321] = -50;  // and a one-sample dip
  const auto points = soak::report::reduce_for_drawing(t, v, 0, 86400, 900);
  CHECK(points.size() <= 4 * 900);
  bool spike = false, dip = false;
  for (const auto& [x, y] : points) {
    spike |= x == 12345 && y == 900;
    dip |= x == 54321 && y == -50;
  }
  CHECK(spike);
  CHECK(dip);
}

TEST_CASE("the report renders in a real headless Chromium: charts in the DOM, not blank") {
  const fs::path chromium = "/usr/bin/chromium";
  REQUIRE(fs::exists(chromium));  // installed by scripts/setup.sh
  TempDir dir;
  report_of("trace_leaky.ndjson", dir);
  const std::string url = "file://" + (dir / "report.html").string();
  const std::vector<std::string> flags = {chromium.string(),
                                          "--headless",
                                          "--no-sandbox",
                                          "--disable-gpu",
                                          "--disable-quic",
                                          "--no-first-run",
                                          "--disable-background-networking",
                                          "--disable-component-update",
                                          "--disable-sync",
                                          "--user-data-dir=" + (dir / "profile").string(),
                                          "--window-size=1100,1600"};
  std::vector<std::string> dump = flags;
  dump.push_back("--dump-dom");
  dump.push_back(url);
  Child dom(dump);
  REQUIRE(dom.wait_for(120s) == 0);
  const std::string rendered = dom.out();
  CHECK_THAT(rendered, Catch::Contains("id=\"chart-memory\""));
  CHECK(count_of(rendered, "<polyline") >= 5);
  CHECK_THAT(rendered, Catch::Contains("id=\"checks\""));

  std::vector<std::string> shot = flags;
  shot.push_back("--screenshot=" + (dir / "page.png").string());
  shot.push_back(url);
  Child screenshot(shot);
  REQUIRE(screenshot.wait_for(120s) == 0);
  REQUIRE(fs::exists(dir / "page.png"));
  Child check({"/usr/bin/python3", (data_dir().parent_path() / "png_check.py").string(),
               (dir / "page.png").string()});
  REQUIRE(check.wait_for(120s) == 0);
  const double drawn = std::stod(check.out());
  INFO("fraction of non-background pixels: " << drawn);
  CHECK(drawn > 0.05);  // text, charts and tables; a blank page is 0
}

namespace {

namespace an = soak::analysis;

/// 1 h at 2 s of RSS growing 8 MB/min (7.63 MiB/min), with a little noise.
struct Leak {
  std::vector<double> t, y;
  Leak() {
    for (int i = 0; i <= 1800; ++i) {
      t.push_back(i * 2.0);
      y.push_back(200e6 + 8e6 / 60 * t.back() + 1e5 * std::sin(i));
    }
  }
  an::RunInput input() const {
    an::RunInput in;
    in.samples = t.size();
    in.duration_s = t.back();
    in.series = {{"rss_bytes", t, y}};
    return in;
  }
};

}  // namespace

TEST_CASE("numbers print in the unit their target was written in") {
  const Leak leak;
  // Defaults are written in MB: the measured growth and the limit in MB/min, sizes in MB/GB.
  const an::Verdict by_default = an::analyze(leak.input());
  const auto json = soak::report::verdict_to_json(by_default);
  CHECK_THAT(json["checks"][0]["measured"].get<std::string>(), Catch::StartsWith("8.00 MB/min ["));
  CHECK(json["checks"][0]["limit"] == "5 MB/min (acceptable 10 MB/min)");
  CHECK(json["checks"][0]["code"] == "grows_over_target");
  CHECK(json["checks"][0]["measured_value"].get<double>() == Approx(8e6).epsilon(0.01));
  CHECK(json["checks"][1]["name"] == "initial_rss");
  CHECK_THAT(json["checks"][1]["measured"].get<std::string>(), Catch::EndsWith(" MB"));
  CHECK_THAT(json["checks"][1]["detail"].get<std::string>(), Catch::Contains("is within 500 MB"));
  // Sizes in the target's system, by magnitude: 680 MB within 1 GB.
  CHECK(json["checks"][2]["name"] == "max_rss_1h");
  CHECK(json["checks"][2]["measured"] == "680.0 MB");
  CHECK(json["checks"][2]["limit"] == "1 GB (acceptable 2 GB)");
  CHECK_THAT(json["checks"][0]["detail"].get<std::string>(),
             Catch::StartsWith("RSS grows 8.00 MB/min [") && Catch::Contains("; target 5 MB/min"));

  // A targets file in MiB: the same growth in MiB/min, the limit as written.
  const an::Targets mib =
      an::parse_targets(nlohmann::json::parse(R"({"rss_growth": "5 MiB/min"})"));
  const auto doc = soak::report::verdict_to_json(an::analyze(leak.input(), mib));
  CHECK_THAT(doc["checks"][0]["measured"].get<std::string>(), Catch::StartsWith("7.63 MiB/min ["));
  CHECK(doc["checks"][0]["limit"] == "5 MiB/min (acceptable 10 MB/min)");
  const std::string text = soak::report::verdict_to_text(an::analyze(leak.input(), mib), {});
  CHECK_THAT(text, Catch::Contains("7.63 MiB/min"));
  CHECK(text.find("MB/min [") == std::string::npos);  // one unit for the growth throughout

  // The summary: one sentence, the deciding check's, in the unit the target was written in.
  CHECK(doc["format"] == "soak-verdict");
  CHECK(doc["version"] == 1);
  const std::string summary = doc["summary"];
  CHECK_THAT(summary, Catch::StartsWith("RSS grows 7.63 MiB/min [") &&
                          Catch::Contains("target 5 MiB/min") && Catch::EndsWith("."));
  CHECK(std::count(summary.begin(), summary.end(), '.') <= 4);  // decimals and the full stop
  CHECK_THAT(text, Catch::Contains(summary));

  // One formatter, both systems.
  soak::report::ByteFormat decimal;
  decimal.system = soak::report::ByteSystem::decimal;
  CHECK(soak::report::format_bytes(1.5e9, decimal) == "1.50 GB");
  CHECK(soak::report::format_bytes(1.5 * 1073741824.0) == "1.50 GiB");
  CHECK(soak::report::format_bytes(512) == "512 B");
}

TEST_CASE("a group renders one entry per process, everything from outside escaped") {
  const Leak leak;
  std::vector<double> t, flat;
  for (int i = 0; i <= 1800; ++i) {
    t.push_back(i * 2.0);
    flat.push_back(100e6 + 1e5 * std::sin(i));
  }
  an::RunInput steady_in = leak.input();
  steady_in.series = {{"rss_bytes", t, flat}};
  const an::Verdict group = an::analyze_group(
      {{{.pid = 7, .name = "<b>calm</b>", .cmdline = {"./calm"}, .labels = {{"job", "a\x1b[31m"}}},
        steady_in},
       {{.pid = 8, .name = "leaky\x07", .cmdline = {"./leaky", "--x=\"&\""}, .labels = {}},
        leak.input()}});
  REQUIRE(group.verdict == an::VerdictKind::fail);

  const auto json = soak::report::verdict_to_json(group);
  REQUIRE(json["processes"].size() == 2);
  CHECK(json["processes"][0]["pid"] == 7);
  CHECK(json["processes"][0]["name"] == "<b>calm</b>");
  CHECK(json["processes"][0]["verdict"] == "pass");
  CHECK(json["processes"][0]["labels"]["job"] == "a\x1b[31m");
  CHECK(json["processes"][1]["verdict"] == "fail");
  CHECK(json["processes"][1]["cmdline"][1] == "--x=\"&\"");
  CHECK(json["processes"][1]["checks"][0]["name"] == "rss_growth");
  CHECK(json["processes"][1].contains("metrics"));
  CHECK_FALSE(json["processes"][1].contains("labels"));

  const std::string text = soak::report::verdict_to_text(group, {});
  CHECK(text.find('\x1b') == std::string::npos);  // no control characters from outside
  CHECK(text.find('\x07') == std::string::npos);
  const auto leaky_line = text.find("leaky\\x07 [pid 8]");
  const auto calm_line = text.find("<b>calm</b> [pid 7] {job=a\\x1b[31m}");
  REQUIRE(leaky_line != std::string::npos);
  REQUIRE(calm_line != std::string::npos);
  CHECK(leaky_line < calm_line);  // sorted by growth, fastest first
  CHECK_THAT(text, Catch::Contains("fail rss_growth (leaky\\x07 [pid 8]): RSS grows 8.00 MB/min"));

  const std::string junit = soak::report::render_junit(group, nlohmann::json::object());
  CHECK(count_of(junit, "<testsuite ") == 2);
  // Suite names carry the labels too, so two series of one metric stay two suites.
  CHECK_THAT(junit,
             Catch::Contains("<testsuite name=\"soak.&lt;b&gt;calm&lt;/b&gt;.7{job=a\\x1b[31m}\""));
  CHECK_THAT(junit, Catch::Contains("<property name=\"pid\" value=\"8\"/>"));
  CHECK_THAT(junit, Catch::Contains("value=\"./leaky --x=&quot;&amp;&quot;\""));
  CHECK(junit.find("<b>") == std::string::npos);
  CHECK_THAT(junit, Catch::Contains("classname=\"soak.leaky\\x07.8\" name=\"rss_growth\""));
  CHECK(junit.find('\x07') == std::string::npos);  // not even in XML 1.0 character references
}

TEST_CASE("checkpoints after forced collections are counted in verdict.json and the summary") {
  soak::analysis::Verdict v;
  soak::analysis::MetricResult rss;
  rss.name = "rss_bytes";
  rss.points = 100;
  rss.analysis = soak::analysis::SeriesAnalysis{};
  rss.judged_on = "rss_bytes_after_gc";
  soak::analysis::MetricResult threads;
  threads.name = "threads";
  threads.analysis = soak::analysis::SeriesAnalysis{};
  v.metrics = {rss, threads};
  v.judged_metric = "rss_bytes";
  const auto without = soak::report::verdict_to_json(v);
  CHECK_FALSE(without.contains("gc_checkpoints"));
  CHECK(without["metrics"]["rss_bytes"]["judged_on"] == "rss_bytes_after_gc");
  CHECK(without["metrics"]["threads"]["judged_on"] == "threads");
  v.gc_checkpoints = soak::analysis::GcCheckpointTotals{12, 1, 3.4};
  const auto with = soak::report::verdict_to_json(v);
  CHECK(with["gc_checkpoints"] ==
        nlohmann::ordered_json({{"count", 12}, {"failed", 1}, {"pause_s", 3.4}}));
  const std::string text = soak::report::verdict_to_text(v, {});
  CHECK_THAT(text, Catch::Contains("GC checkpoints: 12 made, 1 failed, 3.40 s in the actions"));
  CHECK_THAT(text, Catch::Contains("growth judged after GC"));
  // The after-GC series are in their metric's unit.
  CHECK(soak::report::format_metric_value("rss_bytes_after_gc", 2097152) == "2.00 MiB");
  CHECK(soak::report::format_metric_value("heap.used_bytes_after_gc", 1024) == "1.00 KiB");
}

TEST_CASE(
    "a chart draws the trend dashed and thin under the series, its band in the legend, "
    "and a wide legend in rows that are never clipped") {
  namespace rp = soak::report;
  std::vector<double> t, v;
  for (int i = 0; i < 600; ++i) {
    t.push_back(i);
    v.push_back(100e6 + 1e5 * i);
  }
  rp::Chart chart;
  chart.id = "chart-memory";
  chart.title = "Memory";
  chart.unit = rp::Unit::bytes;
  chart.t_end = 600;
  for (const char* name : {"rss_bytes (resident set)", "pss_bytes (proportional set)",
                           "uss_bytes (unique set)", "anon_bytes (anonymous memory)",
                           "swap_bytes (swapped out)", "cgroup.memory_bytes (the cgroup)"}) {
    chart.lines.push_back({name, t, v, "#0969da"});
  }
  chart.trends.push_back(
      {"rss trend 6.0 MB/min", 0, 100e6, 600, 160e6, std::make_pair(0.9e5, 1.1e5), "#cf222e"});
  const int width = 960, height = 280;
  const std::string svg = rp::render_chart(chart, width, height);

  // The trend is drawn before the series (under them) and dashed: it never hides the data.
  const auto series_at = svg.find("class=\"series\"");
  const auto trend_at = svg.find("<line class=\"trend\"");
  REQUIRE(series_at != std::string::npos);
  REQUIRE(trend_at != std::string::npos);
  CHECK(trend_at < series_at);
  CHECK(svg.find("stroke-dasharray=\"6 4\"", trend_at) < svg.find("</line>", trend_at));
  CHECK_THAT(svg, Catch::Contains(">95% interval</text>"));

  // Every legend label starts inside the chart (report_browser_test.cpp measures where they
  // end, in Chromium); the legend took a second row, and the chart grew by it.
  const std::regex label(R"re(<text class="legend" x="([0-9.]+)" y="([0-9.]+)">([^<]*)</text>)re");
  std::set<std::string> rows;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), label); it != std::sregex_iterator();
       ++it) {
    const double x = std::stod((*it)[1].str());
    CAPTURE((*it)[3].str());
    CHECK(x < width);
    rows.insert((*it)[2].str());
  }
  CHECK(rows.size() >= 2);
  CHECK_THAT(svg, Catch::Contains(
                      "viewBox=\"0 0 960 " +
                      std::to_string(height + 16 * (static_cast<int>(rows.size()) - 1)) + "\""));
}

TEST_CASE("JUnit shows an inconclusive verdict as a failure unless skipped is asked for") {
  namespace an = soak::analysis;
  namespace rp = soak::report;
  // Ten seconds: far too short to rule out growth at the target, so inconclusive.
  std::vector<double> t, v;
  for (int i = 0; i < 10; ++i) {
    t.push_back(i);
    v.push_back(100e6 + (i % 3) * 4096);
  }
  an::RunInput input;
  input.series.push_back({"rss_bytes", t, v});
  input.samples = t.size();
  input.duration_s = 9;
  const an::Verdict verdict = an::analyze(input);
  REQUIRE(verdict.verdict == an::VerdictKind::inconclusive);
  const std::string failing = rp::render_junit(verdict, nlohmann::json::object());
  CHECK_THAT(failing, Catch::Contains("type=\"inconclusive\""));
  CHECK_THAT(failing, !Catch::Contains("<skipped"));
  CHECK_THAT(failing, !Catch::Contains("failures=\"0\""));
  CHECK_THAT(failing, Catch::Contains("skipped=\"0\""));
  const std::string skipped =
      rp::render_junit(verdict, nlohmann::json::object(), rp::JunitInconclusive::skipped);
  CHECK_THAT(skipped, Catch::Contains("<skipped message=\"inconclusive: "));
  CHECK_THAT(skipped, Catch::Contains("failures=\"0\""));

  // Nothing to judge at all (no RSS): still not green, through a `verdict` testcase.
  an::RunInput nothing;
  nothing.series.push_back({"threads", t, v});
  nothing.samples = t.size();
  nothing.duration_s = 9;
  const an::Verdict none = an::analyze(nothing);
  REQUIRE(none.verdict == an::VerdictKind::inconclusive);
  const std::string junit = rp::render_junit(none, nlohmann::json::object());
  CHECK_THAT(junit,
             Catch::Contains("name=\"verdict\"") && Catch::Contains("type=\"inconclusive\""));
}

TEST_CASE("a chart's axis and hover values never use an exponent") {
  namespace rp = soak::report;
  std::vector<double> t, v;
  for (int i = 0; i < 100; ++i) {
    t.push_back(i);
    v.push_back(6e6 + 1e4 * i);
  }
  rp::Chart chart;
  chart.id = "chart-heap";
  chart.title = "Target heap";
  chart.unit = rp::Unit::plain;
  chart.t_end = 100;
  chart.lines.push_back({"heap.in_use", t, v, "#0969da"});
  const std::string svg = rp::render_chart(chart);
  CHECK(svg.find("e+0") == std::string::npos);
  CHECK_THAT(svg, Catch::Contains(">6.") && Catch::Contains("M<"));
}

TEST_CASE("verdict.json says counter for cumulative figures and gauge for levels") {
  // A recorded run: cpu_s and the page faults only rise; rss, threads and fds are levels.
  const SoakResult r =
      run_soak({"analyze", (data_dir() / "trace_leaky.ndjson").string(), "--format", "json"});
  INFO(r.err);
  const auto verdict = nlohmann::json::parse(r.out);
  const auto& metrics = verdict["metrics"];
  for (const char* counter : {"cpu_s", "minor_faults", "major_faults"}) {
    INFO(counter);
    REQUIRE(metrics.contains(counter));
    CHECK(metrics[counter]["kind"] == "counter");
  }
  for (const char* gauge : {"rss_bytes", "vms_bytes", "threads", "fds"}) {
    INFO(gauge);
    REQUIRE(metrics.contains(gauge));
    CHECK(metrics[gauge]["kind"] == "gauge");
  }
  CHECK(std::string(soak::report::metric_kind("heap.requests_total")) == "counter");
  CHECK(std::string(soak::report::metric_kind("load.jobs_done")) == "counter");
  CHECK(std::string(soak::report::metric_kind("heap.in_use_bytes")) == "gauge");
}

TEST_CASE("the load table keeps the recorded figures in order and says '-' for none") {
  // As a load_summary event records it (a plain JSON object: keys sorted), with a request that
  // never got an answer and a field of the wrong type.
  const auto recorded = nlohmann::json::parse(R"({
    "answered": 9, "by_request": {
      "down": {"answered": 0, "error_rate": 1.0, "errors": {"connect": 1}, "latency_ms": null,
               "requests": 1, "rps": 0.1},
      "items": {"answered": 9, "error_rate": 0.0, "errors": {}, "rps": 0.9, "requests": 9,
                "latency_ms": {"max": 7.5, "p50": 1.25, "p95": 3.5, "p99": 7.0}}},
    "duration_s": 10.0, "error_rate": 0.1, "errors": {"connect": 1, "bogus": "x"},
    "jobs": {"done": 3, "failed": 1, "duration_s": {"max": 0.9, "p50": 0.4, "p95": 0.8, "p99": 0.9}},
    "latency_ms": {"max": 7.5, "p50": 1.25, "p95": 3.5, "p99": 7.0},
    "requests": 10, "rps": 1.0, "sent": "ten"})");
  const auto load = soak::report::load_to_json(recorded);
  std::vector<std::string> keys;
  for (const auto& [key, value] : load.items()) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"requests", "answered", "errors", "error_rate", "rps",
                                         "duration_s", "latency_ms", "by_request", "jobs"});
  CHECK(load["errors"] == nlohmann::ordered_json{{"connect", 1}});  // "bogus" is no count
  CHECK(load["by_request"]["down"]["latency_ms"].is_null());
  const std::string text = soak::report::load_to_text(load);
  INFO(text);
  CHECK_THAT(text, Catch::StartsWith("load: 10 requests in 10.0 s, 1.0/s, 10.00 % errors"));
  CHECK_THAT(text, Catch::Contains("(connect 1)"));
  CHECK(std::regex_search(text,
                          std::regex(R"(items +9 +0\.9 +0\.00 % +1\.25 +3\.50 +7\.00 +7\.50)")));
  CHECK(std::regex_search(text, std::regex(R"(down +1 +0\.1 +100\.00 % +- +- +- +-\n)")));
  CHECK_THAT(text, Catch::Contains("jobs: 3 done, 1 failed; done in p50 0.40 s"));
  CHECK(text.find("nan") == std::string::npos);
  CHECK(soak::report::load_to_text(nullptr).empty());
}

TEST_CASE("a load_summary whose by_request entries are not objects reads as figures of nothing") {
  // value("latency_ms", ...) on 5 threw type_error 306: `soak analyze` ended "unexpected failure".
  const auto recorded =
      nlohmann::json::parse(R"({"requests": 2, "by_request": {"x": 5, "y": [1]}})");
  nlohmann::ordered_json load;
  REQUIRE_NOTHROW(load = soak::report::load_to_json(recorded));
  CHECK(load["by_request"]["x"]["errors"] == nlohmann::ordered_json::object());
  CHECK(load["by_request"]["y"]["latency_ms"].is_null());
  CHECK(std::regex_search(soak::report::load_to_text(load), std::regex(R"(x +- +- +- +% +-)")));

  TempDir dir;
  const fs::path log = dir / "samples.ndjson";
  {
    std::ofstream out(log);
    out << R"({"type":"header","format":"soak-samples","version":1,"started_at":"2026-12-02T00:00:00Z","interval_s":1.0,"target":{"pid":1,"name":"svc","cmdline":["svc"]}})"
        << "\n";
    for (int i = 0; i <= 30; ++i) {
      out << "{\"type\":\"sample\",\"t\":" << i << ",\"rss_bytes\":50000000}\n";
    }
    out << R"({"type":"event","t":30,"kind":"load_summary","detail":"","load":{"by_request":{"x":5}}})"
        << "\n";
  }
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"analyze", log.string(), "--format", "json"},
        std::vector<std::string>{"report", log.string(), "-o", (dir / "r.html").string()}}) {
    INFO(args[0]);
    const SoakResult r = run_soak(args);
    INFO(r.err);
    CHECK(r.exit_code >= 0);
    CHECK(r.exit_code <= 2);
    CHECK_THAT(r.err, !Catch::Contains("unexpected"));
  }
}

TEST_CASE("a growing cgroup is shown as the cgroup's, not warned about as the target's leak") {
  // Ten minutes at 1 s: the target's RSS flat (with noise), its cgroup growing 2 MB/min (under
  // the 5 MB/min target: a slow leak warning, were it the target's).
  TempDir dir;
  const fs::path log = dir / "samples.ndjson";
  {
    std::ofstream out(log);
    out << R"({"type":"header","format":"soak-samples","version":1,"started_at":"2026-12-02T00:00:00Z","interval_s":1.0,"target":{"pid":1,"name":"svc","cmdline":["svc"]},"host":{"kernel":"6.1.0","page_size":4096,"mem_total_bytes":25000000000}})"
        << "\n";
    std::mt19937_64 rng(7);
    std::normal_distribution<double> noise(0, 20000);
    for (int i = 0; i <= 600; ++i) {
      const double rss = 50e6 + noise(rng);
      const double cgroup = 200e6 + 2e6 * i / 60.0 + noise(rng);
      out << "{\"type\":\"sample\",\"t\":" << i << ",\"rss_bytes\":" << std::llround(rss)
          << ",\"threads\":4,\"fds\":12,\"cgroup.memory_bytes\":" << std::llround(cgroup) << "}\n";
    }
  }
  const SoakResult r = run_soak({"analyze", log.string(), "--format", "json"});
  INFO(r.err << r.out);
  const auto verdict = nlohmann::json::parse(r.out);
  CHECK(verdict["metrics"]["cgroup.memory_bytes"]["classification"] == "leak");
  for (const auto& w : verdict["warnings"])
    CHECK(w.get<std::string>().find("cgroup") == std::string::npos);
  bool noted = false;
  for (const auto& n : verdict["notes"]) {
    noted =
        noted || n.get<std::string>().starts_with("cgroup.memory_bytes grows (the target's cgroup");
  }
  CHECK(noted);
  CHECK(verdict["verdict"] == "pass");
}

TEST_CASE("the metrics table shows regions as bytes and probe figures without long digits") {
  TempDir dir;
  const fs::path log = dir / "samples.ndjson";
  {
    std::ofstream out(log);
    out << R"({"type":"header","format":"soak-samples","version":1,"started_at":"2026-12-02T00:00:00Z","interval_s":1.0,"target":{"pid":1,"name":"svc","cmdline":["svc"]},"host":{"kernel":"6.1.0","page_size":4096,"mem_total_bytes":25000000000}})"
        << "\n";
    for (int i = 0; i <= 120; ++i) {
      // A probe's mean of a count (as a binned series has them) and a region of 6 MiB.
      char requests[32];
      std::snprintf(requests, sizeof requests, "%.6f", 1868578.161383 + i);
      out << "{\"type\":\"sample\",\"t\":" << i << ",\"rss_bytes\":" << 50000000 + (i % 7) * 4096
          << ",\"heap.requests\":" << requests << ",\"region.heap\":" << 6291456 << "}\n";
    }
  }
  const SoakResult r = run_soak({"report", log.string(), "-o", (dir / "report.html").string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::string html = read_file(dir / "report.html");
  const auto table = html.substr(html.find("id=\"metrics\""));
  const auto region = table.substr(table.find("region.heap"), 200);
  CHECK_THAT(region, Catch::Contains("6.29 MB"));  // the default targets are written in MB
  const auto probe = table.substr(table.find("heap.requests"), 300);
  INFO(probe);
  CHECK_THAT(probe, Catch::Contains("1868578"));
  CHECK(probe.find("1868578.16") == std::string::npos);
  CHECK(probe.find("e+06") == std::string::npos);
}
