#pragma once
// Bounded disk for long, fast runs: the samples log in segments.
//
// The writer appends to DIR/samples.ndjson (the active segment) as always. Once it passes a
// size or an age (SegmentOptions) it is closed: it moves to DIR/samples.d/NNNNNN.ndjson and a
// new samples.ndjson starts with the same header (plus "segment": N, the closed segments
// before it). A closed segment is then compressed in the background
// (NNNNNN.ndjson.gz), and once its last sample is older than the full-rate window (one hour
// by default) it is compacted (NNNNNN.bins.ndjson.gz): every series binned to the resolution
// the reader keeps anyway (RunLogBuilder's bins of 2^k readings), its events kept whole, and
// a `log_binned` event in the log says so. Reading a log reads the closed segments in order,
// each in its most compact form, then the active file, so `soak analyze` of a binned log gives
// the same points as the live run saw.
//
// Every file is replaced by rename(2) once complete, and a segment is closed by link(2) then
// rename(2): at every instant samples.ndjson exists and every line is in exactly one file a
// reader reads (a closed segment that is still the active file's inode, after a crash between
// the two steps, is skipped). A crash mid-compression leaves a *.tmp file that readers ignore.
//
// Bin line: {"type":"bin","t":MEAN_T,"m":METRIC,"n":READINGS,"w":GROUP,"v":MEAN,"max":..,
// "min":..,"v0":FIRST,"v1":LAST[,"proc":KEY]}; span line (one per process and segment):
// {"type":"bin","t":FIRST_T,"t_end":LAST_T,"samples":N[,"proc":KEY]}.
//
// Thread-safety: the keeper runs on its own thread and touches only closed segments; events
// it has to report are handed to the writer, which writes them on its own thread.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace soak::log {

/// The folder of a log's closed segments, beside samples.ndjson.
inline constexpr std::string_view segments_dir = "samples.d";

/// When the active segment is closed and when closed ones are binned.
struct SegmentOptions {
  std::uint64_t segment_bytes = 0;  ///< close past this many bytes; 0: one file, never closed
  double segment_s = 0;             ///< ... or once it spans this long (s); 0: no age limit
  double full_rate_s = -1;          ///< bin closed segments older than this (s); < 0: never
};

/// What soak run and attach use: 64 MiB or an hour a segment, the last hour at full rate.
inline constexpr std::uint64_t kDefaultSegmentBytes = std::uint64_t{64} << 20;
inline constexpr double kDefaultSegmentSeconds = 3600;
inline constexpr double kDefaultFullRateSeconds = 3600;

/// The files of the log at `log_path` (its active file) in read order: each closed segment in
/// its most compact complete form, then the active file. Just {log_path} for a log without
/// segments.
std::vector<std::filesystem::path> log_files(const std::filesystem::path& log_path);

/// Where segment `index` (from 1) of the log at `log_path` goes when it is closed.
std::filesystem::path closed_segment_path(const std::filesystem::path& log_path,
                                          std::uint64_t index);

/// The same segment as `listed` (a path log_files returned) in the most compact form that
/// exists now: the keeper may have replaced it since it was listed. `listed` itself when it
/// is no segment or no form exists.
std::filesystem::path segment_now(const std::filesystem::path& listed);

/// An event the keeper asks the writer to log.
struct KeeperEvent {
  std::string kind;
  std::string detail;
  std::string fields_json;  ///< an object's members, already JSON (`"a":1,"b":2`)
};

/// Compresses and compacts closed segments on a thread of its own.
class SegmentKeeper {
 public:
  SegmentKeeper(std::filesystem::path active, SegmentOptions options);
  SegmentKeeper(const SegmentKeeper&) = delete;
  SegmentKeeper& operator=(const SegmentKeeper&) = delete;
  /// Finishes what is due (compression of every closed segment, compaction of the old ones),
  /// then stops.
  ~SegmentKeeper();

  /// Segment `index` was closed; its samples span [first_t, last_t].
  void closed(std::uint64_t index, double first_t, double last_t);
  /// The log's time now (s since the start); called by the writer for every line.
  void now(double t) { now_t_.store(t, std::memory_order_relaxed); }
  /// True when events wait for the writer.
  bool has_events() const { return has_events_.load(std::memory_order_acquire); }
  /// Hands `event` to the writer (its next line writes it first).
  void note(KeeperEvent event) { report(std::move(event)); }
  /// Takes the events waiting for the writer.
  std::vector<KeeperEvent> take_events();
  /// Waits until nothing is due (tests; the end of a run).
  void settle();

 private:
  struct Closed {
    std::uint64_t index;
    double first_t, last_t;
    bool compressed = false;
    double tried_width = 0;  ///< the bins' mean width when binning last did not pay
  };
  void run();
  bool work_once();
  void compress_segment(const Closed& item);
  bool compact_segment(const Closed& item);
  void report(KeeperEvent event);

  std::filesystem::path active_;
  std::filesystem::path dir_;
  SegmentOptions options_;
  std::atomic<double> now_t_{0};
  std::atomic<bool> has_events_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Closed> closed_;  ///< closed segments not yet compacted, oldest first
  std::vector<KeeperEvent> events_;
  bool stop_ = false;
  bool settle_ = false;     ///< settle() waits for an idle pass
  bool idle_seen_ = false;  ///< the keeper found nothing to do since settle() asked
  bool compacting_ = true;  ///< false once a compaction failed: the rest stay at full rate
  struct Compactor;
  std::unique_ptr<Compactor> compactor_;
  std::thread thread_;
};

}  // namespace soak::log
