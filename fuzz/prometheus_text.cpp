// The Prometheus text / OpenMetrics parser: never throws, junk lines are counted. The first
// line, when it parses as a selector, is also applied to the rest (what a prom probe does).
#include "fuzz_input.hpp"
#include "soak/probes/prometheus.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = soak::fuzz::text_of(data, size);
  const soak::probes::PromDocument doc = soak::probes::parse_prometheus_text(text);
  if (const auto selector = soak::probes::parse_selector(text.substr(0, text.find('\n')))) {
    (void)soak::probes::select_sum(doc, *selector);
  }
  return 0;
}
