// Sampler benchmark: the cost of one sample of a target with 1,000 fds and 64 threads, for
// soak's reader, the bare syscall floor (statm + stat + fd count, nothing else), python3-psutil
// and ps, printed as ratios measured in the same run; then soak's own RSS after 1,000 and
// after 100,000 samples written through the real Sampler and SampleWriter.
//
// usage: sampler_bench PATH/TO/soak-example-leaky [--quick]

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "soak/log/log.hpp"
#include "soak/sampler/process.hpp"
#include "soak/sampler/sampler.hpp"

namespace {

using soak::bench::floor_sample;
using soak::bench::slurp;
using soak::bench::spawn;
using soak::bench::time_ns;
using soak::bench::wait_exit;

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

long self_rss_bytes() {
  std::ifstream in("/proc/self/statm");
  long size = 0, resident = 0;
  in >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: sampler_bench PATH/TO/soak-example-leaky [--quick]\n");
    return 3;
  }
  const bool quick = argc > 2 && std::string(argv[2]) == "--quick";
  const fs::path work = fs::temp_directory_path() / ("soak-bench-" + std::to_string(getpid()));
  fs::create_directories(work);
  const std::string ready_file = (work / "target.out").string();
  const pid_t target =
      spawn({argv[1], "--threads", "63", "--open-fds", "1000"}, ready_file.c_str());
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (slurp(ready_file).find("ready") == std::string::npos && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  soak::sampler::OpenResult opened = soak::sampler::ProcessReader::open(target);
  if (!opened.reader) {
    std::fprintf(stderr, "sampler_bench: cannot read the target\n");
    return 4;
  }
  soak::sampler::ProcessReader& reader = *opened.reader;
  const auto check = reader.read({true, true});
  std::printf("target: pid %d, %u threads, %u fds\n", target, check.snapshot.threads,
              check.snapshot.fds.value_or(0));

  const int rounds = 5;
  const int n = quick ? 2000 : 20000;
  const double soak_fast = time_ns(rounds, n, [&] { reader.read({}); });
  const double soak_detail = time_ns(rounds, n / 10, [&] { reader.read({true, true}); });
  // At the default 1 s interval the detail readings (smaps_rollup, descendants) come every
  // 10th tick (SamplerOptions::detail_period).
  const double soak_default = (9 * soak_fast + soak_detail) / 10;
  const double floor = time_ns(rounds, n, [&] { floor_sample(target); });

  // psutil at its best: oneshot() caches /proc/PID/stat between the calls of one sample.
  const std::string script = (work / "psutil_bench.py").string();
  std::ofstream(script) << "import psutil,sys,time\n"
                           "p=psutil.Process(int(sys.argv[1])); n=int(sys.argv[2])\n"
                           "def one():\n"
                           "  with p.oneshot():\n"
                           "    p.memory_info(); p.num_threads(); p.num_fds(); p.cpu_times()\n"
                           "for _ in range(n//10): one()\n"
                           "best=[]\n"
                           "for r in range(5):\n"
                           "  t=time.perf_counter()\n"
                           "  for _ in range(n): one()\n"
                           "  best.append((time.perf_counter()-t)/n*1e9)\n"
                           "best.sort(); print(best[2])\n";
  const std::string psutil_out = (work / "psutil.out").string();
  const pid_t py = spawn(
      {"/usr/bin/python3", script, std::to_string(target), std::to_string(quick ? 200 : 2000)},
      psutil_out.c_str());
  const double psutil_ns = wait_exit(py) == 0 ? std::atof(slurp(psutil_out).c_str()) : 0.0;

  const int ps_runs = quick ? 10 : 50;
  const std::string ps_out = (work / "ps.out").string();
  const double ps_ns = time_ns(3, ps_runs, [&] {
    wait_exit(spawn({"ps", "-o", "rss=,vsz=,nlwp=", "-p", std::to_string(target)}, ps_out.c_str()));
  });

  std::printf("\none sample of a target with 1,000 fds and 64 threads (median of %d rounds)\n",
              rounds);
  std::printf("  %-44s %10.1f us\n", "floor (statm + stat + fd count)", floor / 1000);
  std::printf("  %-44s %10.1f us   %5.2fx floor\n", "soak, every tick", soak_fast / 1000,
              soak_fast / floor);
  std::printf("  %-44s %10.1f us   %5.2fx floor\n", "soak, detail tick (+smaps_rollup, children)",
              soak_detail / 1000, soak_detail / floor);
  std::printf("  %-44s %10.1f us   %5.2fx floor\n", "soak, default 1s interval (amortized)",
              soak_default / 1000, soak_default / floor);
  if (psutil_ns > 0) {
    std::printf(
        "  %-44s %10.1f us   %5.2fx floor, %.1fx soak (every tick), %.1fx soak (amortized)\n",
        "python3-psutil (oneshot, num_fds)", psutil_ns / 1000, psutil_ns / floor,
        psutil_ns / soak_fast, psutil_ns / soak_default);
  } else {
    std::printf("  python3-psutil: not available (apt-get install python3-psutil)\n");
  }
  std::printf("  %-44s %10.1f us   %5.0fx soak (and no fd count)\n", "ps -o rss,vsz,nlwp",
              ps_ns / 1000, ps_ns / soak_fast);
  std::printf("  goals: soak <= 1.5x floor: %s; >= 10x cheaper than psutil: %s\n",
              soak_fast <= 1.5 * floor ? "met" : "NOT MET",
              psutil_ns >= 10 * soak_fast ? "met" : "NOT MET");

  // Own RSS while writing: the real Sampler and SampleWriter, 100,000 samples.
  {
    boost::asio::io_context io;
    nlohmann::ordered_json header = {
        {"type", "header"}, {"format", "soak-samples"}, {"version", 1}};
    soak::log::SampleWriter writer(work / "samples.ndjson", header);
    soak::sampler::OpenResult again = soak::sampler::ProcessReader::open(target);
    soak::sampler::Sampler sampler(io.get_executor(), std::move(again.reader), writer, {});
    const int total = quick ? 20000 : 100000;
    long rss_at_1000 = 0;
    for (int i = 1; i <= total; ++i) {
      sampler.tick_now();
      if (i == 1000) rss_at_1000 = self_rss_bytes();
    }
    const long rss_end = self_rss_bytes();
    std::printf(
        "\nsoak's own RSS: %.2f MiB after 1,000 samples, %.2f MiB after %d (%+.3f MiB); "
        "goal within 1 MiB: %s; log %.1f MiB\n",
        static_cast<double>(rss_at_1000) / 1048576.0, static_cast<double>(rss_end) / 1048576.0,
        total, static_cast<double>(rss_end - rss_at_1000) / 1048576.0,
        std::labs(rss_end - rss_at_1000) <= 1048576 ? "met" : "NOT MET",
        static_cast<double>(writer.bytes_written()) / 1048576.0);
  }

  ::kill(target, SIGKILL);
  wait_exit(target);
  fs::remove_all(work);
  return 0;
}
