#pragma once
// Our own SVG line charts: time on x (s / min / h), a unit on y (bytes in KiB..TiB, counts),
// long series drawn through a min/max-per-pixel-column reduction that keeps every peak and
// trough, overlays for trends, bands, shaded regions, markers and reference lines.
//
// Units: every t is seconds since the start of the run (the x axis runs from 0 to
// Chart::t_end); every v and y is in the chart's Unit (bytes, a count, or a plain number);
// slopes are per second. Sizes passed to render_chart are SVG user units (pixels at 100 %).
//
// Escaping: every string that ends up as text or an attribute (ids, titles, labels) is escaped
// with escape_html, so text from the target cannot inject markup. Colors are written as given:
// they come from soak's own palette, never from the target.
//
// Thread-safety: free functions over the values passed in, no shared state; a Chart only
// borrows its lines' data (std::span), which must stay alive and unchanged while rendering.
//
// Failure modes: nothing is thrown beyond std::bad_alloc; empty or constant series and a zero
// t_end draw an empty or flat chart. Values must be finite (callers drop NaN samples).

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace soak::report {

/// How the y axis and hover values are written: bytes in binary units ("1.50 MiB"; every y
/// tick in one unit), whole counts, or up to four significant figures.
enum class Unit { bytes, count, plain };

struct ChartLine {
  std::string label;
  std::span<const double> t, v;  ///< same length; t ascending (seconds)
  std::string color;
  bool dashed = false;
  bool dots = false;  ///< draw as points (a sawtooth's floor), not a line
};

/// A straight fitted trend between two points, with an optional band of slopes around its
/// middle (the growth interval).
struct TrendOverlay {
  std::string label;
  double t0 = 0, y0 = 0, t1 = 0, y1 = 0;
  std::optional<std::pair<double, double>> band_slopes_per_s;  ///< low, high
  std::string color;
};

/// A shaded stretch of time (the warm-up), titled with its label.
struct Region {
  double t0 = 0, t1 = 0;  ///< seconds
  std::string label;
};

/// A vertical line at a moment (the onset of growth, an event).
struct Marker {
  double t = 0;  ///< seconds
  std::string label;
  std::string color;
};

/// A horizontal line at a value (a target).
struct ReferenceLine {
  double y = 0;  ///< in the chart's unit
  std::string label;
  std::string color;
};

struct Chart {
  std::string id;  ///< the <svg> element's id (e.g. "chart-memory")
  std::string title;
  Unit unit = Unit::plain;
  double t_end = 0;  ///< x axis runs from 0 to here
  std::vector<ChartLine> lines;
  std::vector<TrendOverlay> trends;
  std::vector<Region> regions;
  std::vector<Marker> markers;
  /// Drawn when they lie within half the data's range above it (else they would flatten the
  /// series); the scale stretches to include them.
  std::vector<ReferenceLine> references;
  /// The y axis starts at zero for data that is not negative, for figures read as levels from
  /// zero (request rates, latencies): an interval's one extra request is then a small step, not
  /// a cliff across the chart. Otherwise a positive scale starts near the data, so slow growth
  /// in memory is seen.
  bool y_from_zero = false;
};

/// One self-contained <svg> element (no scripts, no external references) of `width` x `height`
/// user units (taller by a row for each further legend row). Draws, bottom to top: regions,
/// grid and labels, references, trend bands, trend lines (dashed), the series (so a trend never
/// hides the data), markers, legend. The legend names every line (a dot for a line drawn as
/// points), each trend and its band, in rows that keep a trend beside its band; label widths
/// are estimated for the page's 11 px sans-serif and a label longer than a row is cut with an
/// ellipsis (its full text is the tooltip), so no legend text passes the chart's edge.
std::string render_chart(const Chart& chart, int width = 960, int height = 280);

/// Reduces (t, v) to at most ~4 points per pixel column (first, min, max, last, in time
/// order), for drawing. Exposed for tests: every column's extremes survive.
std::vector<std::pair<double, double>> reduce_for_drawing(std::span<const double> t,
                                                          std::span<const double> v, double t_begin,
                                                          double t_end, int columns);

/// "&lt;script&gt;": escapes & < > " ' for text and attribute values alike, and shows control
/// characters other than tab and newline as U+FFFD. Text from the target is always escaped.
std::string escape_html(std::string_view text);

/// Time-axis labels: "90 s", "15 min", "2 h", the unit chosen by the axis' span (up to 3 min in
/// seconds, up to 3 h in minutes, then hours). Hover values of byte series use format_bytes.
std::string format_axis_time(double seconds, double span_s);

}  // namespace soak::report
