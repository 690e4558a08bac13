#pragma once
// The one way lines of a samples log become a RunLog, with memory bounded whatever the log's
// length: `read_run_log` streams a file through it, and a live run tees every line it writes
// into one (LiveRunLog), so the interim analysis judges exactly what `soak analyze` of the same
// log would.
//
// Bounds: every series keeps at most `capacity` points. Past that, neighbouring points are
// merged pairwise into bins of twice the width (the mean of t and of the value; the bin's
// largest and smallest readings are kept beside, and the first and last readings exactly), so a
// series' memory is O(capacity) and the result is a deterministic function of the lines. A log
// with at most `capacity` samples per series gives the raw points, exactly as before. Events
// are counted per kind; each kind keeps at most a fixed number in full, thinned evenly (every
// 2nd, 4th, ... of that kind) once more arrive. Warnings are aggregated counts.
//
// Units: t in seconds since the run started, values in their metric's unit (metrics.hpp).
// Thread-safety: a RunLogBuilder is not thread-safe; LiveRunLog is (one writer thread feeds it,
// any thread may take a snapshot). Failure modes: a first line that is no soak header throws
// LogError; any later malformed line is a counted warning, never an exception.

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "soak/log/log.hpp"

namespace soak::log {

/// Points kept per series. 16384 keeps every series of a run up to 24 h at a 10 s interval, or
/// 4.5 h at 1 s, point for point (as soak read logs before it bounded them); a longer or faster
/// run is binned to this resolution, which is finer than any check needs (the classification
/// bins to far fewer points, a max-RSS check reads the bins' exact maxima).
inline constexpr std::size_t kSeriesCapacity = 16384;

/// Events of one kind kept in full. The report lists the first few hundred events and the
/// analysis reads the first target_exited, the execs and the load summary: a million
/// probe_failed events say no more than their count, which is kept exactly.
inline constexpr std::size_t kEventsKeptPerKind = 1024;

/// Events the analysis reads one by one (job ends for the per-job checks, forced collections
/// for their pauses) are kept like a series' points: up to kSeriesCapacity, then thinned.
inline constexpr std::size_t kEventsKeptPerAnalysedKind = kSeriesCapacity;

/// The longest line accepted. A header is a few hundred bytes (a scenario's targets a few KiB);
/// a sample of every smaps region is a few tens of KiB. A longer line is skipped as malformed,
/// so a file without newlines cannot make the reader hold it.
inline constexpr std::size_t kMaxLineBytes = std::size_t{1} << 24;

/// Builds a RunLog from the lines of a samples log, in order. Not thread-safe.
class RunLogBuilder {
 public:
  /// `path` is recorded in the RunLog; `capacity` (even, >= 2) is the points kept per series.
  explicit RunLogBuilder(std::filesystem::path path, std::size_t capacity = kSeriesCapacity);
  ~RunLogBuilder();
  RunLogBuilder(RunLogBuilder&&) noexcept;
  RunLogBuilder& operator=(RunLogBuilder&&) noexcept;

  /// One whole line without its '\n'. The first line (empty or not) must be a soak header:
  /// LogError otherwise. Empty lines after it are ignored; malformed ones are counted.
  void add_line(std::string_view line);
  /// A last line without its '\n': torn by a crash mid-write unless it parses.
  void add_torn_line(std::string_view line);
  /// A warning about the log as a whole (segments missing), listed with the others.
  void add_warning(std::string warning);
  /// A line longer than kMaxLineBytes, skipped unread (counted as malformed).
  void skip_long_line();

  /// True once the header line was read.
  bool has_header() const;
  /// The log so far (a copy: O(capacity x metrics + kept events)). Throws LogError when no
  /// header was read.
  RunLog snapshot() const;
  /// The log so far into `out`, reusing the memory its series already hold, so a snapshot
  /// taken every minute into the same RunLog allocates nothing once the series are full.
  /// Throws LogError when no header was read.
  void snapshot_into(RunLog& out) const;
  /// Every series takes its whole capacity when it first appears (and snapshot_into a new
  /// series in `out` likewise): a live log's memory is then what it will be at the end from
  /// the first minute on, instead of growing until the series are full. Call before any line.
  void preallocate_series();
  /// The log, moving out what was built. Throws LogError when no header was read.
  RunLog finish() &&;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// Streams a samples log (a run directory or the file) through `builder` with a bounded buffer:
/// memory is O(kMaxLineBytes) besides the builder's, whatever the file's size. Throws LogError
/// when the file is missing, unreadable, or does not start with a soak header.
void read_log_into(const std::filesystem::path& log_path, RunLogBuilder& builder);

/// The log of a run still being written, kept in step with its writer: it reads what the writer
/// wrote before it was made, then receives each line the writer writes (SampleWriter's line
/// observer), so a snapshot at the end equals read_run_log of the file, by construction.
/// Thread-safety: the writer's thread feeds it; snapshot() may be called from any thread (a
/// mutex; the copy is O(capacity x metrics)). The writer must outlive it; it detaches itself
/// from the writer when destroyed.
class LiveRunLog {
 public:
  explicit LiveRunLog(SampleWriter& writer, std::size_t capacity = kSeriesCapacity);
  LiveRunLog(const LiveRunLog&) = delete;
  LiveRunLog& operator=(const LiveRunLog&) = delete;
  ~LiveRunLog();

  /// The run so far. Throws LogError only if the writer's header could not be read back.
  RunLog snapshot() const;
  /// The run so far into `out`, reusing its memory (RunLogBuilder::snapshot_into).
  void snapshot_into(RunLog& out) const;

 private:
  SampleWriter& writer_;
  mutable std::mutex mutex_;
  RunLogBuilder builder_;
};

}  // namespace soak::log
