#include "soak/report/svg.hpp"

#include "soak/report/format.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace soak::report {

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
          out += "\xEF\xBF\xBD";  // control characters shown as U+FFFD
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

std::string format_axis_time(double seconds, double span_s) {
  char buf[32];
  if (span_s <= 180) {
    std::snprintf(buf, sizeof buf, "%g s", std::round(seconds * 10) / 10);
  } else if (span_s <= 3 * 3600) {
    std::snprintf(buf, sizeof buf, "%g min", std::round(seconds / 60 * 10) / 10);
  } else {
    std::snprintf(buf, sizeof buf, "%g h", std::round(seconds / 3600 * 100) / 100);
  }
  return buf;
}

namespace {

/// 1-2-5 steps giving about `count` ticks over [lo, hi] in units of `base`.
std::vector<double> nice_ticks(double lo, double hi, int count, double base) {
  std::vector<double> ticks;
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / base / count;
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  }
  step *= base;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push_back(v);
  return ticks;
}

double bytes_base(double max) {
  double base = 1;
  while (max / base >= 1024 * 2 && base < 1099511627776.0) base *= 1024;
  return base;
}

double time_base(double span_s) { return span_s <= 180 ? 1 : span_s <= 3 * 3600 ? 60 : 3600; }

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string format_value(Unit unit, double v) {
  if (unit == Unit::bytes) return format_bytes(v);
  char buf[32];
  std::snprintf(buf, sizeof buf, unit == Unit::count ? "%.0f" : "%.4g", v);
  return buf;
}

}  // namespace

std::vector<std::pair<double, double>> reduce_for_drawing(std::span<const double> t,
                                                          std::span<const double> v,
                                                          double t_begin, double t_end,
                                                          int columns) {
  std::vector<std::pair<double, double>> out;
  const std::size_t n = t.size();
  if (n <= static_cast<std::size_t>(columns) * 4 || t_end <= t_begin) {
    for (std::size_t i = 0; i < n; ++i) out.emplace_back(t[i], v[i]);
    return out;
  }
  const double width = (t_end - t_begin) / columns;
  std::size_t i = 0;
  while (i < n) {
    const auto col = static_cast<long>(std::floor((t[i] - t_begin) / width));
    std::size_t first = i, lo = i, hi = i, last = i;
    while (i < n && static_cast<long>(std::floor((t[i] - t_begin) / width)) == col) {
      if (v[i] < v[lo]) lo = i;
      if (v[i] > v[hi]) hi = i;
      last = i;
      ++i;
    }
    std::size_t picks[] = {first, lo, hi, last};
    std::sort(std::begin(picks), std::end(picks));
    const std::size_t* end = std::unique(std::begin(picks), std::end(picks));
    for (const std::size_t* p = picks; p != end; ++p) out.emplace_back(t[*p], v[*p]);
  }
  return out;
}

std::string render_chart(const Chart& chart, int width, int height) {
  const double left = 78, right = 16, top = 30, bottom = 40;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  const double t_end = chart.t_end > 0 ? chart.t_end : 1;

  // y range over every line (and trends), with a margin.
  double y_lo = INFINITY, y_hi = -INFINITY;
  for (const auto& line : chart.lines) {
    for (const double v : line.v) {
      y_lo = std::min(y_lo, v);
      y_hi = std::max(y_hi, v);
    }
  }
  for (const auto& tr : chart.trends) {
    y_lo = std::min({y_lo, tr.y0, tr.y1});
    y_hi = std::max({y_hi, tr.y0, tr.y1});
  }
  if (!std::isfinite(y_lo)) y_lo = 0, y_hi = 1;
  const double data_range = y_hi - y_lo;
  for (const auto& ref : chart.references) {
    if (ref.y <= y_hi + 0.5 * std::max(data_range, std::fabs(y_hi) * 0.5)) y_hi = std::max(y_hi, ref.y);
  }
  if (y_hi == y_lo) {
    y_lo -= 1;
    y_hi += 1;
  }
  const double pad = (y_hi - y_lo) * 0.06;
  y_lo = chart.unit == Unit::plain || y_lo - pad < 0 ? std::max(0.0, y_lo - pad) : y_lo - pad;
  if (y_lo > 0 && y_lo < (y_hi - y_lo) * 0.5) y_lo = 0;  // start at zero when it is near
  y_hi += pad;

  auto x_of = [&](double t) { return left + plot_w * std::clamp(t / t_end, 0.0, 1.0); };
  auto y_of = [&](double v) { return top + plot_h * (1 - (v - y_lo) / (y_hi - y_lo)); };

  std::string s;
  s.reserve(64 * 1024);
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"" + escape_html(chart.id) +
       "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
       "\" role=\"img\" aria-label=\"" + escape_html(chart.title) + "\">";
  s += "<title>" + escape_html(chart.title) + "</title>";
  s += "<text class=\"chart-title\" x=\"" + fmt(left) + "\" y=\"18\">" + escape_html(chart.title) + "</text>";

  // Shaded regions (warm-up).
  for (const auto& r : chart.regions) {
    s += "<rect class=\"region\" x=\"" + fmt(x_of(r.t0)) + "\" y=\"" + fmt(top) + "\" width=\"" +
         fmt(std::max(0.0, x_of(r.t1) - x_of(r.t0))) + "\" height=\"" + fmt(plot_h) +
         "\"><title>" + escape_html(r.label) + "</title></rect>";
  }
  // Grid and axes.
  const double ybase = chart.unit == Unit::bytes ? bytes_base(std::max(std::fabs(y_lo), std::fabs(y_hi))) : 1;
  for (const double v : nice_ticks(y_lo, y_hi, 5, ybase)) {
    const double y = y_of(v);
    s += "<line class=\"grid\" x1=\"" + fmt(left) + "\" x2=\"" + fmt(left + plot_w) + "\" y1=\"" +
         fmt(y) + "\" y2=\"" + fmt(y) + "\"/>";
    std::string label = format_value(chart.unit, v);
    if (chart.unit == Unit::bytes) {  // every tick in the same unit: "500 MiB", "1500 MiB"
      static const char* names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
      const int index = static_cast<int>(std::lround(std::log2(ybase) / 10));
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g %s", std::round(v / ybase * 100) / 100, names[index]);
      label = buf;
    }
    s += "<text class=\"tick\" x=\"" + fmt(left - 6) + "\" y=\"" + fmt(y + 4) +
         "\" text-anchor=\"end\">" + escape_html(label) + "</text>";
  }
  for (const double tv : nice_ticks(0, t_end, 8, time_base(t_end))) {
    const double x = x_of(tv);
    s += "<line class=\"grid\" x1=\"" + fmt(x) + "\" x2=\"" + fmt(x) + "\" y1=\"" + fmt(top) +
         "\" y2=\"" + fmt(top + plot_h) + "\"/>";
    s += "<text class=\"tick\" x=\"" + fmt(x) + "\" y=\"" + fmt(top + plot_h + 16) +
         "\" text-anchor=\"middle\">" + escape_html(format_axis_time(tv, t_end)) + "</text>";
  }
  s += "<rect class=\"frame\" x=\"" + fmt(left) + "\" y=\"" + fmt(top) + "\" width=\"" +
       fmt(plot_w) + "\" height=\"" + fmt(plot_h) + "\"/>";

  // Reference lines (targets) that fit on the scale.
  for (const auto& ref : chart.references) {
    if (ref.y > y_hi || ref.y < y_lo) continue;
    const double y = y_of(ref.y);
    s += "<g class=\"reference\"><line x1=\"" + fmt(left) + "\" x2=\"" + fmt(left + plot_w) +
         "\" y1=\"" + fmt(y) + "\" y2=\"" + fmt(y) + "\" stroke=\"" + ref.color +
         "\" stroke-dasharray=\"6 4\"/><text class=\"ref-label\" x=\"" + fmt(left + plot_w - 4) +
         "\" y=\"" + fmt(y - 4) + "\" text-anchor=\"end\">" + escape_html(ref.label) +
         "</text></g>";
  }

  // Trend bands, then the series, then trend lines on top.
  for (const auto& tr : chart.trends) {
    if (!tr.band_slopes_per_s) continue;
    const double tm = (tr.t0 + tr.t1) / 2, ym = (tr.y0 + tr.y1) / 2;
    const auto [lo_s, hi_s] = *tr.band_slopes_per_s;
    auto at = [&](double t, double slope) { return ym + slope * (t - tm); };
    s += "<polygon class=\"band\" fill=\"" + tr.color + "\" points=\"" + fmt(x_of(tr.t0)) + "," +
         fmt(y_of(at(tr.t0, hi_s))) + " " + fmt(x_of(tr.t1)) + "," + fmt(y_of(at(tr.t1, hi_s))) +
         " " + fmt(x_of(tr.t1)) + "," + fmt(y_of(at(tr.t1, lo_s))) + " " + fmt(x_of(tr.t0)) +
         "," + fmt(y_of(at(tr.t0, lo_s))) + "\"><title>" + escape_html(tr.label) +
         " (95% interval)</title></polygon>";
  }
  const int columns = static_cast<int>(plot_w);
  for (const auto& line : chart.lines) {
    const auto points = reduce_for_drawing(line.t, line.v, 0, t_end, columns);
    if (points.empty()) continue;
    s += "<g class=\"series\" data-label=\"" + escape_html(line.label) + "\">";
    if (line.dots) {
      for (const auto& [t, v] : points) {
        s += "<circle class=\"dot\" cx=\"" + fmt(x_of(t)) + "\" cy=\"" + fmt(y_of(v)) +
             "\" r=\"3\" fill=\"" + line.color + "\"><title>" + escape_html(line.label) + " " +
             escape_html(format_axis_time(t, t_end)) + ": " + escape_html(format_value(chart.unit, v)) +
             "</title></circle>";
      }
    } else {
      s += "<polyline class=\"line\" fill=\"none\" stroke=\"" + line.color + "\"" +
           (line.dashed ? " stroke-dasharray=\"4 3\"" : "") + " points=\"";
      for (const auto& [t, v] : points) s += fmt(x_of(t)) + "," + fmt(y_of(v)) + " ";
      s += "\"/>";
      // Hover targets: about one per 4 px, each titled with its time and value.
      const std::size_t every =
          std::max<std::size_t>(1, points.size() / static_cast<std::size_t>(plot_w / 4));
      for (std::size_t i = 0; i < points.size(); i += every) {
        const auto& [t, v] = points[i];
        s += "<circle class=\"hover\" cx=\"" + fmt(x_of(t)) + "\" cy=\"" + fmt(y_of(v)) +
             "\" r=\"4\"><title>" + escape_html(line.label) + " at " +
             escape_html(format_axis_time(t, t_end)) + ": " +
             escape_html(format_value(chart.unit, v)) + "</title></circle>";
      }
    }
    s += "</g>";
  }
  for (const auto& tr : chart.trends) {
    s += "<line class=\"trend\" x1=\"" + fmt(x_of(tr.t0)) + "\" y1=\"" + fmt(y_of(tr.y0)) +
         "\" x2=\"" + fmt(x_of(tr.t1)) + "\" y2=\"" + fmt(y_of(tr.y1)) + "\" stroke=\"" +
         tr.color + "\"><title>" + escape_html(tr.label) + "</title></line>";
  }
  for (const auto& m : chart.markers) {
    const double x = x_of(m.t);
    s += "<g class=\"marker\"><line x1=\"" + fmt(x) + "\" x2=\"" + fmt(x) + "\" y1=\"" + fmt(top) +
         "\" y2=\"" + fmt(top + plot_h) + "\" stroke=\"" + m.color +
         "\" stroke-dasharray=\"2 3\"/><text class=\"marker-label\" x=\"" + fmt(x + 3) +
         "\" y=\"" + fmt(top + 12) + "\">" + escape_html(m.label) + "</text></g>";
  }
  // Legend.
  double lx = left;
  const double ly = height - 8;
  auto legend = [&](const std::string& label, const std::string& color, bool dashed) {
    s += "<g class=\"legend-item\"><line x1=\"" + fmt(lx) + "\" x2=\"" + fmt(lx + 18) + "\" y1=\"" +
         fmt(ly - 4) + "\" y2=\"" + fmt(ly - 4) + "\" stroke=\"" + color + "\" stroke-width=\"3\"" +
         (dashed ? " stroke-dasharray=\"4 3\"" : "") + "/><text class=\"legend\" x=\"" +
         fmt(lx + 22) + "\" y=\"" + fmt(ly) + "\">" + escape_html(label) + "</text></g>";
    lx += 30 + 7.0 * static_cast<double>(label.size());
  };
  for (const auto& line : chart.lines) legend(line.label, line.color, line.dashed);
  for (const auto& tr : chart.trends) legend(tr.label, tr.color, false);
  s += "</svg>";
  return s;
}

}  // namespace soak::report
