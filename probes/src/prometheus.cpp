#include "soak/probes/prometheus.hpp"

#include <charconv>
#include <cmath>

namespace soak::probes {

namespace {

bool name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool name_char(char c) {
  return name_start(c) || (c >= '0' && c <= '9');
}

/// A cursor over one line.
struct Cursor {
  std::string_view s;
  std::size_t i = 0;
  bool done() const { return i >= s.size(); }
  char peek() const { return done() ? '\0' : s[i]; }
  void skip_spaces() {
    while (!done() && (s[i] == ' ' || s[i] == '\t')) ++i;
  }
};

bool read_name(Cursor& c, std::string& out) {
  if (c.done() || !name_start(c.peek())) return false;
  const std::size_t start = c.i;
  while (!c.done() && name_char(c.peek())) ++c.i;
  out.assign(c.s.substr(start, c.i - start));
  return true;
}

bool read_label_value(Cursor& c, std::string& out) {
  if (c.peek() != '"') return false;
  ++c.i;
  out.clear();
  while (!c.done()) {
    const char ch = c.s[c.i++];
    if (ch == '"') return true;
    if (ch == '\\') {
      if (c.done()) return false;
      const char esc = c.s[c.i++];
      out.push_back(esc == 'n' ? '\n' : esc);  // \\ and \" keep the character
    } else {
      out.push_back(ch);
    }
  }
  return false;  // unterminated
}

bool read_labels(Cursor& c, Labels& labels) {
  if (c.peek() != '{') return true;
  ++c.i;
  for (;;) {
    c.skip_spaces();
    if (c.peek() == '}') {
      ++c.i;
      return true;
    }
    std::string key, value;
    if (!read_name(c, key)) return false;
    c.skip_spaces();
    if (c.peek() != '=') return false;
    ++c.i;
    c.skip_spaces();
    if (!read_label_value(c, value)) return false;
    labels.emplace_back(std::move(key), std::move(value));
    c.skip_spaces();
    if (c.peek() == ',') {
      ++c.i;
      continue;
    }
    if (c.peek() == '}') {
      ++c.i;
      return true;
    }
    return false;
  }
}

bool parse_number(std::string_view token, double& out) {
  if (token == "+Inf" || token == "Inf" || token == "+inf" || token == "inf") {
    out = INFINITY;
    return true;
  }
  if (token == "-Inf" || token == "-inf") {
    out = -INFINITY;
    return true;
  }
  if (token == "NaN" || token == "nan") {
    out = NAN;
    return true;
  }
  if (!token.empty() && token.front() == '+') token.remove_prefix(1);
  if (token.empty()) return false;
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), out);
  return ec == std::errc() && ptr == token.data() + token.size();
}

std::string_view next_token(Cursor& c) {
  c.skip_spaces();
  const std::size_t start = c.i;
  while (!c.done() && c.peek() != ' ' && c.peek() != '\t') ++c.i;
  return c.s.substr(start, c.i - start);
}

bool parse_sample_line(std::string_view line, PromSample& out) {
  Cursor c{line};
  if (!read_name(c, out.name)) return false;
  if (!read_labels(c, out.labels)) return false;
  if (c.peek() != ' ' && c.peek() != '\t') return false;
  if (!parse_number(next_token(c), out.value)) return false;
  c.skip_spaces();
  if (c.done()) return true;
  if (c.peek() == '#') return true;  // an OpenMetrics exemplar follows
  double ts = 0;
  if (!parse_number(next_token(c), ts) || !std::isfinite(ts)) return false;
  out.timestamp = ts;
  c.skip_spaces();
  return c.done() || c.peek() == '#';
}

}  // namespace

PromDocument parse_prometheus_text(std::string_view text) {
  PromDocument doc;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty()) continue;
    if (line.front() == '#') {
      if (line == "# EOF") {
        doc.saw_eof = true;
      } else if (line.rfind("# TYPE ", 0) == 0) {
        Cursor c{line.substr(7)};
        std::string name;
        if (read_name(c, name)) doc.types[name] = std::string(next_token(c));
      }
      continue;  // HELP, UNIT and other comments
    }
    PromSample sample;
    if (parse_sample_line(line, sample)) {
      doc.samples.push_back(std::move(sample));
    } else {
      ++doc.skipped_lines;
    }
  }
  return doc;
}

bool MetricSelector::matches(const PromSample& s) const {
  if (s.name != name) return false;
  for (const auto& [k, v] : matchers) {
    bool found = false;
    for (const auto& [lk, lv] : s.labels) found |= lk == k && lv == v;
    if (!found) return false;
  }
  return true;
}

std::optional<MetricSelector> parse_selector(std::string_view text) {
  Cursor c{text};
  MetricSelector sel;
  if (!read_name(c, sel.name)) return std::nullopt;
  if (!read_labels(c, sel.matchers)) return std::nullopt;
  c.skip_spaces();
  if (!c.done()) return std::nullopt;
  return sel;
}

std::optional<double> select_sum(const PromDocument& doc, const MetricSelector& selector) {
  std::optional<double> sum;
  for (const auto& s : doc.samples) {
    if (selector.matches(s)) sum = sum.value_or(0) + s.value;
  }
  return sum;
}

}  // namespace soak::probes
