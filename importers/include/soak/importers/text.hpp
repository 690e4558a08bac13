#pragma once
// The readers' shared tools: lines with their numbers, CSV fields with their columns, numbers
// and time stamps parsed locale-free, and the one way a reader says a file is bad.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace soak::importers::text {

struct Line {
  std::string_view text;   ///< without its line ending
  std::size_t number = 0;  ///< 1-based
};

/// The file's lines (LF or CRLF endings; a UTF-8 byte-order mark dropped). Empty lines are kept.
std::vector<Line> lines(std::string_view text);

struct Field {
  std::string value;       ///< unquoted ("a ""b""" -> a "b"), surrounding spaces kept
  std::size_t column = 0;  ///< 1-based character column where the field starts
};

/// One CSV record's fields, quotes honoured (a separator inside quotes is text).
std::vector<Field> csv_fields(std::string_view line, char separator = ',');

/// `text` trimmed of spaces and tabs.
std::string_view trim(std::string_view text);

/// A decimal number ("12", "-3.5", "1e6"), surrounding spaces allowed, locale-free; nullopt
/// for anything else (an empty field, "n/a", "12 MB"). Finite values only.
std::optional<double> number(std::string_view text);

/// The last second of the year 9999 (9999-12-31T23:59:59Z) in Unix seconds: a recording's time
/// stamps lie from 1970 to it, and its elapsed times within it either way. A time beyond is no
/// time a recording was made (and no time_t or ISO 8601 stamp can show it).
inline constexpr double kMaxUnixSeconds = 253402300799;
/// A Unix time stamp a recording can carry: from 0 to kMaxUnixSeconds.
inline bool unix_time_ok(double unix_s) {
  return unix_s >= 0 && unix_s <= kMaxUnixSeconds;
}
/// Seconds since a recording's start: at most kMaxUnixSeconds either way.
inline bool elapsed_ok(double seconds) {
  return seconds >= -kMaxUnixSeconds && seconds <= kMaxUnixSeconds;
}

/// A process id: a whole number from 0 to 2^62, written as number() reads it ("4321", "4321.0");
/// nullopt for anything else, so no pid read from a file is cast from an out-of-range double.
std::optional<std::int64_t> pid(std::string_view text);

/// Unix seconds of a civil UTC date and time (proleptic Gregorian).
double unix_seconds(int year, int month, int day, int hour, int minute, double second);

/// An ISO 8601 time stamp: "2026-12-01T10:00:00Z", "2026-12-01 10:00:00.250+02:00", with or
/// without fraction and zone. A stamp without a zone is read as UTC and `has_zone` set false.
/// nullopt when it is not such a stamp.
std::optional<double> iso8601(std::string_view text, bool* has_zone = nullptr);

/// `found` for a message: control characters escaped, at most 40 characters, in quotes.
std::string shown(std::string_view found);

/// Throws ImportError "FILE:LINE:COLUMN: WHAT" (line and column left out when 0).
[[noreturn]] void fail(const std::string& file, std::size_t line, std::size_t column,
                       const std::string& what);

/// "12 lines had no time stamp"-style counts, said once: adds to `warnings` when count > 0.
void warn_count(std::vector<std::string>& warnings, std::size_t count, const std::string& what);

}  // namespace soak::importers::text
