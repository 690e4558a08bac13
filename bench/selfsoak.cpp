// Self-soak benchmark: soak's own cost over a long run, measured from outside through /proc.
//
// Cases (each for the given duration, run side by side so that a 24 h soak takes 24 h):
//   attach-10ms   `soak attach PID --interval 10ms` on a steady child (soak-example-leaky, no leak)
//   attach-1ms    the same at --interval 1ms
//   scenario      `soak run SCENARIO` with load: soak-example-server at 25 requests/s, 10ms
// Every --poll seconds it reads soak's RSS (statm) and CPU (utime + stime of all its threads,
// stat), the run directory's size, and the sample lines written so far. At the end of each case,
// on the same target, it times the syscall floor (statm + stat + fd count, as
// bench/sampler_bench.cpp defines it), python3-psutil and ps. It prints a table and, per case:
//   RSS after 1 min X MiB, at end Y MiB (flat within Z MiB); and its peak (VmHWM), which
//   catches what a poll misses: the once-a-minute interim analysis' transient growth
//   disk N MiB/h
//   CPU per sample R x floor (and ps, psutil as ratios to the same floor)
// Exit code: 0; 1 when a case did not run (soak failed to start or wrote no samples) or, with
// --fail-above-ratio R, when a case's CPU per sample is above R x floor (CI: gross regressions).
//
// usage: selfsoak --build DIR [--minutes M | --hours H] [--poll S] [--cases a,b,c]
//                 [--fail-above-ratio R] [--keep]

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_support.hpp"

namespace {

using soak::bench::floor_sample;
using soak::bench::slurp;
using soak::bench::time_ns;
using soak::bench::wait_exit;

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

/// A child with its stdout and stderr into `out_path`.
pid_t spawn(const std::vector<std::string>& argv, const fs::path& out_path,
            const fs::path& cwd = {}) {
  return soak::bench::spawn(argv, out_path, cwd, true);
}

constexpr double kMiB = 1048576.0;

bool exited(pid_t pid, int& code) {
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) != pid) return false;
  code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return true;
}

/// The paced floor: the floor sample on the same interval grid as soak, sleeping between ticks
/// (clock_nanosleep to absolute deadlines), for `duration_s`. Prints "SAMPLES CPU_S" (its own
/// user + system CPU). A sampler that sleeps pays each tick's reads with cold caches and a
/// wake-up; this is what the cheapest possible sampler pays per sample at that interval.
int run_paced_floor(pid_t target, double interval_s, double duration_s) {
  const auto step = std::chrono::nanoseconds(static_cast<long>(interval_s * 1e9));
  const auto start = Clock::now();
  const auto end = start + std::chrono::nanoseconds(static_cast<long>(duration_s * 1e9));
  auto deadline = start;
  unsigned long long samples = 0;
  while (deadline < end) {
    floor_sample(target);
    ++samples;
    deadline += step;
    std::this_thread::sleep_until(deadline);
  }
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  const double cpu_s = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  std::printf("%llu %.6f\n", samples, cpu_s);
  return 0;
}

struct ProcFigures {
  double rss_bytes = 0;
  double peak_rss_bytes = 0;  ///< VmHWM: catches a peak between two polls (an interim analysis)
  double cpu_s = 0;           ///< utime + stime of every thread
  bool ok = false;
};

ProcFigures read_proc(pid_t pid) {
  ProcFigures f;
  const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return f;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  std::vector<std::string> fields;
  while (in >> field) fields.push_back(field);
  if (fields.size() < 22) return f;
  // fields[0] is field 3 (state): utime is field 14, stime 15, rss (pages) 24.
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  f.cpu_s = (std::atof(fields[11].c_str()) + std::atof(fields[12].c_str())) / ticks;
  f.rss_bytes = std::atof(fields[21].c_str()) * static_cast<double>(sysconf(_SC_PAGESIZE));
  f.ok = fields[0] != "Z" && fields[0] != "X";
  const std::string status = slurp("/proc/" + std::to_string(pid) + "/status");
  if (const auto hwm = status.find("VmHWM:"); hwm != std::string::npos) {
    f.peak_rss_bytes = std::atof(status.c_str() + hwm + 6) * 1024;
  }
  return f;
}

double dir_bytes(const fs::path& dir) {
  double total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) total += static_cast<double>(it->file_size(size_ec));
  }
  return total;
}

/// Counts the sample lines appended to a log since the last call (reads only the new bytes).
class SampleCounter {
 public:
  SampleCounter() = default;
  SampleCounter(const SampleCounter&) = delete;
  SampleCounter& operator=(const SampleCounter&) = delete;
  SampleCounter(SampleCounter&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)),
        offset_(other.offset_),
        count_(other.count_),
        line_(std::move(other.line_)) {}
  ~SampleCounter() {
    if (fd_ >= 0) ::close(fd_);
  }
  /// Samples in the log so far. The log's active file is replaced when a segment closes
  /// (log/segments.hpp): the file followed is read to its end before the new one is taken.
  std::uint64_t update(const fs::path& log) {
    if (fd_ < 0) open(log);
    read_to_end();
    struct stat now {
    }, followed{};
    if (fd_ >= 0 && ::stat(log.c_str(), &now) == 0 && ::fstat(fd_, &followed) == 0 &&
        now.st_ino != followed.st_ino) {
      read_to_end();  // what was written before the segment closed
      ::close(fd_);
      fd_ = -1;
      open(log);
      read_to_end();
    }
    return count_;
  }

 private:
  void open(const fs::path& log) {
    fd_ = ::open(log.c_str(), O_RDONLY | O_CLOEXEC);
    offset_ = 0;
    line_.clear();
  }
  void read_to_end() {
    if (fd_ < 0) return;
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::pread(fd_, buf, sizeof buf, offset_);
      if (n <= 0) break;
      offset_ += n;
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] != '\n') {
          line_.push_back(buf[i]);
          continue;
        }
        if (line_.starts_with(R"({"type":"sample")")) ++count_;
        line_.clear();
      }
    }
  }

  int fd_ = -1;
  off_t offset_ = 0;
  std::uint64_t count_ = 0;
  std::string line_;
};

struct Row {
  double t_s, rss_bytes, peak_rss_bytes, disk_bytes, cpu_s;
  std::uint64_t samples;
};

struct Case {
  std::string name;
  double interval_s = 0.01;
  bool scenario = false;
  fs::path dir;      // this case's work folder
  fs::path run_dir;  // soak's --out
  pid_t target = -1, soak = -1;
  int soak_exit = -1;
  bool done = false;
  bool own_reference_target = false;  ///< started after the run to time the references on
  SampleCounter counter;
  std::vector<Row> rows;
  double floor_ns = 0, psutil_ns = 0, ps_ns = 0;
  pid_t paced = -1;           ///< the paced floor, beside soak on the same target
  double paced_floor_ns = 0;  ///< its CPU per sample
};

std::string interval_text(double s) {
  return std::to_string(static_cast<int>(s * 1000 + 0.5)) + "ms";
}

void write_scenario(const Case& c, const fs::path& server, double duration_s) {
  // The smoke example's shape, for the whole duration, sampled at the case's interval.
  std::ofstream(c.dir / "scenario.json")
      << R"({"name":"selfsoak","target":{"command":[")" << server.string()
      << R"J(","--port","0"],"port_from_output":"listening on [0-9.]+:([0-9]+)",)J"
      << R"("ready":{"http":"/health","timeout":"10s"}},"sampling":{"interval":")"
      << interval_text(c.interval_s) << R"("},"duration":")" << static_cast<long>(duration_s)
      << R"(s","load":{"model":"open","shape":{"rate":25},"requests":[)"
      << R"({"name":"items","method":"GET","path":"/api/items","weight":8},)"
      << R"({"name":"health","method":"GET","path":"/health","weight":1},)"
      << R"({"name":"perf","method":"GET","path":"/api/perf","weight":1}]}})";
}

pid_t child_of(pid_t parent) {
  const std::string text =
      slurp("/proc/" + std::to_string(parent) + "/task/" + std::to_string(parent) + "/children");
  return static_cast<pid_t>(std::atol(text.c_str()));
}

pid_t start_steady_target(const fs::path& build, const fs::path& out, double alive_s);

std::string self_path() {
  return fs::read_symlink("/proc/self/exe").string();
}

void start_case(Case& c, const fs::path& build, double duration_s) {
  fs::create_directories(c.dir);
  const std::string soak = (build / "cli" / "soak").string();
  const std::string duration = std::to_string(static_cast<long>(duration_s)) + "s";
  if (c.scenario) {
    write_scenario(c, build / "examples" / "soak-example-server", duration_s);
    c.soak = spawn(
        {soak, "run", (c.dir / "scenario.json").string(), "--out", c.run_dir.string(), "--quiet"},
        c.dir / "soak.out");
    return;  // the target is soak's child, found once it runs
  }
  // A steady target: no leak, a few threads and descriptors, alive past the run.
  c.target = start_steady_target(build, c.dir / "target.out", duration_s + 600);
  c.soak =
      spawn({soak, "attach", std::to_string(c.target), "--interval", interval_text(c.interval_s),
             "--duration", duration, "--out", c.run_dir.string(), "--quiet"},
            c.dir / "soak.out");
  c.paced = spawn({self_path(), "--paced-floor", std::to_string(c.target),
                   std::to_string(c.interval_s), std::to_string(duration_s)},
                  c.dir / "paced.out");
}

void poll_case(Case& c, double t_s, double duration_s) {
  if (c.done) return;
  if (exited(c.soak, c.soak_exit)) {
    c.done = true;
    return;
  }
  const ProcFigures f = read_proc(c.soak);
  if (!f.ok) return;
  if (c.scenario && c.target <= 0) {
    c.target = child_of(c.soak);
    if (c.target > 0 && duration_s - t_s > 1) {
      c.paced = spawn({self_path(), "--paced-floor", std::to_string(c.target),
                       std::to_string(c.interval_s), std::to_string(duration_s - t_s)},
                      c.dir / "paced.out");
    }
  }
  const std::uint64_t samples = c.counter.update(c.run_dir / "samples.ndjson");
  c.rows.push_back({t_s, f.rss_bytes, f.peak_rss_bytes, dir_bytes(c.run_dir), f.cpu_s, samples});
}

pid_t start_steady_target(const fs::path& build, const fs::path& out, double alive_s) {
  const pid_t pid = spawn({(build / "examples" / "soak-example-leaky").string(), "--threads", "8",
                           "--open-fds", "64", "--duration", std::to_string(alive_s)},
                          out);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (slurp(out).find("ready") == std::string::npos && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pid;
}

/// The floor, psutil and ps on this case's target, in the same run, after soak has ended.
/// A scenario's target ends with its run: a steady one of the attach cases' kind stands in.
void measure_references(Case& c, const fs::path& build, bool quick) {
  if (c.paced > 0 && wait_exit(c.paced) == 0) {
    double samples = 0, cpu_s = 0;
    if (std::sscanf(slurp(c.dir / "paced.out").c_str(), "%lf %lf", &samples, &cpu_s) == 2 &&
        samples > 0) {
      c.paced_floor_ns = cpu_s / samples * 1e9;
    }
  }
  if (c.target <= 0 || ::kill(c.target, 0) != 0) {
    c.target = start_steady_target(build, c.dir / "reference-target.out", 600);
    c.own_reference_target = true;
  }
  const int n = quick ? 2000 : 20000;
  c.floor_ns = time_ns(5, n, [&] { floor_sample(c.target); });
  const fs::path script = c.dir / "psutil_bench.py";
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
  const pid_t py = spawn({"/usr/bin/python3", script.string(), std::to_string(c.target),
                          std::to_string(quick ? 200 : 2000)},
                         c.dir / "psutil.out");
  c.psutil_ns = wait_exit(py) == 0 ? std::atof(slurp(c.dir / "psutil.out").c_str()) : 0.0;
  c.ps_ns = time_ns(3, quick ? 10 : 30, [&] {
    wait_exit(
        spawn({"ps", "-o", "rss=,vsz=,nlwp=", "-p", std::to_string(c.target)}, c.dir / "ps.out"));
  });
}

struct Summary {
  double rss_1min = 0, rss_end = 0, flat = 0, peak_1min = 0, peak_end = 0, disk_per_h = 0,
         cpu_per_sample_ns = 0;
  std::uint64_t samples = 0;
};

/// Figures of the sampling phase: rows up to the planned end (after it soak analyzes and
/// reports once, which is no per-sample cost).
Summary summarize(const Case& c, double duration_s) {
  Summary s;
  std::size_t end = 0;
  while (end < c.rows.size() && c.rows[end].t_s <= duration_s) ++end;
  if (end == 0) return s;
  const std::vector<Row> rows(c.rows.begin(), c.rows.begin() + static_cast<long>(end));
  const Row& last = rows.back();
  // "After the first minute": the first poll at or past 60 s, else the first poll.
  std::size_t from = 0;
  while (from + 1 < rows.size() && rows[from].t_s < 60) ++from;
  double lo = rows[from].rss_bytes, hi = lo;
  for (std::size_t i = from; i < rows.size(); ++i) {
    lo = std::min(lo, rows[i].rss_bytes);
    hi = std::max(hi, rows[i].rss_bytes);
  }
  s.rss_1min = rows[from].rss_bytes;
  s.peak_1min = rows[from].peak_rss_bytes;
  s.peak_end = last.peak_rss_bytes;
  s.rss_end = last.rss_bytes;
  s.flat = hi - lo;
  s.disk_per_h = last.t_s > 0 ? last.disk_bytes / last.t_s * 3600 : 0;
  s.samples = last.samples;
  s.cpu_per_sample_ns = last.samples > 0 ? last.cpu_s / static_cast<double>(last.samples) * 1e9 : 0;
  return s;
}

void print_table(const std::vector<Case>& cases) {
  std::printf("\n%-12s %9s %10s %10s %10s %12s %10s\n", "case", "t (s)", "RSS (MiB)", "peak (MiB)",
              "disk (MiB)", "samples", "CPU (s)");
  for (const Case& c : cases) {
    for (const Row& r : c.rows) {
      std::printf("%-12s %9.0f %10.2f %10.2f %10.2f %12llu %10.2f\n", c.name.c_str(), r.t_s,
                  r.rss_bytes / kMiB, r.peak_rss_bytes / kMiB, r.disk_bytes / kMiB,
                  static_cast<unsigned long long>(r.samples), r.cpu_s);
    }
  }
}

/// Prints each case's summary; returns false when a case failed or is grossly over the limit.
bool print_summaries(const std::vector<Case>& cases, double duration_s, double fail_above_ratio) {
  bool ok = true;
  std::printf("\n");
  for (const Case& c : cases) {
    const Summary s = summarize(c, duration_s);
    std::printf("%s (soak exit %d, %llu samples):\n", c.name.c_str(), c.soak_exit,
                static_cast<unsigned long long>(s.samples));
    if (s.samples == 0) {
      std::printf("  no samples written; see %s\n", (c.dir / "soak.out").c_str());
      ok = false;
      continue;
    }
    std::printf(
        "  RSS after 1 min %.2f MiB, at end %.2f MiB (flat within %.2f MiB); "
        "peak (VmHWM) %.2f MiB after 1 min, %.2f MiB at end\n",
        s.rss_1min / kMiB, s.rss_end / kMiB, s.flat / kMiB, s.peak_1min / kMiB, s.peak_end / kMiB);
    std::printf("  disk %.1f MiB/h\n", s.disk_per_h / kMiB);
    if (c.floor_ns <= 0) {
      std::printf("  CPU per sample %.1f us (no floor: the target was gone)\n",
                  s.cpu_per_sample_ns / 1000);
      continue;
    }
    // The goal's ratio is to the paced floor when there is one (same interval, same wake-ups);
    // the hot-loop floor (sampler_bench's) is printed beside it.
    const double hot_ratio = s.cpu_per_sample_ns / c.floor_ns;
    const double ratio = c.paced_floor_ns > 0 ? s.cpu_per_sample_ns / c.paced_floor_ns : hot_ratio;
    if (c.paced_floor_ns > 0) {
      std::printf(
          "  CPU per sample %.2f x floor (%.1f us; paced floor %.1f us, the same reads on "
          "the same %s grid; %.2f x the hot-loop floor of %.1f us)\n",
          ratio, s.cpu_per_sample_ns / 1000, c.paced_floor_ns / 1000,
          interval_text(c.interval_s).c_str(), hot_ratio, c.floor_ns / 1000);
    } else {
      std::printf(
          "  CPU per sample %.2f x floor (%.1f us; hot-loop floor %.1f us; no paced "
          "floor beside this case)\n",
          ratio, s.cpu_per_sample_ns / 1000, c.floor_ns / 1000);
    }
    std::printf("  references, per sample, hot loop: floor %.1f us, ps %.0f x floor",
                c.floor_ns / 1000, c.ps_ns / c.floor_ns);
    if (c.psutil_ns > 0) {
      std::printf(", psutil %.2f x floor\n", c.psutil_ns / c.floor_ns);
    } else {
      std::printf(", psutil not available\n");
    }
    if (fail_above_ratio > 0 && ratio > fail_above_ratio) {
      std::printf("  FAIL: above %.1f x floor\n", fail_above_ratio);
      ok = false;
    }
  }
  return ok;
}

struct Args {
  fs::path build = "build";
  double duration_s = 120;
  double poll_s = 5;  // "every few seconds"; VmHWM covers what falls between two polls
  std::vector<std::string> cases = {"attach-10ms", "attach-1ms", "scenario"};
  double fail_above_ratio = 0;
  bool keep = false;
};

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const bool has_value = i + 1 < argc;
    if (flag == "--keep") {
      a.keep = true;
    } else if (!has_value) {
      std::fprintf(stderr, "selfsoak: %s needs a value\n", flag.c_str());
      std::exit(3);
    } else if (flag == "--build") {
      a.build = argv[++i];
    } else if (flag == "--minutes") {
      a.duration_s = std::atof(argv[++i]) * 60;
    } else if (flag == "--hours") {
      a.duration_s = std::atof(argv[++i]) * 3600;
    } else if (flag == "--poll") {
      a.poll_s = std::atof(argv[++i]);
    } else if (flag == "--fail-above-ratio") {
      a.fail_above_ratio = std::atof(argv[++i]);
    } else if (flag == "--cases") {
      a.cases.clear();
      std::stringstream list(argv[++i]);
      for (std::string name; std::getline(list, name, ',');) a.cases.push_back(name);
    } else {
      std::fprintf(stderr,
                   "usage: selfsoak --build DIR [--minutes M | --hours H] [--poll S] "
                   "[--cases attach-10ms,attach-1ms,scenario] [--fail-above-ratio R] [--keep]\n");
      std::exit(3);
    }
  }
  if (a.duration_s < 1 || a.poll_s <= 0) {
    std::fprintf(stderr, "selfsoak: the duration must be at least 1 s and --poll positive\n");
    std::exit(3);
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--paced-floor") {
    return run_paced_floor(static_cast<pid_t>(std::atol(argv[2])), std::atof(argv[3]),
                           std::atof(argv[4]));
  }
  Args args = parse_args(argc, argv);
  args.build = fs::absolute(args.build);
  const fs::path work = fs::temp_directory_path() / ("soak-selfsoak-" + std::to_string(getpid()));
  std::vector<Case> cases;
  for (const std::string& name : args.cases) {
    Case c;
    c.name = name;
    c.scenario = name == "scenario";
    c.interval_s = name == "attach-1ms" ? 0.001 : 0.01;
    if (!c.scenario && name != "attach-1ms" && name != "attach-10ms") {
      std::fprintf(stderr, "selfsoak: unknown case %s\n", name.c_str());
      return 3;
    }
    c.dir = work / name;
    c.run_dir = c.dir / "run";
    cases.push_back(std::move(c));
  }
  std::printf("self-soak: %zu case(s) side by side for %.0f s each, polled every %.0f s; work %s\n",
              cases.size(), args.duration_s, args.poll_s, work.c_str());
  std::fflush(stdout);
  for (Case& c : cases) start_case(c, args.build, args.duration_s);

  const auto start = Clock::now();
  auto next_poll = start;
  while (std::any_of(cases.begin(), cases.end(), [](const Case& c) { return !c.done; })) {
    const double t_s = std::chrono::duration<double>(Clock::now() - start).count();
    for (Case& c : cases) poll_case(c, t_s, args.duration_s);
    next_poll += std::chrono::milliseconds(static_cast<long>(args.poll_s * 1000));
    // Near the planned end, poll every second so the last row is close to soak's last sample.
    const auto end = start + std::chrono::milliseconds(static_cast<long>(args.duration_s * 1000));
    const auto now = Clock::now();
    const auto soon = now >= end - std::chrono::seconds(static_cast<long>(args.poll_s) + 1)
                          ? now + std::chrono::seconds(1)
                          : next_poll;
    std::this_thread::sleep_until(std::min(next_poll, soon));
  }
  const bool quick = args.duration_s < 600;
  for (Case& c : cases) {
    measure_references(c, args.build, quick);
    if (c.target > 0 && (!c.scenario || c.own_reference_target)) {
      ::kill(c.target, SIGKILL);
      wait_exit(c.target);
    }
  }
  print_table(cases);
  const bool ok = print_summaries(cases, args.duration_s, args.fail_above_ratio);
  if (!args.keep) fs::remove_all(work);
  return ok ? 0 : 1;
}
