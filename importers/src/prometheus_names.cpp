#include "soak/importers/prometheus_names.hpp"

#include <array>
#include <cctype>

#include "soak/log/metrics.hpp"

namespace soak::importers {

namespace {

namespace m = log::metric;

struct Entry {
  std::string_view soak;
  std::string_view name;
  PromType type;
  std::string_view unit;
  std::string_view help;
  double scale = 1;
};

constexpr PromType gauge = PromType::gauge;
constexpr PromType counter = PromType::counter;

/// Every metric soak itself writes, by name (docs/exporter.md has the same table).
constexpr std::array<Entry, 34> kTable = {{
    {m::rss_bytes, "soak_target_resident_memory_bytes", gauge, "bytes",
     "The target's resident memory (working set on Windows)."},
    {m::vms_bytes, "soak_target_virtual_memory_bytes", gauge, "bytes",
     "The target's virtual memory size."},
    {m::anon_bytes, "soak_target_anonymous_memory_bytes", gauge, "bytes",
     "The target's resident anonymous memory."},
    {m::private_bytes, "soak_target_private_memory_bytes", gauge, "bytes",
     "The target's private bytes (Windows commit charge)."},
    {m::pss_bytes, "soak_target_proportional_memory_bytes", gauge, "bytes",
     "The target's proportional set size (PSS): shared pages divided among their users."},
    {m::uss_bytes, "soak_target_unique_memory_bytes", gauge, "bytes",
     "The target's unique set size (USS): pages no other process maps."},
    {m::swap_bytes, "soak_target_swapped_memory_bytes", gauge, "bytes",
     "The target's memory swapped out."},
    {m::threads, "soak_target_threads", gauge, "", "The target's threads."},
    {m::fds, "soak_target_open_fds", gauge, "", "The target's open file descriptors."},
    {m::handles, "soak_target_open_handles", gauge, "", "The target's open handles (Windows)."},
    {m::gdi_objects, "soak_target_gdi_objects", gauge, "", "The target's GDI objects (Windows)."},
    {m::user_objects, "soak_target_user_objects", gauge, "",
     "The target's USER objects (Windows)."},
    {m::cpu_s, "soak_target_cpu_seconds_total", counter, "seconds",
     "The target's user and system CPU time."},
    {m::minor_faults, "soak_target_minor_page_faults_total", counter, "",
     "The target's minor page faults."},
    {m::major_faults, "soak_target_major_page_faults_total", counter, "",
     "The target's major page faults (read from disk)."},
    {m::children, "soak_target_child_processes", gauge, "", "The target's live descendants."},
    {m::children_rss_bytes, "soak_target_children_resident_memory_bytes", gauge, "bytes",
     "The resident memory of the target's descendants, summed."},
    {m::load_level, "soak_load_level", gauge, "",
     "The load asked for now: requests per second, or users (the scenario's shape)."},
    {m::load_sent_rps, "soak_load_sent_requests_per_second", gauge, "",
     "Requests sent per second over the last sampling interval."},
    {m::load_rps, "soak_load_answered_requests_per_second", gauge, "",
     "Requests answered per second over the last sampling interval."},
    {m::load_errors, "soak_load_interval_errors", gauge, "",
     "Requests that failed in the last sampling interval, every kind."},
    {m::load_p50_ms, "soak_load_latency_p50_seconds", gauge, "seconds",
     "Median latency of the requests answered in the last sampling interval.", 1e-3},
    {m::load_p95_ms, "soak_load_latency_p95_seconds", gauge, "seconds",
     "95th percentile latency over the last sampling interval.", 1e-3},
    {m::load_p99_ms, "soak_load_latency_p99_seconds", gauge, "seconds",
     "99th percentile latency over the last sampling interval.", 1e-3},
    {m::load_in_flight, "soak_load_in_flight_requests", gauge, "",
     "Requests sent and not yet answered."},
    {m::load_jobs_done, "soak_load_jobs_done_total", counter, "",
     "Jobs of the scenario that ended well."},
    {m::load_jobs_failed, "soak_load_jobs_failed_total", counter, "",
     "Jobs of the scenario that failed."},
    {m::load_job_s, "soak_load_job_duration_seconds", gauge, "seconds",
     "Mean duration of the jobs that ended in the last sampling interval."},
    {m::cgroup_memory_bytes, "soak_cgroup_memory_bytes", gauge, "bytes",
     "Memory charged to the target's cgroup."},
    {m::cgroup_limit_bytes, "soak_cgroup_memory_limit_bytes", gauge, "bytes",
     "The memory limit of the target's cgroup."},
    {m::cgroup_anon_bytes, "soak_cgroup_anonymous_memory_bytes", gauge, "bytes",
     "Anonymous memory charged to the target's cgroup."},
    {m::cgroup_file_bytes, "soak_cgroup_file_memory_bytes", gauge, "bytes",
     "File cache charged to the target's cgroup."},
    {"region.", "soak_target_region_resident_memory_bytes", gauge, "bytes",
     "The target's resident memory in one region of its address space (smaps)."},
    {m::load_errors_prefix, "soak_load_interval_errors_of_kind", gauge, "",
     "Requests that failed in the last sampling interval, by kind of failure."},
}};

/// The families whose members differ by a label, not a name: region.NAME, load.errors.KIND.
struct LabelledFamily {
  std::string_view prefix;
  std::string_view label;
};
constexpr std::array<LabelledFamily, 2> kLabelled = {
    {{m::region_prefix, "region"}, {m::load_errors_prefix, "kind"}}};

ExportedName from(const Entry& e) {
  ExportedName out;
  out.name = e.name;
  out.type = e.type;
  out.help = e.help;
  out.unit = e.unit;
  out.scale = e.scale;
  return out;
}

/// Where a name's unit part begins: before `_UNIT`, `_total` or `_UNIT_total`.
std::size_t unit_start(const ExportedName& e) {
  std::string_view name = e.name;
  if (e.type == PromType::counter && name.ends_with("_total")) name.remove_suffix(6);
  if (!e.unit.empty() && name.ends_with("_" + e.unit)) name.remove_suffix(e.unit.size() + 1);
  return name.size();
}

struct UnitSuffix {
  std::string_view soak;  ///< as a soak name ends
  std::string_view unit;  ///< the base unit it becomes
  double scale;
};
constexpr std::array<UnitSuffix, 6> kUnits = {{{"_bytes", "bytes", 1},
                                               {"_seconds", "seconds", 1},
                                               {"_s", "seconds", 1},
                                               {"_ms", "seconds", 1e-3},
                                               {"_us", "seconds", 1e-6},
                                               {"_ns", "seconds", 1e-9}}};

/// A name outside the table: the family's prefix, the rest sanitized, its unit in base units.
ExportedName by_rule(std::string_view soak_metric) {
  ExportedName out;
  std::string_view rest = soak_metric;
  std::string prefix = "soak_target_";
  std::string what = "The target's " + std::string(soak_metric);
  for (const auto& [family, replacement] :
       std::array<std::pair<std::string_view, std::string_view>, 3>{
           {{m::heap_prefix, "soak_probe_"},
            {m::load_prefix, "soak_load_"},
            {m::cgroup_prefix, "soak_cgroup_"}}}) {
    if (rest.starts_with(family)) {
      rest.remove_prefix(family.size());
      prefix = replacement;
      what = family == m::heap_prefix ? "The probe's " + std::string(soak_metric)
                                      : "soak's " + std::string(soak_metric);
    }
  }
  std::string name = sanitized_name(rest);
  for (const auto& u : kUnits) {
    if (name.size() > u.soak.size() && name.ends_with(u.soak)) {
      name.resize(name.size() - u.soak.size());
      name += "_" + std::string(u.unit);
      out.unit = u.unit;
      out.scale = u.scale;
      break;
    }
  }
  if (out.unit.empty() && name.ends_with("_total")) out.type = PromType::counter;
  out.name = prefix + name;
  out.help = what + (out.unit.empty() ? "." : " (" + out.unit + ").");
  return out;
}

/// Every exported name of the table, and of its checkpoint variants, with its soak name.
const std::map<std::string, std::string>& reverse_table() {
  static const std::map<std::string, std::string> table = [] {
    std::map<std::string, std::string> t;
    for (const Entry& e : kTable) {
      if (e.soak.ends_with('.')) continue;  // a labelled family
      const std::string soak(e.soak);
      t.emplace(std::string(e.name), soak);
      t.emplace(exported_name(soak + std::string(m::after_gc_suffix)).name,
                soak + std::string(m::after_gc_suffix));
    }
    return t;
  }();
  return table;
}

}  // namespace

const char* to_string(PromType type) {
  return type == PromType::counter ? "counter" : "gauge";
}

std::string sanitized_name(std::string_view text) {
  std::string out;
  bool lower_before = false;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) && u < 0x80) {
      if (std::isupper(u) && lower_before) out.push_back('_');
      out.push_back(static_cast<char>(std::tolower(u)));
      lower_before = std::islower(u) || std::isdigit(u);
    } else {
      if (!out.empty() && out.back() != '_') out.push_back('_');
      lower_before = false;
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.empty() ? "value" : out;
}

ExportedName exported_name(std::string_view soak_metric) {
  const std::string_view base = m::base_of(soak_metric);
  if (base.size() != soak_metric.size() && !base.empty()) {
    ExportedName e = exported_name(base);
    e.name.insert(unit_start(e), m::after_gc_suffix);
    e.help.insert(e.help.size() - 1, ", read after a forced collection (--gc-checkpoint)");
    return e;
  }
  for (const Entry& e : kTable) {
    if (e.soak == soak_metric) return from(e);
  }
  for (const LabelledFamily& f : kLabelled) {
    if (soak_metric.starts_with(f.prefix) && soak_metric.size() > f.prefix.size()) {
      for (const Entry& e : kTable) {
        if (e.soak != f.prefix) continue;
        ExportedName out = from(e);
        out.label = f.label;
        out.label_value = soak_metric.substr(f.prefix.size());
        return out;
      }
    }
  }
  return by_rule(soak_metric);
}

std::string growth_name(const ExportedName& metric) {
  return metric.name.substr(0, unit_start(metric)) + "_growth_" +
         (metric.unit.empty() ? "" : metric.unit + "_") + "per_second";
}

std::optional<std::string> soak_metric_of(const std::map<std::string, std::string>& labels) {
  const auto at = labels.find("__name__");
  if (at == labels.end()) return std::nullopt;
  const std::string& name = at->second;
  if (const auto known = reverse_table().find(name); known != reverse_table().end()) {
    return known->second;
  }
  for (const LabelledFamily& f : kLabelled) {
    const ExportedName family = exported_name(std::string(f.prefix) + "x");
    const auto value = labels.find(std::string(f.label));
    if (name == family.name && value != labels.end() && !value->second.empty()) {
      return std::string(f.prefix) + value->second;
    }
  }
  constexpr std::string_view probe = "soak_probe_";
  if (name.size() > probe.size() && name.starts_with(probe)) {
    std::string rest = name.substr(probe.size());
    if (rest.ends_with("_seconds")) rest.replace(rest.size() - 8, 8, "_s");  // soak's own suffix
    return std::string(m::heap_prefix) + rest;
  }
  return std::nullopt;
}

}  // namespace soak::importers
