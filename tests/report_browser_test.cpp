// The report's charts measured by a real layout engine: `soak report` pages of real runs (a
// leak, a healthy sawtooth, a scenario against the example server, a probe run) and charts
// with hostile legends, loaded in headless Chromium with a small measuring script. What a
// reader sees is checked there, not in the markup: the series drawn over a thin dashed trend,
// each band in the legend, every label inside its chart, no legend item over another.
//
// Set SOAK_TEST_SHOTS=DIR to keep the screenshots (they are taken into the test's own
// directory and checked for a drawn page either way), SOAK_TEST_CHROMIUM to use another build
// of Chromium. Without one the tests show as skipped.

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>

#include "soak/log/log.hpp"
#include "soak/report/svg.hpp"
#include "support.hpp"

using namespace soak::test;
using nlohmann::json;

namespace {

/// Debian's chromium (scripts/setup.sh), or the browser SOAK_TEST_CHROMIUM names.
fs::path chromium() {
  const char* named = std::getenv("SOAK_TEST_CHROMIUM");
  return named != nullptr ? fs::path(named) : fs::path("/usr/bin/chromium");
}

/// Collects, for every chart, what the layout engine made of it: each <text>'s box (getBBox,
/// in the chart's user units, the units of its viewBox), each legend item's box and swatch,
/// the computed dash, width and document order of trends and series, and each band's
/// computed fill. Written into the page as JSON, where --dump-dom brings it out.
constexpr const char* kMeasure = R"js(
(function () {
  function box(b) { return {x: b.x, y: b.y, w: b.width, h: b.height}; }
  var charts = [];
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var vb = svg.viewBox.baseVal;
    var nodes = Array.prototype.slice.call(svg.querySelectorAll('*'));
    var c = {id: svg.id, width: vb.width, height: vb.height, texts: [], legend: [], trends: [],
             series: [], bands: []};
    svg.querySelectorAll('text').forEach(function (t) {
      c.texts.push({cls: t.getAttribute('class') || '', text: t.textContent,
                    anchor: t.getAttribute('text-anchor') || 'start', box: box(t.getBBox())});
    });
    svg.querySelectorAll('g.legend-item').forEach(function (g) {
      var t = g.querySelector('text'), line = g.querySelector('line');
      c.legend.push({text: t ? t.textContent : '', box: box(g.getBBox()),
                     band: !!g.querySelector('.band'), dot: !!g.querySelector('circle'),
                     dashed: !!line && getComputedStyle(line).strokeDasharray !== 'none'});
    });
    svg.querySelectorAll('g.series').forEach(function (g) {
      var mark = g.querySelector('polyline, circle.dot'), cs = getComputedStyle(mark);
      c.series.push({label: g.getAttribute('data-label'), order: nodes.indexOf(g),
                     dots: mark.tagName === 'circle', stroke_width: parseFloat(cs.strokeWidth)});
    });
    svg.querySelectorAll('.trend').forEach(function (l) {
      var cs = getComputedStyle(l);
      c.trends.push({label: l.textContent, order: nodes.indexOf(l), dasharray: cs.strokeDasharray,
                     stroke_width: parseFloat(cs.strokeWidth)});
    });
    svg.querySelectorAll('polygon.band').forEach(function (b) {
      var cs = getComputedStyle(b);
      c.bands.push({label: b.textContent, opacity: parseFloat(cs.opacity), fill: cs.fill});
    });
    var r = svg.getBoundingClientRect(), p = svg.parentElement.getBoundingClientRect();
    c.client = {left: r.left, right: r.right, parent_left: p.left, parent_right: p.right};
    charts.push(c);
  });
  var out = document.createElement('script');
  out.type = 'application/json';
  out.id = 'soak-measurements';
  out.textContent = JSON.stringify({charts: charts}).replace(/</g, '\\u003c');
  document.body.appendChild(out);
})();
)js";

std::vector<std::string> chromium_command(const fs::path& profile) {
  return {chromium().string(),
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--hide-scrollbars",
          "--user-data-dir=" + profile.string(),
          "--window-size=1100,1600"};
}

/// Loads a copy of `page` with the measuring script in Chromium; the measurements.
json measure(const fs::path& page, const fs::path& work) {
  std::string html = read_file(page);
  const std::string script = std::string("<script>") + kMeasure + "</script>";
  const auto body_end = html.rfind("</body>");
  html.insert(body_end == std::string::npos ? html.size() : body_end, script);
  const fs::path copy = work / (page.parent_path().filename().string() + "-measured.html");
  std::ofstream(copy) << html;
  auto argv = chromium_command(work / "profile");
  argv.insert(argv.end(), {"--dump-dom", "file://" + copy.string()});
  Child dom(argv);
  REQUIRE(dom.wait_for(60s) == 0);
  const std::string dumped = dom.out();
  const std::string open = "id=\"soak-measurements\">";
  const auto from = dumped.find(open);
  INFO(dom.err());
  REQUIRE(from != std::string::npos);
  const auto to = dumped.find("</script>", from);
  REQUIRE(to != std::string::npos);
  return json::parse(dumped.substr(from + open.size(), to - from - open.size()));
}

/// A screenshot of `page`, checked for a drawn page (not blank), kept when SOAK_TEST_SHOTS
/// names a directory.
void screenshot(const fs::path& page, const fs::path& work, const std::string& name) {
  const fs::path png = work / (name + ".png");
  auto argv = chromium_command(work / "profile");
  argv.insert(argv.end(), {"--screenshot=" + png.string(), "file://" + page.string()});
  Child shot(argv);
  REQUIRE(shot.wait_for(60s) == 0);
  REQUIRE(fs::exists(png));
  Child check(
      {"/usr/bin/python3", (data_dir().parent_path() / "png_check.py").string(), png.string()});
  REQUIRE(check.wait_for(60s) == 0);
  CHECK(std::stod(check.out()) > 0.05);  // text and charts; a blank page is 0
  if (const char* keep = std::getenv("SOAK_TEST_SHOTS")) {
    fs::create_directories(keep);
    fs::copy_file(png, fs::path(keep) / png.filename(), fs::copy_options::overwrite_existing);
  }
}

struct Box {
  double x = 0, y = 0, w = 0, h = 0;
  explicit Box(const json& j)
      : x(j["x"].get<double>()),
        y(j["y"].get<double>()),
        w(j["w"].get<double>()),
        h(j["h"].get<double>()) {}
  bool overlaps(const Box& o) const {
    return x < o.x + o.w && o.x < x + w && y < o.y + o.h && o.y < y + h;
  }
};

/// Text antialiasing may reach a fraction of a unit past the glyphs' advance.
constexpr double kEdgeSlack = 0.5;

/// Every text of the chart lies inside its viewBox; no two texts and no two legend items
/// overlap.
void check_text_inside(const json& chart) {
  const double width = chart["width"], height = chart["height"];
  for (const auto& text : chart["texts"]) {
    const Box b(text["box"]);
    INFO(text["cls"] << " text " << text["text"] << " at x " << b.x << ".." << b.x + b.w << ", y "
                     << b.y << ".." << b.y + b.h << " in " << width << " x " << height);
    CHECK(b.x >= -kEdgeSlack);
    CHECK(b.y >= -kEdgeSlack);
    CHECK(b.x + b.w <= width + kEdgeSlack);
    CHECK(b.y + b.h <= height + kEdgeSlack);
  }
  const auto& texts = chart["texts"];  // no label over another (a target's over an event's)
  for (std::size_t i = 0; i < texts.size(); ++i) {
    for (std::size_t k = i + 1; k < texts.size(); ++k) {
      INFO("text " << texts[i]["text"] << " against " << texts[k]["text"]);
      CHECK_FALSE(Box(texts[i]["box"]).overlaps(Box(texts[k]["box"])));
    }
  }
  const auto& legend = chart["legend"];
  for (std::size_t i = 0; i < legend.size(); ++i) {
    for (std::size_t k = i + 1; k < legend.size(); ++k) {
      INFO("legend item " << legend[i]["text"] << " against " << legend[k]["text"]);
      CHECK_FALSE(Box(legend[i]["box"]).overlaps(Box(legend[k]["box"])));
    }
  }
}

/// Trends thin, dashed and under every series; each band visible and in the legend; each
/// series, trend and band named in the legend by the swatch it is drawn with.
void check_overlays(const json& chart) {
  const auto& series = chart["series"];
  const auto& legend = chart["legend"];
  for (const auto& trend : chart["trends"]) {
    INFO("trend " << trend["label"]);
    CHECK(trend["dasharray"] != "none");
    for (const auto& s : series) {
      INFO("series " << s["label"]);
      CHECK(trend["order"].get<int>() < s["order"].get<int>());  // drawn first: under it
      if (!s["dots"].get<bool>()) CHECK(trend["stroke_width"] <= s["stroke_width"]);
    }
  }
  std::size_t band_items = 0, dot_items = 0;
  for (const auto& item : legend) {
    band_items += item["band"].get<bool>() && item["text"] == "95% interval";
    dot_items += item["dot"].get<bool>();
  }
  CHECK(band_items == chart["bands"].size());
  for (const auto& band : chart["bands"]) {
    INFO("band " << band["label"]);
    CHECK(band["opacity"] > 0.05);
    CHECK(band["opacity"] < 0.6);  // the series and trend show through it
    CHECK(band["fill"] != "none");
  }
  const auto dots = std::count_if(series.begin(), series.end(),
                                  [](const json& s) { return s["dots"].get<bool>(); });
  CHECK(dot_items == static_cast<std::size_t>(dots));
  CHECK(legend.size() == series.size() + chart["trends"].size() + chart["bands"].size());
}

/// All checks on every chart of a page.
void check_page(const json& page, const std::string& name) {
  REQUIRE(!page["charts"].empty());
  for (const auto& chart : page["charts"]) {
    INFO("page " << name << ", chart " << chart["id"]);
    check_text_inside(chart);
    check_overlays(chart);
    const auto& client = chart["client"];
    CHECK(client["left"] >= client["parent_left"].get<double>() - kEdgeSlack);
    CHECK(client["right"] <= client["parent_right"].get<double>() + kEdgeSlack);
  }
}

const json& chart_named(const json& page, const std::string& id) {
  for (const auto& chart : page["charts"]) {
    if (chart["id"] == id) return chart;
  }
  FAIL("no chart " << id);
  throw std::logic_error("unreachable");
}

/// The chart that draws the series `label`.
const json* chart_with_series(const json& page, const std::string& label) {
  for (const auto& chart : page["charts"]) {
    for (const auto& s : chart["series"]) {
      if (s["label"] == label) return &chart;
    }
  }
  return nullptr;
}

/// The highest value on a chart's y axis (its right-anchored tick labels: "20", "7.5").
double axis_top(const json& chart) {
  double top = -INFINITY;
  for (const auto& text : chart["texts"]) {
    if (text["cls"] == "tick" && text["anchor"] == "end") {
      top = std::max(top, std::stod(text["text"].get<std::string>()));
    }
  }
  return top;
}

/// The lowest value on a chart's y axis.
double axis_bottom(const json& chart) {
  double bottom = INFINITY;
  for (const auto& text : chart["texts"]) {
    if (text["cls"] == "tick" && text["anchor"] == "end") {
      bottom = std::min(bottom, std::stod(text["text"].get<std::string>()));
    }
  }
  return bottom;
}

/// GET /api/items on 127.0.0.1:`port` about `per_s` times a second until `stop`; the answers
/// are read and dropped (the example server keeps memory per request when asked to leak).
void traffic(int port, double per_s, const std::atomic<bool>& stop) {
  const auto gap = std::chrono::duration<double>(1 / per_s);
  while (!stop) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const timeval timeout{2, 0};  // a stuck answer cannot hold the test
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      const std::string request = "GET /api/items HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
      if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) > 0) {
        char buf[4096];
        while (::recv(fd, buf, sizeof buf, 0) > 0) {
        }
      }
    }
    ::close(fd);
    std::this_thread::sleep_for(gap);
  }
}

/// A long or wide label, a marker at the right edge, several trends with bands and a series
/// drawn as points: what a target's own names and a crowded chart can throw at the layout.
std::string hostile_charts() {
  namespace rp = soak::report;
  std::vector<double> t, v, floor_t, floor_v;  // borrowed by each chart while it renders
  for (int i = 0; i <= 300; ++i) {
    t.push_back(i);
    v.push_back(50e6 + 2e5 * i + 3e6 * (i % 30) / 30);
    if (i % 30 == 0) {
      floor_t.push_back(i);
      floor_v.push_back(v.back());
    }
  }
  std::string page;
  auto chart_of = [&](const std::string& id, const std::vector<std::string>& labels, int trends) {
    rp::Chart chart;
    chart.id = id;
    chart.title = "Memory of " + std::string(120, 'W');
    chart.unit = rp::Unit::bytes;
    chart.t_end = 300;
    for (const auto& label : labels) chart.lines.push_back({label, t, v, "#0969da"});
    chart.lines.push_back({"rss floor (cycle minima)", floor_t, floor_v, "#1a7f37", false, true});
    for (int i = 0; i < trends; ++i) {
      chart.trends.push_back({"heap.MMMM_" + std::to_string(i) + " trend 12.0 MiB/min (leak)", 0,
                              50e6, 300, 113e6, std::make_pair(1.9e5, 2.1e5), "#cf222e"});
    }
    chart.markers.push_back({299, "target_exited", "#57606a"});
    chart.markers.push_back({150, "leak onset", "#cf222e"});
    chart.references.push_back({120e6, "max RSS target 120 MB", "#9a6700"});
    return rp::render_chart(chart);
  };
  // A request rate of 20/s whose intervals read 18..22 (a 0.5 s interval counts whole
  // requests), drawn from zero.
  std::vector<double> rate;
  for (std::size_t i = 0; i < t.size(); ++i) rate.push_back(i == 0 ? 22 : i % 7 == 0 ? 18 : 20);
  rp::Chart rates;
  rates.id = "chart-rates";
  rates.title = "Requests per second (sent, answered)";
  rates.t_end = 300;
  rates.y_from_zero = true;
  rates.lines.push_back({"load.sent_rps", t, rate, "#0969da"});
  page += rp::render_chart(rates);
  page += chart_of("chart-long", {std::string(300, 'W'), "rss_bytes"}, 1);
  page += chart_of("chart-wide", std::vector<std::string>(9, "MMMMMMMMMMMMMMMMMM"), 3);
  page += chart_of(
      "chart-non-ascii",
      {"печать_байтов_памяти", "内存使用量 (常驻集)", "\xE2\x9C\x93 ok", "tab\there & <there>"}, 2);
  return page;
}

}  // namespace

TEST_CASE("charts with hostile legends keep every label inside, measured in headless Chromium") {
  if (!fs::exists(chromium())) SOAK_SKIP(chromium().string() + " is not installed (setup.sh)");
  TempDir dir;
  // The page of a recorded run, with the hostile charts added at the top: the report's own
  // stylesheet lays them out.
  fs::create_directories(dir / "hostile");
  fs::copy_file(data_dir() / "trace_leaky.ndjson", dir / "hostile" / "trace.ndjson");
  const fs::path page = dir / "hostile" / "report.html";
  const SoakResult r =
      run_soak({"report", (dir / "hostile" / "trace.ndjson").string(), "-o", page.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::string html = read_file(page);
  const auto main = html.find("<main>");
  REQUIRE(main != std::string::npos);
  html.insert(main + 6, hostile_charts());
  std::ofstream(page) << html;
  const json measured = measure(page, dir.path());
  REQUIRE(measured["charts"].size() >= 5);
  check_page(measured, "hostile");
  const json& rates = chart_named(measured, "chart-rates");
  CHECK(axis_bottom(rates) == 0);
  CHECK(axis_top(rates) < 30);
  // The label longer than a row is cut (and so shorter than it was), with an ellipsis.
  const json& long_chart = chart_named(measured, "chart-long");
  CHECK(long_chart["legend"][0]["text"].get<std::string>().ends_with("\xE2\x80\xA6"));
  screenshot(page, dir.path(), "hostile");
}

// The series over a dashed trend, each band in the legend, no clipped or overlapping label.
TEST_CASE("reports of a leak, a sawtooth, a scenario and a probe run, in Chromium", "[real]") {
  if (!fs::exists(chromium())) SOAK_SKIP(chromium().string() + " is not installed (setup.sh)");
  TempDir dir;
  const std::string soak = soak_binary().string(), leaky = leaky_binary().string();
  // Four real runs at once, 32 s each (the analysis judges growth from 30 s of data).
  Child leak({soak, "run", "-q", "-d", "32s", "-i", "250ms", "--out", (dir / "leak").string(), "--",
              leaky, "--leak-mib-per-min", "60"});
  Child sawtooth({soak, "run", "-q", "-d", "32s", "-i", "250ms", "--out",
                  (dir / "sawtooth").string(), "--", leaky, "--churn-mib", "40", "--churn-period",
                  "5"});
  const json scenario = {
      {"name", "browser"},
      {"target",
       {{"command", {server_binary().string(), "--port", "0", "--leak-per-request-kib", "16"}},
        {"port_from_output", "listening on [0-9.]+:([0-9]+)"},
        {"ready", {{"http", "/health"}, {"timeout", "10s"}}}}},
      {"sampling", {{"interval", "500ms"}}},
      {"duration", "32s"},
      {"load",
       {{"model", "open"},
        {"shape", {{"preset", "baseline"}, {"rate", 20}}},
        {"requests",
         {{{"name", "items"}, {"method", "GET"}, {"path", "/api/items"}, {"weight", 8}},
          {{"name", "perf"}, {"method", "GET"}, {"path", "/api/perf"}, {"weight", 1}}}}}}};
  std::ofstream(dir / "scenario.json") << scenario.dump(2);
  Child scenario_run(
      {soak, "run", (dir / "scenario.json").string(), "-q", "--out", (dir / "scenario").string()});
  // The probe run: soak attached to a leaking example server, reading its heap figures.
  Child server({server_binary().string(), "--port", "0", "--leak-per-request-kib", "64"});
  REQUIRE(server.wait_for_output("listening on"));
  const std::string listening = server.out();
  const int port = std::stoi(listening.substr(listening.rfind(':') + 1));
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  std::atomic<bool> stop{false};
  std::thread load([&] { traffic(port, 20, stop); });
  Child probe(
      {soak, "attach", std::to_string(server.pid()), "-d", "32s", "-i", "500ms", "-q", "--out",
       (dir / "probe").string(), "--probe",
       "json " + base + "/api/perf /heap/leaked_bytes as leaked_bytes, /requests as requests",
       "--probe", "prom " + base + "/metrics demo_heap_in_use_bytes as in_use_bytes"});
  const auto probe_exit = probe.wait_for(120s);
  stop = true;
  load.join();
  for (Child* run : {&leak, &sawtooth, &scenario_run}) {
    const auto code = run->wait_for(120s);
    INFO(run->err());
    REQUIRE(code.has_value());
    CHECK(*code <= 2);  // pass, fail or inconclusive: a verdict, not an error
  }
  INFO(probe.err());
  REQUIRE(probe_exit.has_value());
  CHECK(*probe_exit <= 2);

  for (const std::string name : {"leak", "sawtooth", "scenario", "probe"}) {
    const fs::path run = dir / name;
    const SoakResult r = run_soak({"report", run.string(), "-o", (run / "page.html").string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const json page = measure(run / "page.html", dir.path());
    check_page(page, name);
    screenshot(run / "page.html", dir.path(), name);

    const json& memory = chart_named(page, "chart-memory");
    if (name == "leak") {
      REQUIRE(memory["trends"].size() == 1);
      CHECK_THAT(memory["trends"][0]["label"].get<std::string>(), Catch::Contains("(leak)"));
      CHECK(memory["bands"].size() == 1);
    }
    if (name == "sawtooth") {  // the floor's points, named by a dot in the legend
      CHECK(std::any_of(memory["series"].begin(), memory["series"].end(),
                        [](const json& s) { return s["dots"].get<bool>(); }));
    }
    if (name == "probe") {
      const json* heap = chart_with_series(page, "heap.leaked_bytes");
      REQUIRE(heap != nullptr);
      CHECK(!(*heap)["trends"].empty());
    }
    if (name == "scenario") {
      // No start-up artefact stretches the rate axis: its top is near the rate asked for
      // (20/s; an interval's count is an integer, so a 0.5 s interval reads 18..22).
      const json* rates = chart_with_series(page, "load.sent_rps");
      REQUIRE(rates != nullptr);
      const auto log = soak::log::read_run_log(run);
      const auto& sent = log.series.at("load.sent_rps").value;
      REQUIRE(sent.size() >= 40);
      INFO("first sent rate " << sent.front() << "/s, axis top " << axis_top(*rates));
      CHECK(sent.front() < 1.5 * 20);
      CHECK(axis_top(*rates) < 1.5 * 20);
    }
  }
}
