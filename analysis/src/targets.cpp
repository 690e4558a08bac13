#include "soak/analysis/targets.hpp"

#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>

namespace soak::analysis {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

const std::map<std::string, double>& byte_units() {
  static const std::map<std::string, double> units = {{"B", 1},
                                                      {"kB", 1e3},
                                                      {"KB", 1e3},
                                                      {"MB", 1e6},
                                                      {"GB", 1e9},
                                                      {"TB", 1e12},
                                                      {"KiB", 1024.0},
                                                      {"MiB", 1048576.0},
                                                      {"GiB", 1073741824.0},
                                                      {"TiB", 1099511627776.0}};
  return units;
}

[[noreturn]] void fail(const std::string& field, const std::string& text, const char* expected) {
  throw TargetsError("targets: " + field + ": expected " + expected + ", got \"" + text + "\"");
}

}  // namespace

double parse_quantity(const std::string& raw, Quantity kind, const std::string& field) {
  const std::string text = trim(raw);
  const char* expected = "";
  switch (kind) {
    case Quantity::bytes:
      expected = "a size with a unit such as \"500 MB\" or \"1 GiB\"";
      break;
    case Quantity::bytes_per_min:
      expected = "a rate such as \"5 MiB/min\" or \"300 MB/h\"";
      break;
    case Quantity::fraction:
      expected = "a percentage such as \"20%\"";
      break;
    case Quantity::seconds:
      expected = "a duration such as \"5m\" or \"90s\"";
      break;
    case Quantity::count:
    case Quantity::count_per_min:
    case Quantity::value_per_min:
    case Quantity::level:
      assert(false && "targets are written in bytes, rates, fractions or durations");
      fail(field, raw, "a quantity a targets file can hold");
  }
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || !std::isfinite(value) || value < 0) fail(field, raw, expected);
  const std::string unit = trim(std::string(ptr, text.data() + text.size()));
  switch (kind) {
    case Quantity::fraction:
      if (unit != "%") fail(field, raw, expected);
      return value / 100.0;
    case Quantity::seconds: {
      static const std::map<std::string, double> units = {{"ms", 1e-3}, {"s", 1},    {"m", 60},
                                                          {"min", 60},  {"h", 3600}, {"d", 86400}};
      const auto it = units.find(unit);
      if (it == units.end()) fail(field, raw, expected);
      return value * it->second;
    }
    case Quantity::bytes: {
      const auto it = byte_units().find(unit);
      if (it == byte_units().end()) fail(field, raw, expected);
      return value * it->second;
    }
    case Quantity::bytes_per_min: {
      const auto slash = unit.find('/');
      if (slash == std::string::npos) fail(field, raw, expected);
      const auto size = byte_units().find(trim(unit.substr(0, slash)));
      const std::string per = trim(unit.substr(slash + 1));
      const double per_min = per == "s" ? 60.0 : per == "min" ? 1.0 : per == "h" ? 1.0 / 60 : -1;
      if (size == byte_units().end() || per_min < 0) fail(field, raw, expected);
      return value * size->second * per_min;
    }
    case Quantity::count:
    case Quantity::count_per_min:
    case Quantity::value_per_min:
    case Quantity::level:
      break;
  }
  fail(field, raw, expected);
}

namespace {

Tiered parse_tiered(const nlohmann::json& value, Quantity kind, const std::string& field,
                    Tiered base) {
  if (value.is_string()) {
    base.target = parse_quantity(value.get<std::string>(), kind, field);
    base.target_text = value.get<std::string>();
    if (base.acceptable && *base.acceptable < base.target) {
      base.acceptable.reset();
      base.acceptable_text.clear();
    }
    return base;
  }
  if (!value.is_object()) {
    throw TargetsError("targets: " + field +
                       ": expected a string or an object with \"target\" and \"acceptable\"");
  }
  for (const auto& [key, v] : value.items()) {
    if (key != "target" && key != "acceptable") {
      throw TargetsError("targets: " + field + "." + key +
                         ": unknown key (expected \"target\" or \"acceptable\")");
    }
    if (!v.is_string()) {
      throw TargetsError("targets: " + field + "." + key + ": expected a string with a unit");
    }
  }
  if (value.contains("target")) {
    base.target = parse_quantity(value["target"].get<std::string>(), kind, field + ".target");
    base.target_text = value["target"].get<std::string>();
  }
  if (value.contains("acceptable")) {
    base.acceptable =
        parse_quantity(value["acceptable"].get<std::string>(), kind, field + ".acceptable");
    base.acceptable_text = value["acceptable"].get<std::string>();
  }
  if (base.acceptable && *base.acceptable < base.target) {
    throw TargetsError("targets: " + field + ": \"acceptable\" must not be below \"target\"");
  }
  return base;
}

}  // namespace

Targets parse_targets(const nlohmann::json& document, Targets base) {
  if (!document.is_object()) throw TargetsError("targets: expected a JSON object at the top");
  for (const auto& [key, value] : document.items()) {
    if (key == "rss_growth") {
      base.rss_growth_bytes_per_min =
          parse_tiered(value, Quantity::bytes_per_min, key, base.rss_growth_bytes_per_min);
    } else if (key == "initial_rss") {
      base.initial_rss_bytes = parse_tiered(value, Quantity::bytes, key, base.initial_rss_bytes);
    } else if (key == "max_rss_1h") {
      base.max_rss_1h_bytes = parse_tiered(value, Quantity::bytes, key, base.max_rss_1h_bytes);
    } else if (key == "max_rss_24h") {
      base.max_rss_24h_bytes = parse_tiered(value, Quantity::bytes, key, base.max_rss_24h_bytes);
    } else if (key == "memory_growth") {
      if (!value.is_string())
        throw TargetsError("targets: memory_growth: expected a string like \"20%\"");
      base.memory_growth_fraction =
          parse_quantity(value.get<std::string>(), Quantity::fraction, key);
    } else if (key == "job_growth" || key == "return_to_baseline") {
      if (!value.is_string())
        throw TargetsError("targets: " + key + ": expected a string like \"20%\"");
      const double f = parse_quantity(value.get<std::string>(), Quantity::fraction, key);
      if (key == "job_growth")
        base.job_growth_fraction = f;
      else
        base.return_to_baseline_fraction = f;
    } else if (key == "fail_on_any_leak") {
      if (!value.is_boolean())
        throw TargetsError("targets: fail_on_any_leak: expected true or false");
      base.fail_on_any_leak = value.get<bool>();
    } else if (key == "warmup") {
      if (!value.is_string()) throw TargetsError("targets: warmup: expected a string like \"5m\"");
      base.warmup_s = parse_quantity(value.get<std::string>(), Quantity::seconds, key);
    } else {
      throw TargetsError(
          "targets: unknown key \"" + key +
          "\" (known: rss_growth, initial_rss, max_rss_1h, max_rss_24h, "
          "memory_growth, fail_on_any_leak, warmup, job_growth, return_to_baseline)");
    }
  }
  return base;
}

}  // namespace soak::analysis
