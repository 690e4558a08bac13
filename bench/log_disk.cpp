// The disk a run's log takes, per interval and run length, with the log in segments
// (log/segments.hpp: closed segments compressed, those older than the full-rate window binned).
//
// Real values, not invented ones: the benchmark first records a real process at 1 ms with soak
// itself (`soak attach` on the leaky example for --record seconds, every sample kept), then
// replays those samples, in order and looping, through the log writer as if a run of the given
// length had been sampled at the given interval (log time, not wall time), with the defaults of
// soak run and attach (64 MiB segments, one hour at full rate). It prints, per case, the bytes
// the writer wrote (what the log took before segments), what is on disk at the end, and the
// ratio; then checks that the run directory reads back with every sample.
//
// Usage: log_disk BUILD_DIR [--record S] [--long] [--only MS]  (--long adds a day at 1 ms;
// --only runs the cases at that interval)

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "soak/log/log.hpp"
#include "soak/log/segments.hpp"

namespace fs = std::filesystem;

namespace {

struct Recorded {
  std::vector<std::vector<std::pair<std::string, double>>> samples;
  nlohmann::ordered_json header;
};

/// Records the leaky example at 1 ms for `seconds` with soak, keeping every sample.
Recorded record(const fs::path& build, const fs::path& dir, int seconds) {
  const fs::path out = dir / "recorded";
  const pid_t target = soak::bench::spawn(
      {(build / "examples" / "soak-example-leaky").string(), "--leak-mib-per-min", "20"},
      dir / "target.out");
  ::usleep(300000);
  const pid_t soak =
      soak::bench::spawn({(build / "cli" / "soak").string(), "attach", std::to_string(target),
                          "--interval", "1ms", "--duration", std::to_string(seconds) + "s",
                          "--full-rate-for", "all", "-q", "--out", out.string()},
                         dir / "soak.out");
  soak::bench::wait_exit(soak);
  ::kill(target, SIGKILL);
  soak::bench::wait_exit(target);
  Recorded r;
  for (const fs::path& file : soak::log::log_files(out / "samples.ndjson")) {
    const std::string text = file.extension() == ".gz"
                                 ? std::string()  // not expected: --full-rate-for all, 64 MiB
                                 : soak::bench::slurp(file);
    std::size_t at = 0;
    while (at < text.size()) {
      const std::size_t eol = text.find('\n', at);
      const std::string line = text.substr(at, eol - at);
      at = eol == std::string::npos ? text.size() : eol + 1;
      auto j = nlohmann::ordered_json::parse(line, nullptr, false);
      if (!j.is_object()) continue;
      if (j.value("type", "") == "header" && r.header.is_null()) r.header = j;
      if (j.value("type", "") != "sample") continue;
      std::vector<std::pair<std::string, double>> s;
      for (const auto& [k, v] : j.items()) {
        if (k != "t" && v.is_number()) s.emplace_back(k, v.get<double>());
      }
      r.samples.push_back(std::move(s));
    }
  }
  return r;
}

std::uint64_t directory_bytes(const fs::path& dir) {
  std::uint64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

void run_case(const Recorded& r, const fs::path& dir, double interval_s, double hours) {
  const fs::path out = dir / ("case-" + std::to_string(static_cast<int>(interval_s * 1000)) +
                              "ms-" + std::to_string(static_cast<int>(hours)) + "h");
  fs::create_directories(out);
  const auto n = static_cast<std::uint64_t>(hours * 3600 / interval_s);
  auto header = r.header;
  header["interval_s"] = interval_s;
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t written = 0;
  {
    soak::log::SampleWriter writer(
        out / "samples.ndjson", header,
        {soak::log::kDefaultSegmentBytes, soak::log::kDefaultSegmentSeconds,
         soak::log::kDefaultFullRateSeconds});
    for (std::uint64_t i = 0; i < n; ++i) {
      writer.begin_sample(static_cast<double>(i) * interval_s);
      for (const auto& [name, value] : r.samples[i % r.samples.size()]) writer.metric(name, value);
      writer.end_sample();
    }
    written = writer.bytes_written();
  }
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto on_disk = directory_bytes(out);
  const soak::log::RunLog back = soak::log::read_run_log(out);
  const auto binned =
      back.event_counts.count("log_binned") ? back.event_counts.at("log_binned") : 0;
  std::printf("%-8g %6g h %11llu %10.1f MiB %9.1f MiB %7.1fx %7.1f s %7zu  %s\n", interval_s * 1000,
              hours, static_cast<unsigned long long>(n), static_cast<double>(written) / 1048576.0,
              static_cast<double>(on_disk) / 1048576.0,
              static_cast<double>(written) / static_cast<double>(on_disk), took, binned,
              back.samples == n ? "reads back whole" : "READ BACK FEWER SAMPLES");
  std::fflush(stdout);
  fs::remove_all(out);
  if (back.samples != n) std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: log_disk BUILD_DIR [--record S] [--long]\n");
    return 3;
  }
  const fs::path build = argv[1];
  int seconds = 60;
  bool long_cases = false;
  double only_ms = 0;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--record" && i + 1 < argc) seconds = std::atoi(argv[++i]);
    if (a == "--long") long_cases = true;
    if (a == "--only" && i + 1 < argc) only_ms = std::atof(argv[++i]);
  }
  char pattern[] = "/tmp/soak-log-disk-XXXXXX";
  const fs::path dir = ::mkdtemp(pattern);
  const Recorded r = record(build, dir, seconds);
  std::printf("recorded %zu samples of the leaky example at 1 ms (%d s)\n", r.samples.size(),
              seconds);
  if (r.samples.empty()) return 1;
  std::printf("%-8s %8s %11s %14s %13s %8s %9s %7s\n", "interval", "run", "samples", "written",
              "on disk", "ratio", "took", "binned");
  std::printf("%-8s\n", "(ms)");
  for (const auto& [interval_s, hours] : std::vector<std::pair<double, double>>{
           {1.0, 24}, {0.1, 24}, {0.01, 24}, {0.001, 2}, {0.001, long_cases ? 24 : 0}}) {
    if (hours == 0 || (only_ms > 0 && std::abs(interval_s * 1000 - only_ms) > 1e-9)) continue;
    run_case(r, dir, interval_s, hours);
  }
  fs::remove_all(dir);
  return 0;
}
