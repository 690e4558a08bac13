// The sample and event lines of a log behind a fixed valid header, so every input reaches the
// line parsers (the fast flat-sample path and the general JSON one) rather than the header
// check. Nothing may throw: a bad line is a warning.
#include <string>

#include "fuzz_input.hpp"
#include "soak/log/log.hpp"

namespace {
constexpr std::string_view kHeader =
    R"({"type":"header","format":"soak-samples","version":2,"started_at":"2026-11-22T23:00:00Z",)"
    R"("interval_s":1,"target":{"pid":1,"name":"x","cmdline":["x"]},"host":{"page_size":4096}})"
    "\n";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static soak::fuzz::MemFile file;
  std::string text(kHeader);
  text += soak::fuzz::text_of(data, size);
  file.write(text);
  const soak::log::RunLog log = soak::log::read_run_log(file.path());
  (void)log;
  return 0;
}
