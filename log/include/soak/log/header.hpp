#pragma once
// The log's first line: what was sampled, on which host, how, and what it is judged against.
// The schema is written and read only here (SPEC.md pins `type`, `format`, `version`,
// `started_at`, `interval_s`, `target`, `host`); everything else that reads a header asks these
// functions rather than knowing its keys.
//
// Pure functions on values; thread-safe. Reading functions never throw on a header that lacks a
// field or holds the wrong type: they return "not known".

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace soak::log {

struct TargetFacts {
  std::int64_t pid = 0;
  std::string name;
  std::vector<std::string> cmdline;
  std::uint64_t start_ticks = 0;  ///< start time in clock ticks after boot (PID-reuse guard)
  std::uint32_t uid = 0;
};

struct HostFacts {
  std::string kernel;
  std::uint64_t page_size = 0;
  std::uint64_t mem_total_bytes = 0;
  long clock_ticks_per_s = 0;
};

struct HeaderFields {
  std::string started_at;  ///< UTC, ISO 8601 ("2026-11-22T23:00:00Z"); see utc_now_iso()
  double interval_s = 1;   ///< the sampling interval
  TargetFacts target;
  HostFacts host;
  std::string mode;  ///< attach | run | scenario
  std::optional<double> planned_duration_s;
  std::string soak_version;
};

/// What a scenario adds to the header: a later `soak analyze` judges the run the same way.
struct ScenarioFacts {
  std::string name;
  std::string file;  ///< absolute path of the scenario file
  std::string base_url;
  std::string model;                       ///< open | closed
  std::optional<double> error_rate_limit;  ///< fraction of requests (stress ramp)
  std::optional<double> p95_limit_s;
  nlohmann::json targets;  ///< the scenario's inline targets document, or null
};

/// A process of an imported recording that holds several (log version 2): who its key is.
struct ImportedIdentity {
  std::string name;
  std::int64_t pid = 0;
  std::vector<std::string> cmdline;
  std::map<std::string, std::string> labels;
};

/// What `soak import` adds to the header (`import`): where the samples came from and what they
/// measure, so the right checks apply and the report labels them truthfully.
struct ImportFacts {
  std::string format;  ///< csv | psrecord | mprof | perfmon | dotnet-counters | prometheus
  std::string file;    ///< the original file's name (as given)
  std::uint64_t bytes = 0;
  std::string sha1;                   ///< of the original file, hex
  bool started_at_estimated = false;  ///< the file has no wall-clock: started_at is its mtime
                                      ///< less the recording's length
  /// Metric -> what it measures, when not the process's resident set ("JVM heap after GC").
  std::map<std::string, std::string> measures;
  /// When the recording has no rss_bytes: the series the run is judged by.
  std::string judged_series;
  /// Process key -> identity, for recordings of several processes.
  std::map<std::string, ImportedIdentity> processes;
};

/// The header object, keys in the order people read them.
nlohmann::ordered_json make_header(const HeaderFields& fields);
/// Adds `import` to a header made above (and version 2 when it names several processes).
void add_import(nlohmann::ordered_json& header, const ImportFacts& facts);
/// The import facts of a header; nullopt for a run soak recorded itself.
std::optional<ImportFacts> import_facts(const nlohmann::json& header);
/// Adds `scenario` (and `targets` when the scenario has some) to a header made above.
void add_scenario(nlohmann::ordered_json& header, const ScenarioFacts& scenario);

/// The current UTC time as ISO 8601 ("2026-11-22T23:00:00Z") and compact ("20261122T230000Z").
std::string utc_now_iso();
std::string utc_now_compact();
/// A Unix time (seconds) as UTC ISO 8601; kOutOfRangeTime for a time outside the years 0000 to
/// 9999 (or not a number).
std::string utc_iso(double unix_s);
inline constexpr std::string_view kOutOfRangeTime = "out of range";

// Reading a header (of any version) back; a field that is missing or mistyped reads as its
// default (0, empty).
/// All the header's fields the schema knows.
HeaderFields read_header(const nlohmann::json& header);
TargetFacts target_facts(const nlohmann::json& header);
std::optional<double> host_memory_bytes(const nlohmann::json& header);
/// The targets document the run was started with (a scenario's), when there is one.
std::optional<nlohmann::json> targets_document(const nlohmann::json& header);
std::optional<double> scenario_error_rate_limit(const nlohmann::json& header);
std::optional<double> scenario_p95_limit_s(const nlohmann::json& header);

}  // namespace soak::log
