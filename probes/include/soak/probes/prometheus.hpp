#pragma once
// The Prometheus text exposition format (0.0.4) and OpenMetrics 1.0, parsed tolerantly: junk
// lines are skipped and counted, never fatal. Handles label-value escapes (\\ \" \n), +Inf /
// -Inf / NaN, timestamps, exemplars, histograms and summaries (their series are ordinary
// samples: name_bucket{le=...}, name_sum, name_count, name{quantile=...}).
//
// Units: values as exposed (the metric's own unit); timestamps as written (ms in the text format, s
// in OpenMetrics). Thread-safety: pure functions of their input; call from any thread. Failure
// modes: nothing is thrown for bad input; malformed lines are counted in the result.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace soak::probes {

using Labels = std::vector<std::pair<std::string, std::string>>;

struct PromSample {
  std::string name;
  Labels labels;
  double value = 0;
  std::optional<double> timestamp;  ///< as written (ms in Prometheus text, s in OpenMetrics)
};

struct PromDocument {
  std::vector<PromSample> samples;
  std::map<std::string, std::string> types;  ///< from # TYPE lines
  std::size_t skipped_lines = 0;             ///< malformed lines, ignored
  bool saw_eof = false;                      ///< OpenMetrics "# EOF"
};

PromDocument parse_prometheus_text(std::string_view text);

/// `name` or `name{label="value",other="v"}`: equality matchers on labels.
struct MetricSelector {
  std::string name;
  Labels matchers;
  bool matches(const PromSample& s) const;
};

/// Parses a selector; nullopt when malformed.
std::optional<MetricSelector> parse_selector(std::string_view text);

/// The sum of every matching sample's value (pools of one heap add up); nullopt if none match.
std::optional<double> select_sum(const PromDocument& doc, const MetricSelector& selector);

}  // namespace soak::probes
