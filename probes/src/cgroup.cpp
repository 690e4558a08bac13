#include "soak/probes/cgroup.hpp"

#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace soak::probes {

namespace fs = std::filesystem;

namespace {

std::optional<double> read_number(const fs::path& file) {
  std::ifstream in(file);
  std::string text;
  if (!(in >> text)) return std::nullopt;
  if (text == "max") return std::nullopt;  // no limit
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc()) return std::nullopt;
  if (v >= 4.6e18) return std::nullopt;  // v1's "no limit" is a page-rounded 2^63
  return v;
}

std::optional<double> stat_field(const std::string& stat, const std::string& key) {
  std::istringstream in(stat);
  std::string k;
  double v;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return std::nullopt;
}

}  // namespace

std::unique_ptr<CgroupSource> CgroupSource::discover(pid_t pid, const fs::path& sys_root,
                                                     const fs::path& proc_root) {
  std::ifstream in(proc_root / std::to_string(pid) / "cgroup");
  std::string v2_path, v1_path;
  for (std::string line; std::getline(in, line);) {
    const auto a = line.find(':');
    const auto b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const std::string path = line.substr(b + 1);
    if (line.compare(0, a, "0") == 0 && controllers.empty()) v2_path = path;
    std::istringstream list(controllers);
    for (std::string c; std::getline(list, c, ',');) {
      if (c == "memory") v1_path = path;
    }
  }
  for (const fs::path& root : {sys_root, sys_root / "unified"}) {
    if (!v2_path.empty() && v2_path != "/" && fs::exists(root / v2_path.substr(1) / "memory.current")) {
      return std::unique_ptr<CgroupSource>(new CgroupSource(root / v2_path.substr(1), 2, v2_path));
    }
  }
  if (!v1_path.empty()) {
    const fs::path dir = sys_root / "memory" / v1_path.substr(1);
    if (fs::exists(dir / "memory.usage_in_bytes")) {
      return std::unique_ptr<CgroupSource>(new CgroupSource(dir, 1, v1_path));
    }
  }
  return nullptr;
}

void CgroupSource::contribute(sampler::TickSink& sink) {
  const bool v2 = version_ == 2;
  const auto current = read_number(dir_ / (v2 ? "memory.current" : "memory.usage_in_bytes"));
  const auto limit = read_number(dir_ / (v2 ? "memory.max" : "memory.limit_in_bytes"));
  if (calls_++ == 0) {
    char detail[512];
    std::snprintf(detail, sizeof detail, "cgroup v%d %s, memory limit %s", version_,
                  cgroup_path_.c_str(), limit ? std::to_string(static_cast<long long>(*limit)).c_str() : "none");
    sink.event("cgroup", detail);
  }
  if (!current) return;  // the cgroup went away: a gap
  sink.metric("cgroup.memory_bytes", *current);
  if (limit) sink.metric("cgroup.limit_bytes", *limit);
  if ((calls_ - 1) % 10 == 0) {
    std::ifstream in(dir_ / "memory.stat");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string stat = ss.str();
    if (const auto anon = stat_field(stat, v2 ? "anon" : "total_rss")) sink.metric("cgroup.anon_bytes", *anon);
    if (const auto file = stat_field(stat, v2 ? "file" : "total_cache")) sink.metric("cgroup.file_bytes", *file);
  }
}

}  // namespace soak::probes
