#pragma once
// A Prometheus /api/v1/query_range answer (the JSON the HTTP API returns), parsed: the one
// parser of that answer in soak. `soak import prometheus` reads it from a saved file; the
// probes' query_range client (`soak analyze --prometheus`, `soak fleet`) reads it off the wire.
//
// Units: time stamps in Unix seconds (as Prometheus writes them, fractions kept); values as
// the series holds them, in the metric's own unit.
// Thread-safety: a pure function of its argument; call it from any thread.
// Failure modes: nothing throws (but std::bad_alloc); an answer that is not a usable query
// answer is a value: QueryRangeAnswer::failure says why.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace soak::importers {

/// One series of a query_range answer.
struct RangeSeries {
  std::map<std::string, std::string> labels;      ///< its labels, __name__ included when present
  std::vector<std::pair<double, double>> points;  ///< (unix time in s, value); NaN and ±Inf left
                                                  ///< out as gaps; in the server's order (by time)
  std::size_t gaps = 0;       ///< points left out because their value was NaN or ±Inf
  std::size_t malformed = 0;  ///< points left out because they were not [time, "value"]
};

enum class QueryRangeFailure {
  not_json,        ///< the text is not JSON, or JSON but neither an object nor an array
  not_prometheus,  ///< JSON, but without the API's "data" object
  refused,         ///< "status" is not "success": Prometheus answered with an error
};

struct QueryRangeAnswer {
  std::optional<QueryRangeFailure> failure;  ///< nullopt: the answer was read
  /// refused: Prometheus's "error" text ("unknown error" when it gave none); not_json: the
  /// JSON parser's message (empty when the text is JSON but not an object).
  std::string error;
  std::size_t error_byte = 0;  ///< not_json: the 1-based byte where parsing stopped (0: none)
  std::string result_type;     ///< data.resultType ("matrix", "vector", ...); empty when absent
  /// data.result's objects, in order (a vector's entries have no "values": no points).
  /// Empty when data.result is missing or not an array.
  std::vector<RangeSeries> series;
  /// The text is a JSON array of series, the result without the API's envelope, as
  /// `promtool query range -o json` prints it: result_type is then "matrix" (or "vector" when
  /// the entries have "value" and no "values"). Not what the HTTP API answers.
  bool bare = false;
  std::vector<std::string> warnings;  ///< the answer's "warnings" and "infos", in order

  bool ok() const { return !failure; }
};

/// Parses the whole answer `json`. A sample's value is a string ("12.5", "NaN", "+Inf"):
/// finite ones become points, the others count as gaps.
QueryRangeAnswer parse_query_range(std::string_view json);

}  // namespace soak::importers
