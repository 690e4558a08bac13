// The samples-log reader on any bytes: a whole file, header line included. LogError (not a
// soak log, empty) is the documented refusal; torn and malformed lines are warnings.
#include "fuzz_input.hpp"
#include "soak/log/log.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static soak::fuzz::MemFile file;
  file.write(soak::fuzz::text_of(data, size));
  try {
    const soak::log::RunLog log = soak::log::read_run_log(file.path());
    (void)log;
  } catch (const soak::log::LogError&) {
  }
  return 0;
}
