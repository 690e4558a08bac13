#include "soak/report/format.hpp"

#include <cmath>
#include <cstdio>

namespace soak::report {

namespace {

bool ends_with(const std::string& s, const char* suffix) {
  const std::string_view sv(s), suf(suffix);
  return sv.size() >= suf.size() && sv.substr(sv.size() - suf.size()) == suf;
}

const char* verdict_color(analysis::VerdictKind kind) {
  switch (kind) {
    case analysis::VerdictKind::pass: return "\x1b[1;32m";
    case analysis::VerdictKind::fail: return "\x1b[1;31m";
    case analysis::VerdictKind::inconclusive: return "\x1b[1;33m";
  }
  return "";
}

}  // namespace

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = bytes;
  int unit = 0;
  while (std::fabs(value) >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  char buf[48];
  if (unit == 0) {
    std::snprintf(buf, sizeof buf, "%.0f B", value);
  } else {
    std::snprintf(buf, sizeof buf, std::fabs(value) < 10 ? "%.2f %s" : "%.1f %s", value,
                  units[unit]);
  }
  return buf;
}

std::string format_metric_value(const std::string& metric, double value) {
  if (ends_with(metric, "_bytes")) return format_bytes(value);
  char buf[48];
  if (ends_with(metric, "_s")) {
    std::snprintf(buf, sizeof buf, "%.2f s", value);
  } else if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", value);
  } else {
    std::snprintf(buf, sizeof buf, "%.4g", value);
  }
  return buf;
}

namespace {

nlohmann::json optional_number(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::ordered_json verdict_to_json(const analysis::Verdict& verdict) {
  nlohmann::ordered_json j;
  j["verdict"] = analysis::to_string(verdict.verdict);
  j["duration_s"] = verdict.duration_s;
  j["samples"] = verdict.samples;
  nlohmann::ordered_json metrics = nlohmann::ordered_json::object();
  for (const auto& m : verdict.metrics) {
    nlohmann::ordered_json e;
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
      e["reason"] = a.reason;
      e["trend_line"] = {{a.trend_t0, a.trend_y0}, {a.trend_t1, a.trend_y1}};
      if (m.time_to_limit_s) {
        e["time_to_limit_s"] = *m.time_to_limit_s;
        e["limit"] = m.limit_name;
      }
    } else {
      e["kind"] = "counter";
    }
    e["first"] = m.first;
    e["last"] = m.last;
    e["max"] = m.max;
    e["min"] = m.min;
    e["points"] = m.points;
    metrics[m.name] = std::move(e);
  }
  j["metrics"] = std::move(metrics);
  nlohmann::ordered_json checks = nlohmann::ordered_json::array();
  for (const auto& c : verdict.checks) {
    nlohmann::ordered_json e;
    e["name"] = c.name;
    e["status"] = analysis::to_string(c.status);
    e["measured"] = c.measured;
    e["limit"] = c.limit;
    if (!c.tier.empty()) e["tier"] = c.tier;
    e["detail"] = c.detail;
    checks.push_back(std::move(e));
  }
  j["checks"] = std::move(checks);
  nlohmann::ordered_json regions = nlohmann::ordered_json::array();
  for (const auto& r : verdict.regions_grown) {
    regions.push_back({{"region", r.name}, {"first_bytes", r.first_bytes}, {"last_bytes", r.last_bytes},
                       {"growth_bytes", r.growth_bytes()}});
  }
  j["regions_grown"] = std::move(regions);
  j["warnings"] = verdict.warnings;
  j["notes"] = verdict.notes;
  j["soak_version"] = SOAK_VERSION;
  return j;
}

std::string verdict_to_text(const analysis::Verdict& verdict, const TextOptions& options) {
  std::string out;
  const char* on = options.color ? verdict_color(verdict.verdict) : "";
  const char* off = options.color ? "\x1b[0m" : "";
  const char* red = options.color ? "\x1b[31m" : "";
  char line[320];
  std::snprintf(line, sizeof line, "verdict: %s%s%s  (%zu samples over %.1f s)\n", on,
                analysis::to_string(verdict.verdict), off, verdict.samples, verdict.duration_s);
  out += line;
  for (const auto& m : verdict.metrics) {
    if (!m.analysis) continue;
    const auto& a = *m.analysis;
    std::string growth;
    if (a.classification != analysis::Classification::insufficient) {
      growth = format_metric_value(m.name, a.growth_per_s * 60) + "/min [" +
               format_metric_value(m.name, a.ci_low_per_s * 60) + ", " +
               format_metric_value(m.name, a.ci_high_per_s * 60) + "]";
    }
    std::snprintf(line, sizeof line, "  %-20s %-12s %-40s last %s\n", m.name.c_str(),
                  analysis::to_string(a.classification), growth.c_str(),
                  format_metric_value(m.name, m.last).c_str());
    out += line;
  }
  for (const auto& c : verdict.checks) {
    if (c.status == analysis::CheckStatus::pass) continue;
    std::snprintf(line, sizeof line, "  %s%s %s%s: %s (limit %s)\n",
                  c.status == analysis::CheckStatus::fail ? red : on,
                  analysis::to_string(c.status), c.name.c_str(), off, c.detail.c_str(),
                  c.limit.c_str());
    out += line;
  }
  if (!verdict.regions_grown.empty()) {
    out += "  grew most:";
    for (std::size_t i = 0; i < verdict.regions_grown.size() && i < 3; ++i) {
      const auto& r = verdict.regions_grown[i];
      out += (i ? ", " : " ") + r.name + " +" + format_bytes(r.growth_bytes());
    }
    out += "\n";
  }
  for (const auto& w : verdict.warnings) out += "  warning: " + w + "\n";
  for (const auto& note : verdict.notes) out += "  note: " + note + "\n";
  return out;
}

}  // namespace soak::report
