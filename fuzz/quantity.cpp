// The targets' quantity strings ("5 MiB/min", "500 MB", "20%", "5m"): the first byte picks the
// kind a targets file writes, the rest is the text. TargetsError is the documented refusal.
#include <string>

#include "fuzz_input.hpp"
#include "soak/analysis/targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  using soak::analysis::Quantity;
  constexpr Quantity kKinds[] = {Quantity::bytes, Quantity::bytes_per_min, Quantity::fraction,
                                 Quantity::seconds};
  const Quantity kind = kKinds[data[0] % 4];
  const std::string text(soak::fuzz::text_of(data + 1, size - 1));
  try {
    (void)soak::analysis::parse_quantity(text, kind, "fuzz");
  } catch (const soak::analysis::TargetsError&) {
  }
  return 0;
}
