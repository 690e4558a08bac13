#include "live_view.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>
#include <vector>

#include "soak/log/metrics.hpp"
#include "soak/report/format.hpp"
#include "soak/report/words.hpp"
#include "soak/sampler/duration.hpp"

namespace soak::cli {

namespace {

std::string signed_bytes(double delta) {
  return (delta >= 0 ? "+" : "-") + report::format_bytes(std::abs(delta));
}

/// The terminal's width when asked now (it follows a resize: every redraw asks again).
/// Without one, 80: the width nobody's terminal is narrower than by accident.
int terminal_columns(std::FILE* out) {
  winsize size{};
  if (::ioctl(::fileno(out), TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

/// `line` cut to `columns` characters (UTF-8: counted by code point, never split inside one),
/// so the terminal never wraps it and the block keeps its height.
std::string fit(std::string_view line, int columns) {
  std::size_t end = 0;
  int shown = 0;
  while (end < line.size()) {
    std::size_t next = end + 1;
    while (next < line.size() && (static_cast<unsigned char>(line[next]) & 0xC0) == 0x80) ++next;
    if (shown + 1 > columns) break;
    ++shown;
    end = next;
  }
  return std::string(line.substr(0, end));
}

/// One number in a printf format ("%.1f/s").
std::string printf_figure(const char* format, double value) {
  char buf[48];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

}  // namespace

LiveView::LiveView(std::FILE* out, bool quiet)
    : out_(out),
      tty_(::isatty(::fileno(out)) != 0 && std::getenv("TERM") != nullptr &&
           std::string(std::getenv("TERM")) != "dumb"),
      quiet_(quiet) {}

std::string LiveView::render_block(const sampler::SamplerStatus& s, int columns) const {
  std::vector<std::string> lines;
  char line[512];
  lines.push_back("soak " + title_);
  const std::string elapsed = sampler::format_duration(sampler::Seconds(s.elapsed_s));
  if (planned_s_ && *planned_s_ > 0) {
    const double fraction = std::clamp(s.elapsed_s / *planned_s_, 0.0, 1.0);
    const std::string planned = sampler::format_duration(sampler::Seconds(*planned_s_));
    std::snprintf(line, sizeof line, "  elapsed   %s / %s ", elapsed.c_str(), planned.c_str());
    // The bar takes what the line leaves: at least 10 cells, at most 30.
    const int room = columns - static_cast<int>(std::strlen(line)) - 8;
    const int width = std::clamp(room, 0, 30);
    std::string text = line;
    if (width >= 10) {
      const int filled = static_cast<int>(fraction * width);
      text += "[" + std::string(static_cast<std::size_t>(filled), '#') +
              std::string(static_cast<std::size_t>(width - filled), '.') + "]";
    }
    std::snprintf(line, sizeof line, " %3.0f%%", fraction * 100.0);
    lines.push_back(text + line);
  } else {
    lines.push_back("  elapsed   " + elapsed + "  (until the target exits or Ctrl-C)");
  }
  const double rss = static_cast<double>(s.latest.rss_bytes);
  lines.push_back("  rss       " + report::format_bytes(rss) + "  (" +
                  signed_bytes(rss - static_cast<double>(s.first.rss_bytes)) + " since start)");
  std::string children = "-";
  if (s.children) {
    children = std::to_string(*s.children) + " (" +
               report::format_bytes(static_cast<double>(s.children_rss_bytes.value_or(0))) + ")";
  }
  std::snprintf(line, sizeof line, "  threads   %-6u fds %-8s children %s", s.latest.threads,
                s.latest.fds ? std::to_string(*s.latest.fds).c_str() : "-", children.c_str());
  lines.emplace_back(line);
  {
    std::lock_guard lock(analysis_mutex_);
    lines.push_back("  growth    " + (analysis_line_.empty()
                                          ? std::string("(first estimate after a minute)")
                                          : analysis_line_));
  }
  if (!load_line_.empty()) lines.push_back("  load      " + load_line_);
  std::snprintf(line, sizeof line, "  samples   %llu written, %llu late, %llu skipped",
                static_cast<unsigned long long>(s.samples),
                static_cast<unsigned long long>(s.late_ticks),
                static_cast<unsigned long long>(s.skipped_ticks));
  lines.emplace_back(line);
  std::string block;
  for (const auto& l : lines) block += fit(l, columns - 1) + "\n";  // the last column stays free
  return block;
}

std::string LiveView::render_line(const sampler::SamplerStatus& s) const {
  char line[320];
  const double rss = static_cast<double>(s.latest.rss_bytes);
  std::string planned;
  if (planned_s_) planned = "/" + sampler::format_duration(sampler::Seconds(*planned_s_));
  std::snprintf(line, sizeof line,
                "soak: %s%s rss=%s (%s) threads=%u fds=%s children=%s samples=%llu late=%llu\n",
                sampler::format_duration(sampler::Seconds(s.elapsed_s)).c_str(), planned.c_str(),
                report::format_bytes(rss).c_str(),
                signed_bytes(rss - static_cast<double>(s.first.rss_bytes)).c_str(),
                s.latest.threads, s.latest.fds ? std::to_string(*s.latest.fds).c_str() : "-",
                s.children ? std::to_string(*s.children).c_str() : "-",
                static_cast<unsigned long long>(s.samples),
                static_cast<unsigned long long>(s.late_ticks));
  std::string text = line;
  if (!load_line_.empty()) text.insert(text.size() - 1, " load: " + load_line_);
  std::lock_guard lock(analysis_mutex_);
  if (!analysis_line_.empty()) text.insert(text.size() - 1, " growth: " + analysis_line_);
  return text;
}

void LiveView::on_load(const scenarios::LoadReading& r) {
  if (!r.measured) {
    load_line_ = "(first figures after an interval)";
    return;
  }
  // "sent 50.0/s answered 49.8/s err 2.0% p95 1.2 ms": 47 columns, so that the whole line fits
  // 60; on a narrower terminal fit() cuts the end.
  auto rate = [](double v) { return printf_figure(v < 100 ? "%.1f/s" : "%.0f/s", v); };
  load_line_ = "sent " + rate(r.sent_rps) + " answered " + rate(r.answered_rps) + " err " +
               printf_figure("%.1f%%", r.error_rate * 100);
  if (r.p95_ms)
    load_line_ += " p95 " + printf_figure(*r.p95_ms < 10 ? "%.1f ms" : "%.0f ms", *r.p95_ms);
}

void LiveView::set_analysis(std::string line) {
  std::lock_guard lock(analysis_mutex_);
  analysis_line_ = report::escape_terminal(line);  // metric and check names come from outside
}

void LiveView::update(const sampler::SamplerStatus& status) {
  if (quiet_) return;
  std::lock_guard draw(draw_mutex_);
  const auto now = std::chrono::steady_clock::now();
  const auto period = tty_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(10000);
  if (lines_drawn_ > 0 || !tty_) {
    if (last_draw_.time_since_epoch().count() != 0 && now - last_draw_ < period) return;
  }
  last_draw_ = now;
  if (!tty_) {
    std::fputs(render_line(status).c_str(), out_);
    std::fflush(out_);
    return;
  }
  // Back to the block's first line and clear from there down, then draw it again: the block
  // has a fixed height and no line wraps, so this is always exactly the block.
  std::string text = erase_block();
  const std::string block = render_block(status, terminal_columns(out_));
  text += block;
  lines_drawn_ = static_cast<int>(std::count(block.begin(), block.end(), '\n'));
  std::fputs(text.c_str(), out_);
  std::fflush(out_);
}

std::string LiveView::erase_block() const {
  if (lines_drawn_ == 0) return {};
  return "\r\x1b[" + std::to_string(lines_drawn_) + "A\x1b[J";
}

void LiveView::begin(const std::string& title, std::optional<double> planned_s) {
  title_ = report::escape_terminal(title);  // it holds the target's name
  planned_s_ = planned_s;
}

void LiveView::note(const std::string& line) {
  std::lock_guard draw(draw_mutex_);
  // A note during the run goes above the block: the block is erased and drawn again below it.
  const std::string erase = erase_block();
  lines_drawn_ = 0;
  last_draw_ = {};
  std::fprintf(out_, "%ssoak: %s\n", erase.c_str(),
               report::escape_terminal(line).c_str());  // names, details
  std::fflush(out_);
}

void LiveView::on_interim(const analysis::Verdict& so_far) {
  // Compact, so that it fits 80 columns, and ASCII (a terminal or log in the C locale):
  // "rss +6.0 MB/min +/-52 kB, leak, fail so far (rss_growth)".
  std::string line;
  if (const analysis::MetricResult* rss = so_far.find(std::string(log::metric::rss_bytes));
      rss != nullptr && rss->analysis) {
    const analysis::SeriesAnalysis& a = *rss->analysis;
    if (a.classification == analysis::Classification::insufficient) {
      line = "rss: not enough data yet, ";
    } else {
      const double per_min = a.growth_per_s * 60;
      const double half_width = (a.ci_high_per_s - a.ci_low_per_s) * 60 / 2;
      line = "rss " + signed_bytes(per_min) + "/min +/-" + report::format_bytes(half_width) + ", " +
             analysis::to_string(a.classification) + ", ";
    }
  }
  line += std::string(analysis::to_string(so_far.verdict)) + " so far";
  std::string failing;
  for (const auto& c : so_far.checks) {
    if (c.status == analysis::CheckStatus::fail) failing += (failing.empty() ? "" : ", ") + c.name;
  }
  if (!failing.empty()) line += " (" + failing + ")";
  set_analysis(std::move(line));
}

void LiveView::on_interim_failed(const std::string& why) {
  set_analysis("(interim analysis failed: " + why + ")");
}

void LiveView::end(const sampler::SamplerStatus& status) {
  if (quiet_) return;
  last_draw_ = {};
  update(status);
}

}  // namespace soak::cli
