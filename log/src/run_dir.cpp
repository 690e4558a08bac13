#include "soak/log/run_dir.hpp"

#include <string>
#include <system_error>

#include "soak/log/header.hpp"

namespace soak::log {

namespace fs = std::filesystem;

namespace {

std::string safe_name(std::string_view name) {
  std::string out;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    out.push_back(ok ? c : '_');
  }
  return out.empty() ? "target" : out;
}

}  // namespace

fs::path create_run_dir(const std::optional<fs::path>& out, std::string_view target_name) {
  const fs::path dir =
      out ? *out : fs::path("soak-runs") / (utc_now_compact() + "-" + safe_name(target_name));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw RunDirError("cannot create output directory " + dir.string() + ": " +
                      (ec ? ec.message() : std::string("exists and is not a directory")) +
                      "; pass a writable --out DIR");
  }
  if (fs::exists(dir / samples_file)) {
    throw RunDirError(dir.string() +
                      " already holds a run (samples.ndjson); pass a new --out DIR so no "
                      "recorded data is overwritten");
  }
  return dir;
}

fs::path run_dir_of(const fs::path& log_path) {
  return log_path.has_parent_path() ? log_path.parent_path() : fs::path(".");
}

}  // namespace soak::log
