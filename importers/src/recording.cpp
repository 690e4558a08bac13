#include "soak/importers/recording.hpp"

#include <algorithm>
#include <array>
#include <boost/uuid/detail/sha1.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>

#include "readers.hpp"
#include "soak/importers/text.hpp"
#include "soak/log/header.hpp"
#include "soak/log/log.hpp"
#include "soak/log/metrics.hpp"
#include "soak/log/run_dir.hpp"

namespace soak::importers {

namespace fs = std::filesystem;

namespace {

constexpr std::array<std::pair<Format, std::string_view>, 6> kFormats = {{
    {Format::csv, "csv"},
    {Format::psrecord, "psrecord"},
    {Format::mprof, "mprof"},
    {Format::perfmon, "perfmon"},
    {Format::dotnet_counters, "dotnet-counters"},
    {Format::prometheus, "prometheus"},
}};

/// The largest file read: a year of 1 s samples of a few counters is ~1 GiB of CSV.
constexpr std::uintmax_t kMaxFileBytes = std::uintmax_t{2} << 30;

}  // namespace

std::string_view format_name(Format format) {
  for (const auto& [f, name] : kFormats) {
    if (f == format) return name;
  }
  return "csv";
}

std::optional<Format> parse_format(std::string_view name) {
  for (const auto& [f, n] : kFormats) {
    if (n == name) return f;
  }
  return std::nullopt;
}

std::string format_names() {
  std::string out;
  for (const auto& [f, name] : kFormats) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::size_t ImportedProcess::add_row(double t_s) {
  t.push_back(t_s);
  for (auto& column : columns) column.second.push_back(kMissing);
  return t.size() - 1;
}

void ImportedProcess::set(std::size_t row, std::string_view metric, double value) {
  auto it = columns.find(metric);
  if (it == columns.end()) {
    it = columns.emplace(std::string(metric), std::vector<double>(t.size(), kMissing)).first;
  }
  it->second[row] = value;
}

Recording parse(Format format, std::string_view text, const std::string& file,
                const ImportOptions& options) {
  switch (format) {
    case Format::csv:
      return readers::csv(text, file, options.csv);
    case Format::psrecord:
      return readers::psrecord(text, file);
    case Format::mprof:
      return readers::mprof(text, file);
    case Format::perfmon:
      return readers::perfmon(text, file);
    case Format::dotnet_counters:
      return readers::dotnet_counters(text, file);
    case Format::prometheus:
      return readers::prometheus(text, file);
  }
  return readers::csv(text, file, options.csv);
}

namespace {

std::string read_file(const fs::path& file) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) {
    throw ImportError("cannot read " + file.string() + ": " + ec.message() + "; check the path");
  }
  if (size > kMaxFileBytes) {
    throw ImportError(file.string() + " is " + std::to_string(size >> 20) +
                      " MiB, more than soak imports (2048 MiB); cut it to the window to judge");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ImportError("cannot read " + file.string() + "; check the path and permissions");
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::uintmax_t>(in.gcount()) != size) {
    throw ImportError("cannot read all of " + file.string() + "; it changed while being read");
  }
  return text;
}

std::string sha1_hex(std::string_view data) {
  boost::uuids::detail::sha1 sha;
  sha.process_bytes(data.data(), data.size());
  unsigned int digest[5];
  sha.get_digest(digest);
  char out[41];
  for (int i = 0; i < 5; ++i) std::snprintf(out + 8 * i, 9, "%08x", digest[i]);
  return out;
}

/// Sorts a process's rows by time (stably: equal stamps keep the file's order) and drops
/// columns that hold no value at all. Returns how many rows were out of order.
std::size_t tidy(ImportedProcess& p) {
  std::size_t out_of_order = 0;
  for (std::size_t i = 1; i < p.t.size(); ++i) out_of_order += p.t[i] < p.t[i - 1];
  if (out_of_order > 0) {
    std::vector<std::size_t> order(p.t.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return p.t[a] < p.t[b]; });
    auto permute = [&](std::vector<double>& v) {
      std::vector<double> sorted(v.size());
      for (std::size_t i = 0; i < order.size(); ++i) sorted[i] = v[order[i]];
      v = std::move(sorted);
    };
    permute(p.t);
    for (auto& [name, values] : p.columns) permute(values);
  }
  std::erase_if(p.columns, [](const auto& column) {
    return std::none_of(column.second.begin(), column.second.end(),
                        [](double v) { return !std::isnan(v); });
  });
  return out_of_order;
}

/// The series the run is judged by when there is no rss_bytes: the first memory series in
/// order of meaning, else the first series.
std::string judged_series(const Recording& r) {
  static constexpr std::array<std::string_view, 4> kPreferred = {
      "private_bytes", "heap.gc_heap_size_bytes", "heap.used_bytes", "vms_bytes"};
  bool has_rss = false;
  std::vector<std::string> names;
  for (const auto& p : r.processes) {
    for (const auto& [name, values] : p.columns) {
      has_rss |= name == log::metric::rss_bytes;
      names.push_back(name);
    }
  }
  if (has_rss || names.empty()) return "";
  for (const auto preferred : kPreferred) {
    if (std::find(names.begin(), names.end(), preferred) != names.end()) {
      return std::string(preferred);
    }
  }
  for (const auto& name : names) {
    if (name.ends_with("_bytes")) return name;
  }
  return names.front();
}

double median_step(const std::vector<double>& t) {
  std::vector<double> steps;
  for (std::size_t i = 1; i < t.size(); ++i) {
    if (t[i] > t[i - 1]) steps.push_back(t[i] - t[i - 1]);
  }
  if (steps.empty()) return 1;
  std::nth_element(steps.begin(), steps.begin() + static_cast<std::ptrdiff_t>(steps.size() / 2),
                   steps.end());
  return steps[steps.size() / 2];
}

/// The wall-clock start of a recording whose file has none: its mtime less its length.
double estimated_start(const fs::path& file, double length_s) {
  std::error_code ec;
  const auto mtime = fs::last_write_time(file, ec);
  if (ec) return 0;
  const auto sys = std::chrono::file_clock::to_sys(mtime);
  const double unix_s = std::chrono::duration<double>(sys.time_since_epoch()).count();
  return unix_s - length_s;
}

std::string target_name_of(const Recording& r, const fs::path& file) {
  if (r.processes.size() == 1 && !r.processes.front().name.empty()) {
    return r.processes.front().name;
  }
  return file.stem().string();
}

}  // namespace

ImportResult import_file(Format format, const fs::path& file, const std::optional<fs::path>& out,
                         const ImportOptions& options) {
  const std::string text = read_file(file);
  Recording rec = parse(format, text, file.string(), options);
  rec.format = format;
  std::size_t out_of_order = 0;
  double first_t = INFINITY, last_t = -INFINITY;
  for (auto& p : rec.processes) {
    out_of_order += tidy(p);
    if (!p.t.empty() && !p.columns.empty()) {
      first_t = std::min(first_t, p.t.front());
      last_t = std::max(last_t, p.t.back());
    }
  }
  std::erase_if(rec.processes, [](const ImportedProcess& p) { return p.columns.empty(); });
  if (rec.processes.empty()) {
    text::fail(file.string(), 0, 0,
               "no values to import: expected " + std::string(format_name(format)) +
                   " samples with numbers, found none; check the format named");
  }
  text::warn_count(rec.warnings, out_of_order, "samples out of time order were put in order");
  const bool several = rec.processes.size() > 1;
  if (several) {
    for (std::size_t i = 0; i < rec.processes.size(); ++i) {
      auto& p = rec.processes[i];
      if (p.key.empty()) p.key = p.name.empty() ? "series" + std::to_string(i + 1) : p.name;
    }
  } else {
    rec.processes.front().key.clear();
  }

  log::HeaderFields fields;
  const double length_s = last_t - first_t;
  const bool estimated = !rec.start_unix_s;
  fields.started_at =
      log::utc_iso(estimated ? estimated_start(file, length_s) : *rec.start_unix_s + first_t);
  fields.interval_s = median_step(rec.processes.front().t);
  fields.mode = "import";
  fields.soak_version = SOAK_VERSION;
  fields.target.name = target_name_of(rec, file);
  if (!several) {
    fields.target.pid = rec.processes.front().pid;
    fields.target.cmdline = rec.processes.front().cmdline;
  }
  nlohmann::ordered_json header = log::make_header(fields);
  log::ImportFacts facts;
  facts.format = format_name(format);
  facts.file = file.filename().string();
  facts.bytes = text.size();
  facts.sha1 = sha1_hex(text);
  facts.started_at_estimated = estimated;
  facts.measures = rec.measures;
  facts.judged_series = judged_series(rec);
  if (several) {
    for (const auto& p : rec.processes) {
      facts.processes[p.key] = {p.name.empty() ? p.key : p.name, p.pid, p.cmdline, p.labels};
    }
  }
  log::add_import(header, facts);

  ImportResult result;
  result.run_dir = log::create_run_dir(out, fields.target.name);
  result.log = result.run_dir / log::samples_file;
  result.processes = rec.processes.size();
  log::SampleWriter writer(result.log, header);
  // Every process's rows, merged in time order (the log is in time order).
  std::vector<std::size_t> next(rec.processes.size(), 0);
  while (true) {
    std::size_t pick = rec.processes.size();
    for (std::size_t k = 0; k < rec.processes.size(); ++k) {
      const auto& p = rec.processes[k];
      if (next[k] < p.t.size() &&
          (pick == rec.processes.size() || p.t[next[k]] < rec.processes[pick].t[next[pick]])) {
        pick = k;
      }
    }
    if (pick == rec.processes.size()) break;
    const ImportedProcess& p = rec.processes[pick];
    const std::size_t row = next[pick]++;
    bool any = false;
    for (const auto& [name, values] : p.columns) any |= !std::isnan(values[row]);
    if (!any) continue;
    writer.begin_sample(p.t[row] - first_t, p.key);
    for (const auto& [name, values] : p.columns) {
      if (!std::isnan(values[row])) writer.metric(name, values[row]);
    }
    if (!writer.end_sample()) {
      throw log::LogError("cannot write " + result.log.string() + ": " +
                          std::strerror(writer.error_number()));
    }
    ++result.samples;
  }
  writer.sync();
  result.warnings = std::move(rec.warnings);
  return result;
}

}  // namespace soak::importers
