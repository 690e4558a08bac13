// Analysis benchmark.
//  1. A 24 h, 1 Hz samples log (86,400 samples, every metric soak records) is read (streamed
//     into the bounded builder: 16384 points a series, the RSS binned by 8) and analyzed, all
//     metrics, end to end; beside the raw read of the same file (read(2) and a newline count,
//     what `wc -l` does), as a ratio, and against python3 + scipy doing only linregress +
//     kendalltau on the same file's RSS, as a ratio.
//  2. Detection delay: how long after a leak's onset the detector first calls it, for leaks of
//     1, 3 and 10 noise-sigma per hour under white noise, beside the statistical limit for the
//     same series (an OLS slope test that knew the onset and the noise, reaching z = 3), in
//     closed form and empirically, and the ratio of the two.
//
// usage: analysis_bench [--quick]

#include <fcntl.h>
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
#include "soak/judge/judge.hpp"
#include "soak/log/log.hpp"
#include "soak/log/unique_fd.hpp"
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

/// The reference for reading a log: read(2) in 1 MiB blocks and count the lines, as `wc -l`.
double raw_read_s(const fs::path& path, std::size_t* lines_out = nullptr) {
  const auto start = Clock::now();
  const soak::log::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::vector<char> block(std::size_t{1} << 20);
  std::size_t lines = 0;
  for (ssize_t n; (n = ::read(fd.get(), block.data(), block.size())) > 0;) {
    lines += static_cast<std::size_t>(std::count(block.data(), block.data() + n, '\n'));
  }
  if (lines_out) *lines_out = lines;
  return seconds_since(start);
}

double analyze_log(const fs::path& path, soak::analysis::Verdict* out = nullptr) {
  const auto start = Clock::now();
  // As `soak analyze` does it: the bounded read, then the one verdict path's input.
  const soak::log::RunLog log = soak::log::read_run_log(path);
  soak::analysis::Verdict v = soak::analysis::analyze(soak::judge::input_from_log(log));
  const double elapsed = seconds_since(start);
  if (out) *out = std::move(v);
  return elapsed;
}

// The detection-delay series: white noise of sigma around a flat level for an hour, then a
// leak of k sigma per hour, sampled every 10 s.
constexpr double kSigma = 1e6, kStepS = 10, kOnsetS = 3600, kHorizonS = 24 * 3600;
constexpr double kLimitZ = 3;  // the z a slope test must reach to call the leak

struct LeakSeries {
  std::vector<double> t, y;
};

/// The series of seed `seed` up to `horizon_s` after the onset; a shorter horizon gives the
/// same first points (the draws come in time order).
LeakSeries leak_series(double sigmas_per_hour, std::uint64_t seed, double horizon_s) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0, 1);
  const double slope = sigmas_per_hour * kSigma / 3600;
  LeakSeries s;
  for (double x = 0; x <= kOnsetS + horizon_s; x += kStepS) {
    s.t.push_back(x);
    s.y.push_back(200e6 + kSigma * gauss(rng) + (x > kOnsetS ? slope * (x - kOnsetS) : 0));
  }
  return s;
}

/// Minutes after onset at which the leak is first called (and NaN if never within 24 h).
double detection_delay_min(const LeakSeries& s) {
  for (double after = 5 * 60; after <= kHorizonS; after += after < 3 * 3600 ? 5 * 60 : 30 * 60) {
    const auto n = static_cast<std::size_t>((kOnsetS + after) / kStepS) + 1;
    const auto a =
        soak::analysis::classify_series(std::span(s.t).first(n), std::span(s.y).first(n), {});
    if (a.classification == soak::analysis::Classification::leak) return after / 60;
  }
  return NAN;
}

// The statistical limit: a slope test that knew the onset fits OLS to the m points after it,
// with the noise sigma known. Its slope has variance sigma^2 / Sxx, Sxx = step^2 m (m^2 - 1) / 12,
// so z = b sqrt(Sxx) / sigma; with T = m step, Sxx ~ T^3 / (12 step) and z reaches 3 at
//   T = (108 step sigma^2 / b^2)^(1/3),  b = k sigma / 3600 s:  T = (108 step 3600^2 / k^2)^(1/3).

/// The closed form above, in minutes.
double limit_closed_form_min(double sigmas_per_hour) {
  const double b = sigmas_per_hour * kSigma / 3600;
  return std::cbrt(12 * kLimitZ * kLimitZ * kStepS * kSigma * kSigma / (b * b)) / 60;
}

/// The same without the large-m approximation: the first m with z >= 3, as minutes m step.
double limit_discrete_min(double sigmas_per_hour) {
  const double b = sigmas_per_hour * kSigma / 3600;
  for (double m = 2;; ++m) {
    const double sxx = kStepS * kStepS * m * (m * m - 1) / 12;
    if (b * std::sqrt(sxx) / kSigma >= kLimitZ) return m * kStepS / 60;
  }
}

/// The oracle's z after each number of post-onset points m (index m - 1; m = 1 gives 0).
std::vector<double> oracle_z(const LeakSeries& s, std::size_t max_points) {
  std::vector<double> z;
  double st = 0, sy = 0, stt = 0, sty = 0, m = 0;
  for (std::size_t i = 0; i < s.t.size() && z.size() < max_points; ++i) {
    if (s.t[i] <= kOnsetS) continue;
    const double t = s.t[i] - kOnsetS, y = s.y[i] - 200e6;  // offsets keep the sums exact
    st += t;
    sy += y;
    stt += t * t;
    sty += t * y;
    m += 1;
    const double sxx = stt - st * st / m;
    z.push_back(sxx > 0 ? (sty - st * sy / m) / std::sqrt(sxx) / kSigma : 0.0);
  }
  return z;
}

struct EmpiricalLimit {
  double mean_z_min = NAN;                ///< when z averaged over the runs first reaches 3
  std::vector<double> first_passage_min;  ///< per run: when its own z first reaches 3
};

/// The oracle on `runs` series of the detection bench's generator (seeds 1..runs).
EmpiricalLimit empirical_limit(double sigmas_per_hour, std::uint64_t runs, double closed_min) {
  const double horizon_s = 4 * closed_min * 60;
  const auto max_points = static_cast<std::size_t>(horizon_s / kStepS);
  std::vector<double> mean_z(max_points, 0.0);
  EmpiricalLimit out;
  for (std::uint64_t seed = 1; seed <= runs; ++seed) {
    const std::vector<double> z =
        oracle_z(leak_series(sigmas_per_hour, seed, horizon_s), max_points);
    double first = NAN;
    for (std::size_t m = 0; m < z.size(); ++m) {
      mean_z[m] += z[m] / static_cast<double>(runs);
      if (std::isnan(first) && z[m] >= kLimitZ) first = static_cast<double>(m + 1) * kStepS / 60;
    }
    out.first_passage_min.push_back(first);
  }
  for (std::size_t m = 0; m < mean_z.size(); ++m) {
    if (mean_z[m] >= kLimitZ) {
      out.mean_z_min = static_cast<double>(m + 1) * kStepS / 60;
      break;
    }
  }
  return out;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
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
  std::vector<double> raw_times;
  std::size_t raw_lines = 0;
  for (int r = 0; r < 3; ++r) raw_times.push_back(raw_read_s(log_path, &raw_lines));
  std::sort(raw_times.begin(), raw_times.end());
  const double raw_s = raw_times[1];

  // Exact Theil-Sen alone on the raw RSS.
  const soak::log::RunLog log = soak::log::read_run_log(log_path);
  const auto& series = log.series.at("rss_bytes");
  const std::size_t series_points = series.size(), series_readings = series.readings;
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

  std::printf(
      "\nanalyze a %s 1 Hz log end to end (read + all %zu metrics, exact Theil-Sen on\n"
      "the RSS as read, %zu points for %zu readings)\n",
      quick ? "6 h" : "24 h", verdict.metrics.size(), series_points, series_readings);
  std::printf("  soak:                         %8.3f s   (goal < 0.2 s: %s)\n", soak_s,
              soak_s < 0.2 ? "met" : "NOT MET");
  std::printf("  raw read (wc -l), %zu lines: %8.3f s   ratio soak / raw read: %.1fx\n", raw_lines,
              raw_s, soak_s / raw_s);
  std::printf("  Theil-Sen, n = %d:         %8.3f s   slope %.2f B/s (leak 8333 B/s)\n",
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

  const std::uint64_t runs = quick ? 3 : 9, limit_runs = quick ? 200 : 1000;
  std::printf(
      "\ndetection delay after onset (white noise sigma, sampled every 10 s, 1 h flat before;\n"
      "soak asked every 5 min), beside the statistical limit: the time an OLS slope fitted\n"
      "after the known onset, noise sigma known, needs to reach z = 3.\n"
      "  closed: T = (108 step sigma^2 / b^2)^(1/3)   whole: the same in whole samples\n"
      "  mean z: when z averaged over %llu runs reaches 3 (the closed form, measured)\n"
      "  first:  median over soak's %llu runs of when each run's z first reaches 3 (optimistic:\n"
      "          looking after every sample without correcting for it)\n",
      static_cast<unsigned long long>(limit_runs), static_cast<unsigned long long>(runs));
  std::printf("  %-10s %-26s %-39s %s\n", "leak", "soak: median (range)",
              "limit: closed | whole | mean z | first", "soak / closed");
  for (double k : {1.0, 3.0, 10.0}) {
    std::vector<double> delays;
    for (std::uint64_t seed = 1; seed <= runs; ++seed) {
      delays.push_back(detection_delay_min(leak_series(k, seed, kHorizonS)));
    }
    int missed = 0;
    for (double d : delays) missed += std::isnan(d);
    std::sort(delays.begin(), delays.end());
    const double closed = limit_closed_form_min(k);
    const EmpiricalLimit own = empirical_limit(k, runs, closed);
    const EmpiricalLimit many = empirical_limit(k, limit_runs, closed);
    char soak_col[64], limit_col[64];
    std::snprintf(soak_col, sizeof soak_col, "%4.0f min (%.0f-%.0f)%s", delays[delays.size() / 2],
                  delays.front(), delays.back(), missed ? " some never" : "");
    std::snprintf(limit_col, sizeof limit_col, "%6.1f | %5.1f | %6.1f | %5.1f min", closed,
                  limit_discrete_min(k), many.mean_z_min, median_of(own.first_passage_min));
    std::printf("  %3.0f sig/h  %-26s %-39s %5.1fx\n", k, soak_col, limit_col,
                delays[delays.size() / 2] / closed);
  }
  if (std::getenv("SOAK_BENCH_KEEP") == nullptr) {
    fs::remove_all(dir);
  } else {
    std::printf("kept %s\n", log_path.c_str());
  }
  return 0;
}
