#pragma once
// What a person watching a run sees. On a terminal: one status block redrawn in place
// (at most 4 times a second). Elsewhere (CI logs, files): one plain line every 10 s.

#include <chrono>
#include <cstdio>
#include <optional>
#include <mutex>
#include <string>

#include "soak/sampler/sampler.hpp"

namespace soak::cli {

class LiveView {
 public:
  /// `title` is e.g. "attach 1234 (server)"; writes to `out` (stderr).
  LiveView(std::FILE* out, std::string title, std::optional<double> planned_s, bool quiet);
  void update(const sampler::SamplerStatus& status);
  /// The latest interim analysis, one line ("rss 2.0 MiB/min [1.9, 2.1] leak; so far: fail").
  /// Thread-safe: called from the analysis thread.
  void set_analysis(std::string line);
  /// Leaves the last block on screen and moves below it.
  void finish(const sampler::SamplerStatus& status);

 private:
  std::string render_block(const sampler::SamplerStatus& status) const;
  std::string render_line(const sampler::SamplerStatus& status) const;
  std::FILE* out_;
  std::string title_;
  std::optional<double> planned_s_;
  bool tty_;
  bool quiet_;
  int lines_drawn_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
  mutable std::mutex analysis_mutex_;
  std::string analysis_line_;
};

}  // namespace soak::cli
