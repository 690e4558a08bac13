#pragma once
// Turning an analysis into what people and CI systems read. Renders only; never recomputes.
//
// Units: one unit system per number, the one its target was written in (a targets file saying
// "5 MiB/min" prints the measured growth in MiB/min; the default profile is written in MB, so
// defaults print MB/min, MB, GB). Values without a target of their own use the system of the
// growth target the verdict judged memory by.
// Thread-safety: pure functions of their arguments. Failure modes: none thrown beyond
// std::bad_alloc; text from outside (names, labels, command lines) is escaped for its medium.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "soak/analysis/verdict.hpp"

namespace soak::report {

/// Decimal (kB = 10^3, MB, GB, TB) or binary (KiB = 2^10, MiB, GiB, TiB) byte units.
enum class ByteSystem { decimal, binary };

/// How format_bytes writes a number of bytes.
struct ByteFormat {
  ByteSystem system = ByteSystem::binary;
  /// Fixed prefix (0 = B, 1 = k/Ki, 2 = M/Mi, 3 = G/Gi, 4 = T/Ti); by magnitude when absent.
  std::optional<int> power;
  /// "%g" digits, as a person writes a limit ("5 MB"); else 2 decimals under 10, 1 above.
  bool shortest = false;
  std::string_view per;  ///< appended to the unit, e.g. "/min"
};

/// The one byte formatter: "7.34 MB/min", "152.3 MiB", "512 B".
std::string format_bytes(double bytes, const ByteFormat& format);
/// Binary units by magnitude ("152.3 MiB", "1.20 GiB", "512 B"): the chart axes' form.
std::string format_bytes(double bytes);
/// The byte unit a quantity was written in ("5 MiB/min" -> binary, power 2, "/min"); empty
/// when the text has no byte unit.
std::optional<ByteFormat> byte_format_of(std::string_view written);

/// A metric value in its unit, judged by its name ("*_bytes" as bytes in `system`, "*_s" as
/// seconds, else a plain number).
std::string format_metric_value(const std::string& metric, double value, ByteSystem system);
/// The same in binary units (kept for callers without a verdict).
std::string format_metric_value(const std::string& metric, double value);

/// A metric's Prometheus-style kind: "counter" for cumulative figures (`*_total`, cpu_s, page
/// faults, jobs done and failed), "gauge" for everything read as a level (rss, threads, fds...).
const char* metric_kind(std::string_view metric);

/// verdict.json's `load` from what the log's load_summary event recorded in its `load` field:
/// the same figures in a fixed key order (requests, answered, sent, errors, error_rate, rps,
/// duration_s, latency_ms {p50, p95, p99, max}, by_request {name: the same}, jobs {done,
/// failed, duration_s {p50, p95, p99, max}}); fields of the wrong type are dropped. Null when
/// `recorded` is not an object.
nlohmann::ordered_json load_to_json(const nlohmann::json& recorded);
/// The terminal's load table (as a load tester's end-of-test summary): one line for all
/// requests and one per request name with requests, rps, errors %, p50/p95/p99/max latency;
/// then the jobs. `load` is verdict.json's `load`; empty text when it is null.
std::string load_to_text(const nlohmann::ordered_json& load);

/// The verdict.json document (SPEC.md's schema). A group (analysis::analyze_group) adds
/// "processes": [{pid, name, cmdline, labels (when any), verdict, metrics, checks, ...}].
nlohmann::ordered_json verdict_to_json(const analysis::Verdict& verdict);
/// verdict.json's `format` and `version` (SPEC.md), like the log's header: a reader checks
/// them before anything else. The version rises when a field is renamed or removed.
inline constexpr const char* kVerdictFormat = "soak-verdict";
inline constexpr int kVerdictVersion = 1;

struct TextOptions {
  bool color = false;
};
/// The terminal summary: verdict line, one line per metric, failing and inconclusive checks,
/// warnings, notes. For a group: one line per process sorted by growth, then the checks that
/// failed or were inconclusive, each naming its process.
std::string verdict_to_text(const analysis::Verdict& verdict, const TextOptions& options);

}  // namespace soak::report
