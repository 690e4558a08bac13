// Analysis benchmark.
//  1. A 24 h, 1 Hz samples log (86,400 samples, every metric soak records) is parsed and
//     analyzed, all metrics, exact Theil-Sen on the raw RSS; against python3 + scipy doing
//     only linregress + kendalltau on the same file's RSS. Printed as a ratio.
//  2. Detection delay: how long after a leak's onset the detector first calls it, for leaks of
//     1, 3 and 10 noise-sigma per hour under white noise.
//
// usage: analysis_bench [--quick]

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "soak/analysis/classify.hpp"
#include "soak/analysis/theil_sen.hpp"
#include "soak/analysis/verdict.hpp"
#include "soak/log/log.hpp"
#include "soak/report/html.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// A day of a service that leaks 0.5 MB/min under a 40 MB allocator sawtooth.
void write_day_log(const fs::path& path, int samples) {
  nlohmann::ordered_json header = {
      {"type", "header"},
      {"format", "soak-samples"},
      {"version", 1},
      {"interval_s", 1.0},
      {"target", {{"pid", 1}, {"name", "bench"}, {"cmdline", {"bench"}}}},
      {"host", {{"mem_total_bytes", 25e9}, {"page_size", 4096}}}};
  soak::log::SampleWriter writer(path, header);
  std::mt19937_64 rng(42);
  std::normal_distribution<double> gauss(0, 1);
  double cpu = 0, minflt = 0;
  for (int i = 0; i < samples; ++i) {
    const double t = i;
    const double saw = 40e6 * std::fmod(t / 300.0, 1.0);
    const double rss = std::round((300e6 + 0.5e6 / 60 * t + saw + 1e6 * gauss(rng)) / 4096) * 4096;
    cpu += 0.01 + 0.001 * std::fabs(gauss(rng));
    minflt += 10;
    writer.begin_sample(t);
    writer.metric("rss_bytes", rss);
    writer.metric("vms_bytes", rss + 1.2e9);
    writer.metric("anon_bytes", rss - 20e6);
    writer.metric("threads", 24);
    writer.metric("fds", 64 + (i % 600 < 300 ? 1 : 0));
    writer.metric("cpu_s", cpu);
    writer.metric("minor_faults", minflt);
    writer.metric("major_faults", 3);
    if (i % 10 == 0) {
      writer.metric("pss_bytes", rss - 5e6);
      writer.metric("uss_bytes", rss - 10e6);
      writer.metric("swap_bytes", 0);
      writer.metric("children", 2);
      writer.metric("children_rss_bytes", 8e6);
    }
    writer.end_sample();
  }
}

double analyze_log(const fs::path& path, soak::analysis::Verdict* out = nullptr) {
  const auto start = Clock::now();
  const soak::log::RunLog log = soak::log::read_run_log(path);
  soak::analysis::RunInput input;
  input.samples = log.samples;
  input.duration_s = log.last_t - log.first_t;
  for (const auto& [name, s] : log.series) input.series.push_back({name, s.t, s.value});
  soak::analysis::Verdict v = soak::analysis::analyze(input);
  const double elapsed = seconds_since(start);
  if (out) *out = std::move(v);
  return elapsed;
}

/// Minutes after onset at which the leak is first called (and NaN if never within `horizon`).
double detection_delay_min(double sigmas_per_hour, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0, 1);
  const double sigma = 1e6, step = 10, onset = 3600, horizon = 24 * 3600;
  const double slope = sigmas_per_hour * sigma / 3600;
  std::vector<double> t, y;
  for (double x = 0; x <= onset + horizon; x += step) {
    t.push_back(x);
    y.push_back(200e6 + sigma * gauss(rng) + (x > onset ? slope * (x - onset) : 0));
  }
  for (double after = 5 * 60; after <= horizon; after += after < 3 * 3600 ? 5 * 60 : 30 * 60) {
    const auto n = static_cast<std::size_t>((onset + after) / step) + 1;
    const auto a =
        soak::analysis::classify_series(std::span(t).first(n), std::span(y).first(n), {});
    if (a.classification == soak::analysis::Classification::leak) return after / 60;
  }
  return NAN;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  const int samples = quick ? 21600 : 86400;
  const fs::path dir =
      fs::temp_directory_path() / ("soak-analysis-bench-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path log_path = dir / "samples.ndjson";
  write_day_log(log_path, samples);
  std::printf("log: %d samples (%s at 1 Hz), %.1f MiB\n", samples, quick ? "6 h" : "24 h",
              static_cast<double>(fs::file_size(log_path)) / 1048576.0);

  soak::analysis::Verdict verdict;
  std::vector<double> times;
  for (int r = 0; r < 3; ++r) times.push_back(analyze_log(log_path, &verdict));
  std::sort(times.begin(), times.end());
  const double soak_s = times[1];
  const auto* rss = verdict.find("rss_bytes");

  // Exact Theil-Sen alone on the raw RSS.
  const soak::log::RunLog log = soak::log::read_run_log(log_path);
  const auto& series = log.series.at("rss_bytes");
  auto ts_start = Clock::now();
  const double ts = soak::analysis::theil_sen_slope(series.t, series.value);
  const double ts_s = seconds_since(ts_start);

  const fs::path script = dir / "scipy_bench.py";
  std::ofstream(script) << "import json,sys,time\nfrom scipy import stats\n"
                           "t0=time.perf_counter(); t=[]; y=[]\n"
                           "with open(sys.argv[1]) as f:\n"
                           "  next(f)\n"
                           "  for line in f:\n"
                           "    d=json.loads(line)\n"
                           "    if d.get('type')=='sample' and 'rss_bytes' in d:\n"
                           "      t.append(d['t']); y.append(d['rss_bytes'])\n"
                           "t1=time.perf_counter()\n"
                           "stats.linregress(t,y); stats.kendalltau(t,y)\n"
                           "t2=time.perf_counter()\n"
                           "print(t2-t0, t2-t1)\n";
  const std::string cmd = "/usr/bin/python3 " + script.string() + " " + log_path.string();
  double scipy_total = NAN, scipy_compute = NAN;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    if (std::fscanf(p, "%lf %lf", &scipy_total, &scipy_compute) != 2) scipy_total = NAN;
    pclose(p);
  }

  std::printf("\nanalyze a %s 1 Hz log (parse + all %zu metrics, exact Theil-Sen on raw RSS)\n",
              quick ? "6 h" : "24 h", verdict.metrics.size());
  std::printf("  soak:                         %8.3f s   (goal < 0.2 s: %s)\n", soak_s,
              soak_s < 0.2 ? "met" : "NOT MET");
  std::printf("  exact Theil-Sen, n = %d:   %8.3f s   slope %.2f B/s (leak 8333 B/s)\n",
              static_cast<int>(series.size()), ts_s, ts);
  if (std::isfinite(scipy_total)) {
    std::printf(
        "  python3 + scipy (RSS only):   %8.3f s   (parse + linregress + kendalltau; "
        "%.3f s of it in scipy)\n",
        scipy_total, scipy_compute);
    std::printf("  ratio scipy / soak:           %8.1fx\n", scipy_total / soak_s);
  }
  if (rss && rss->analysis) {
    std::printf("  verdict %s; rss_bytes %s at %.2f MB/min [%.2f, %.2f] (true 0.50)\n",
                soak::analysis::to_string(verdict.verdict),
                soak::analysis::to_string(rss->analysis->classification),
                rss->analysis->growth_per_s * 60 / 1e6, rss->analysis->ci_low_per_s * 60 / 1e6,
                rss->analysis->ci_high_per_s * 60 / 1e6);
  }

  // The report of the same day: render time and size.
  {
    soak::report::ReportInput in(verdict);
    in.header = log.header;
    in.log_path = log_path.string();
    for (const auto& [name, s] : log.series) in.series.push_back({name, s.t, s.value});
    for (const auto& e : log.events) in.events.push_back({e.t, e.kind, e.detail});
    std::vector<double> render_times;
    std::string html;
    for (int r = 0; r < 3; ++r) {
      const auto start = Clock::now();
      html = soak::report::render_html(in);
      render_times.push_back(seconds_since(start));
    }
    std::sort(render_times.begin(), render_times.end());
    std::printf(
        "\nreport of the %s log: rendered in %.3f s (goal < 1 s: %s), %.2f MiB "
        "(goal < 2 MB: %s)\n",
        quick ? "6 h" : "24 h", render_times[1], render_times[1] < 1 ? "met" : "NOT MET",
        static_cast<double>(html.size()) / 1048576.0, html.size() < 2000000 ? "met" : "NOT MET");
  }

  std::printf(
      "\ndetection delay after onset (white noise sigma, sampled every 10 s, 1 h flat before)\n");
  for (double k : {1.0, 3.0, 10.0}) {
    std::vector<double> delays;
    for (std::uint64_t seed = 1; seed <= (quick ? 3u : 9u); ++seed) {
      delays.push_back(detection_delay_min(k, seed));
    }
    std::sort(delays.begin(), delays.end());
    int missed = 0;
    for (double d : delays) missed += std::isnan(d);
    std::printf("  %4.0f sigma/h: median %6.0f min (min %.0f, max %.0f) over %zu runs%s\n", k,
                delays[delays.size() / 2], delays.front(), delays.back(), delays.size(),
                missed ? " (some never called within 24 h)" : "");
  }
  if (std::getenv("SOAK_BENCH_KEEP") == nullptr) {
    fs::remove_all(dir);
  } else {
    std::printf("kept %s\n", log_path.c_str());
  }
  return 0;
}
