// A scenario's base_url split: never throws, a bad URL is a BaseUrlProblem value.
#include "fuzz_input.hpp"
#include "soak/scenarios/scenario.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const soak::scenarios::BaseUrl url =
      soak::scenarios::split_base_url(soak::fuzz::text_of(data, size));
  if (url.ok() && url.host.empty()) std::abort();  // a usable URL names a host
  return 0;
}
