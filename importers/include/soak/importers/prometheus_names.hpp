#pragma once
// soak's metric names (log/metrics.hpp) in Prometheus' naming conventions
// (https://prometheus.io/docs/practices/naming/): one metric per meaning, in its base unit,
// with the unit as a suffix and `_total` on counters. The live exporter (soak::probes) names
// what it serves with exported_name(); `soak analyze --prometheus` reads those series back
// as soak's own metrics with soak_metric_of(). Both directions use the one table in
// prometheus_names.cpp; docs/exporter.md lists it.
//
// Units: a soak value times ExportedName::scale is the exported value (milliseconds become
// seconds); every other unit is already a base unit.
// Thread-safety: pure functions; call them from any thread.
// Failure modes: none; a name outside the table is named by the documented rule.

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace soak::importers {

enum class PromType { gauge, counter };

/// "gauge" or "counter", as a `# TYPE` line writes it.
const char* to_string(PromType type);

/// How one soak metric is exported.
struct ExportedName {
  std::string name;  ///< the Prometheus metric name ([a-z_][a-z0-9_]*)
  PromType type = PromType::gauge;
  std::string help;         ///< the `# HELP` text
  std::string label;        ///< a label that tells members of a family apart ("region"), or ""
  std::string label_value;  ///< its value ("heap" for region.heap)
  std::string unit;         ///< "bytes", "seconds", or "" (a count)
  double scale = 1;         ///< soak value × scale = exported value
};

/// The Prometheus name of a soak metric: the table for the names soak writes, the rule for
/// the others (a probe's heap.NAME becomes soak_probe_NAME, sanitized, its unit suffix in base
/// units; METRIC_after_gc becomes METRIC's name with `_after_gc` before the unit).
ExportedName exported_name(std::string_view soak_metric);

/// The name of the growth of `metric`: its name without unit and `_total`, then
/// `_growth_<unit>_per_second` (`soak_target_resident_memory_growth_bytes_per_second`).
std::string growth_name(const ExportedName& metric);

/// The soak metric an exported series is (rss_bytes for soak_target_resident_memory_bytes,
/// region.heap for soak_target_region_resident_memory_bytes{region="heap"}), from its
/// `__name__` and labels; nullopt for a name soak's exporter does not write.
std::optional<std::string> soak_metric_of(const std::map<std::string, std::string>& labels);

/// `text` as a Prometheus name part: camelCase split with '_', lower case, every run of other
/// characters one '_', no '_' at either end; "value" when nothing is left.
std::string sanitized_name(std::string_view text);

}  // namespace soak::importers
