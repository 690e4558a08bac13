#pragma once
// Turning an analysis into what people and CI systems read. Renders only; never recomputes.

#include <nlohmann/json.hpp>
#include <string>

#include "soak/analysis/verdict.hpp"

namespace soak::report {

/// "152.3 MiB", "1.20 GiB", "512 B" (binary units: a byte count as a person reads it).
std::string format_bytes(double bytes);
/// A metric value in its unit, judged by its name ("*_bytes" as bytes, "*_s" as seconds).
std::string format_metric_value(const std::string& metric, double value);

/// The verdict.json document (SPEC.md's schema).
nlohmann::ordered_json verdict_to_json(const analysis::Verdict& verdict);

struct TextOptions {
  bool color = false;
};
/// The terminal summary: verdict line, one line per metric, notes.
std::string verdict_to_text(const analysis::Verdict& verdict, const TextOptions& options);

}  // namespace soak::report
