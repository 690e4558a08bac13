// The import formats: byte 0 picks the format (of the six), byte 1 the CSV options (time
// format, a time column, a metric mapping); the rest is the file. ImportError is the documented
// refusal; a recording that parses keeps one value per time stamp in every column, and its
// start reads as ISO 8601.
#include <cstdlib>
#include <string>

#include "fuzz_input.hpp"
#include "soak/importers/recording.hpp"
#include "soak/log/header.hpp"

namespace importers = soak::importers;

namespace {
importers::ImportOptions options_of(std::uint8_t choice) {
  constexpr const char* kTimeFormats[] = {"epoch-s", "epoch-ms", "iso8601", "elapsed-s"};
  importers::ImportOptions options;
  if (choice & 0x4) options.csv.time_format = kTimeFormats[choice & 0x3];
  if (choice & 0x8) options.csv.time_column = (choice & 0x10) ? "2" : "t";
  if (choice & 0x20) options.csv.metrics.push_back("rss_bytes=rss:KiB");
  if (choice & 0x40) options.csv.metrics.push_back("threads=2");
  return options;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  constexpr importers::Format kFormats[] = {importers::Format::csv,
                                            importers::Format::psrecord,
                                            importers::Format::mprof,
                                            importers::Format::perfmon,
                                            importers::Format::dotnet_counters,
                                            importers::Format::prometheus};
  const importers::Format format = kFormats[data[0] % 6];
  try {
    const importers::Recording recording = importers::parse(
        format, soak::fuzz::text_of(data + 2, size - 2), "fuzz", options_of(data[1]));
    for (const auto& process : recording.processes) {
      for (const auto& [metric, values] : process.columns) {
        if (values.size() != process.t.size()) std::abort();
      }
    }
    // import_file writes the start into the header as ISO 8601 (a huge stamp must not be cast).
    if (recording.start_unix_s) (void)soak::log::utc_iso(*recording.start_unix_s);
  } catch (const importers::ImportError&) {
  }
  return 0;
}
