#pragma once
// What a person watching a run sees. On a terminal: one status block of a fixed height redrawn
// in place (at most 4 times a second), every line cut to the terminal's width as it is at each
// redraw (so a resize is followed within 250 ms and nothing ever wraps); notes go above it.
// Elsewhere (CI logs, files): one plain line every 10 s.

#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>

#include "soak/scenarios/session.hpp"

namespace soak::cli {

class LiveView : public scenarios::SessionView {
 public:
  /// Writes to `out` (stderr); `quiet` shows notes only.
  LiveView(std::FILE* out, bool quiet);
  /// `title` is e.g. "attach 1234 (server)".
  void begin(const std::string& title, std::optional<double> planned_s) override;
  void note(const std::string& line) override;
  void on_sample(const sampler::SamplerStatus& status) override { update(status); }
  /// The block gets a load line from the first one on (so its height never changes after).
  void on_load(const scenarios::LoadReading& reading) override;
  /// The latest interim analysis as one line ("rss 2.0 MiB/min [1.9, 2.1] leak; so far: fail").
  /// Thread-safe: called from the analysis thread.
  void on_interim(const analysis::Verdict& so_far) override;
  void on_interim_failed(const std::string& why) override;
  /// Leaves the last block on screen and moves below it.
  void end(const sampler::SamplerStatus& status) override;

 private:
  void update(const sampler::SamplerStatus& status);
  void set_analysis(std::string line);
  std::string render_block(const sampler::SamplerStatus& status, int columns) const;
  /// What takes the cursor back to the block's first line and clears the block.
  std::string erase_block() const;
  std::string render_line(const sampler::SamplerStatus& status) const;
  std::FILE* out_;
  std::string title_;
  std::optional<double> planned_s_;
  bool tty_;
  bool quiet_;
  std::mutex draw_mutex_;  ///< notes (any thread) and redraws (the sampling thread)
  int lines_drawn_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
  mutable std::mutex analysis_mutex_;
  std::string analysis_line_;
  std::string load_line_;  ///< empty without a load; on the sampling thread only
};

}  // namespace soak::cli
