// --probe specs and the answers a probe reads with them. Input: a spec line, then an answer
// body. The first byte picks what the line is: even, the items after a fixed "json URL" (so
// the fuzzer spends its time on JSON pointers); odd, a whole spec (kind, URL, items, options).
// ProbeSpecError is the documented refusal; a spec it accepts must read any answer as HttpProbe
// does (read_probe_answer) without throwing: an unusable answer is false with an event kind.
#include <map>
#include <string>

#include "fuzz_input.hpp"
#include "soak/probes/http_probe.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view rest = soak::fuzz::text_of(data + 1, size - 1);
  const auto eol = rest.find('\n');
  const std::string line(rest.substr(0, eol));
  const std::string body(eol == std::string_view::npos ? "" : rest.substr(eol + 1));
  soak::probes::ProbeSpec spec;
  try {
    spec = soak::probes::parse_probe_spec(data[0] % 2 == 0 ? "json http://127.0.0.1:9/ " + line
                                                           : line);
  } catch (const soak::probes::ProbeSpecError&) {
    return 0;
  }
  std::map<std::string, double> values;
  std::string error, kind;
  if (!soak::probes::read_probe_answer(spec, body, values, error, kind) && kind.empty()) {
    std::abort();  // a failure names its event
  }
  return 0;
}
