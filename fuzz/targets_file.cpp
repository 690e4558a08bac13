// A targets document over the defaults: TargetsError (naming the field) is the documented
// refusal; input that is not JSON never reaches parse_targets (the caller's JSON step refuses it).
#include <nlohmann/json.hpp>

#include "fuzz_input.hpp"
#include "soak/analysis/targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto document = nlohmann::json::parse(soak::fuzz::text_of(data, size), nullptr, false);
  if (document.is_discarded()) return 0;
  try {
    (void)soak::analysis::parse_targets(document);
  } catch (const soak::analysis::TargetsError&) {
  }
  return 0;
}
