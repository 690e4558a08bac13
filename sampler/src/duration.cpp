#include "soak/sampler/duration.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace soak::sampler {

std::chrono::nanoseconds parse_duration(std::string_view text) {
  const std::string shown(text);
  auto fail = [&shown]() -> std::chrono::nanoseconds {
    throw DurationError("invalid duration '" + shown +
                        "': expected a number with an optional unit ms, s, m, h or d "
                        "(e.g. 500ms, 30s, 10m, 8h)");
  };
  if (text.empty()) fail();
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || !std::isfinite(value) || value < 0) fail();
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  double scale_ns = 0;
  if (unit.empty() || unit == "s") {
    scale_ns = 1e9;
  } else if (unit == "ms") {
    scale_ns = 1e6;
  } else if (unit == "us") {
    scale_ns = 1e3;
  } else if (unit == "m" || unit == "min") {
    scale_ns = 60e9;
  } else if (unit == "h") {
    scale_ns = 3600e9;
  } else if (unit == "d") {
    scale_ns = 86400e9;
  } else {
    fail();
  }
  const double ns = value * scale_ns;
  if (ns > 1e18) fail();  // beyond ~31 years: a typo, not a soak
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(ns)));
}

std::string format_duration(Seconds d) {
  const double s = d.count();
  char buf[48];
  if (s < 1.0) {
    std::snprintf(buf, sizeof buf, "%.0fms", s * 1000.0);
  } else if (s < 60.0) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else if (s < 3600.0) {
    const auto total = static_cast<long>(s);
    std::snprintf(buf, sizeof buf, "%ldm %02lds", total / 60, total % 60);
  } else {
    const auto total = static_cast<long>(s);
    std::snprintf(buf, sizeof buf, "%ldh %02ldm", total / 3600, (total % 3600) / 60);
  }
  return buf;
}

}  // namespace soak::sampler
