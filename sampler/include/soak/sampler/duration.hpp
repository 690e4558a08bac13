#pragma once
// Parsing and printing of the durations soak's flags and files accept:
// "500ms", "30s", "10m", "8h", "1d" and plain seconds ("90", "0.5").
// Thread-safety: pure functions, safe from any thread. Failure modes: bad text throws
// DurationError (a bad start: flags and scenario files are checked before a run begins).

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>

namespace soak::sampler {

using Seconds = std::chrono::duration<double>;

/// Thrown when a duration string cannot be parsed; what() is one readable sentence.
class DurationError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Parses a non-negative duration. Units: ms, s, m, h, d; no unit means seconds.
/// Throws DurationError naming the text and the accepted forms.
std::chrono::nanoseconds parse_duration(std::string_view text);

/// "1h 02m", "3m 05s", "12.5s", "250ms": compact and human, for status lines.
std::string format_duration(Seconds d);

}  // namespace soak::sampler
