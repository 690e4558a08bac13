#include "soak/report/html.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "soak/report/format.hpp"
#include "soak/report/svg.hpp"

namespace soak::report {

namespace {

using analysis::CheckStatus;
using analysis::Classification;

constexpr const char* kCss = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:15px;font-weight:600;color:#555;margin:0 0 6px}
h2{font-size:17px;margin:28px 0 10px}
.verdict{font-size:44px;font-weight:800;letter-spacing:.02em;text-transform:uppercase;margin:0}
.pass{color:#1a7f37}.fail{color:#cf222e}.inconclusive{color:#9a6700}
.sentence{font-size:17px;margin:6px 0 0}
.card{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:12px 14px;margin:12px 0}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e5e8eb;padding:6px 8px;text-align:left;vertical-align:top}
th{font-weight:600;background:#f0f2f4}
td.status{font-weight:700;text-transform:uppercase;font-size:12px}
td.status.pass{background:#dafbe1}td.status.fail{background:#ffebe9}td.status.inconclusive{background:#fff8c5}
code{font:12px ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
svg.chart{width:100%;height:auto;display:block}
svg .chart-title{font-weight:600;font-size:13px;fill:#1d2330}
svg .tick,svg .legend,svg .marker-label,svg .ref-label{font-size:11px;fill:#57606a}
svg .grid{stroke:#eaeef2;stroke-width:1}
svg .frame{fill:none;stroke:#d0d7de}
svg .line{stroke-width:1.6}
svg .trend{stroke-width:2.5}
svg .band{opacity:.18}
svg .region{fill:#8c959f;opacity:.15}
svg .hover{fill:transparent;stroke:none}
svg .hover:hover{fill:#1d2330}
.muted{color:#57606a}
ul.warnings{color:#57606a;font-size:13px;margin:8px 0;padding-left:18px}
)";

const char* color_for(std::size_t i) {
  static const char* palette[] = {"#0969da", "#8250df", "#bf3989", "#1a7f37",
                                  "#9a6700", "#cf222e", "#57606a", "#0550ae"};
  return palette[i % 8];
}

std::string status_class(CheckStatus s) { return analysis::to_string(s); }

std::string fixed(double v, int digits) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

const ReportSeries* find_series(const ReportInput& in, const std::string& name) {
  for (const auto& s : in.series) {
    if (s.name == name && !s.t.empty()) return &s;
  }
  return nullptr;
}

double run_end(const ReportInput& in) {
  double end = 0;
  for (const auto& s : in.series) {
    if (!s.t.empty()) end = std::max(end, s.t.back());
  }
  for (const auto& e : in.events) end = std::max(end, e.t);
  return end;
}

/// Adds the analysis of `metric` (trend, band, warm-up, onset, floor) to a chart.
void add_analysis_overlays(Chart& chart, const analysis::MetricResult& m, const std::string& color) {
  if (!m.analysis) return;
  const analysis::SeriesAnalysis& a = *m.analysis;
  if (a.classification == Classification::insufficient) return;
  TrendOverlay trend;
  trend.label = m.name + " trend " + format_metric_value(m.name, a.growth_per_s * 60) + "/min (" +
                analysis::to_string(a.classification) + ")";
  trend.t0 = a.trend_t0;
  trend.y0 = a.trend_y0;
  trend.t1 = a.trend_t1;
  trend.y1 = a.trend_y1;
  trend.band_slopes_per_s = std::make_pair(a.ci_low_per_s, a.ci_high_per_s);
  trend.color = color;
  chart.trends.push_back(trend);
  if (a.warmup_end_s) chart.regions.push_back({0, *a.warmup_end_s, "warm-up (excluded from the fit)"});
  if (a.onset_s) chart.markers.push_back({*a.onset_s, "leak onset", "#cf222e"});
}

std::string memory_chart(const ReportInput& in, double t_end) {
  Chart chart;
  chart.id = "chart-memory";
  chart.title = "Memory";
  chart.unit = Unit::bytes;
  chart.t_end = t_end;
  std::size_t color = 0;
  for (const char* name : {"rss_bytes", "pss_bytes", "uss_bytes", "anon_bytes", "children_rss_bytes"}) {
    if (const ReportSeries* s = find_series(in, name)) {
      chart.lines.push_back({name, s->t, s->v, color_for(color++), std::string(name) != "rss_bytes", false});
    }
  }
  if (chart.lines.empty()) return {};
  if (const analysis::MetricResult* rss = in.verdict->find("rss_bytes")) {
    add_analysis_overlays(chart, *rss, "#cf222e");
    if (rss->analysis && rss->analysis->sawtooth_floor) {
      const auto& a = *rss->analysis;
      chart.lines.push_back({"rss floor (cycle minima)", a.floor_t, a.floor_y, "#1a7f37", false, true});
    }
  }
  // The max-RSS target that applies to this run's length (the 1 h one means nothing at 20 h).
  const std::string applicable = t_end <= 3600 ? "max_rss_1h" : "max_rss_24h";
  for (const auto& c : in.verdict->checks) {
    if (c.name == applicable && c.target_value) {
      chart.references.push_back({*c.target_value, "max RSS target " + c.target, "#9a6700"});
    }
  }
  for (const auto& e : in.events) {
    if (e.kind == "target_exited" || e.kind == "stopped" || e.kind == "pid_reused" ||
        e.kind == "target_unreadable") {
      chart.markers.push_back({e.t, e.kind, "#57606a"});
    }
  }
  return render_chart(chart);
}

std::string group_chart(const ReportInput& in, double t_end, const std::string& id,
                        const std::string& title, const std::vector<std::string>& names, Unit unit) {
  Chart chart;
  chart.id = id;
  chart.title = title;
  chart.unit = unit;
  chart.t_end = t_end;
  std::size_t color = 0;
  for (const auto& name : names) {
    if (const ReportSeries* s = find_series(in, name)) {
      chart.lines.push_back({name, s->t, s->v, color_for(color++), false, false});
      if (const analysis::MetricResult* m = in.verdict->find(name);
          m && m->analysis && m->analysis->classification == Classification::leak) {
        add_analysis_overlays(chart, *m, color_for(color - 1));
      }
    }
  }
  return chart.lines.empty() ? std::string() : render_chart(chart);
}

std::string checks_table(const analysis::Verdict& v) {
  std::string s = "<table id=\"checks\"><thead><tr><th>check</th><th>measured</th><th>target</th>"
                  "<th>acceptable</th><th>status</th><th>why</th></tr></thead><tbody>";
  for (const auto& c : v.checks) {
    s += "<tr><td><code>" + escape_html(c.name) + "</code></td><td>" + escape_html(c.measured) +
         "</td><td>" + escape_html(c.target.empty() ? c.limit : c.target) + "</td><td>" +
         escape_html(c.acceptable) + "</td><td class=\"status " + status_class(c.status) + "\">" +
         analysis::to_string(c.status) + (c.tier.empty() ? "" : " (" + escape_html(c.tier) + ")") +
         "</td><td>" + escape_html(c.detail) + "</td></tr>";
  }
  return s + "</tbody></table>";
}

std::string metrics_table(const analysis::Verdict& v) {
  std::string s = "<table id=\"metrics\"><thead><tr><th>metric</th><th>class</th><th>growth / min"
                  " [95% interval]</th><th>first</th><th>last</th><th>max</th><th>notes</th></tr>"
                  "</thead><tbody>";
  for (const auto& m : v.metrics) {
    std::string cls = "counter", growth, notes;
    if (m.analysis) {
      const auto& a = *m.analysis;
      cls = analysis::to_string(a.classification);
      if (a.classification != Classification::insufficient) {
        growth = format_metric_value(m.name, a.growth_per_s * 60) + " [" +
                 format_metric_value(m.name, a.ci_low_per_s * 60) + ", " +
                 format_metric_value(m.name, a.ci_high_per_s * 60) + "]";
      }
      notes = a.reason;
      if (a.warmup_end_s) notes += "; warm-up until " + fixed(*a.warmup_end_s, 0) + " s";
      if (a.onset_s) notes += "; onset at " + fixed(*a.onset_s, 0) + " s";
      if (m.time_to_limit_s) {
        notes += "; reaches " + m.limit_name + " in " + fixed(*m.time_to_limit_s / 3600, 1) + " h";
      }
    }
    s += "<tr><td><code>" + escape_html(m.name) + "</code></td><td>" + cls + "</td><td>" +
         escape_html(growth) + "</td><td>" + escape_html(format_metric_value(m.name, m.first)) +
         "</td><td>" + escape_html(format_metric_value(m.name, m.last)) + "</td><td>" +
         escape_html(format_metric_value(m.name, m.max)) + "</td><td>" + escape_html(notes) +
         "</td></tr>";
  }
  return s + "</tbody></table>";
}

std::string facts_table(const ReportInput& in) {
  const nlohmann::json& h = in.header;
  auto get = [](const nlohmann::json& j, const char* key) -> std::string {
    if (!j.is_object() || !j.contains(key)) return "";
    const auto& v = j[key];
    return v.is_string() ? v.get<std::string>() : v.dump();
  };
  std::string cmdline;
  if (h.contains("target") && h["target"].contains("cmdline") && h["target"]["cmdline"].is_array()) {
    for (const auto& a : h["target"]["cmdline"]) {
      if (!cmdline.empty()) cmdline += ' ';
      cmdline += a.is_string() ? a.get<std::string>() : a.dump();
    }
  }
  const nlohmann::json target = h.value("target", nlohmann::json::object());
  const nlohmann::json host = h.value("host", nlohmann::json::object());
  std::vector<std::pair<std::string, std::string>> rows = {
      {"target", get(target, "name") + " (pid " + get(target, "pid") + ")"},
      {"command line", cmdline},
      {"mode", get(h, "mode")},
      {"started", get(h, "started_at")},
      {"duration", fixed(in.verdict->duration_s, 1) + " s"},
      {"interval", get(h, "interval_s") + " s"},
      {"samples", std::to_string(in.verdict->samples)},
      {"host", "Linux " + get(host, "kernel") + ", " +
                   format_bytes(host.value("mem_total_bytes", 0.0)) + " memory"},
      {"soak version", get(h, "soak_version").empty() ? SOAK_VERSION : get(h, "soak_version")},
      {"log", in.log_path},
  };
  std::string s = "<table id=\"facts\"><tbody>";
  for (const auto& [k, v] : rows) {
    s += "<tr><th>" + escape_html(k) + "</th><td><code>" + escape_html(v) + "</code></td></tr>";
  }
  return s + "</tbody></table>";
}

std::string events_table(const ReportInput& in) {
  constexpr std::size_t kMaxRows = 300;
  std::string s = "<table id=\"events\"><thead><tr><th>t</th><th>event</th><th>detail</th></tr>"
                  "</thead><tbody>";
  for (std::size_t i = 0; i < in.events.size() && i < kMaxRows; ++i) {
    const auto& e = in.events[i];
    s += "<tr><td>" + fixed(e.t, 1) + " s</td><td><code>" + escape_html(e.kind) + "</code></td><td>" +
         escape_html(e.detail) + "</td></tr>";
  }
  if (in.events.size() > kMaxRows) {
    s += "<tr><td></td><td colspan=\"2\" class=\"muted\">" +
         std::to_string(in.events.size() - kMaxRows) + " more in the log</td></tr>";
  }
  return s + "</tbody></table>";
}

}  // namespace

std::string verdict_sentence(const analysis::Verdict& verdict) {
  std::string sentence;
  for (const CheckStatus wanted : {CheckStatus::fail, CheckStatus::inconclusive}) {
    for (const auto& c : verdict.checks) {
      if (c.status != wanted) continue;
      if (!sentence.empty()) sentence += ". ";
      sentence += c.detail;
    }
    if (!sentence.empty()) return sentence + ".";
  }
  if (verdict.verdict == analysis::VerdictKind::pass) {
    if (const auto* rss = verdict.find("rss_bytes"); rss && rss->analysis) {
      return std::string("RSS is ") + analysis::to_string(rss->analysis->classification) + " (" +
             rss->analysis->reason + "); every check is within its target.";
    }
    return "Every check is within its target.";
  }
  return verdict.notes.empty() ? std::string() : verdict.notes.front() + ".";
}

std::string render_html(const ReportInput& in) {
  const analysis::Verdict& v = *in.verdict;
  const double t_end = std::max(1.0, run_end(in));
  const std::string verdict = analysis::to_string(v.verdict);
  std::string target_name = in.header.contains("target") ? in.header["target"].value("name", "") : "";

  std::string s;
  s.reserve(256 * 1024);
  s += "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
       "<title>soak " + escape_html(verdict) + ": " + escape_html(target_name) + "</title><style>" +
       kCss + "</style></head><body><main>";
  s += "<h1>soak report: " + escape_html(target_name) + "</h1>";
  s += "<p class=\"verdict " + verdict + "\" id=\"verdict\">" + verdict + "</p>";
  s += "<p class=\"sentence\" id=\"verdict-sentence\">" + escape_html(verdict_sentence(v)) + "</p>";
  if (!v.warnings.empty() || !in.log_warnings.empty()) {
    s += "<ul class=\"warnings\">";
    for (const auto& w : v.warnings) s += "<li>" + escape_html(w) + "</li>";
    for (const auto& w : in.log_warnings) s += "<li>log: " + escape_html(w) + "</li>";
    s += "</ul>";
  }

  s += "<h2>Memory</h2><div class=\"card\">" + memory_chart(in, t_end) + "</div>";
  if (!v.regions_grown.empty()) {
    s += "<h2>Where it grows</h2><table id=\"regions\"><thead><tr><th>region</th><th>first</th>"
         "<th>last</th><th>growth</th></tr></thead><tbody>";
    for (const auto& r : v.regions_grown) {
      s += "<tr><td><code>" + escape_html(r.name) + "</code></td><td>" + format_bytes(r.first_bytes) +
           "</td><td>" + format_bytes(r.last_bytes) + "</td><td>+" + format_bytes(r.growth_bytes()) + "</td></tr>";
    }
    s += "</tbody></table>";
  }
  const std::string counts = group_chart(in, t_end, "chart-counts", "Threads, descriptors, children",
                                         {"threads", "fds", "children", "handles"}, Unit::count);
  if (!counts.empty()) s += "<h2>Threads, descriptors, children</h2><div class=\"card\">" + counts + "</div>";
  // The target's heap figures and the load, on the same time axis as memory.
  std::map<std::string, std::vector<std::string>> groups;
  for (const auto& series : in.series) {
    const auto dot = series.name.find('.');
    if (dot == std::string::npos) continue;
    if (series.name.rfind("region.", 0) == 0) continue;  // in the "Where it grows" table
    groups[series.name.substr(0, dot)].push_back(series.name);
  }
  if (groups.count("load")) {
    // The load driver's figures, in charts of one unit each, on the memory chart's time axis.
    std::vector<std::string> rates = {"load.sent_rps", "load.rps"}, errors = {"load.level", "load.errors"};
    for (const auto& n : groups["load"]) {
      if (n.rfind("load.errors.", 0) == 0) errors.push_back(n);
    }
    const std::vector<std::pair<std::string, std::vector<std::string>>> load_charts = {
        {"Requests per second (sent, answered)", rates},
        {"Load level and errors per interval", errors},
        {"Latency (ms, from the intended send time)", {"load.p50_ms", "load.p95_ms", "load.p99_ms"}},
        {"Jobs and requests in flight", {"load.jobs_done", "load.jobs_failed", "load.in_flight"}},
        {"Job duration (s, mean per interval)", {"load.job_s"}}};
    s += "<h2>Load</h2>";
    int index = 0;
    for (const auto& [title, names] : load_charts) {
      const std::string chart = group_chart(in, t_end, "chart-load-" + std::to_string(index++), title, names, Unit::plain);
      if (!chart.empty()) s += "<div class=\"card\">" + chart + "</div>";
    }
    groups.erase("load");
  }
  for (const auto& [prefix, names] : groups) {
    std::vector<std::string> bytes, other;
    for (const auto& n : names) {
      (n.size() > 6 && n.compare(n.size() - 6, 6, "_bytes") == 0 ? bytes : other).push_back(n);
    }
    const std::string title = prefix == "heap" ? "Target heap" : prefix == "load" ? "Load" : prefix;
    if (!bytes.empty()) {
      s += "<h2>" + escape_html(title) + "</h2><div class=\"card\">" +
           group_chart(in, t_end, "chart-" + prefix + "-bytes", title, bytes, Unit::bytes) + "</div>";
    }
    if (!other.empty()) {
      s += "<h2>" + escape_html(title) + "</h2><div class=\"card\">" +
           group_chart(in, t_end, "chart-" + prefix, title, other, Unit::plain) + "</div>";
    }
  }
  s += "<h2>Checks</h2>" + checks_table(v);
  s += "<h2>Metrics</h2>" + metrics_table(v);
  s += "<h2>Run</h2>" + facts_table(in);
  s += "<h2>Events</h2>" + events_table(in);
  s += "<p class=\"muted\">Generated by soak " SOAK_VERSION ". Growth: Theil-Sen with Sen's 95% "
       "interval, Mann-Kendall trend test with Hamed-Rao autocorrelation correction.</p>";
  s += "</main></body></html>\n";
  return s;
}

std::string escape_xml(std::string_view text) { return escape_html(text); }

std::string render_junit(const analysis::Verdict& v, const nlohmann::json& header) {
  std::string name = "soak";
  if (header.contains("target") && header["target"].contains("name")) {
    name += "." + header["target"]["name"].get<std::string>();
  }
  int failures = 0, skipped = 0;
  for (const auto& c : v.checks) {
    failures += c.status == CheckStatus::fail;
    skipped += c.status == CheckStatus::inconclusive;
  }
  const std::string tests = std::to_string(v.checks.size());
  std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += "<testsuites name=\"soak\" tests=\"" + tests + "\" failures=\"" + std::to_string(failures) +
       "\" errors=\"0\" skipped=\"" + std::to_string(skipped) + "\" time=\"" + fixed(v.duration_s, 3) +
       "\">\n";
  s += "  <testsuite name=\"" + escape_xml(name) + "\" tests=\"" + tests + "\" failures=\"" +
       std::to_string(failures) + "\" errors=\"0\" skipped=\"" + std::to_string(skipped) +
       "\" time=\"" + fixed(v.duration_s, 3) + "\"";
  if (header.contains("started_at") && header["started_at"].is_string()) {
    std::string ts = header["started_at"].get<std::string>();
    if (!ts.empty() && ts.back() == 'Z') ts.pop_back();
    s += " timestamp=\"" + escape_xml(ts) + "\"";
  }
  s += ">\n    <properties>\n      <property name=\"verdict\" value=\"" +
       std::string(analysis::to_string(v.verdict)) + "\"/>\n      <property name=\"samples\" value=\"" +
       std::to_string(v.samples) + "\"/>\n    </properties>\n";
  for (const auto& c : v.checks) {
    s += "    <testcase classname=\"" + escape_xml(name) + "\" name=\"" + escape_xml(c.name) +
         "\" time=\"0\">";
    const std::string message = "measured " + c.measured + ", limit " + c.limit;
    if (c.status == CheckStatus::fail) {
      s += "\n      <failure message=\"" + escape_xml(message) + "\" type=\"" +
           escape_xml(c.tier.empty() ? "fail" : c.tier) + "\">" + escape_xml(c.detail) +
           "</failure>\n    ";
    } else if (c.status == CheckStatus::inconclusive) {
      s += "\n      <skipped message=\"" + escape_xml("inconclusive: " + c.detail) + "\"/>\n    ";
    }
    s += "</testcase>\n";
  }
  s += "  </testsuite>\n</testsuites>\n";
  return s;
}

}  // namespace soak::report
