#include "soak/report/format.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <initializer_list>

#include "soak/log/metrics.hpp"
#include "soak/report/words.hpp"

namespace soak::report {

namespace {

using analysis::CheckStatus;
using analysis::Verdict;

struct UnitSymbols {
  ByteSystem system;
  double base;
  std::array<const char*, 5> symbols;
};

constexpr UnitSymbols kDecimal{ByteSystem::decimal, 1000.0, {"B", "kB", "MB", "GB", "TB"}};
constexpr UnitSymbols kBinary{ByteSystem::binary, 1024.0, {"B", "KiB", "MiB", "GiB", "TiB"}};

const UnitSymbols& symbols_of(ByteSystem system) {
  return system == ByteSystem::binary ? kBinary : kDecimal;
}

const char* verdict_color(analysis::VerdictKind kind) {
  switch (kind) {
    case analysis::VerdictKind::pass:
      return "\x1b[1;32m";
    case analysis::VerdictKind::fail:
      return "\x1b[1;31m";
    case analysis::VerdictKind::inconclusive:
      return "\x1b[1;33m";
  }
  return "";
}

nlohmann::json optional_number(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::ordered_json metric_json(const analysis::MetricResult& m) {
  nlohmann::ordered_json e;
  e["kind"] = metric_kind(m.name);
  if (m.analysis) {
    const auto& a = *m.analysis;
    e["classification"] = analysis::to_string(a.classification);
    e["growth_per_min"] = a.growth_per_s * 60;
    e["growth_ci95"] = {a.ci_low_per_s * 60, a.ci_high_per_s * 60};
    e["trend_p_value"] = a.trend_p_value;
    e["autocorrelation_correction"] = a.autocorrelation_correction;
    e["warmup_end_s"] = optional_number(a.warmup_end_s);
    e["onset_s"] = optional_number(a.onset_s);
    e["judged_from_s"] = a.judged_from_s;
    e["judged_to_s"] = a.judged_to_s;
    e["sawtooth_floor"] = a.sawtooth_floor;
    e["reason"] = describe_reason(a.reason);
    e["reason_code"] = analysis::to_string(a.reason.code);
    e["trend_line"] = {{a.trend_t0, a.trend_y0}, {a.trend_t1, a.trend_y1}};
    e["late_growth_per_min"] = a.late_growth_per_s * 60;
    e["detectable_growth_per_min"] = a.detectable_growth_per_s * 60;
    e["effect_floor_per_min"] = a.effect_floor_per_s * 60;
    e["judged_share"] = a.judged_share;
    e["gaps"] = a.gaps;
    if (m.time_to_limit_s) {
      e["time_to_limit_s"] = *m.time_to_limit_s;
      e["limit"] = analysis::to_string(m.limit);
    }
    e["judged_on"] = m.judged_on.empty() ? m.name : m.judged_on;
  }
  e["first"] = m.first;
  e["last"] = m.last;
  e["max"] = m.max;
  e["min"] = m.min;
  e["points"] = m.points;
  return e;
}

nlohmann::ordered_json check_json(const analysis::Check& c, const Units& units) {
  const CheckWords words = describe_check(c, units);
  nlohmann::ordered_json e;
  e["name"] = c.name;
  e["status"] = analysis::to_string(c.status);
  e["measured"] = words.measured;
  e["limit"] = words.limit;
  if (c.tier != analysis::Tier::none) e["tier"] = analysis::to_string(c.tier);
  e["detail"] = words.detail;
  e["code"] = analysis::to_string(c.code);
  if (!c.metric.empty()) e["metric"] = c.metric;
  if (c.measured) e["measured_value"] = *c.measured;
  if (c.measured_low && c.measured_high) e["measured_ci95"] = {*c.measured_low, *c.measured_high};
  if (c.target) e["target_value"] = *c.target;
  if (c.acceptable) e["acceptable_value"] = *c.acceptable;
  return e;
}

/// metrics, checks, regions, warnings and notes of one verdict.
void add_body(const Verdict& verdict, nlohmann::ordered_json& j) {
  const Units units = units_of(verdict);
  nlohmann::ordered_json metrics = nlohmann::ordered_json::object();
  for (const auto& m : verdict.metrics) metrics[m.name] = metric_json(m);
  j["metrics"] = std::move(metrics);
  if (!verdict.judged_metric.empty()) j["judged_metric"] = verdict.judged_metric;
  nlohmann::ordered_json checks = nlohmann::ordered_json::array();
  for (const auto& c : verdict.checks) checks.push_back(check_json(c, units));
  j["checks"] = std::move(checks);
  nlohmann::ordered_json regions = nlohmann::ordered_json::array();
  for (const auto& r : verdict.regions_grown) {
    regions.push_back({{"region", r.name},
                       {"first_bytes", r.first_bytes},
                       {"last_bytes", r.last_bytes},
                       {"growth_bytes", r.growth_bytes()}});
  }
  j["regions_grown"] = std::move(regions);
  j["warnings"] = nlohmann::ordered_json::array();
  for (const auto& w : verdict.warnings)
    j["warnings"].push_back(describe_finding(w, verdict, units));
  j["notes"] = nlohmann::ordered_json::array();
  for (const auto& n : verdict.notes) j["notes"].push_back(describe_finding(n, verdict, units));
  if (verdict.gc_checkpoints) {
    j["gc_checkpoints"] = {{"count", verdict.gc_checkpoints->count},
                           {"failed", verdict.gc_checkpoints->failed},
                           {"pause_s", verdict.gc_checkpoints->pause_s}};
  }
}

nlohmann::ordered_json process_json(const analysis::ProcessVerdict& p) {
  nlohmann::ordered_json e;
  e["pid"] =
      p.identity.pid ? nlohmann::ordered_json(*p.identity.pid) : nlohmann::ordered_json(nullptr);
  e["name"] = p.identity.name;
  e["cmdline"] = p.identity.cmdline;
  if (!p.identity.labels.empty()) e["labels"] = p.identity.labels;
  e["verdict"] = analysis::to_string(p.verdict.verdict);
  e["duration_s"] = p.verdict.duration_s;
  e["samples"] = p.verdict.samples;
  add_body(p.verdict, e);
  return e;
}

// ---- Text ---------------------------------------------------------------------------------

struct Colors {
  const char* verdict;
  const char* off;
  const char* red;
};

Colors colors_for(const Verdict& verdict, const TextOptions& options) {
  if (!options.color) return {"", "", ""};
  return {verdict_color(verdict.verdict), "\x1b[0m", "\x1b[31m"};
}

std::string growth_text(const Verdict& verdict, const analysis::MetricResult& m,
                        const Units& units) {
  const auto& a = *m.analysis;
  if (a.classification == analysis::Classification::insufficient) return {};
  return format_growth(verdict, m.name, a.growth_per_s * 60, a.ci_low_per_s * 60,
                       a.ci_high_per_s * 60, units);
}

/// "  fail rss_growth: RSS grows ... (limit ...)"; `who` names the process in a group.
std::string check_line(const analysis::Check& c, const Units& units, const Colors& colors,
                       const std::string& who) {
  const CheckWords words = describe_check(c, units);
  return std::string("  ") + (c.status == CheckStatus::fail ? colors.red : colors.verdict) +
         analysis::to_string(c.status) + " " + escape_terminal(c.name) + colors.off + who + ": " +
         escape_terminal(words.detail) + " (limit " + escape_terminal(words.limit) + ")\n";
}

std::string process_text(const Verdict& verdict, const TextOptions& options) {
  const Units units = units_of(verdict);
  const Colors colors = colors_for(verdict, options);
  std::string out;
  char line[512];
  for (const auto& m : verdict.metrics) {
    if (!m.analysis) continue;
    std::snprintf(line, sizeof line, "  %-20s %-12s %-40s last %s%s\n",
                  escape_terminal(m.name).c_str(), analysis::to_string(m.analysis->classification),
                  growth_text(verdict, m, units).c_str(),
                  format_metric_value(m.name, m.last, units.levels).c_str(),
                  m.judged_on.empty() ? "" : ("  (growth judged after GC)"));
    out += line;
  }
  if (verdict.gc_checkpoints) out += "  " + gc_checkpoints_text(*verdict.gc_checkpoints) + "\n";
  for (const auto& c : verdict.checks) {
    if (c.status != CheckStatus::pass) out += check_line(c, units, colors, "");
  }
  if (!verdict.regions_grown.empty()) {
    out += "  grew most:";
    for (std::size_t i = 0; i < verdict.regions_grown.size() && i < 3; ++i) {
      const auto& r = verdict.regions_grown[i];
      out += (i ? ", " : " ") + escape_terminal(r.name) + " +" +
             format_metric_value("region_bytes", r.growth_bytes(), units.levels);
    }
    out += "\n";
  }
  for (const auto& w : verdict.warnings) {
    out += "  warning: " + escape_terminal(describe_finding(w, verdict, units)) + "\n";
  }
  for (const auto& note : verdict.notes) {
    out += "  note: " + escape_terminal(describe_finding(note, verdict, units)) + "\n";
  }
  return out;
}

/// "name [pid 12] {job=api}", escaped for a terminal.
std::string identity_text(const analysis::ProcessIdentity& id) {
  std::string text = escape_terminal(id.name.empty() ? "?" : id.name);
  if (id.pid) text += " [pid " + std::to_string(*id.pid) + "]";
  if (!id.labels.empty()) {
    std::string labels;
    for (const auto& [key, value] : id.labels) {
      labels += (labels.empty() ? "" : ",") + escape_terminal(key) + "=" + escape_terminal(value);
    }
    text += " {" + labels + "}";
  }
  return text;
}

double judged_growth_per_min(const Verdict& v) {
  const auto* m = v.find(v.judged_metric);
  return m != nullptr ? m->growth_per_min() : -INFINITY;
}

std::string group_text(const Verdict& group, const TextOptions& options) {
  std::vector<const analysis::ProcessVerdict*> order;
  for (const auto& p : group.processes) order.push_back(&p);
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return judged_growth_per_min(a->verdict) > judged_growth_per_min(b->verdict);
  });
  std::string out;
  char line[768];
  for (const auto* p : order) {
    const Verdict& v = p->verdict;
    const Units units = units_of(v);
    const auto* m = v.find(v.judged_metric);
    const bool classified = m != nullptr && m->analysis;
    std::snprintf(line, sizeof line, "  %-12s %-12s %-40s %s\n", analysis::to_string(v.verdict),
                  classified ? analysis::to_string(m->analysis->classification) : "-",
                  classified ? growth_text(v, *m, units).c_str() : "",
                  identity_text(p->identity).c_str());
    out += line;
  }
  for (const auto* p : order) {
    const Units units = units_of(p->verdict);
    const Colors colors = colors_for(p->verdict, options);
    const std::string who = " (" + identity_text(p->identity) + ")";
    for (const auto& c : p->verdict.checks) {
      if (c.status != CheckStatus::pass) out += check_line(c, units, colors, who);
    }
    for (const auto& w : p->verdict.warnings) {
      out += "  warning: " + escape_terminal(describe_finding(w, p->verdict, units)) + who + "\n";
    }
  }
  const Units units = units_of(group);
  for (const auto& note : group.notes)
    out += "  note: " + escape_terminal(describe_finding(note, group, units)) + "\n";
  return out;
}

}  // namespace

const char* metric_kind(std::string_view metric) {
  namespace m = log::metric;
  const std::string_view base = m::base_of(metric);
  const bool counter = base.ends_with("_total") || base == m::cpu_s || base.ends_with("_faults") ||
                       base == m::load_jobs_done || base == m::load_jobs_failed;
  return counter ? "counter" : "gauge";
}

std::string format_bytes(double bytes, const ByteFormat& format) {
  const UnitSymbols& units = symbols_of(format.system);
  int power = 0;
  if (format.power) {
    power = std::clamp(*format.power, 0, 4);
  } else {
    for (double a = std::fabs(bytes); a >= units.base && power < 4; a /= units.base) ++power;
  }
  const double value = bytes / std::pow(units.base, power);
  char buf[64];
  if (format.shortest) {
    std::snprintf(buf, sizeof buf, "%g", value);
  } else if (power == 0) {
    std::snprintf(buf, sizeof buf, "%.0f", value);
  } else {
    std::snprintf(buf, sizeof buf, std::fabs(value) < 10 ? "%.2f" : "%.1f", value);
  }
  return std::string(buf) + " " + units.symbols[static_cast<std::size_t>(power)] +
         std::string(format.per);
}

std::string format_bytes(double bytes) {
  return format_bytes(bytes, ByteFormat{});
}

std::optional<ByteFormat> byte_format_of(std::string_view written) {
  const auto first = written.find_first_not_of("0123456789.+-eE \t");
  if (first == std::string_view::npos) return std::nullopt;
  std::string_view unit = written.substr(first);
  unit = unit.substr(0, unit.find_first_of("/ \t"));
  for (const UnitSymbols* system : {&kDecimal, &kBinary}) {
    for (std::size_t p = 0; p < system->symbols.size(); ++p) {
      if (unit == system->symbols[p] || (p == 1 && system == &kDecimal && unit == "KB")) {
        ByteFormat f;
        f.system = system->system;
        f.power = static_cast<int>(p);
        return f;
      }
    }
  }
  return std::nullopt;
}

std::string format_metric_value(const std::string& metric, double value, ByteSystem system) {
  // smaps regions (region.heap, region.file:/lib/...) are bytes without the suffix.
  if (log::metric::base_of(metric).ends_with("_bytes") ||
      metric.starts_with(log::metric::region_prefix)) {
    ByteFormat f;
    f.system = system;
    return format_bytes(value, f);
  }
  char buf[48];
  if (metric.ends_with("_s")) {
    std::snprintf(buf, sizeof buf, "%.2f s", value);
  } else if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", value);
  } else if (std::fabs(value) >= 1e4 && std::fabs(value) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", value);  // a count's mean: no digits nobody reads
  } else {
    std::snprintf(buf, sizeof buf, "%.4g", value);
  }
  return buf;
}

std::string format_metric_value(const std::string& metric, double value) {
  return format_metric_value(metric, value, ByteSystem::binary);
}

namespace {

/// The numbers of `from` at `keys`, in that order; others (and non-numbers) are left out.
nlohmann::ordered_json numbers_of(const nlohmann::json& from,
                                  std::initializer_list<const char*> keys) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  if (!from.is_object()) return out;
  for (const char* key : keys) {
    const auto it = from.find(key);
    if (it != from.end() && it->is_number()) out[key] = *it;
  }
  return out;
}

nlohmann::ordered_json percentiles_of(const nlohmann::json& from) {
  if (!from.is_object()) return nullptr;
  return numbers_of(from, {"p50", "p95", "p99", "max"});
}

nlohmann::ordered_json request_figures_of(const nlohmann::json& from) {
  // A log's "by_request": {"x": 5} reads as figures of nothing (value() would throw on 5).
  if (!from.is_object()) return request_figures_of(nlohmann::json::object());
  nlohmann::ordered_json out = numbers_of(from, {"requests", "answered", "sent"});
  nlohmann::ordered_json errors = nlohmann::ordered_json::object();
  if (const auto it = from.find("errors"); it != from.end() && it->is_object()) {
    for (const auto& [kind, n] : it->items())
      if (n.is_number()) errors[kind] = n;
  }
  out["errors"] = std::move(errors);
  out.update(numbers_of(from, {"error_rate", "rps", "duration_s"}));
  out["latency_ms"] = percentiles_of(from.value("latency_ms", nlohmann::json()));
  return out;
}

double number_at(const nlohmann::ordered_json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : NAN;
}

/// "  GET /api/items        1800  180.0/s   0.00 %    0.41    0.93    1.50    5.20 ms".
std::string load_row(const std::string& name, const nlohmann::ordered_json& f) {
  const nlohmann::ordered_json none = nlohmann::ordered_json::object();
  const auto it = f.find("latency_ms");
  const nlohmann::ordered_json& latency = it != f.end() && it->is_object() ? *it : none;
  // A figure right-aligned in `width`, or "-" when there is none (nothing answered).
  auto cell = [](double v, int width, const char* format) {
    char buf[48];
    if (std::isnan(v)) {
      std::snprintf(buf, sizeof buf, "%*s", width, "-");
    } else {
      std::snprintf(buf, sizeof buf, format, width, v);
    }
    return std::string(buf);
  };
  std::string shown = escape_terminal(name);
  if (shown.size() > 28) shown = shown.substr(0, 27) + "~";
  shown.resize(28, ' ');
  return "  " + shown + " " + cell(number_at(f, "requests"), 9, "%*.0f") + " " +
         cell(number_at(f, "rps"), 8, "%*.1f") + " " +
         cell(number_at(f, "error_rate") * 100, 7, "%*.2f") + " % " +
         cell(number_at(latency, "p50"), 8, "%*.2f") + " " +
         cell(number_at(latency, "p95"), 8, "%*.2f") + " " +
         cell(number_at(latency, "p99"), 8, "%*.2f") + " " +
         cell(number_at(latency, "max"), 8, "%*.2f") + "\n";
}

}  // namespace

nlohmann::ordered_json load_to_json(const nlohmann::json& recorded) {
  if (!recorded.is_object()) return nullptr;
  // An external load: where its figures came from, how long the run was under it, its end.
  nlohmann::ordered_json external = nlohmann::ordered_json::object();
  if (const auto it = recorded.find("source"); it != recorded.end() && it->is_string()) {
    external["source"] = *it;
    external.update(numbers_of(recorded, {"under_load_s", "under_load_share"}));
    if (const auto e = recorded.find("exit"); e != recorded.end() && e->is_object()) {
      nlohmann::ordered_json exit = numbers_of(*e, {"code", "signal"});
      for (const char* key : {"stopped_by_soak", "failed"})
        if (const auto b = e->find(key); b != e->end() && b->is_boolean()) exit[key] = *b;
      if (const auto d = e->find("detail"); d != e->end() && d->is_string()) exit["detail"] = *d;
      external["exit"] = std::move(exit);
    }
    if (!recorded.contains("requests")) return external;  // a command: no request figures
  }
  nlohmann::ordered_json out = request_figures_of(recorded);
  out.update(external);
  nlohmann::ordered_json by_request = nlohmann::ordered_json::object();
  if (const auto it = recorded.find("by_request"); it != recorded.end() && it->is_object()) {
    for (const auto& [name, figures] : it->items()) by_request[name] = request_figures_of(figures);
  }
  out["by_request"] = std::move(by_request);
  if (const auto it = recorded.find("jobs"); it != recorded.end() && it->is_object()) {
    nlohmann::ordered_json jobs = numbers_of(*it, {"done", "failed"});
    jobs["duration_s"] = percentiles_of(it->value("duration_s", nlohmann::json()));
    out["jobs"] = std::move(jobs);
  }
  return out;
}

std::string load_to_text(const nlohmann::ordered_json& load) {
  if (!load.is_object()) return {};
  char line[256];
  std::string out;
  if (const auto it = load.find("source"); it != load.end() && it->is_string()) {
    std::snprintf(line, sizeof line, "load: %s, under load %.1f s (%.0f %% of the run)\n",
                  escape_terminal(it->get<std::string>()).c_str(), number_at(load, "under_load_s"),
                  number_at(load, "under_load_share") * 100);
    out += line;
    if (!load.contains("requests")) return out;
  }
  std::snprintf(line, sizeof line, "load: %.0f requests in %.1f s, %.1f/s, %.2f %% errors",
                number_at(load, "requests"), number_at(load, "duration_s"), number_at(load, "rps"),
                number_at(load, "error_rate") * 100);
  out += line;
  std::string kinds;
  if (const auto it = load.find("errors"); it != load.end() && it->is_object()) {
    for (const auto& [kind, n] : it->items())
      kinds += (kinds.empty() ? "" : ", ") + escape_terminal(kind) + " " + n.dump();
  }
  out += kinds.empty() ? "\n" : " (" + kinds + ")\n";
  std::snprintf(line, sizeof line, "  %-28s %9s %8s %9s %8s %8s %8s %8s\n", "request", "requests",
                "rps", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms");
  out += line;
  out += load_row("all", load);
  if (const auto it = load.find("by_request"); it != load.end() && it->is_object()) {
    for (const auto& [name, figures] : it->items()) out += load_row(name, figures);
  }
  if (const auto it = load.find("jobs"); it != load.end() && it->is_object()) {
    std::snprintf(line, sizeof line, "  jobs: %.0f done, %.0f failed", number_at(*it, "done"),
                  number_at(*it, "failed"));
    out += line;
    if (const auto d = it->find("duration_s"); d != it->end() && d->is_object()) {
      std::snprintf(line, sizeof line, "; done in p50 %.2f s, p95 %.2f s, p99 %.2f s, max %.2f s",
                    number_at(*d, "p50"), number_at(*d, "p95"), number_at(*d, "p99"),
                    number_at(*d, "max"));
      out += line;
    }
    out += "\n";
  }
  return out;
}

nlohmann::ordered_json verdict_to_json(const Verdict& verdict) {
  nlohmann::ordered_json j;
  j["format"] = kVerdictFormat;
  j["version"] = kVerdictVersion;
  j["verdict"] = analysis::to_string(verdict.verdict);
  j["summary"] = summary_sentence(verdict);
  j["duration_s"] = verdict.duration_s;
  j["samples"] = verdict.samples;
  add_body(verdict, j);
  if (!verdict.processes.empty()) {
    nlohmann::ordered_json processes = nlohmann::ordered_json::array();
    for (const auto& p : verdict.processes) processes.push_back(process_json(p));
    j["processes"] = std::move(processes);
  }
  j["soak_version"] = SOAK_VERSION;
  return j;
}

std::string verdict_to_text(const Verdict& verdict, const TextOptions& options) {
  const Colors colors = colors_for(verdict, options);
  char line[320];
  if (!verdict.processes.empty()) {
    std::snprintf(line, sizeof line, "verdict: %s%s%s  (%zu processes, %zu samples)\n",
                  colors.verdict, analysis::to_string(verdict.verdict), colors.off,
                  verdict.processes.size(), verdict.samples);
    return line + group_text(verdict, options);
  }
  std::snprintf(line, sizeof line, "verdict: %s%s%s  (%zu samples over %.1f s)\n", colors.verdict,
                analysis::to_string(verdict.verdict), colors.off, verdict.samples,
                verdict.duration_s);
  // The sentence holds names from outside (metrics, the target's): escaped for the terminal.
  std::string out = line + escape_terminal(summary_sentence(verdict)) + "\n";
  // The stress ramp's breaking point and recovery are a result of the run, not only a check.
  if (const std::string ramp = ramp_sentence(verdict); !ramp.empty()) out += ramp + "\n";
  return out + process_text(verdict, options);
}

}  // namespace soak::report
