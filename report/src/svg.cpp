#include "soak/report/svg.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <tuple>

#include "soak/report/format.hpp"

namespace soak::report {

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
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

double time_base(double span_s) {
  return span_s <= 180 ? 1 : span_s <= 3 * 3600 ? 60 : 3600;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string format_value(Unit unit, double v) {
  if (unit == Unit::bytes) return format_bytes(v);
  char buf[32];
  // Large values with a thousands suffix ("6.00M", "12.5k"), never an exponent ("6e+06").
  constexpr std::array<std::pair<double, const char*>, 4> kSuffixes = {
      {{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}}};
  if (std::fabs(v) >= 1e4) {
    for (const auto& [scale, suffix] : kSuffixes) {
      if (std::fabs(v) >= scale) {
        std::snprintf(buf, sizeof buf, "%.3g%s", v / scale, suffix);
        return buf;
      }
    }
  }
  std::snprintf(buf, sizeof buf, unit == Unit::count ? "%.0f" : "%.4g", v);
  return buf;
}

}  // namespace

std::vector<std::pair<double, double>> reduce_for_drawing(std::span<const double> t,
                                                          std::span<const double> v, double t_begin,
                                                          double t_end, int columns) {
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

namespace {

// Chart geometry, in SVG user units (pixels at 100 %), and the rules of the y scale.

/// Room for the y tick labels ("1500 MiB") on the left, the title above, the x labels and the
/// legend below.
constexpr double kMarginLeft = 78, kMarginRight = 16, kMarginTop = 30, kMarginBottom = 40;
constexpr int kTitleBaseline = 18;
constexpr double kTickLabelGap = 6;             ///< between a y label and the plot
constexpr double kTickLabelRise = 4;            ///< centres a y label's text on its grid line
constexpr double kTimeLabelDrop = 16;           ///< x labels' baseline below the plot
constexpr int kValueTicks = 5, kTimeTicks = 8;  ///< about this many grid lines each way
/// A reference line (a target) stretches the scale only when it lies within half the data's
/// range (or half its top) above the data: a far-away target would flatten the series.
constexpr double kReferenceReach = 0.5;
/// Room above and below the data, as a fraction of its range.
constexpr double kRangePad = 0.06;
/// A positive scale starts at zero when the data's bottom is closer to zero than half the range.
constexpr double kZeroSnap = 0.5;
/// One hover target (a titled, invisible circle) per this many pixels of a line.
constexpr double kHoverSpacing = 4;
constexpr int kHoverRadius = 4, kDotRadius = 3;
constexpr double kReferenceLabelInset = 4, kMarkerLabelOffset = 3, kMarkerLabelDrop = 12;
/// Legend items: a swatch, a gap, the label (about 7 px a character at the page's font size).
constexpr double kLegendBaselineUp = 8, kLegendSwatch = 18, kLegendTextGap = 22;
constexpr double kLegendSwatchRise = 4;  ///< the swatch sits at the text's middle
constexpr double kLegendItemGap = 30, kLegendCharWidth = 7;
constexpr double kLegendRowHeight = 16;  ///< a further legend row below the first

/// Enough for a chart of a few lines without reallocating.
constexpr std::size_t kTypicalChartBytes = 64 * 1024;

/// Where values and times land on the canvas.
struct Scales {
  double left = kMarginLeft, top = kMarginTop;
  double plot_w = 0, plot_h = 0;
  double t_end = 1;  ///< seconds at the right edge (the left is 0)
  double y_lo = 0, y_hi = 1;
  double x_of(double t) const { return left + plot_w * std::clamp(t / t_end, 0.0, 1.0); }
  double y_of(double v) const { return top + plot_h * (1 - (v - y_lo) / (y_hi - y_lo)); }
};

/// The lowest and highest value of every line and trend end; 0..1 when there are none.
std::pair<double, double> data_range(const Chart& chart) {
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& line : chart.lines) {
    for (const double v : line.v) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  for (const auto& tr : chart.trends) {
    lo = std::min({lo, tr.y0, tr.y1});
    hi = std::max({hi, tr.y0, tr.y1});
  }
  if (!std::isfinite(lo)) return {0, 1};
  return {lo, hi};
}

/// The data's range, stretched to nearby references, padded, and started at zero when zero is
/// near (or the unit cannot be negative).
std::pair<double, double> value_scale(const Chart& chart) {
  auto [lo, hi] = data_range(chart);
  const double range = hi - lo;
  for (const auto& ref : chart.references) {
    if (ref.y <= hi + kReferenceReach * std::max(range, std::fabs(hi) * 0.5)) {
      hi = std::max(hi, ref.y);
    }
  }
  if (hi == lo) {
    lo -= 1;
    hi += 1;
  }
  const double pad = (hi - lo) * kRangePad;
  lo = chart.unit == Unit::plain || lo - pad < 0 ? std::max(0.0, lo - pad) : lo - pad;
  if (lo > 0 && lo < (hi - lo) * kZeroSnap) lo = 0;
  return {lo, hi + pad};
}

Scales make_scales(const Chart& chart, int width, int height) {
  Scales sc;
  sc.plot_w = width - kMarginLeft - kMarginRight;
  sc.plot_h = height - kMarginTop - kMarginBottom;
  sc.t_end = chart.t_end > 0 ? chart.t_end : 1;
  std::tie(sc.y_lo, sc.y_hi) = value_scale(chart);
  return sc;
}

/// A y tick in the axis' one unit (every tick alike: "500 MiB", "1500 MiB"). format_bytes picks
/// a unit per value and keeps three figures, so on an axis it would mix "1000.0 MiB" with
/// "1.46 GiB" and print a flat series' ticks 1841..1845 KiB all as "1.80 MiB".
std::string byte_tick_label(double v, double unit_bytes) {
  static const char* names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  const int index = static_cast<int>(std::lround(std::log2(unit_bytes) / 10));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g %s", std::round(v / unit_bytes * 100) / 100, names[index]);
  return buf;
}

void draw_header(std::string& s, const Chart& chart, int width, int height) {
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"" + escape_html(chart.id) +
       "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
       "\" role=\"img\" aria-label=\"" + escape_html(chart.title) + "\">";
  s += "<title>" + escape_html(chart.title) + "</title>";
  s += "<text class=\"chart-title\" x=\"" + fmt(kMarginLeft) + "\" y=\"" +
       std::to_string(kTitleBaseline) + "\">" + escape_html(chart.title) + "</text>";
}

/// Shaded regions (the warm-up), under everything else.
void draw_regions(std::string& s, const Chart& chart, const Scales& sc) {
  for (const auto& r : chart.regions) {
    s += "<rect class=\"region\" x=\"" + fmt(sc.x_of(r.t0)) + "\" y=\"" + fmt(sc.top) +
         "\" width=\"" + fmt(std::max(0.0, sc.x_of(r.t1) - sc.x_of(r.t0))) + "\" height=\"" +
         fmt(sc.plot_h) + "\"><title>" + escape_html(r.label) + "</title></rect>";
  }
}

/// Horizontal grid lines with their value labels, vertical ones with their time labels, and
/// the plot's frame.
void draw_grid(std::string& s, const Chart& chart, const Scales& sc) {
  const bool bytes = chart.unit == Unit::bytes;
  const double unit_bytes =
      bytes ? bytes_base(std::max(std::fabs(sc.y_lo), std::fabs(sc.y_hi))) : 1;
  for (const double v : nice_ticks(sc.y_lo, sc.y_hi, kValueTicks, unit_bytes)) {
    const double y = sc.y_of(v);
    s += "<line class=\"grid\" x1=\"" + fmt(sc.left) + "\" x2=\"" + fmt(sc.left + sc.plot_w) +
         "\" y1=\"" + fmt(y) + "\" y2=\"" + fmt(y) + "\"/>";
    const std::string label = bytes ? byte_tick_label(v, unit_bytes) : format_value(chart.unit, v);
    s += "<text class=\"tick\" x=\"" + fmt(sc.left - kTickLabelGap) + "\" y=\"" +
         fmt(y + kTickLabelRise) + "\" text-anchor=\"end\">" + escape_html(label) + "</text>";
  }
  for (const double tv : nice_ticks(0, sc.t_end, kTimeTicks, time_base(sc.t_end))) {
    const double x = sc.x_of(tv);
    s += "<line class=\"grid\" x1=\"" + fmt(x) + "\" x2=\"" + fmt(x) + "\" y1=\"" + fmt(sc.top) +
         "\" y2=\"" + fmt(sc.top + sc.plot_h) + "\"/>";
    s += "<text class=\"tick\" x=\"" + fmt(x) + "\" y=\"" +
         fmt(sc.top + sc.plot_h + kTimeLabelDrop) + "\" text-anchor=\"middle\">" +
         escape_html(format_axis_time(tv, sc.t_end)) + "</text>";
  }
  s += "<rect class=\"frame\" x=\"" + fmt(sc.left) + "\" y=\"" + fmt(sc.top) + "\" width=\"" +
       fmt(sc.plot_w) + "\" height=\"" + fmt(sc.plot_h) + "\"/>";
}

/// Reference lines (targets) that fit on the scale.
void draw_references(std::string& s, const Chart& chart, const Scales& sc) {
  for (const auto& ref : chart.references) {
    if (ref.y > sc.y_hi || ref.y < sc.y_lo) continue;
    const double y = sc.y_of(ref.y);
    s += "<g class=\"reference\"><line x1=\"" + fmt(sc.left) + "\" x2=\"" +
         fmt(sc.left + sc.plot_w) + "\" y1=\"" + fmt(y) + "\" y2=\"" + fmt(y) + "\" stroke=\"" +
         ref.color + "\" stroke-dasharray=\"6 4\"/><text class=\"ref-label\" x=\"" +
         fmt(sc.left + sc.plot_w - kReferenceLabelInset) + "\" y=\"" +
         fmt(y - kReferenceLabelInset) + "\" text-anchor=\"end\">" + escape_html(ref.label) +
         "</text></g>";
  }
}

/// Each trend's band of slopes (its growth interval), pivoting on the trend's middle.
void draw_trend_bands(std::string& s, const Chart& chart, const Scales& sc) {
  for (const auto& tr : chart.trends) {
    if (!tr.band_slopes_per_s) continue;
    const double tm = (tr.t0 + tr.t1) / 2, ym = (tr.y0 + tr.y1) / 2;
    const auto [lo_s, hi_s] = *tr.band_slopes_per_s;
    auto corner = [&](double t, double slope) {
      return fmt(sc.x_of(t)) + "," + fmt(sc.y_of(ym + slope * (t - tm)));
    };
    s += "<polygon class=\"band\" fill=\"" + tr.color + "\" points=\"" + corner(tr.t0, hi_s) + " " +
         corner(tr.t1, hi_s) + " " + corner(tr.t1, lo_s) + " " + corner(tr.t0, lo_s) +
         "\"><title>" + escape_html(tr.label) + " (95% interval)</title></polygon>";
  }
}

/// A line drawn as points (a sawtooth's floor), each titled with its time and value.
void draw_dots(std::string& s, const Chart& chart, const ChartLine& line, const Scales& sc,
               const std::vector<std::pair<double, double>>& points) {
  for (const auto& [t, v] : points) {
    s += "<circle class=\"dot\" cx=\"" + fmt(sc.x_of(t)) + "\" cy=\"" + fmt(sc.y_of(v)) +
         "\" r=\"" + std::to_string(kDotRadius) + "\" fill=\"" + line.color + "\"><title>" +
         escape_html(line.label) + " " + escape_html(format_axis_time(t, sc.t_end)) + ": " +
         escape_html(format_value(chart.unit, v)) + "</title></circle>";
  }
}

/// A polyline through the reduced points, with invisible hover targets along it.
void draw_polyline(std::string& s, const Chart& chart, const ChartLine& line, const Scales& sc,
                   const std::vector<std::pair<double, double>>& points) {
  s += "<polyline class=\"line\" fill=\"none\" stroke=\"" + line.color + "\"" +
       (line.dashed ? " stroke-dasharray=\"4 3\"" : "") + " points=\"";
  for (const auto& [t, v] : points) s += fmt(sc.x_of(t)) + "," + fmt(sc.y_of(v)) + " ";
  s += "\"/>";
  const std::size_t every =
      std::max<std::size_t>(1, points.size() / static_cast<std::size_t>(sc.plot_w / kHoverSpacing));
  for (std::size_t i = 0; i < points.size(); i += every) {
    const auto& [t, v] = points[i];
    s += "<circle class=\"hover\" cx=\"" + fmt(sc.x_of(t)) + "\" cy=\"" + fmt(sc.y_of(v)) +
         "\" r=\"" + std::to_string(kHoverRadius) + "\"><title>" + escape_html(line.label) +
         " at " + escape_html(format_axis_time(t, sc.t_end)) + ": " +
         escape_html(format_value(chart.unit, v)) + "</title></circle>";
  }
}

/// Every series, reduced to what one pixel column can show (each column's extremes survive).
void draw_series(std::string& s, const Chart& chart, const Scales& sc) {
  const int columns = static_cast<int>(sc.plot_w);
  for (const auto& line : chart.lines) {
    const auto points = reduce_for_drawing(line.t, line.v, 0, sc.t_end, columns);
    if (points.empty()) continue;
    s += "<g class=\"series\" data-label=\"" + escape_html(line.label) + "\">";
    if (line.dots) {
      draw_dots(s, chart, line, sc, points);
    } else {
      draw_polyline(s, chart, line, sc, points);
    }
    s += "</g>";
  }
}

void draw_trend_lines(std::string& s, const Chart& chart, const Scales& sc) {
  for (const auto& tr : chart.trends) {
    s += "<line class=\"trend\" x1=\"" + fmt(sc.x_of(tr.t0)) + "\" y1=\"" + fmt(sc.y_of(tr.y0)) +
         "\" x2=\"" + fmt(sc.x_of(tr.t1)) + "\" y2=\"" + fmt(sc.y_of(tr.y1)) + "\" stroke=\"" +
         tr.color + "\" stroke-dasharray=\"6 4\"><title>" + escape_html(tr.label) +
         "</title></line>";
  }
}

/// Vertical lines at moments (the leak's onset, events), labelled at the top.
void draw_markers(std::string& s, const Chart& chart, const Scales& sc) {
  for (const auto& m : chart.markers) {
    const double x = sc.x_of(m.t);
    s += "<g class=\"marker\"><line x1=\"" + fmt(x) + "\" x2=\"" + fmt(x) + "\" y1=\"" +
         fmt(sc.top) + "\" y2=\"" + fmt(sc.top + sc.plot_h) + "\" stroke=\"" + m.color +
         "\" stroke-dasharray=\"2 3\"/><text class=\"marker-label\" x=\"" +
         fmt(x + kMarkerLabelOffset) + "\" y=\"" + fmt(sc.top + kMarkerLabelDrop) + "\">" +
         escape_html(m.label) + "</text></g>";
  }
}

/// One legend entry: a line swatch (solid or dashed) or a band's filled swatch.
struct LegendItem {
  std::string label, color;
  bool dashed = false, band = false;
  double width() const {
    return kLegendItemGap + kLegendTextGap - kLegendSwatch +
           kLegendCharWidth * static_cast<double>(label.size());
  }
};

/// Every line, then each trend (dashed, as drawn) and its 95 % band.
std::vector<LegendItem> legend_items(const Chart& chart) {
  std::vector<LegendItem> items;
  for (const auto& line : chart.lines) items.push_back({line.label, line.color, line.dashed});
  for (const auto& tr : chart.trends) {
    items.push_back({tr.label, tr.color, true});
    if (tr.band_slopes_per_s) items.push_back({"95% interval", tr.color, false, true});
  }
  return items;
}

/// The legend's rows: items left to right, a new row where the next would pass the right
/// edge, so no label is ever clipped.
std::vector<std::vector<LegendItem>> legend_rows(const Chart& chart, int width) {
  std::vector<std::vector<LegendItem>> rows(1);
  double x = kMarginLeft;
  for (auto& item : legend_items(chart)) {
    if (x + item.width() > width - kMarginRight && !rows.back().empty()) {
      rows.emplace_back();
      x = kMarginLeft;
    }
    x += item.width();
    rows.back().push_back(std::move(item));
  }
  return rows;
}

void draw_legend(std::string& s, const std::vector<std::vector<LegendItem>>& rows, int height) {
  double y = height - kLegendBaselineUp;
  for (const auto& row : rows) {
    double x = kMarginLeft;
    for (const auto& item : row) {
      s += "<g class=\"legend-item\">";
      if (item.band) {
        s += "<rect class=\"band\" x=\"" + fmt(x) + "\" y=\"" + fmt(y - 2 * kLegendSwatchRise) +
             "\" width=\"" + fmt(kLegendSwatch) + "\" height=\"" + fmt(2 * kLegendSwatchRise) +
             "\" fill=\"" + item.color + "\"/>";
      } else {
        s += "<line x1=\"" + fmt(x) + "\" x2=\"" + fmt(x + kLegendSwatch) + "\" y1=\"" +
             fmt(y - kLegendSwatchRise) + "\" y2=\"" + fmt(y - kLegendSwatchRise) + "\" stroke=\"" +
             item.color + "\" stroke-width=\"" + (item.dashed ? "1.5" : "3") + "\"" +
             (item.dashed ? " stroke-dasharray=\"5 3\"" : "") + "/>";
      }
      s += "<text class=\"legend\" x=\"" + fmt(x + kLegendTextGap) + "\" y=\"" + fmt(y) + "\">" +
           escape_html(item.label) + "</text></g>";
      x += item.width();
    }
    y += kLegendRowHeight;
  }
}

}  // namespace

std::string render_chart(const Chart& chart, int width, int height) {
  const Scales sc = make_scales(chart, width, height);
  // A legend too wide for one row takes more rows below the first: the chart grows taller.
  const auto rows = legend_rows(chart, width);
  const int total_height =
      height + static_cast<int>(kLegendRowHeight) * static_cast<int>(rows.size() - 1);
  std::string s;
  s.reserve(kTypicalChartBytes);
  draw_header(s, chart, width, total_height);
  draw_regions(s, chart, sc);
  draw_grid(s, chart, sc);
  draw_references(s, chart, sc);
  // Bands under the series; trend lines over them but thin and dashed, so the data shows
  // through; markers on top.
  draw_trend_bands(s, chart, sc);
  draw_series(s, chart, sc);
  draw_trend_lines(s, chart, sc);
  draw_markers(s, chart, sc);
  draw_legend(s, rows, height);
  s += "</svg>";
  return s;
}

}  // namespace soak::report
