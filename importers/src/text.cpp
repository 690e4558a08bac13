#include "soak/importers/text.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "soak/importers/recording.hpp"

namespace soak::importers::text {

std::vector<Line> lines(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<Line> out;
  std::size_t number = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (line.ends_with('\r')) line.remove_suffix(1);
    out.push_back({line, ++number});
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return out;
}

std::vector<Field> csv_fields(std::string_view line, char separator) {
  std::vector<Field> out;
  std::size_t i = 0;
  while (true) {
    Field f;
    f.column = i + 1;
    // A quoted field may follow spaces; spaces after its closing quote are dropped.
    std::size_t j = i;
    while (j < line.size() && line[j] == ' ') ++j;
    if (j < line.size() && line[j] == '"') {
      ++j;
      while (j < line.size()) {
        if (line[j] == '"') {
          if (j + 1 < line.size() && line[j + 1] == '"') {
            f.value.push_back('"');
            j += 2;
            continue;
          }
          ++j;
          break;
        }
        f.value.push_back(line[j++]);
      }
      while (j < line.size() && line[j] != separator) ++j;
    } else {
      while (j < line.size() && line[j] != separator) ++j;
      f.value.assign(line.substr(i, j - i));
    }
    out.push_back(std::move(f));
    if (j >= line.size()) break;
    i = j + 1;
  }
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::optional<double> number(std::string_view text) {
  text = trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::int64_t> pid(std::string_view text) {
  const auto value = number(text);
  constexpr double kLargest = 4611686018427387904.0;  // 2^62, exactly representable
  if (!value || *value < 0 || *value > kLargest || std::floor(*value) != *value) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(*value);
}

double unix_seconds(int year, int month, int day, int hour, int minute, double second) {
  // Days from the civil date (H. Hinnant's algorithm).
  year -= month <= 2;
  const int era = (year >= 0 ? year : year - 399) / 400;
  const int yoe = year - era * 400;
  const int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const double days = static_cast<double>(era) * 146097 + doe - 719468;
  return days * 86400 + hour * 3600.0 + minute * 60.0 + second;
}

namespace {

/// Reads `width` digits at `pos` into `out`.
bool digits(std::string_view s, std::size_t& pos, std::size_t width, int& out) {
  if (pos + width > s.size()) return false;
  out = 0;
  for (std::size_t k = 0; k < width; ++k) {
    const char c = s[pos + k];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += width;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

std::optional<double> iso8601(std::string_view text, bool* has_zone) {
  const std::string_view s = trim(text);
  std::size_t p = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, sec = 0;
  if (!digits(s, p, 4, year) || !expect(s, p, '-') || !digits(s, p, 2, month) ||
      !expect(s, p, '-') || !digits(s, p, 2, day)) {
    return std::nullopt;
  }
  if (p >= s.size() || (s[p] != 'T' && s[p] != ' ' && s[p] != 't')) return std::nullopt;
  ++p;
  if (!digits(s, p, 2, hour) || !expect(s, p, ':') || !digits(s, p, 2, minute)) {
    return std::nullopt;
  }
  double second = 0;
  if (p < s.size() && s[p] == ':') {
    ++p;
    if (!digits(s, p, 2, sec)) return std::nullopt;
    second = sec;
    if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
      ++p;
      double scale = 0.1;
      const std::size_t from = p;
      while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
        second += (s[p] - '0') * scale;
        scale /= 10;
        ++p;
      }
      if (p == from) return std::nullopt;
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || minute > 59 || second >= 61) {
    return std::nullopt;
  }
  double offset_s = 0;
  bool zone = false;
  if (p < s.size()) {
    if (s[p] == 'Z' || s[p] == 'z') {
      zone = true;
      ++p;
    } else if (s[p] == '+' || s[p] == '-') {
      const int sign = s[p] == '-' ? -1 : 1;
      ++p;
      int oh = 0, om = 0;
      if (!digits(s, p, 2, oh)) return std::nullopt;
      if (p < s.size() && s[p] == ':') ++p;
      if (p < s.size() && !digits(s, p, 2, om)) return std::nullopt;
      offset_s = sign * (oh * 3600.0 + om * 60.0);
      zone = true;
    }
  }
  if (p != s.size()) return std::nullopt;
  if (has_zone != nullptr) *has_zone = zone;
  return unix_seconds(year, month, day, hour, minute, second) - offset_s;
}

std::string shown(std::string_view found) {
  std::string out = "\"";
  std::size_t chars = 0;
  for (const char c : found) {
    if (++chars > 40) {
      out += "...";
      break;
    }
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", byte);
      out += buf;
    } else if (c == '"') {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

void fail(const std::string& file, std::size_t line, std::size_t column, const std::string& what) {
  std::string where = file;
  if (line > 0) {
    where += ":" + std::to_string(line);
    if (column > 0) where += ":" + std::to_string(column);
  }
  throw ImportError(where + ": " + what);
}

void warn_count(std::vector<std::string>& warnings, std::size_t count, const std::string& what) {
  if (count > 0) warnings.push_back(std::to_string(count) + " " + what);
}

}  // namespace soak::importers::text
