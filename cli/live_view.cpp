#include "live_view.hpp"

#include <unistd.h>

#include <algorithm>

#include "soak/log/metrics.hpp"
#include "soak/report/format.hpp"
#include "soak/report/words.hpp"
#include "soak/sampler/duration.hpp"

namespace soak::cli {

namespace {

std::string signed_bytes(double delta) {
  return (delta >= 0 ? "+" : "-") + report::format_bytes(std::abs(delta));
}

}  // namespace

LiveView::LiveView(std::FILE* out, bool quiet)
    : out_(out),
      tty_(::isatty(::fileno(out)) != 0 && std::getenv("TERM") != nullptr &&
           std::string(std::getenv("TERM")) != "dumb"),
      quiet_(quiet) {}

std::string LiveView::render_block(const sampler::SamplerStatus& s) const {
  std::string block;
  char line[256];
  std::snprintf(line, sizeof line, "soak %s\n", title_.c_str());
  block += line;
  const std::string elapsed = sampler::format_duration(sampler::Seconds(s.elapsed_s));
  if (planned_s_ && *planned_s_ > 0) {
    const double fraction = std::clamp(s.elapsed_s / *planned_s_, 0.0, 1.0);
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.append(static_cast<std::size_t>(kWidth - filled), '.');
    std::snprintf(line, sizeof line, "  elapsed   %s / %s  [%s] %3.0f%%\n", elapsed.c_str(),
                  sampler::format_duration(sampler::Seconds(*planned_s_)).c_str(), bar.c_str(),
                  fraction * 100.0);
  } else {
    std::snprintf(line, sizeof line, "  elapsed   %s  (until the target exits or Ctrl-C)\n",
                  elapsed.c_str());
  }
  block += line;
  const double rss = static_cast<double>(s.latest.rss_bytes);
  std::snprintf(line, sizeof line, "  rss       %s  (%s since start)\n",
                report::format_bytes(rss).c_str(),
                signed_bytes(rss - static_cast<double>(s.first.rss_bytes)).c_str());
  block += line;
  std::string children = "-";
  if (s.children) {
    children = std::to_string(*s.children) + " (" +
               report::format_bytes(static_cast<double>(s.children_rss_bytes.value_or(0))) + ")";
  }
  std::snprintf(line, sizeof line, "  threads   %-6u fds %-8s children %s\n", s.latest.threads,
                s.latest.fds ? std::to_string(*s.latest.fds).c_str() : "-", children.c_str());
  block += line;
  {
    std::lock_guard lock(analysis_mutex_);
    block +=
        "  growth    " +
        (analysis_line_.empty() ? std::string("(first estimate after a minute)") : analysis_line_) +
        "\n";
  }
  std::snprintf(line, sizeof line, "  samples   %llu written, %llu late, %llu skipped\n",
                static_cast<unsigned long long>(s.samples),
                static_cast<unsigned long long>(s.late_ticks),
                static_cast<unsigned long long>(s.skipped_ticks));
  block += line;
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
  std::lock_guard lock(analysis_mutex_);
  if (!analysis_line_.empty()) text.insert(text.size() - 1, " growth: " + analysis_line_);
  return text;
}

void LiveView::set_analysis(std::string line) {
  std::lock_guard lock(analysis_mutex_);
  analysis_line_ = report::escape_terminal(line);  // metric and check names come from outside
}

void LiveView::update(const sampler::SamplerStatus& status) {
  if (quiet_) return;
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
  std::string text;
  for (int i = 0; i < lines_drawn_; ++i) text += "\x1b[1A\x1b[2K";  // up one line, clear it
  const std::string block = render_block(status);
  text += block;
  lines_drawn_ = static_cast<int>(std::count(block.begin(), block.end(), '\n'));
  std::fputs(text.c_str(), out_);
  std::fflush(out_);
}

void LiveView::begin(const std::string& title, std::optional<double> planned_s) {
  title_ = report::escape_terminal(title);  // it holds the target's name
  planned_s_ = planned_s;
}

void LiveView::note(const std::string& line) {
  std::fprintf(out_, "soak: %s\n", report::escape_terminal(line).c_str());  // names, details
}

void LiveView::on_interim(const analysis::Verdict& so_far) {
  std::string line;
  if (const analysis::MetricResult* rss = so_far.find(std::string(log::metric::rss_bytes));
      rss != nullptr && rss->analysis) {
    const analysis::SeriesAnalysis& a = *rss->analysis;
    if (a.classification == analysis::Classification::insufficient) {
      line = "rss: not enough data yet";
    } else {
      line = "rss " +
             report::format_growth(so_far, rss->name, a.growth_per_s * 60, a.ci_low_per_s * 60,
                                   a.ci_high_per_s * 60, report::units_of(so_far)) +
             " " + analysis::to_string(a.classification);
    }
  }
  line += std::string("; verdict so far: ") + analysis::to_string(so_far.verdict);
  for (const auto& c : so_far.checks) {
    if (c.status == analysis::CheckStatus::fail) line += " (" + c.name + ")";
  }
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
