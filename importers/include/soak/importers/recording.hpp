#pragma once
// Another tool's recording, read into soak's terms: processes (one, or several when the file
// holds several instances, children or series), each with time stamps and metric columns named
// as soak names them (log/metrics.hpp), and what a column measures when it is not the process's
// resident set. `write_run` turns it into a run directory that `soak analyze`, `report` and
// `compare` read like any other.
//
// Units: t in seconds since the recording's first time stamp; metric values in their names'
// units (`_bytes` bytes, counts plain). A missing value is NaN (not measured), never zero.
// Thread-safety: values and free functions; nothing shared.
// Failure modes: a file that cannot be read, or holds nothing usable, throws ImportError, whose
// what() is one line naming the file, where (line, column) and what was expected and found.

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace soak::importers {

/// The formats `soak import` reads (SPEC.md pins the names).
enum class Format { csv, psrecord, mprof, perfmon, dotnet_counters, prometheus };

/// "csv", "psrecord", "mprof", "perfmon", "dotnet-counters", "prometheus".
std::string_view format_name(Format format);
/// The format named `name`; nullopt for an unknown name.
std::optional<Format> parse_format(std::string_view name);
/// Every format's name, comma-separated, for messages.
std::string format_names();

/// A file soak cannot import: unreadable, not the named format, or with nothing usable.
/// Bad input (exit 3); what() is one line with the fix.
class ImportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

/// One process (or instance, child, series) of a recording.
struct ImportedProcess {
  /// The process key in the log (log version 2) when the recording holds several; empty for the
  /// run's one target.
  std::string key;
  std::string name;
  std::int64_t pid = 0;  ///< 0 when the file does not say
  std::vector<std::string> cmdline;
  std::map<std::string, std::string> labels;  ///< e.g. a Prometheus series' labels
  std::vector<double> t;                      ///< ascending (write_run sorts stably)
  /// Metric name -> one value per time stamp (NaN: not measured at that time).
  std::map<std::string, std::vector<double>, std::less<>> columns;

  /// Appends a row: a time stamp with every column NaN; returns its index.
  std::size_t add_row(double t_s);
  /// Sets `metric` at row `row` (the column is created full of NaN when new).
  void set(std::size_t row, std::string_view metric, double value);
};

struct Recording {
  Format format = Format::csv;
  /// The wall-clock (Unix seconds, UTC) of the first time stamp, when the file has it.
  std::optional<double> start_unix_s;
  /// What a metric measures when it is not the process's resident set, in a reader's words
  /// ("JVM heap after GC", "PerfMon \\HOST\\Process(app)\\Private Bytes"); the report labels
  /// its charts with it.
  std::map<std::string, std::string> measures;
  std::vector<ImportedProcess> processes;
  std::vector<std::string> warnings;  ///< things skipped, said once each with a count
};

/// What the generic CSV reader needs to know (the other formats know their own columns).
struct CsvOptions {
  std::optional<std::string> time_column;  ///< name or 1-based number; default: the first column
  /// epoch-s | epoch-ms | iso8601 | elapsed-s; default: detected from the first values
  std::optional<std::string> time_format;
  /// METRIC=COLUMN[:UNIT] mappings (`rss_bytes=RSS:KiB`); default: every numeric column, by a
  /// name made from its header.
  std::vector<std::string> metrics;
};

struct ImportOptions {
  CsvOptions csv;
};

/// Reads `text` (the whole file) as `format`. `file` names it in messages. Throws ImportError.
Recording parse(Format format, std::string_view text, const std::string& file,
                const ImportOptions& options = {});

/// What write_run wrote.
struct ImportResult {
  std::filesystem::path run_dir;
  std::filesystem::path log;
  std::size_t samples = 0;
  std::size_t processes = 0;
  std::vector<std::string> warnings;
};

/// Reads `file` as `format` and writes a run directory (`out`, or ./soak-runs/<time>-<name>/):
/// samples.ndjson whose header records the source (format, file name, size, SHA-1) and what each
/// series measures. Throws ImportError (bad file) or log::RunDirError / log::LogError (the
/// directory cannot be used).
ImportResult import_file(Format format, const std::filesystem::path& file,
                         const std::optional<std::filesystem::path>& out,
                         const ImportOptions& options = {});

}  // namespace soak::importers
