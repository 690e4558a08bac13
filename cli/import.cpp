// soak import: another tool's recording becomes a run directory, then is judged like any run.

#include <cstdio>

#include "commands.hpp"
#include "soak/report/format.hpp"

namespace soak::cli {

ExitCode import_command(const ImportCommandOptions& options) {
  const auto format = importers::parse_format(options.format);
  if (!format) {
    throw UsageError("unknown format '" + options.format + "'; soak imports " +
                     importers::format_names());
  }
  const importers::ImportResult result =
      importers::import_file(*format, options.file, options.out, options.read);
  for (const auto& w : result.warnings) {
    std::fprintf(stderr, "soak: warning: %s: %s\n", options.file.c_str(), w.c_str());
  }
  std::printf(
      "imported %zu samples%s from %s into %s\n", result.samples,
      result.processes > 1 ? (" of " + std::to_string(result.processes) + " series").c_str() : "",
      options.file.c_str(), result.run_dir.c_str());
  std::printf("judge it with: soak analyze %s   (and soak report %s)\n", result.run_dir.c_str(),
              result.run_dir.c_str());
  return ExitCode::pass;
}

}  // namespace soak::cli
