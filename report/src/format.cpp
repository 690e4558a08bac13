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

nlohmann::json verdict_to_json(const analysis::Verdict& verdict) {
  nlohmann::json j;
  j["verdict"] = analysis::to_string(verdict.verdict);
  j["duration_s"] = verdict.duration_s;
  j["samples"] = verdict.samples;
  nlohmann::json metrics = nlohmann::json::object();
  for (const auto& m : verdict.metrics) {
    metrics[m.name] = {{"points", m.points}, {"first", m.first}, {"last", m.last},
                       {"max", m.max},       {"min", m.min}};
  }
  j["metrics"] = std::move(metrics);
  j["checks"] = nlohmann::json::array();
  j["notes"] = verdict.notes;
  j["soak_version"] = SOAK_VERSION;
  return j;
}

std::string verdict_to_text(const analysis::Verdict& verdict, const TextOptions& options) {
  std::string out;
  const char* on = options.color ? verdict_color(verdict.verdict) : "";
  const char* off = options.color ? "\x1b[0m" : "";
  char line[256];
  std::snprintf(line, sizeof line, "verdict: %s%s%s  (%zu samples over %.1f s)\n", on,
                analysis::to_string(verdict.verdict), off, verdict.samples, verdict.duration_s);
  out += line;
  for (const auto& m : verdict.metrics) {
    std::snprintf(line, sizeof line, "  %-20s first %-12s last %-12s max %s\n", m.name.c_str(),
                  format_metric_value(m.name, m.first).c_str(),
                  format_metric_value(m.name, m.last).c_str(),
                  format_metric_value(m.name, m.max).c_str());
    out += line;
  }
  for (const auto& note : verdict.notes) out += "  note: " + note + "\n";
  return out;
}

}  // namespace soak::report
