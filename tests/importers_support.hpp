#pragma once
// What the import tests share: a recording written to a file, imported with the real soak
// binary, then analyzed as a user would (`soak import`, then `soak analyze --format json`).

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support.hpp"

namespace soak::test {

inline void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

struct Imported {
  SoakResult import;   ///< soak import's own result
  SoakResult analyze;  ///< soak analyze --format json (exit code = the verdict's)
  nlohmann::json verdict;
  nlohmann::json header;  ///< the samples log's header line
  fs::path run;
};

/// `soak import FORMAT FILE --out DIR/run EXTRA...`, then `soak analyze DIR/run --format json`
/// when the import succeeded.
inline Imported import_and_analyze(const std::string& format, const fs::path& file,
                                   const TempDir& dir, std::vector<std::string> extra = {},
                                   const std::string& run_name = "run") {
  Imported r;
  r.run = dir / run_name;
  std::vector<std::string> args = {"import", format, file.string(), "--out", r.run.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  r.import = run_soak(args);
  if (r.import.exit_code != 0) return r;
  std::ifstream log(r.run / "samples.ndjson");
  std::string first;
  std::getline(log, first);
  r.header = nlohmann::json::parse(first, nullptr, false);
  r.analyze = run_soak({"analyze", r.run.string(), "--format", "json"});
  r.verdict = nlohmann::json::parse(r.analyze.out, nullptr, false);
  return r;
}

/// The classification of `metric` in a verdict (of its process `process` when it has several).
inline std::string classification(const nlohmann::json& verdict, const std::string& metric,
                                  const std::string& process = "") {
  const nlohmann::json* v = &verdict;
  if (!process.empty() && verdict.contains("processes")) {
    for (const auto& p : verdict["processes"]) {
      if (p.value("name", "") == process) v = &p;
    }
  }
  if (!v->contains("metrics") || !(*v)["metrics"].contains(metric)) return "(absent)";
  return (*v)["metrics"][metric].value("classification", "");
}

}  // namespace soak::test
