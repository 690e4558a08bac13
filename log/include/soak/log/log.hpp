#pragma once
// samples.ndjson: the durable log that joins the live half (sampling) to the offline half
// (analysis, report). Line 1 is a header object; then one JSON object per line, samples and
// events in time order. Format and field names are pinned by SPEC.md.
//
// Units: `t` is seconds since the run started (monotonic clock, microsecond resolution);
// metric units are in their names (metrics.hpp).
// Thread-safety: a SampleWriter is used from one thread (the sampling executor); reading a log
// (read_run_log) shares nothing and may run on any thread while the writer appends, seeing the
// log up to its last whole line.
// Failure modes: creating or reading a log that cannot be used at all throws LogError (a bad
// start, exit 3); a write failing later is a value (end_sample() false, error_number()), so
// the run ends cleanly with what was recorded; malformed and torn lines are warnings.

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "soak/log/segments.hpp"
#include "soak/log/unique_fd.hpp"

namespace soak::log {

inline constexpr std::string_view kLogFormat = "soak-samples";
inline constexpr int kLogVersion = 1;  ///< what the writer writes
/// The newest version the reader understands. Version 2 adds a process key (`"proc"`) to
/// samples and events of logs that hold several processes; version 1 logs are read unchanged.
inline constexpr int kLogVersionRead = 2;
/// The field naming the process a sample or event belongs to (version 2).
inline constexpr std::string_view kProcessKey = "proc";

/// A log that cannot be created or read at all (missing, not a soak log, unreadable).
/// what() is one readable sentence naming the file.
class LogError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A log that could be created but not written (disk full, a file size limit): a runtime
/// error (exit 4), not bad input. The file is removed, so a retry in the same place works.
class LogWriteError : public LogError {
 public:
  using LogError::LogError;
};

/// Appends lines to samples.ndjson. Every line goes to the kernel in a single write(2) as it
/// is completed, so a crash or `kill -9` leaves the file valid up to its last whole line.
/// Not thread-safe: one writer per sampling executor.
class SampleWriter {
 public:
  /// Creates (truncates) the file and writes the header. Throws LogError when it cannot be
  /// created, LogWriteError when the header cannot be written (the file is then removed).
  /// With `segments` set, the file is closed into DIR/samples.d/ past their size or age and
  /// closed segments are compressed and binned in the background (segments.hpp).
  SampleWriter(const std::filesystem::path& path, const nlohmann::ordered_json& header,
               SegmentOptions segments = {});
  SampleWriter(const SampleWriter&) = delete;
  SampleWriter& operator=(const SampleWriter&) = delete;
  ~SampleWriter();

  /// Starts a sample line at `t` seconds since the start. `process` names the process it
  /// belongs to in a log of several (version 2); empty for the run's one target.
  void begin_sample(double t, std::string_view process = {});
  /// Adds one metric to the open sample. Integral values are written without a fraction.
  void metric(std::string_view name, double value);
  /// Completes and writes the sample line. False when the write failed (see error_number()).
  bool end_sample();
  /// Writes an event line; `extra` (an object or null) adds fields after "detail".
  bool event(double t, std::string_view kind, std::string_view detail,
             const nlohmann::json& extra = nullptr);
  /// Pushes written lines to stable storage (fdatasync).
  bool sync();
  /// errno of the first failed write, 0 while all writes succeeded.
  int error_number() const { return error_number_; }
  /// Bytes written to the log's files (before compression).
  std::uint64_t bytes_written() const { return bytes_written_; }
  /// Closed segments so far.
  std::uint64_t segments_closed() const { return segment_index_; }
  /// Waits until the background keeper has compressed and binned what is due (tests).
  void settle_segments();
  const std::filesystem::path& path() const { return path_; }
  /// Called, on the writer's thread, with every line written from now on (without its '\n'),
  /// after it reached the kernel; empty to detach. A live reader (LiveRunLog) keeps in step
  /// with the file this way. The observer must not throw.
  void set_line_observer(std::function<void(std::string_view)> observer) {
    observer_ = std::move(observer);
  }

 private:
  bool write_line();
  bool write_raw(std::string_view bytes);
  bool write_buffer();
  void start_line(double t);
  void rotate();
  void write_keeper_events();
  std::function<void(std::string_view)> observer_;
  std::filesystem::path path_;
  UniqueFd fd_;
  int error_number_ = 0;
  std::uint64_t bytes_written_ = 0;
  std::string line_;  ///< reused between lines: no allocation per sample
  // Segments (segments.hpp): the header each new segment repeats, where the active one stands.
  SegmentOptions segments_;
  std::string header_text_;
  std::uint64_t segment_index_ = 0;  ///< segments closed so far
  std::uint64_t segment_bytes_ = 0;  ///< bytes in the active segment after its header
  double segment_first_t_ = NAN;     ///< the active segment's first line's time
  double segment_last_t_ = NAN;
  double line_t_ = 0;  ///< the time of the line being written
  bool writing_keeper_events_ = false;
  std::unique_ptr<SegmentKeeper> keeper_;
};

/// One metric over time. A sample without this metric contributes no point (a gap).
/// A series with more readings than the reader's capacity (run_log_builder.hpp) is binned: each
/// point is then the mean time and mean value of neighbouring readings, and `max` and `min` hold
/// each point's largest and smallest reading; `first` and `last` are always the exact readings.
struct Series {
  std::vector<double> t;      ///< a reading's time, or a bin's mean time (s)
  std::vector<double> value;  ///< a reading, or a bin's mean
  std::vector<double> max;    ///< per point, its largest reading; empty while not binned
  std::vector<double> min;    ///< per point, its smallest reading; empty while not binned
  std::size_t readings = 0;   ///< raw readings behind the points (== size() while not binned)
  double first = 0;           ///< the first reading (when readings > 0)
  double last = 0;            ///< the last reading (when readings > 0)
  std::size_t size() const { return t.size(); }
  bool empty() const { return t.empty(); }
  bool binned() const { return !max.empty(); }
};

struct LogEvent {
  double t = 0;
  std::string kind;
  std::string detail;
  std::string process;    ///< the process key (version 2); empty for the run's one target
  nlohmann::json fields;  ///< the line's other fields (an empty object when it has none)
};

/// The samples of one process of a log of several (version 2), by metric.
struct ProcessLog {
  std::map<std::string, Series, std::less<>> series;
  std::size_t samples = 0;
  double first_t = 0;
  double last_t = 0;
};

/// Everything in a samples log, by metric.
struct RunLog {
  std::filesystem::path path;
  nlohmann::json header;
  std::map<std::string, Series, std::less<>> series;
  /// Events in log order; each kind keeps at most a fixed number (run_log_builder.hpp), thinned
  /// evenly past it. event_counts has every kind's exact count.
  std::vector<LogEvent> events;
  std::map<std::string, std::size_t, std::less<>> event_counts;
  std::size_t samples = 0;
  double first_t = 0;
  double last_t = 0;
  std::vector<std::string> warnings;  ///< torn last line, skipped malformed lines
  /// Samples that carry a process key (version 2), by key; `series` holds the others.
  std::map<std::string, ProcessLog, std::less<>> processes;
};

/// A run directory means DIR/samples.ndjson; any other path is taken as the log itself.
std::filesystem::path resolve_log_path(const std::filesystem::path& run);

/// Reads a samples log tolerantly: a torn last line (a crash mid-write) and malformed lines
/// are skipped with a warning. Streams the file through a RunLogBuilder (run_log_builder.hpp):
/// memory is bounded by the builder's capacity whatever the log's length, time is linear in it.
/// Throws LogError when the file is missing, unreadable, empty or not a soak samples log.
RunLog read_run_log(const std::filesystem::path& run);

/// Appends a JSON string literal (with quotes) for `text` to `out`.
void append_json_string(std::string& out, std::string_view text);
/// Appends `value` as the writer writes numbers: integral values without a fraction, others in
/// the shortest form that reads back to the same double.
void append_json_number(std::string& out, double value);

}  // namespace soak::log
