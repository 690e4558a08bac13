// --gc-checkpoint specs ("ACTION every=D [settle=D] [timeout=D]"): GcCheckpointSpecError is the
// documented refusal; a spec it accepts describes itself for events.
#include "soak/scenarios/gc_checkpoint.hpp"

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto spec = soak::scenarios::parse_gc_checkpoint(soak::fuzz::text_of(data, size));
    (void)spec.action_text();
  } catch (const soak::scenarios::GcCheckpointSpecError&) {
  }
  return 0;
}
