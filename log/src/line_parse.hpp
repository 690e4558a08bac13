#pragma once
// The fast path of the log reader, shared by the reader (run_log_builder.cpp) and the segment
// compactor (segments.cpp), so both read a line the same way: a flat object of a "type"
// string, an optional "m" string and numbers. Anything else (escapes, nesting, literals, other
// strings) is refused and the caller falls back to the full JSON parser, so the fast path never
// decides what a line means on its own. Private to the log library.

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

namespace soak::log::detail {

struct FlatPair {
  std::string_view key;
  double value;
};

/// The parsed fields of a flat line.
struct FlatLine {
  FlatPair pairs[64];
  std::size_t count = 0;
  double t = NAN;
  std::string_view type;    ///< "sample", "bin", ...
  std::string_view metric;  ///< a bin line's "m"; empty otherwise

  /// The value of `key`, or NaN when the line has none.
  double get(std::string_view key) const {
    for (std::size_t i = 0; i < count; ++i) {
      if (pairs[i].key == key) return pairs[i].value;
    }
    return NAN;
  }
};

/// A plain string at `p` (after its opening quote): false on an escape or no closing quote.
inline bool parse_plain_string(const char*& p, const char* end, std::string_view& out) {
  const char* begin = p;
  while (p < end && *p != '"' && *p != '\\') ++p;
  if (p == end || *p == '\\') return false;
  out = std::string_view(begin, static_cast<std::size_t>(p - begin));
  ++p;
  return true;
}

/// A JSON number at `p`: false on anything else. JSON numbers start with '-' or a digit:
/// from_chars would also take NaN, inf and Infinity, which are not JSON.
inline bool parse_flat_number(const char*& p, const char* end, double& value) {
  if (*p != '-' && (*p < '0' || *p > '9')) return false;
  // Most values are integers (bytes, counts): parse those as such, which is much faster.
  std::int64_t whole = 0;
  auto [int_end, int_ec] = std::from_chars(p, end, whole);
  if (int_ec == std::errc() && int_end != end && *int_end != '.' && *int_end != 'e' &&
      *int_end != 'E') {
    value = static_cast<double>(whole);
    p = int_end;
    return true;
  }
  auto [next, ec] = std::from_chars(p, end, value);
  if (ec != std::errc() || !std::isfinite(value)) return false;
  p = next;
  return true;
}

/// One "key": value of a flat line at `p`. Advances `p` past the value.
inline bool parse_flat_field(const char*& p, const char* end, FlatLine& out) {
  auto skip_ws = [&] {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) ++p;
  };
  std::string_view key;
  if (p == end || *p++ != '"' || !parse_plain_string(p, end, key)) return false;
  skip_ws();
  if (p == end || *p++ != ':') return false;
  skip_ws();
  if (p == end) return false;
  if (*p == '"') {
    ++p;
    std::string_view text;
    if (!parse_plain_string(p, end, text)) return false;
    if (key == "type") {
      out.type = text;
    } else if (key == "m") {
      out.metric = text;
    } else {
      return false;
    }
    return true;
  }
  double value = 0;
  if (!parse_flat_number(p, end, value)) return false;
  if (key == "t") {
    out.t = value;
  } else {
    if (out.count == std::size(out.pairs)) return false;
    out.pairs[out.count++] = FlatPair{key, value};
  }
  return true;
}

/// Parses a flat line; false on anything else, or when it has no type or no finite "t".
inline bool parse_flat_line(std::string_view line, FlatLine& out) {
  const char* p = line.data();
  const char* end = p + line.size();
  auto skip_ws = [&] {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) ++p;
  };
  skip_ws();
  if (p == end || *p++ != '{') return false;
  for (;;) {
    skip_ws();
    if (!parse_flat_field(p, end, out)) return false;
    skip_ws();
    if (p == end) return false;
    if (*p == ',') {
      ++p;
      continue;
    }
    if (*p++ != '}') return false;
    skip_ws();
    if (p != end) return false;
    break;
  }
  return !out.type.empty() && std::isfinite(out.t);
}

/// One bin line of a compacted segment (segments.hpp): `n` readings of one series, part of a
/// group of `w` readings (a power of two) that starts at a multiple of w in the series.
struct StoredBin {
  std::uint64_t n = 0, w = 1;
  double t = 0, v = 0;                      ///< the readings' mean time (s) and mean value
  double max = 0, min = 0, v0 = 0, v1 = 0;  ///< largest, smallest, first and last reading
};

/// The bin of a flat "bin" line with an "m"; false when a field is missing or out of range.
inline bool stored_bin_of(const FlatLine& line, StoredBin& out) {
  const double n = line.get("n"), w = line.get("w");
  if (!(n >= 1 && n <= 9.0e15 && w >= 1 && w <= 9.0e15) || line.metric.empty()) return false;
  out.n = static_cast<std::uint64_t>(n);
  out.w = static_cast<std::uint64_t>(w);
  out.t = line.t;
  // A reading left out equals the mean (segments.cpp writes only those that differ).
  out.v = line.get("v");
  const auto or_mean = [&](std::string_view key) {
    const double x = line.get(key);
    return std::isnan(x) ? out.v : x;
  };
  out.max = or_mean("max");
  out.min = or_mean("min");
  out.v0 = or_mean("v0");
  out.v1 = or_mean("v1");
  for (const double x : {out.v, out.max, out.min, out.v0, out.v1}) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

/// Readings a series of `readings` points is binned by when a reader keeps `capacity` points:
/// the smallest power of two W with readings <= capacity x W (RunLogBuilder's rule).
inline std::uint64_t bin_width_for(std::uint64_t readings, std::uint64_t capacity) {
  std::uint64_t width = 1;
  while (readings > capacity * width) width *= 2;
  return width;
}

}  // namespace soak::log::detail
