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
constexpr double kTimeLabelDrop = 18;           ///< x labels' baseline below the plot
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
/// Marker labels step down a row at most this many times to stay off other labels.
constexpr int kMarkerLabelRows = 4;
/// Legend items: a swatch, a gap, the label, a gap to the next item.
constexpr double kLegendBaselineUp = 8, kLegendSwatch = 18, kLegendTextGap = 22;
constexpr double kLegendSwatchRise = 4;  ///< the swatch sits at the text's middle
constexpr double kLegendItemGap = 16;
constexpr double kLegendRowHeight = 16;  ///< a further legend row below the first
/// The page's font sizes for labels and the chart's (bold) title (report/src/html.cpp's
/// stylesheet), in user units: text scales with the chart, so the layout holds at any
/// rendered width.
constexpr double kLabelFontSize = 11, kTitleFontSize = 13;
/// Bold glyphs are up to this much wider than regular ones (DejaVu Sans Bold against Book).
constexpr double kBoldWidening = 1.12;
/// A label's glyphs reach this far above and below its baseline, in ems.
constexpr double kLabelAscent = 0.95, kLabelDescent = 0.25;

/// Enough for a chart of a few lines without reallocating.
constexpr std::size_t kTypicalChartBytes = 64 * 1024;

/// Advance widths of printable ASCII (space to '~') in hundredths of an em: DejaVu Sans, the
/// widest of the sans-serif faces a browser picks for system-ui (Segoe UI, San Francisco,
/// Roboto and Helvetica are all narrower), so an estimate from it is never short. Measured in
/// headless Chromium at 11 px (tests/report_browser_test.cpp checks the result).
constexpr std::array<unsigned char, 95> kAdvance = {
    32, 41, 46, 84, 64, 95, 78, 28, 39,  39, 50, 84, 32, 37, 32, 34, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 34, 34, 84, 84, 84, 53, 100, 69, 69, 70, 77, 64, 58, 78, 76, 30, 30, 66, 56, 87, 75, 79,
    61, 79, 70, 64, 62, 74, 69, 99, 69,  62, 69, 39, 34, 39, 84, 50, 50, 62, 64, 54, 64, 57, 36, 64,
    64, 28, 28, 58, 28, 98, 64, 55, 64,  64, 39, 53, 40, 64, 60, 82, 60, 60, 53, 64, 34, 64, 84};
/// Anything beyond ASCII (a CJK name, a symbol, a replacement character) is taken as a full em.
constexpr double kWideAdvance = 1.0;

/// The width a text takes at `font_size` (times `widening` for bold), from its UTF-8 text
/// (continuation bytes add nothing; control characters are shown as U+FFFD, a full em).
double text_width(std::string_view text, double font_size = kLabelFontSize, double widening = 1) {
  double ems = 0;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      ems += kAdvance[byte - 0x20] / 100.0;
    } else if ((byte & 0xC0) != 0x80) {
      ems += kWideAdvance;
    }
  }
  return ems * font_size * widening;
}

/// The longest start of `text` (whole UTF-8 characters) that with an ellipsis fits in
/// `room` at `font_size` (times `widening`); the text itself when it fits.
std::string fitted_label(const std::string& text, double room, double font_size = kLabelFontSize,
                         double widening = 1) {
  const auto fits = [&](std::string_view t) { return text_width(t, font_size, widening) <= room; };
  if (fits(text)) return text;
  static constexpr std::string_view kEllipsis = "\xE2\x80\xA6";
  std::size_t end = text.size();
  while (end > 0) {
    do {
      --end;
    } while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80);
    const std::string cut = text.substr(0, end) + std::string(kEllipsis);
    if (fits(cut)) return cut;
  }
  return std::string(kEllipsis);
}

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
  if (chart.y_from_zero && lo > 0) lo = 0;
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
  // A title too long for the chart (an imported file's path) is cut; <title> holds it all.
  const std::string shown =
      fitted_label(chart.title, width - kMarginLeft - kMarginRight, kTitleFontSize, kBoldWidening);
  s += "<text class=\"chart-title\" x=\"" + fmt(kMarginLeft) + "\" y=\"" +
       std::to_string(kTitleBaseline) + "\">" + escape_html(shown) + "</text>";
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

/// Where a label's glyphs land (user units), to keep labels inside the plot and off each other.
struct TextBox {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool overlaps(const TextBox& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
};

/// A label of `text` at kLabelFontSize with its baseline at `baseline`, starting at `x` (ending
/// there when `end_anchored`).
TextBox label_box(std::string_view text, double x, double baseline, bool end_anchored) {
  const double w = text_width(text);
  return {end_anchored ? x - w : x, baseline - kLabelAscent * kLabelFontSize,
          end_anchored ? x : x + w, baseline + kLabelDescent * kLabelFontSize};
}

bool free_at(const TextBox& box, const std::vector<TextBox>& placed) {
  return std::none_of(placed.begin(), placed.end(),
                      [&](const TextBox& other) { return box.overlaps(other); });
}

/// Reference lines (targets) that fit on the scale, labelled at the right above the line, or
/// below it where the label would leave the plot or cover another label.
void draw_references(std::string& s, const Chart& chart, const Scales& sc,
                     std::vector<TextBox>& placed) {
  for (const auto& ref : chart.references) {
    if (ref.y > sc.y_hi || ref.y < sc.y_lo) continue;
    const double y = sc.y_of(ref.y), x = sc.left + sc.plot_w - kReferenceLabelInset;
    double baseline = y - kReferenceLabelInset;
    TextBox box = label_box(ref.label, x, baseline, true);
    if (box.y0 < sc.top || !free_at(box, placed)) {
      baseline = y + kReferenceLabelInset + kLabelAscent * kLabelFontSize;
      box = label_box(ref.label, x, baseline, true);
    }
    placed.push_back(box);
    s += "<g class=\"reference\"><line x1=\"" + fmt(sc.left) + "\" x2=\"" +
         fmt(sc.left + sc.plot_w) + "\" y1=\"" + fmt(y) + "\" y2=\"" + fmt(y) + "\" stroke=\"" +
         ref.color + "\" stroke-dasharray=\"6 4\"/><text class=\"ref-label\" x=\"" + fmt(x) +
         "\" y=\"" + fmt(baseline) + "\" text-anchor=\"end\">" + escape_html(ref.label) +
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

/// Vertical lines at moments (the leak's onset, events), labelled at the top: right of the
/// line (left of it near the plot's right edge), a row lower where that would cover a label.
void draw_markers(std::string& s, const Chart& chart, const Scales& sc,
                  std::vector<TextBox>& placed) {
  for (const auto& m : chart.markers) {
    const double x = sc.x_of(m.t);
    const bool left = x + kMarkerLabelOffset + text_width(m.label) > sc.left + sc.plot_w;
    const double label_x = left ? x - kMarkerLabelOffset : x + kMarkerLabelOffset;
    double baseline = sc.top + kMarkerLabelDrop;
    for (int row = 1; row < kMarkerLabelRows; ++row) {
      if (free_at(label_box(m.label, label_x, baseline, left), placed)) break;
      baseline += kMarkerLabelDrop;
    }
    placed.push_back(label_box(m.label, label_x, baseline, left));
    s += "<g class=\"marker\"><line x1=\"" + fmt(x) + "\" x2=\"" + fmt(x) + "\" y1=\"" +
         fmt(sc.top) + "\" y2=\"" + fmt(sc.top + sc.plot_h) + "\" stroke=\"" + m.color +
         "\" stroke-dasharray=\"2 3\"/><text class=\"marker-label\" x=\"" + fmt(label_x) +
         "\" y=\"" + fmt(baseline) + "\"" + (left ? " text-anchor=\"end\"" : "") + ">" +
         escape_html(m.label) + "</text></g>";
  }
}

/// One legend entry: a line swatch (solid or dashed), a dot (a series drawn as points) or a
/// band's filled swatch. `label` is what is written, cut to fit a row; `full` what it names.
struct LegendItem {
  std::string label, color;
  enum class Swatch { line, dashed, dot, band } swatch = Swatch::line;
  std::string full;
  bool keep_with_next = false;  ///< a trend and its band share a row
  double width() const { return kLegendTextGap + text_width(label) + kLegendItemGap; }
};

/// Every line, then each trend (dashed, as drawn) and its 95 % band. A label longer than a
/// whole row is cut with an ellipsis (the full text is its tooltip).
std::vector<LegendItem> legend_items(const Chart& chart, int width) {
  using Swatch = LegendItem::Swatch;
  std::vector<LegendItem> items;
  for (const auto& line : chart.lines) {
    items.push_back({line.label, line.color,
                     line.dots     ? Swatch::dot
                     : line.dashed ? Swatch::dashed
                                   : Swatch::line,
                     line.label});
  }
  for (const auto& tr : chart.trends) {
    items.push_back({tr.label, tr.color, Swatch::dashed, tr.label});
    if (!tr.band_slopes_per_s) continue;
    items.back().keep_with_next = true;
    items.push_back({"95% interval", tr.color, Swatch::band, tr.label + " (95% interval)"});
  }
  const double room = width - kMarginLeft - kMarginRight - kLegendTextGap;
  for (auto& item : items) item.label = fitted_label(item.label, room);
  return items;
}

/// The legend's rows: items left to right, a new row where the next item (with the band that
/// belongs to it) would pass the right edge, so no label is ever clipped.
std::vector<std::vector<LegendItem>> legend_rows(const Chart& chart, int width) {
  std::vector<std::vector<LegendItem>> rows(1);
  auto items = legend_items(chart, width);
  // The last item's trailing gap may reach past the right margin: only its text must fit.
  const double right = width - kMarginRight + kLegendItemGap;
  double x = kMarginLeft;
  for (std::size_t i = 0; i < items.size(); ++i) {
    double needed = items[i].width();
    if (items[i].keep_with_next && i + 1 < items.size()) needed += items[i + 1].width();
    if (x + needed > right && !rows.back().empty()) {
      rows.emplace_back();
      x = kMarginLeft;
    }
    x += items[i].width();
    rows.back().push_back(std::move(items[i]));
  }
  return rows;
}

void draw_legend_swatch(std::string& s, const LegendItem& item, double x, double y) {
  const double mid = y - kLegendSwatchRise;
  switch (item.swatch) {
    case LegendItem::Swatch::band:
      s += "<rect class=\"band\" x=\"" + fmt(x) + "\" y=\"" + fmt(y - 2 * kLegendSwatchRise) +
           "\" width=\"" + fmt(kLegendSwatch) + "\" height=\"" + fmt(2 * kLegendSwatchRise) +
           "\" fill=\"" + item.color + "\"/>";
      break;
    case LegendItem::Swatch::dot:
      s += "<circle cx=\"" + fmt(x + kLegendSwatch / 2) + "\" cy=\"" + fmt(mid) + "\" r=\"" +
           std::to_string(kDotRadius) + "\" fill=\"" + item.color + "\"/>";
      break;
    case LegendItem::Swatch::line:
    case LegendItem::Swatch::dashed: {
      const bool dashed = item.swatch == LegendItem::Swatch::dashed;
      s += "<line x1=\"" + fmt(x) + "\" x2=\"" + fmt(x + kLegendSwatch) + "\" y1=\"" + fmt(mid) +
           "\" y2=\"" + fmt(mid) + "\" stroke=\"" + item.color + "\" stroke-width=\"" +
           (dashed ? "1.5" : "3") + "\"" + (dashed ? " stroke-dasharray=\"5 3\"" : "") + "/>";
      break;
    }
  }
}

void draw_legend(std::string& s, const std::vector<std::vector<LegendItem>>& rows, int height) {
  double y = height - kLegendBaselineUp;
  for (const auto& row : rows) {
    double x = kMarginLeft;
    for (const auto& item : row) {
      s += "<g class=\"legend-item\"><title>" + escape_html(item.full) + "</title>";
      draw_legend_swatch(s, item, x, y);
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
  std::vector<TextBox> labels;  // placed so far, to keep the next off them
  draw_references(s, chart, sc, labels);
  // Bands, then the trend lines (thin and dashed) over them, then the series: a fitted line
  // never hides the data it was fitted to. Markers on top.
  draw_trend_bands(s, chart, sc);
  draw_trend_lines(s, chart, sc);
  draw_series(s, chart, sc);
  draw_markers(s, chart, sc, labels);
  draw_legend(s, rows, height);
  s += "</svg>";
  return s;
}

}  // namespace soak::report
