// The header readers on any JSON value: they never throw, a missing or mistyped field reads
// as "not known". Input that is not JSON is not a header and is skipped.
#include <nlohmann/json.hpp>

#include "fuzz_input.hpp"
#include "soak/log/header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto header = nlohmann::json::parse(soak::fuzz::text_of(data, size), nullptr, false);
  if (header.is_discarded()) return 0;
  (void)soak::log::read_header(header);
  (void)soak::log::import_facts(header);
  (void)soak::log::target_facts(header);
  (void)soak::log::host_memory_bytes(header);
  (void)soak::log::targets_document(header);
  (void)soak::log::scenario_error_rate_limit(header);
  (void)soak::log::scenario_p95_limit_s(header);
  return 0;
}
