#pragma once
// The units a recording's values may be written in, as factors to soak's base units (bytes,
// plain counts). MB = 10^6 bytes, MiB = 2^20 bytes, as the targets file reads them.

#include <optional>
#include <string>
#include <string_view>

namespace soak::importers {

/// The factor from `unit` to soak's base unit; nullopt for an unknown unit.
inline std::optional<double> unit_scale(std::string_view unit) {
  struct Unit {
    std::string_view name;
    double scale;
  };
  static constexpr Unit kUnits[] = {
      {"B", 1},    {"bytes", 1},    {"kB", 1e3},        {"KB", 1e3},           {"MB", 1e6},
      {"GB", 1e9}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"count", 1},
      {"1", 1},
  };
  for (const auto& u : kUnits) {
    if (u.name == unit) return u.scale;
  }
  return std::nullopt;
}

inline std::string unit_names() {
  return "B, kB, MB, GB, KiB, MiB, GiB, count";
}

}  // namespace soak::importers
