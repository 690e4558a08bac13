#pragma once
// The targets a run is checked against: the documented profile (SPEC.md, from the seeds'
// memory-usage and benchmark tables) and a JSON file that overrides parts of it.
//
// Units: every value in base units (bytes, bytes per minute, fractions, seconds); the text a
// targets file wrote is kept beside it so reports can quote it and print in its unit.
// Thread-safety: plain values and pure functions. Failure modes: parse_quantity and
// parse_targets throw TargetsError naming the field; nothing else throws.

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

namespace soak::analysis {

/// A targets file or value that cannot be used. what() names the field and what was expected.
class TargetsError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A limit with tiers: below `target` is on target, below `acceptable` acceptable, else poor.
struct Tiered {
  double target = 0;
  std::optional<double> acceptable;
  std::string target_text;  ///< as the targets file wrote it ("5 MiB/min"); empty for defaults
  std::string acceptable_text;
};

struct Targets {
  Tiered rss_growth_bytes_per_min{5e6, 10e6, {}, {}};
  Tiered initial_rss_bytes{500e6, 1e9, {}, {}};
  Tiered max_rss_1h_bytes{1e9, 2e9, {}, {}};
  Tiered max_rss_24h_bytes{1.5e9, 3e9, {}, {}};
  double memory_growth_fraction = 0.20;  ///< growth of RSS over the run (after warm-up)
  bool fail_on_any_leak = false;         ///< a leak slower than the growth target also fails
  std::optional<double> warmup_s;        ///< forced warm-up length
  /// Per-iteration (job) checks, seed 000: RSS after each finished job may grow by less than
  /// this over the jobs; and RSS at the end must be within this of the baseline before them.
  double job_growth_fraction = 0.20;
  std::optional<double> return_to_baseline_fraction;
};

/// What a number measures. Targets are written in the first four; checks (verdict.hpp) also
/// measure counts, rates in a series' own unit and load levels.
enum class Quantity {
  bytes,
  bytes_per_min,
  fraction,  ///< 0.2 is 20 %
  seconds,
  count,          ///< threads, fds, jobs: a plain number
  count_per_min,  ///< a count's growth
  value_per_min,  ///< growth of a series that is neither bytes nor a count, in its own unit
  level,          ///< a load level (the scenario's own scale)
};

/// Parses "5 MiB/min", "500 MB", "1.5 GB", "20%", "5m": the unit is required and strict
/// (MB = 10^6 bytes, MiB = 2^20 bytes; rates per s, min or h). Throws TargetsError. Only the
/// four kinds a targets file writes (bytes, bytes_per_min, fraction, seconds) are parsed.
double parse_quantity(const std::string& text, Quantity kind, const std::string& field);

/// Applies a targets document over the defaults. Unknown keys, wrong types and bad units are
/// errors naming the field. Keys: rss_growth, initial_rss, max_rss_1h, max_rss_24h (each a
/// string for the target alone, or {"target": ..., "acceptable": ...}), memory_growth,
/// fail_on_any_leak, warmup, job_growth, return_to_baseline.
Targets parse_targets(const nlohmann::json& document, Targets base = {});

}  // namespace soak::analysis
