#include "cgroup.hpp"

#include <charconv>
#include <cstdio>

#include "procfs.hpp"
#include "soak/log/metrics.hpp"

namespace soak::sampler::detail {

namespace metric = log::metric;

namespace fs = std::filesystem;

namespace {

/// Calls fn(line) for each line of `text`, without the '\n'.
template <typename Fn>
void for_each_line(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    const auto eol = text.find('\n');
    fn(text.substr(0, eol));
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
  }
}

std::string_view first_token(std::string_view text) {
  const auto start = text.find_first_not_of(" \t\n");
  if (start == std::string_view::npos) return {};
  text.remove_prefix(start);
  return text.substr(0, text.find_first_of(" \t\n"));
}

}  // namespace

CgroupPaths parse_proc_cgroup(std::string_view text) {
  // Lines are "hierarchy-ID:controller-list:cgroup-path"; v2 is "0::PATH".
  CgroupPaths paths;
  for_each_line(text, [&paths](std::string_view line) {
    const auto a = line.find(':');
    if (a == std::string_view::npos) return;
    const auto b = line.find(':', a + 1);
    if (b == std::string_view::npos) return;
    std::string_view controllers = line.substr(a + 1, b - a - 1);
    const std::string_view path = line.substr(b + 1);
    if (line.substr(0, a) == "0" && controllers.empty()) paths.v2 = path;
    while (!controllers.empty()) {
      const auto comma = controllers.find(',');
      if (controllers.substr(0, comma) == "memory") paths.v1_memory = path;
      controllers.remove_prefix(comma == std::string_view::npos ? controllers.size() : comma + 1);
    }
  });
  return paths;
}

std::optional<double> parse_cgroup_value(std::string_view text) {
  const std::string_view token = first_token(text);
  if (token.empty() || token == "max") return std::nullopt;  // "max": no limit
  double value = 0;
  const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (ec != std::errc() || ptr != token.data() + token.size()) return std::nullopt;
  // from_chars reads "nan", "inf" and "-1e300" too: no count of bytes (nor castable to one).
  if (!(value >= 0) || value >= kCgroupV1NoLimitBytes) return std::nullopt;
  return value;
}

std::optional<double> parse_cgroup_stat_field(std::string_view stat_text, std::string_view key) {
  std::optional<double> found;
  for_each_line(stat_text, [&](std::string_view line) {
    if (found) return;
    const auto space = line.find(' ');
    if (space == std::string_view::npos || line.substr(0, space) != key) return;
    double value = 0;
    const std::string_view rest = first_token(line.substr(space));
    if (std::from_chars(rest.data(), rest.data() + rest.size(), value).ec == std::errc()) {
      found = value;
    }
  });
  return found;
}

std::unique_ptr<CgroupSource> CgroupSource::discover(Pid pid, const fs::path& sys_root,
                                                     const fs::path& proc_root) {
  std::string text;
  int err = 0;
  const fs::path cgroup_file = proc_root / std::to_string(pid) / "cgroup";
  if (!read_whole_file(cgroup_file.c_str(), text, err)) return nullptr;
  const CgroupPaths paths = parse_proc_cgroup(text);
  if (!paths.v2.empty() && paths.v2 != "/") {
    for (const fs::path& root : {sys_root, sys_root / "unified"}) {
      const fs::path dir = root / paths.v2.substr(1);
      if (fs::exists(dir / "memory.current")) {
        return std::unique_ptr<CgroupSource>(new CgroupSource(dir, 2, paths.v2));
      }
    }
  }
  // The v1 root ("/") holds the whole host's memory, not the target's: no source, as for v2.
  if (!paths.v1_memory.empty() && paths.v1_memory != "/") {
    const fs::path dir = sys_root / "memory" / paths.v1_memory.substr(1);
    if (fs::exists(dir / "memory.usage_in_bytes")) {
      return std::unique_ptr<CgroupSource>(new CgroupSource(dir, 1, paths.v1_memory));
    }
  }
  return nullptr;
}

CgroupSource::CgroupSource(fs::path dir, int version, std::string cgroup_path)
    : dir_(std::move(dir)), version_(version), cgroup_path_(std::move(cgroup_path)) {
  const bool v2 = version_ == 2;
  events_file_ = dir_ / (v2 ? "memory.events" : "memory.oom_control");
  oom_kills_at_start_ = oom_kills();
  current_fd_ = open_read_only((dir_ / (v2 ? "memory.current" : "memory.usage_in_bytes")).c_str());
  limit_fd_ = open_read_only((dir_ / (v2 ? "memory.max" : "memory.limit_in_bytes")).c_str());
  stat_fd_ = open_read_only((dir_ / "memory.stat").c_str());
}

std::optional<double> CgroupSource::read_value(const UniqueFd& file) {
  int err = 0;
  if (!file || !pread_all(file.get(), buffer_, err)) return std::nullopt;
  return parse_cgroup_value(buffer_);
}

void CgroupSource::contribute(TickSink& sink) {
  const bool v2 = version_ == 2;
  const auto current = read_value(current_fd_);
  const auto limit = read_value(limit_fd_);
  if (calls_++ == 0) {
    char detail[512];
    std::snprintf(detail, sizeof detail, "cgroup v%d %s, memory limit %s", version_,
                  cgroup_path_.c_str(),
                  limit ? std::to_string(static_cast<long long>(*limit)).c_str() : "none");
    sink.event("cgroup", detail);
  }
  if (!current) return;  // the cgroup went away: a gap
  sink.metric(metric::cgroup_memory_bytes, *current);
  if (limit) sink.metric(metric::cgroup_limit_bytes, *limit);
  if ((calls_ - 1) % kCgroupStatEveryTicks != 0) return;
  int err = 0;
  if (!stat_fd_ || !pread_all(stat_fd_.get(), buffer_, err)) return;
  if (const auto anon = parse_cgroup_stat_field(buffer_, v2 ? "anon" : "total_rss")) {
    sink.metric(metric::cgroup_anon_bytes, *anon);
  }
  if (const auto file = parse_cgroup_stat_field(buffer_, v2 ? "file" : "total_cache")) {
    sink.metric(metric::cgroup_file_bytes, *file);
  }
}

std::optional<double> CgroupSource::oom_kills() {
  int err = 0;
  std::string text;
  if (!read_whole_file(events_file_.c_str(), text, err)) return std::nullopt;
  return parse_cgroup_stat_field(text, "oom_kill");
}

void CgroupSource::target_ended(nlohmann::json& event_fields) {
  const auto now = oom_kills();
  if (!now || !oom_kills_at_start_ || *now <= *oom_kills_at_start_) return;
  // The kernel's OOM killer ran in the target's cgroup during the run, and the target is gone.
  event_fields["oom_kill"] = true;
  event_fields["oom_kills"] = *now - *oom_kills_at_start_;
}

}  // namespace soak::sampler::detail
