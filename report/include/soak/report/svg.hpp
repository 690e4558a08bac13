#pragma once
// Our own SVG line charts: time on x (s / min / h), a unit on y (bytes in KiB..GiB, counts),
// long series drawn through a min/max-per-pixel-column reduction that keeps every peak and
// trough, overlays for trends, bands, shaded regions, markers and reference lines.

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace soak::report {

enum class Unit { bytes, count, plain };

struct ChartLine {
  std::string label;
  std::span<const double> t, v;
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

struct Region {
  double t0 = 0, t1 = 0;
  std::string label;
};

struct Marker {
  double t = 0;
  std::string label;
  std::string color;
};

struct ReferenceLine {
  double y = 0;
  std::string label;
  std::string color;
};

struct Chart {
  std::string id;
  std::string title;
  Unit unit = Unit::plain;
  double t_end = 0;  ///< x axis runs from 0 to here
  std::vector<ChartLine> lines;
  std::vector<TrendOverlay> trends;
  std::vector<Region> regions;
  std::vector<Marker> markers;
  std::vector<ReferenceLine> references;  ///< drawn when within 1.5x of the data's range
};

/// One self-contained <svg> element (no scripts, no external references).
std::string render_chart(const Chart& chart, int width = 960, int height = 280);

/// Reduces (t, v) to at most ~4 points per pixel column (first, min, max, last, in time
/// order), for drawing. Exposed for tests: every column's extremes survive.
std::vector<std::pair<double, double>> reduce_for_drawing(std::span<const double> t,
                                                          std::span<const double> v,
                                                          double t_begin, double t_end,
                                                          int columns);

/// "&lt;script&gt;": text from the target is always escaped.
std::string escape_html(std::string_view text);

/// Time-axis labels: "90 s", "15 min", "2 h" (byte values use format_bytes).
std::string format_axis_time(double seconds, double span_s);

}  // namespace soak::report
