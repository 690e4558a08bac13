// soak::report and `soak report`: rendered pages for recorded runs, escaping, JUnit, and the
// page opened in a real headless Chromium.

#include <catch2/catch.hpp>
#include <regex>

#include "soak/report/html.hpp"
#include "soak/report/svg.hpp"
#include "soak/log/log.hpp"
#include "support.hpp"

using namespace soak::test;

namespace {

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

/// `soak report` on a copy of a recorded log; returns the page.
std::string report_of(const std::string& trace, const TempDir& dir) {
  fs::copy_file(data_dir() / trace, dir / trace, fs::copy_options::overwrite_existing);
  const SoakResult r = run_soak({"report", (dir / trace).string(), "-o", (dir / "report.html").string()});
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
  CHECK_THAT(html, Catch::Contains("<code>fds_growth</code>"));
  CHECK(std::regex_search(html, std::regex("fds_growth</code>.*?class=\"status fail\"")));
  CHECK_THAT(html, Catch::Contains("rss_bytes trend 2.01 MiB/min (leak)"));
  CHECK(html.find("<script") == std::string::npos);  // self-contained and inert
  CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg"));  // no network
  CHECK(html.find("https://") == std::string::npos);
}

TEST_CASE("reports render for plateau, sawtooth, flat and crash-ended runs") {
  TempDir dir;
  const std::string plateau = report_of("trace_plateau.ndjson", dir);
  CHECK(std::regex_search(plateau, std::regex("<code>rss_bytes</code></td><td>plateau")));
  const std::string saw = report_of("trace_healthy_churn.ndjson", dir);
  CHECK_THAT(saw, Catch::Contains("id=\"verdict\">pass"));
  CHECK_THAT(saw, Catch::Contains("rss floor (cycle minima)"));  // the floor that was judged
  CHECK(count_of(saw, "class=\"dot\"") >= 5);
  const std::string flat = report_of("trace_flat.ndjson", dir);
  CHECK(std::regex_search(flat, std::regex("<code>rss_bytes</code></td><td>steady")));
  const std::string torn = report_of("torn.ndjson", dir);
  CHECK_THAT(torn, Catch::Contains("id=\"verdict\">inconclusive"));
  CHECK_THAT(torn, Catch::Contains("torn last line"));
}

TEST_CASE("everything taken from the target is escaped") {
  TempDir dir;
  {
    nlohmann::ordered_json header = {
        {"type", "header"}, {"format", "soak-samples"}, {"version", 1}, {"interval_s", 1.0},
        {"target", {{"pid", 7}, {"name", "<script>alert(1)</script>"},
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
  const SoakResult r = run_soak({"analyze", (dir / "leaky.ndjson").string(), "--junit",
                                 (dir / "junit.xml").string()});
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
  REQUIRE(lines.size() == 9);
  CHECK(lines[0] == "testsuites 8 2");
  CHECK(lines[1] == "rss_growth ok");
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
  const std::vector<std::string> flags = {
      chromium.string(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
      "--no-first-run", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--user-data-dir=" + (dir / "profile").string(), "--window-size=1100,1600"};
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
