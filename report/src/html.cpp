#include "soak/report/html.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "soak/log/header.hpp"
#include "soak/log/metrics.hpp"
#include "soak/report/format.hpp"
#include "soak/report/svg.hpp"
#include "soak/report/words.hpp"

namespace soak::report {

namespace metric = log::metric;

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
td code.name{word-break:normal;white-space:nowrap}
svg.chart{width:100%;height:auto;display:block}
svg .chart-title{font-weight:600;font-size:13px;fill:#1d2330}
svg .tick,svg .legend,svg .marker-label,svg .ref-label{font-size:11px;fill:#57606a}
svg .grid{stroke:#eaeef2;stroke-width:1}
svg .frame{fill:none;stroke:#d0d7de}
svg .line{stroke-width:1.6}
svg .trend{stroke-width:1.5}
svg .band{opacity:.22}
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

std::string status_class(CheckStatus s) {
  return analysis::to_string(s);
}

std::string fixed(double v, int digits) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

const ReportSeries* find_series(const ReportInput& in, std::string_view name) {
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
void add_analysis_overlays(Chart& chart, const analysis::Verdict& v,
                           const analysis::MetricResult& m, const std::string& color) {
  if (!m.analysis) return;
  const analysis::SeriesAnalysis& a = *m.analysis;
  if (a.classification == Classification::insufficient) return;
  TrendOverlay trend;
  trend.label = m.name + " trend " + format_rate(v, m.name, a.growth_per_s * 60, units_of(v)) +
                " (" + analysis::to_string(a.classification) + ")";
  trend.t0 = a.trend_t0;
  trend.y0 = a.trend_y0;
  trend.t1 = a.trend_t1;
  trend.y1 = a.trend_y1;
  trend.band_slopes_per_s = std::make_pair(a.ci_low_per_s, a.ci_high_per_s);
  trend.color = color;
  chart.trends.push_back(trend);
  if (a.warmup_end_s)
    chart.regions.push_back({0, *a.warmup_end_s, "warm-up (excluded from the fit)"});
  if (a.onset_s) chart.markers.push_back({*a.onset_s, "leak onset", "#cf222e"});
}

/// What an imported series measures, in the words of the import ("PerfMon ...\\Private
/// Bytes"); empty for a run soak recorded itself.
std::string measured_as(const ReportInput& in, std::string_view name) {
  const auto facts = log::import_facts(in.header);
  if (!facts) return "";
  const auto it = facts->measures.find(std::string(name));
  return it == facts->measures.end() ? "" : it->second;
}

/// A chart legend's label: the metric, and what it measures when imported.
std::string series_label(const ReportInput& in, std::string_view name) {
  const std::string what = measured_as(in, name);
  return what.empty() ? std::string(name) : std::string(name) + " (" + what + ")";
}

/// "Memory", or "Memory, imported from perfmon file app.csv" for an import.
std::string titled(const ReportInput& in, const std::string& title) {
  const auto facts = log::import_facts(in.header);
  if (!facts) return title;
  return title + ", imported from " + facts->format + " file " + facts->file;
}

std::string memory_chart(const ReportInput& in, double t_end) {
  Chart chart;
  chart.id = "chart-memory";
  chart.title = titled(in, "Memory");
  chart.unit = Unit::bytes;
  chart.t_end = t_end;
  std::size_t color = 0;
  for (const std::string_view name :
       {metric::rss_bytes, metric::private_bytes, metric::pss_bytes, metric::uss_bytes,
        metric::anon_bytes, metric::children_rss_bytes}) {
    if (const ReportSeries* s = find_series(in, name)) {
      chart.lines.push_back({series_label(in, name), s->t, s->v, color_for(color++),
                             name != metric::rss_bytes, false});
    }
  }
  if (chart.lines.empty()) return {};
  // Readings after forced collections (--gc-checkpoint): points, which the growth may be
  // judged on (the trend drawn below is then theirs).
  if (const ReportSeries* gc = find_series(in, metric::rss_bytes_after_gc)) {
    chart.lines.push_back({"rss after forced GC", gc->t, gc->v, "#8250df", false, true});
  }
  // The trend of the series the memory verdict is judged by (rss_bytes, or the judged series
  // of an import that has no rss_bytes when it is drawn here).
  std::string judged = std::string(metric::rss_bytes);
  if (!find_series(in, judged) && find_series(in, in.verdict.judged_metric)) {
    judged = in.verdict.judged_metric;
  }
  if (const analysis::MetricResult* rss = in.verdict.find(judged)) {
    add_analysis_overlays(chart, in.verdict, *rss, "#cf222e");
    if (rss->analysis && rss->analysis->sawtooth_floor) {
      const auto& a = *rss->analysis;
      chart.lines.push_back(
          {"rss floor (cycle minima)", a.floor_t, a.floor_y, "#1a7f37", false, true});
    }
  }
  // The max-RSS target that applies to this run's length (the 1 h one means nothing at 20 h).
  const std::string applicable = t_end <= 3600 ? "max_rss_1h" : "max_rss_24h";
  const Units units = units_of(in.verdict);
  for (const auto& c : in.verdict.checks) {
    if (c.name == applicable && c.target) {
      chart.references.push_back(
          {*c.target, "max RSS target " + describe_check(c, units).target, "#9a6700"});
    }
  }
  for (const auto& e : in.events) {
    if (e.kind == "target_exited" || e.kind == "stopped" || e.kind == "stopped_on_fail" ||
        e.kind == "pid_reused" || e.kind == "target_unreadable") {
      chart.markers.push_back({e.t, e.kind, "#57606a"});
    }
  }
  return render_chart(chart);
}

std::string group_chart(const ReportInput& in, double t_end, const std::string& id,
                        const std::string& title, const std::vector<std::string>& names, Unit unit,
                        bool from_zero = false) {
  Chart chart;
  chart.id = id;
  chart.y_from_zero = from_zero;  // rates and counts: one request more must not read as a cliff
  chart.title = titled(in, title);
  chart.unit = unit;
  chart.t_end = t_end;
  std::size_t color = 0;
  for (const auto& name : names) {
    if (const ReportSeries* s = find_series(in, name)) {
      chart.lines.push_back({series_label(in, name), s->t, s->v, color_for(color++), false, false});
      if (const analysis::MetricResult* m = in.verdict.find(name);
          m && m->analysis && m->analysis->classification == Classification::leak) {
        add_analysis_overlays(chart, in.verdict, *m, color_for(color - 1));
      }
    }
  }
  return chart.lines.empty() ? std::string() : render_chart(chart);
}

std::string checks_table(const analysis::Verdict& v) {
  std::string s =
      "<table id=\"checks\"><thead><tr><th>check</th><th>measured</th><th>target</th>"
      "<th>acceptable</th><th>status</th><th>why</th></tr></thead><tbody>";
  const Units units = units_of(v);
  for (const auto& c : v.checks) {
    const CheckWords w = describe_check(c, units);
    const std::string tier = analysis::to_string(c.tier);
    s += "<tr><td><code class=\"name\">" + escape_html(c.name) + "</code></td><td>" +
         escape_html(w.measured) + "</td><td>" +
         escape_html(w.target.empty() ? w.limit : w.target) + "</td><td>" +
         escape_html(w.acceptable) + "</td><td class=\"status " + status_class(c.status) + "\">" +
         analysis::to_string(c.status) + (tier.empty() ? "" : " (" + tier + ")") + "</td><td>" +
         escape_html(w.detail) + "</td></tr>";
  }
  return s + "</tbody></table>";
}

std::string metrics_table(const analysis::Verdict& v) {
  std::string s =
      "<table id=\"metrics\"><thead><tr><th>metric</th><th>class</th><th>growth / min"
      " [95% interval]</th><th>first</th><th>last</th><th>max</th><th>notes</th></tr>"
      "</thead><tbody>";
  const Units units = units_of(v);
  const auto value = [&units](const std::string& name, double x) {
    return escape_html(format_metric_value(name, x, units.levels));
  };
  for (const auto& m : v.metrics) {
    std::string cls = std::string(metric_kind(m.name)) + ", not judged", growth, notes;
    if (m.analysis) {
      const auto& a = *m.analysis;
      cls = analysis::to_string(a.classification);
      if (a.classification != Classification::insufficient) {
        growth = format_growth(v, m.name, a.growth_per_s * 60, a.ci_low_per_s * 60,
                               a.ci_high_per_s * 60, units);
      }
      notes = describe_reason(a.reason);
      if (a.warmup_end_s) notes += "; warm-up until " + fixed(*a.warmup_end_s, 0) + " s";
      if (a.onset_s) notes += "; onset at " + fixed(*a.onset_s, 0) + " s";
      if (!m.judged_on.empty()) notes += "; growth judged on " + m.judged_on;
      if (m.time_to_limit_s) {
        notes += std::string("; reaches ") + analysis::to_string(m.limit) + " in " +
                 fixed(*m.time_to_limit_s / 3600, 1) + " h";
      }
    }
    s += "<tr><td><code class=\"name\">" + escape_html(m.name) + "</code></td><td>" + cls +
         "</td><td>" + escape_html(growth) + "</td><td>" + value(m.name, m.first) + "</td><td>" +
         value(m.name, m.last) + "</td><td>" + value(m.name, m.max) + "</td><td>" +
         escape_html(notes) + "</td></tr>";
  }
  s += "</tbody></table>";
  if (v.gc_checkpoints) {
    s += "<p id=\"gc-checkpoints\">" + escape_html(gc_checkpoints_text(*v.gc_checkpoints)) + "</p>";
  }
  return s;
}

std::string facts_table(const ReportInput& in) {
  const log::HeaderFields h = log::read_header(in.header);
  std::string cmdline;
  for (const auto& arg : h.target.cmdline) cmdline += (cmdline.empty() ? "" : " ") + arg;
  auto number = [](double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", x);
    return std::string(buf);
  };
  std::vector<std::pair<std::string, std::string>> rows = {
      {"target", h.target.name + " (pid " + std::to_string(h.target.pid) + ")"},
      {"command line", cmdline},
      {"mode", h.mode},
      {"started", h.started_at},
      {"duration", fixed(in.verdict.duration_s, 1) + " s"},
      {"interval", number(h.interval_s) + " s"},
      {"samples", std::to_string(in.verdict.samples)},
      {"host",
       "kernel " + h.host.kernel + ", " +
           format_metric_value("mem_total_bytes", static_cast<double>(h.host.mem_total_bytes),
                               units_of(in.verdict).levels) +
           " memory"},
      {"soak version", h.soak_version.empty() ? SOAK_VERSION : h.soak_version},
      {"log", in.log_path},
  };
  // The header names what was launched or attached to; an exec since is said beside it.
  for (const auto& e : in.events) {
    if (e.kind == log::event::target_exec)
      rows[0].second += "; at " + fixed(e.t, 1) + " s " + e.detail;
  }
  if (const auto facts = log::import_facts(in.header)) {
    rows[0] = {"target", h.target.name};
    rows.insert(rows.begin() + 1,
                {{"imported from", facts->format + " file " + facts->file},
                 {"source file", std::to_string(facts->bytes) + " bytes, SHA-1 " + facts->sha1}});
    const auto started = std::find_if(rows.begin(), rows.end(),
                                      [](const auto& row) { return row.first == "started"; });
    if (facts->started_at_estimated && started != rows.end()) {
      started->second +=
          " (estimated: the file has no wall-clock time; its modification time "
          "less the recording's length)";
    }
    for (const auto& [metric, what] : facts->measures) {
      rows.push_back({"measures " + metric, what});
    }
  }
  std::string s = "<table id=\"facts\"><tbody>";
  for (const auto& [k, v] : rows) {
    s += "<tr><th>" + escape_html(k) + "</th><td><code>" + escape_html(v) + "</code></td></tr>";
  }
  return s + "</tbody></table>";
}

std::string events_table(const ReportInput& in) {
  constexpr std::size_t kMaxRows = 300;
  std::string s =
      "<table id=\"events\"><thead><tr><th>t</th><th>event</th><th>detail</th></tr>"
      "</thead><tbody>";
  for (std::size_t i = 0; i < in.events.size() && i < kMaxRows; ++i) {
    const auto& e = in.events[i];
    s += "<tr><td>" + fixed(e.t, 1) + " s</td><td><code>" + escape_html(e.kind) +
         "</code></td><td>" + escape_html(e.detail) + "</td></tr>";
  }
  if (in.events.size() > kMaxRows) {
    s += "<tr><td></td><td colspan=\"2\" class=\"muted\">" +
         std::to_string(in.events.size() - kMaxRows) + " more in the log</td></tr>";
  }
  return s + "</tbody></table>";
}

std::string page_top(const ReportInput& in) {
  const analysis::Verdict& v = in.verdict;
  const std::string verdict = analysis::to_string(v.verdict);
  const std::string target_name = log::target_facts(in.header).name;
  std::string s =
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<title>soak " +
      escape_html(verdict) + ": " + escape_html(target_name) + "</title><style>" + kCss +
      "</style></head><body><main>";
  s += "<h1>soak report: " + escape_html(target_name) + "</h1>";
  if (const auto facts = log::import_facts(in.header)) {
    s += "<p class=\"muted\" id=\"source\">Imported from the " + escape_html(facts->format) +
         " recording <code>" + escape_html(facts->file) + "</code> (SHA-1 " +
         escape_html(facts->sha1) + "): soak judged samples another tool recorded.</p>";
  }
  s += "<p class=\"verdict " + verdict + "\" id=\"verdict\">" + verdict + "</p>";
  const std::string summary = summary_sentence(v);
  s += "<p class=\"sentence\" id=\"summary\">" + escape_html(summary) + "</p>";
  if (const std::string ramp = ramp_sentence(v); !ramp.empty()) {
    s += "<p class=\"sentence\" id=\"breaking-point\">" + escape_html(ramp) + "</p>";
  }
  if (v.warnings.empty() && in.log_warnings.empty()) return s;
  const Units units = units_of(v);
  s += "<ul class=\"warnings\">";
  for (const auto& w : v.warnings)
    s += "<li>" + escape_html(describe_finding(w, v, units)) + "</li>";
  for (const auto& w : in.log_warnings) s += "<li>log: " + escape_html(w) + "</li>";
  return s + "</ul>";
}

/// One row of the load table: requests, rps, errors (by kind), latency percentiles.
std::string load_row(const std::string& name, const nlohmann::ordered_json& f) {
  auto number = [](const nlohmann::ordered_json& j, const char* key, int digits) {
    const auto it = j.find(key);
    return it != j.end() && it->is_number() ? fixed(it->get<double>(), digits) : std::string("-");
  };
  const auto lat = f.find("latency_ms");
  const nlohmann::ordered_json latency =
      lat != f.end() && lat->is_object() ? *lat : nlohmann::ordered_json::object();
  std::string kinds;
  if (const auto e = f.find("errors"); e != f.end() && e->is_object()) {
    for (const auto& [kind, n] : e->items())
      kinds += (kinds.empty() ? "" : ", ") + kind + " " + n.dump();
  }
  const auto rate = f.find("error_rate");
  const std::string errors =
      rate != f.end() && rate->is_number() ? fixed(rate->get<double>() * 100, 2) + " %" : "-";
  return "<tr><td><code class=\"name\">" + escape_html(name) + "</code></td><td>" +
         number(f, "requests", 0) + "</td><td>" + number(f, "rps", 1) + "</td><td>" + errors +
         (kinds.empty() ? "" : " (" + escape_html(kinds) + ")") + "</td><td>" +
         number(latency, "p50", 2) + "</td><td>" + number(latency, "p95", 2) + "</td><td>" +
         number(latency, "p99", 2) + "</td><td>" + number(latency, "max", 2) + "</td></tr>";
}

/// verdict.json's `load` as a table near the top of the page: all requests, then each name;
/// the jobs below it.
std::string load_table(const nlohmann::ordered_json& load) {
  if (!load.is_object()) return {};
  std::string s =
      "<h2>Load results</h2><table id=\"load\"><thead><tr><th>request</th><th>requests</th>"
      "<th>per second</th><th>errors</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th>"
      "<th>max ms</th></tr></thead><tbody>" +
      load_row("all requests", load);
  if (const auto by = load.find("by_request"); by != load.end() && by->is_object()) {
    for (const auto& [name, figures] : by->items()) s += load_row(name, figures);
  }
  s += "</tbody></table>";
  const auto jobs = load.find("jobs");
  if (jobs == load.end() || !jobs->is_object()) return s;
  s += "<p id=\"load-jobs\">Jobs: " + jobs->value("done", nlohmann::ordered_json(0)).dump() +
       " done, " + jobs->value("failed", nlohmann::ordered_json(0)).dump() + " failed";
  if (const auto d = jobs->find("duration_s"); d != jobs->end() && d->is_object()) {
    auto at = [&d](const char* key) {
      return d->contains(key) && d->at(key).is_number() ? fixed(d->at(key).get<double>(), 2) : "-";
    };
    s += "; jobs done took p50 " + at("p50") + " s, p95 " + at("p95") + " s, p99 " + at("p99") +
         " s, max " + at("max") + " s (failed jobs excluded)";
  }
  return s + ".</p>";
}

std::string regions_section(const analysis::Verdict& v) {
  if (v.regions_grown.empty()) return {};
  const ByteSystem system = units_of(v).levels;
  const auto bytes = [system](double x) { return format_metric_value("region_bytes", x, system); };
  std::string s =
      "<h2>Where it grows</h2><table id=\"regions\"><thead><tr><th>region</th>"
      "<th>first</th><th>last</th><th>growth</th></tr></thead><tbody>";
  for (const auto& r : v.regions_grown) {
    s += "<tr><td><code>" + escape_html(r.name) + "</code></td><td>" + bytes(r.first_bytes) +
         "</td><td>" + bytes(r.last_bytes) + "</td><td>+" + bytes(r.growth_bytes()) + "</td></tr>";
  }
  return s + "</tbody></table>";
}

/// Series named "<prefix>.<name>" grouped by prefix (the smaps regions have their own table).
std::map<std::string, std::vector<std::string>> series_groups(const ReportInput& in) {
  std::map<std::string, std::vector<std::string>> groups;
  for (const auto& series : in.series) {
    const auto dot = series.name.find('.');
    if (dot == std::string::npos || series.name.starts_with(metric::region_prefix)) continue;
    groups[series.name.substr(0, dot)].push_back(series.name);
  }
  return groups;
}

/// The load driver's figures, in charts of one unit each, on the memory chart's time axis.
std::string load_section(const ReportInput& in, double t_end,
                         const std::vector<std::string>& names) {
  auto named = [](std::initializer_list<std::string_view> list) {
    return std::vector<std::string>(list.begin(), list.end());
  };
  std::vector<std::string> rates = named({metric::load_sent_rps, metric::load_rps}),
                           errors = named({metric::load_level, metric::load_errors});
  for (const auto& n : names) {
    if (n.starts_with(metric::load_errors_prefix)) errors.push_back(n);
  }
  const std::vector<std::pair<std::string, std::vector<std::string>>> load_charts = {
      {"Requests per second (sent, answered)", rates},
      {"Load level and errors per interval", errors},
      {"Latency (ms, from the intended send time)",
       named({metric::load_p50_ms, metric::load_p95_ms, metric::load_p99_ms})},
      {"Jobs done and failed (cumulative)",
       named({metric::load_jobs_done, metric::load_jobs_failed})},
      {"Requests in flight", named({metric::load_in_flight})},
      {"Job duration (s, mean of the jobs done per interval; failed jobs excluded)",
       named({metric::load_job_s})}};
  std::string s = "<h2>Load</h2>";
  int index = 0;
  for (const auto& [title, chart_names] : load_charts) {
    const std::string chart = group_chart(in, t_end, "chart-load-" + std::to_string(index++), title,
                                          chart_names, Unit::plain, true);
    if (!chart.empty()) s += "<div class=\"card\">" + chart + "</div>";
  }
  return s;
}

/// The target's own figures (heap.* and other prefixes): bytes and other units apart.
std::string prefix_section(const ReportInput& in, double t_end, const std::string& prefix,
                           const std::vector<std::string>& names) {
  // One unit per axis: bytes, cumulative counters (*_total) and other figures apart.
  std::vector<std::string> bytes, counters, other;
  for (const auto& n : names) {
    const std::string_view base = log::metric::base_of(n);
    (base.ends_with("_bytes") ? bytes : base.ends_with("_total") ? counters : other).push_back(n);
  }
  const std::string title = prefix == "heap" ? "Target heap" : prefix;
  std::string s;
  if (!bytes.empty()) {
    s += "<h2>" + escape_html(title) + "</h2><div class=\"card\">" +
         group_chart(in, t_end, "chart-" + prefix + "-bytes", title, bytes, Unit::bytes) + "</div>";
  }
  if (!other.empty()) {
    s += "<h2>" + escape_html(title) + "</h2><div class=\"card\">" +
         group_chart(in, t_end, "chart-" + prefix, title, other, Unit::plain) + "</div>";
  }
  if (!counters.empty()) {
    const std::string counted = title + " (counters, cumulative)";
    s += "<h2>" + escape_html(counted) + "</h2><div class=\"card\">" +
         group_chart(in, t_end, "chart-" + prefix + "-counters", counted, counters, Unit::plain) +
         "</div>";
  }
  return s;
}

std::string charts(const ReportInput& in, double t_end) {
  std::string s = "<h2>Memory</h2><div class=\"card\">" + memory_chart(in, t_end) + "</div>";
  s += regions_section(in.verdict);
  const std::string counts =
      group_chart(in, t_end, "chart-counts", "Threads, descriptors, children",
                  {std::string(metric::threads), std::string(metric::fds),
                   std::string(metric::children), std::string(metric::handles)},
                  Unit::count);
  if (!counts.empty()) {
    s += "<h2>Threads, descriptors, children</h2><div class=\"card\">" + counts + "</div>";
  }
  // The target's heap figures and the load, on the same time axis as memory.
  auto groups = series_groups(in);
  if (const auto load = groups.find("load"); load != groups.end()) {
    s += load_section(in, t_end, load->second);
    groups.erase(load);
  }
  for (const auto& [prefix, names] : groups) s += prefix_section(in, t_end, prefix, names);
  return s;
}

/// A verdict of several processes (an import of several instances or series): each one's
/// charts and checks, under its name and verdict.
std::string process_sections(const ReportInput& in, double t_end) {
  std::string s;
  const auto& processes = in.verdict.processes;
  for (std::size_t i = 0; i < processes.size() && i < in.process_series.size(); ++i) {
    const analysis::ProcessVerdict& p = processes[i];
    ReportInput one(p.verdict);
    one.header = in.header;
    one.series = in.process_series[i];
    const std::string verdict = analysis::to_string(p.verdict.verdict);
    s += "<section class=\"process\" id=\"process-" + std::to_string(i + 1) + "\"><h2>" +
         escape_html(p.identity.name) + ": <span class=\"verdict " + verdict + "\">" + verdict +
         "</span></h2>";
    s += "<p class=\"sentence\">" + escape_html(verdict_sentence(p.verdict)) + "</p>";
    std::string body = charts(one, t_end);
    // Each process's chart ids are its own.
    for (std::size_t at = 0; (at = body.find("id=\"chart-", at)) != std::string::npos;) {
      at += 10;
      body.insert(at, "p" + std::to_string(i + 1) + "-");
    }
    s += body + "<h3>Checks</h3>" + checks_table(p.verdict) + "</section>";
  }
  return s;
}

}  // namespace

std::string render_html(const ReportInput& in) {
  const double t_end = std::max(1.0, run_end(in));
  std::string s;
  s.reserve(256 * 1024);
  s += page_top(in);
  s += load_table(in.load);
  // A group whose members hold every series (an import of several instances) has no run-level
  // charts: each member's are in its own section.
  if (!in.series.empty() || in.process_series.empty()) s += charts(in, t_end);
  s += process_sections(in, t_end);
  s += "<h2>Checks</h2>" + checks_table(in.verdict);
  s += "<h2>Metrics</h2>" + metrics_table(in.verdict);
  s += "<h2>Run</h2>" + facts_table(in);
  s += "<h2>Events</h2>" + events_table(in);
  s += "<p class=\"muted\">Generated by soak " SOAK_VERSION
       ". Growth: Theil-Sen with Sen's 95% "
       "interval, Mann-Kendall trend test with Hamed-Rao autocorrelation correction.</p>";
  s += "</main></body></html>\n";
  return s;
}

std::string escape_xml(std::string_view text) {
  // XML 1.0 cannot carry control characters other than tab, newline and carriage return, even
  // as character references: they are written out as \xNN text.
  std::string safe;
  safe.reserve(text.size());
  for (const char ch : text) {
    const auto byte = static_cast<unsigned char>(ch);
    if ((byte < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || byte == 0x7f) {
      safe += escape_terminal(std::string_view(&ch, 1));
    } else {
      safe += ch;
    }
  }
  return escape_html(safe);
}

namespace {

struct Counts {
  std::size_t tests = 0, failures = 0, skipped = 0;
};

/// An inconclusive verdict that no check explains (nothing to judge) is a testcase of its own.
bool verdict_testcase(const analysis::Verdict& v) {
  return v.verdict == analysis::VerdictKind::inconclusive &&
         std::none_of(v.checks.begin(), v.checks.end(),
                      [](const auto& c) { return c.status == CheckStatus::inconclusive; });
}

Counts count_checks(const analysis::Verdict& v, JunitInconclusive as) {
  Counts n;
  n.tests = v.checks.size() + (verdict_testcase(v) ? 1 : 0);
  std::size_t inconclusive = verdict_testcase(v) ? 1 : 0;
  for (const auto& c : v.checks) {
    n.failures += c.status == CheckStatus::fail;
    inconclusive += c.status == CheckStatus::inconclusive;
  }
  (as == JunitInconclusive::failure ? n.failures : n.skipped) += inconclusive;
  return n;
}

/// An inconclusive testcase's body: a failure of type "inconclusive", or skipped.
std::string inconclusive_body(const std::string& message, const std::string& detail,
                              JunitInconclusive as) {
  if (as == JunitInconclusive::skipped) {
    return "\n      <skipped message=\"" + escape_xml("inconclusive: " + detail) + "\"/>\n    ";
  }
  return "\n      <failure message=\"" + escape_xml("inconclusive: " + message) +
         "\" type=\"inconclusive\">" + escape_xml(detail) + "</failure>\n    ";
}

std::string counts_attributes(const Counts& n, double duration_s) {
  return "tests=\"" + std::to_string(n.tests) + "\" failures=\"" + std::to_string(n.failures) +
         "\" errors=\"0\" skipped=\"" + std::to_string(n.skipped) + "\" time=\"" +
         fixed(duration_s, 3) + "\"";
}

std::string property(const std::string& name, const std::string& value) {
  return "      <property name=\"" + escape_xml(name) + "\" value=\"" + escape_xml(value) +
         "\"/>\n";
}

std::string testcases(const analysis::Verdict& v, const std::string& classname,
                      JunitInconclusive as) {
  const Units units = units_of(v);
  std::string s;
  for (const auto& c : v.checks) {
    const CheckWords w = describe_check(c, units);
    s += "    <testcase classname=\"" + escape_xml(classname) + "\" name=\"" + escape_xml(c.name) +
         "\" time=\"0\">";
    const std::string message = "measured " + w.measured + ", limit " + w.limit;
    const std::string tier = analysis::to_string(c.tier);
    if (c.status == CheckStatus::fail) {
      s += "\n      <failure message=\"" + escape_xml(message) + "\" type=\"" +
           escape_xml(tier.empty() ? "fail" : tier) + "\">" + escape_xml(w.detail) +
           "</failure>\n    ";
    } else if (c.status == CheckStatus::inconclusive) {
      s += inconclusive_body(message, w.detail, as);
    }
    s += "</testcase>\n";
  }
  if (verdict_testcase(v)) {
    const std::string why = summary_sentence(v);
    s += "    <testcase classname=\"" + escape_xml(classname) + "\" name=\"verdict\" time=\"0\">" +
         inconclusive_body(why, why, as) + "</testcase>\n";
  }
  return s;
}

/// One testsuite: `properties` already rendered, `timestamp` empty when unknown.
std::string testsuite(const analysis::Verdict& v, const std::string& name,
                      const std::string& timestamp, const std::string& properties,
                      JunitInconclusive as) {
  std::string s = "  <testsuite name=\"" + escape_xml(name) + "\" " +
                  counts_attributes(count_checks(v, as), v.duration_s);
  if (!timestamp.empty()) s += " timestamp=\"" + escape_xml(timestamp) + "\"";
  s += ">\n    <properties>\n" + property("verdict", analysis::to_string(v.verdict)) +
       property("summary", summary_sentence(v)) + property("samples", std::to_string(v.samples)) +
       properties + "    </properties>\n";
  return s + testcases(v, name, as) + "  </testsuite>\n";
}

std::string process_properties(const analysis::ProcessIdentity& id) {
  std::string s = property("process", id.name);
  if (id.pid) s += property("pid", std::to_string(*id.pid));
  std::string cmdline;
  for (const auto& arg : id.cmdline) cmdline += (cmdline.empty() ? "" : " ") + arg;
  if (!cmdline.empty()) s += property("cmdline", cmdline);
  for (const auto& [key, value] : id.labels) s += property("label." + key, value);
  return s;
}

}  // namespace

std::string render_junit(const analysis::Verdict& v, const nlohmann::json& header,
                         JunitInconclusive as) {
  const log::HeaderFields facts = log::read_header(header);
  std::string name = "soak";
  if (!facts.target.name.empty()) name += "." + facts.target.name;
  std::string timestamp = facts.started_at;
  if (!timestamp.empty() && timestamp.back() == 'Z') timestamp.pop_back();
  Counts total = v.processes.empty() ? count_checks(v, as) : Counts{};
  for (const auto& p : v.processes) {
    const Counts n = count_checks(p.verdict, as);
    total.tests += n.tests;
    total.failures += n.failures;
    total.skipped += n.skipped;
  }
  std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += "<testsuites name=\"soak\" " + counts_attributes(total, v.duration_s) + ">\n";
  if (v.processes.empty()) return s + testsuite(v, name, timestamp, "", as) + "</testsuites>\n";
  for (const auto& p : v.processes) {
    // Unique per member: CI tools merge testsuites of one name (two series of one metric).
    std::string suite =
        "soak." + (p.identity.name.empty() ? std::string("process") : p.identity.name);
    if (p.identity.pid) suite += "." + std::to_string(*p.identity.pid);
    std::string labels;
    for (const auto& [key, value] : p.identity.labels) {
      if (key != "__name__") labels += (labels.empty() ? "" : ",") + key + "=" + value;
    }
    if (!labels.empty()) suite += "{" + labels + "}";
    s += testsuite(p.verdict, suite, timestamp, process_properties(p.identity), as);
  }
  return s + "</testsuites>\n";
}

}  // namespace soak::report
