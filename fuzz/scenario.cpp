// The scenario loader and validator on any file: ScenarioError (listing every problem) is the
// documented refusal. The file sits alone in a fresh folder, so the relative paths a scenario
// names (body_file, targets_file, cwd) resolve to nothing outside it.
#include "soak/scenarios/scenario.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_input.hpp"

namespace {
std::filesystem::path scenario_path() {
  std::string dir = (std::filesystem::temp_directory_path() / "soak-fuzz-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) std::abort();
  return std::filesystem::path(dir) / "scenario.json";
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path path = scenario_path();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    const std::string_view text = soak::fuzz::text_of(data, size);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  try {
    const soak::scenarios::Scenario scenario = soak::scenarios::load_scenario(path);
    (void)scenario;
  } catch (const soak::scenarios::ScenarioError&) {
  }
  return 0;
}
