// Duration strings ("500ms", "30s", "10m", "8h", "1d", "90"): DurationError is the documented
// refusal; a parsed duration is never negative and prints.
#include "soak/sampler/duration.hpp"

#include <cstdlib>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto d = soak::sampler::parse_duration(soak::fuzz::text_of(data, size));
    if (d.count() < 0) std::abort();
    (void)soak::sampler::format_duration(d);
  } catch (const soak::sampler::DurationError&) {
  }
  return 0;
}
