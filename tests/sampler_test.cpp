// Behaviour of soak::sampler against real processes: the example program, psutil as an
// independent reference, real PID reuse, real files.

#include "soak/sampler/sampler.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <cmath>
#include <ctime>
#include <fstream>

#include "soak/log/log.hpp"
#include "soak/sampler/duration.hpp"
#include "soak/sampler/launcher.hpp"
#include "soak/sampler/process.hpp"
#include "support.hpp"

using namespace soak::sampler;
using namespace soak::log;
using namespace soak::test;

namespace {

std::unique_ptr<ProcessReader> open_reader(Pid pid) {
  OpenResult opened = ProcessReader::open(pid);
  REQUIRE(opened.status == ReadStatus::ok);
  REQUIRE(opened.reader);
  return std::move(opened.reader);
}

nlohmann::ordered_json test_header(pid_t pid) {
  return {{"type", "header"},
          {"format", "soak-samples"},
          {"version", 1},
          {"interval_s", 0.1},
          {"target", {{"pid", pid}}}};
}

/// Samples `reader` with a real Sampler on an io_context until the run ends.
EndReason run_sampler(std::unique_ptr<ProcessReader> reader, SampleWriter& writer,
                      SamplerOptions options, Source* source = nullptr,
                      std::function<ExitInfo()> exit_info = {}) {
  boost::asio::io_context io;
  Sampler sampler(io.get_executor(), std::move(reader), writer, options);
  if (source) sampler.add_source(*source);
  if (exit_info) sampler.set_exit_info(std::move(exit_info));
  EndReason reason = EndReason::stopped;
  sampler.start([&](EndReason r) { reason = r; });
  io.run();
  return reason;
}

std::size_t count_entries(const fs::path& dir) {
  return static_cast<std::size_t>(
      std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

}  // namespace

TEST_CASE("durations parse with units and reject junk with a clear message") {
  using namespace std::chrono;
  CHECK(parse_duration("500ms") == milliseconds(500));
  CHECK(parse_duration("30s") == seconds(30));
  CHECK(parse_duration("10m") == minutes(10));
  CHECK(parse_duration("8h") == hours(8));
  CHECK(parse_duration("90") == seconds(90));
  CHECK(parse_duration("0.5") == milliseconds(500));
  CHECK(parse_duration("1ms") == milliseconds(1));
  for (const char* bad : {"", "fast", "10 m", "-5s", "5x", "s", "1e30h"}) {
    INFO(bad);
    CHECK_THROWS_WITH(parse_duration(bad), Catch::Contains("invalid duration"));
  }
}

TEST_CASE("every metric matches psutil and ps for an idle process") {
  // Idle target: 8 parked threads, 50 extra fds, 3 children, 20 MiB held. Nothing changes
  // between soak's reading and the reference's, so tolerances only cover page-granular noise.
  auto target =
      start_leaky({"--threads", "8", "--open-fds", "50", "--children", "3", "--hold-mib", "20"});
  REQUIRE(wait_until(
      [&] { return count_entries("/proc/" + std::to_string(target->pid()) + "/task") == 9; }));
  auto reader = open_reader(target->pid());
  // The children fork and finish their fork-time page faults at their own pace, and each one
  // moves the parent's PSS: wait until all three are there and the PSS has held still for ten
  // readings 10 ms apart.
  std::uint64_t last_pss = 0;
  int still = 0;
  REQUIRE(wait_until([&] {
    const ProcessSnapshot now = reader->read({true, true}).snapshot;
    const std::uint64_t pss = now.children == 3u ? now.pss_bytes.value_or(0) : 0;
    still = pss != 0 && pss == last_pss ? still + 1 : 0;
    last_pss = pss;
    return still >= 10;
  }));
  const ReadResult r = reader->read({true, true});
  REQUIRE(r.ok());
  const nlohmann::json ref = psutil_reading(target->pid());
  const ProcessSnapshot& s = r.snapshot;
  INFO("psutil: " << ref.dump());

  // RSS: the same kernel counters; 64 KiB covers a page or two touched between the reads.
  CHECK(std::llabs(static_cast<long long>(s.rss_bytes) - ref["rss"].get<long long>()) <= 65536);
  CHECK(s.rss_bytes >= 20u * 1024 * 1024);
  CHECK(std::llabs(static_cast<long long>(s.vms_bytes) - ref["vms"].get<long long>()) <= 65536);
  const long long ref_anon = ref["rss"].get<long long>() - ref["shared"].get<long long>();
  CHECK(std::llabs(static_cast<long long>(s.anon_bytes) - ref_anon) <= 65536);
  CHECK(s.threads == ref["threads"].get<unsigned>());
  CHECK(s.threads == 9);
  REQUIRE(s.fds.has_value());
  CHECK(*s.fds == ref["fds"].get<unsigned>());
  CHECK(*s.fds >= 53);
  CHECK(std::fabs(s.cpu_s - ref["cpu"].get<double>()) <= 0.02);  // two clock ticks
  REQUIRE(s.pss_bytes.has_value());
  // psutil sums /proc/PID/smaps, whose per-mapping kB figures are each rounded down; soak reads
  // smaps_rollup, rounded once. So the two may differ by up to 1 KiB per mapping (two for USS,
  // Private_Clean + Private_Dirty), besides the page or two touched between the reads.
  const long long mappings = static_cast<long long>(
      lines_of(read_file("/proc/" + std::to_string(target->pid()) + "/maps")).size());
  INFO("mappings: " << mappings);
  CHECK(std::llabs(static_cast<long long>(*s.pss_bytes) - ref["pss"].get<long long>()) <=
        65536 + 1024 * mappings);
  CHECK(std::llabs(static_cast<long long>(*s.uss_bytes) - ref["uss"].get<long long>()) <=
        65536 + 2048 * mappings);
  CHECK(*s.swap_bytes == ref["swap"].get<unsigned long long>());
  REQUIRE(s.children.has_value());
  CHECK(*s.children == 3);
  CHECK(*s.children == ref["children"].get<unsigned>());
  CHECK(std::llabs(static_cast<long long>(*s.children_rss_bytes) -
                   ref["children_rss"].get<long long>()) <= 3 * 65536);

  // Page faults against ps (psutil has no per-process fault counts on Linux).
  Child ps({"ps", "-o", "min_flt=,maj_flt=", "-p", std::to_string(target->pid())});
  REQUIRE(ps.wait_for(10s) == 0);
  std::istringstream ps_out(ps.out());
  unsigned long long min_flt = 0, maj_flt = 0;
  ps_out >> min_flt >> maj_flt;
  CHECK(min_flt >= s.minor_faults);
  CHECK(min_flt - s.minor_faults <= 64);  // the target is parked; only timer wake-ups fault
  CHECK(maj_flt == s.major_faults);
}

TEST_CASE("resident bytes grow while the child allocates") {
  TempDir dir;
  LaunchOptions launch;
  launch.argv = {leaky_binary().string(), "--leak-mib-per-min", "600", "--duration", "5"};
  LaunchedProcess target(launch);
  SampleWriter writer(dir / "samples.ndjson", test_header(target.pid()));
  SamplerOptions options;
  options.interval = 100ms;
  options.duration = 1500ms;
  CHECK(run_sampler(open_reader(target.pid()), writer, options) == EndReason::duration_elapsed);
  const RunLog log = read_run_log(dir.path());
  const Series& rss = log.series.at("rss_bytes");
  REQUIRE(rss.size() >= 12);
  // 600 MiB/min is 10 MiB/s; 1.5 s must add well over 8 MiB.
  CHECK(rss.value.back() - rss.value.front() >= 8.0 * 1024 * 1024);
  std::size_t rises = 0;
  for (std::size_t i = 1; i < rss.size(); ++i) rises += rss.value[i] > rss.value[i - 1];
  CHECK(rises >= rss.size() * 2 / 3);
  CHECK(log.series.at("anon_bytes").value.back() - log.series.at("anon_bytes").value.front() >=
        8.0 * 1024 * 1024);
}

TEST_CASE("leaked descriptors and threads are counted") {
  auto target = start_leaky({"--fd-leak-per-s", "20", "--thread-leak-per-s", "10"});
  auto reader = open_reader(target->pid());
  const ReadResult before = reader->read({});
  std::this_thread::sleep_for(1500ms);
  const ReadResult after = reader->read({});
  REQUIRE(before.ok());
  REQUIRE(after.ok());
  const std::string proc = "/proc/" + std::to_string(target->pid());
  // Independent count right after: listing the directories.
  const auto listed_fds = count_entries(proc + "/fd");
  const auto listed_threads = count_entries(proc + "/task");
  // 20 fds/s and 10 threads/s for 1.5 s: 30 and 15, give or take one 100 ms step (2 and 1).
  CHECK(*after.snapshot.fds - *before.snapshot.fds >= 26);
  CHECK(*after.snapshot.fds - *before.snapshot.fds <= 34);
  CHECK(after.snapshot.threads - before.snapshot.threads >= 13);
  CHECK(after.snapshot.threads - before.snapshot.threads <= 17);
  CHECK(listed_fds >= *after.snapshot.fds);
  CHECK(listed_fds - *after.snapshot.fds <= 2);
  CHECK(listed_threads >= after.snapshot.threads);
  CHECK(listed_threads - after.snapshot.threads <= 1);
}

TEST_CASE("children and grandchildren are counted and their RSS summed") {
  auto target = start_leaky({"--children", "2", "--child-leak-per-s", "5"});
  auto reader = open_reader(target->pid());
  const ReadResult first = reader->read({false, true});
  REQUIRE(first.ok());
  CHECK(*first.snapshot.children >= 2);
  std::this_thread::sleep_for(1200ms);
  const ReadResult later = reader->read({false, true});
  REQUIRE(later.ok());
  CHECK(*later.snapshot.children >= *first.snapshot.children + 4);
  CHECK(*later.snapshot.children_rss_bytes > *first.snapshot.children_rss_bytes);
  // A shell that runs a program that forks: the program is a grandchild of the shell.
  Child shell({"/bin/sh", "-c", leaky_binary().string() + " --children 3; true"});
  REQUIRE(wait_until([&] { return shell.out().find("ready") != std::string::npos; }));
  auto shell_reader = open_reader(shell.pid());
  REQUIRE(wait_until([&] { return *shell_reader->read({false, true}).snapshot.children == 4; }));
}

TEST_CASE("a cheap read leaves the costly metrics unmeasured, not zero") {
  auto target = start_leaky({"--children", "1"});
  auto reader = open_reader(target->pid());
  const ReadResult plain = reader->read({});
  REQUIRE(plain.ok());
  CHECK_FALSE(plain.snapshot.children.has_value());
  CHECK_FALSE(plain.snapshot.pss_bytes.has_value());
}

TEST_CASE("target exit is recorded as an event with its exit code") {
  TempDir dir;
  LaunchOptions launch;
  launch.argv = {leaky_binary().string(), "--duration", "0.6", "--exit-code", "7"};
  LaunchedProcess target(launch);
  SampleWriter writer(dir / "samples.ndjson", test_header(target.pid()));
  SamplerOptions options;
  options.interval = 50ms;
  const EndReason reason = run_sampler(open_reader(target.pid()), writer, options, nullptr,
                                       [&target] { return target.wait(); });
  CHECK(reason == EndReason::target_exited);
  const RunLog log = read_run_log(dir / "samples.ndjson");
  REQUIRE(log.events.size() == 2);
  CHECK(log.events[0].kind == "target_exited");
  CHECK(log.events[0].detail == "exit code 7");
  CHECK(log.events[0].fields["exit_code"] == 7);
  CHECK(log.events[1].kind == "run_ended");
  CHECK(log.samples >= 8);
  CHECK(log.events[0].t >= 0.55);
}

TEST_CASE("a reused PID is detected, never followed") {
  // Real PID reuse: the target is killed and reaped, then the kernel's next PID is set back
  // (ns_last_pid, root only) so that a new process is handed the same number.
  if (::geteuid() != 0) SOAK_SKIP("needs root to steer PID allocation; CI runs as root");
  auto first = std::make_unique<Child>(std::vector<std::string>{"sleep", "60"});
  const pid_t pid = first->pid();
  auto reader = open_reader(pid);
  REQUIRE(reader->read({}).ok());
  first.reset();  // SIGKILL and reap; the new process may even start in the same clock tick
  std::unique_ptr<Child> second;
  for (int attempt = 0; attempt < 50 && !second; ++attempt) {
    std::ofstream("/proc/sys/kernel/ns_last_pid") << (pid - 1);
    auto candidate = std::make_unique<Child>(std::vector<std::string>{"sleep", "60"});
    if (candidate->pid() == pid) second = std::move(candidate);
  }
  REQUIRE(second);
  REQUIRE(wait_until(
      [&] { return read_file("/proc/" + std::to_string(pid) + "/cmdline").find("sleep") == 0; }));
  const ReadResult r = reader->read({});
  CHECK(r.status == ReadStatus::pid_reused);

  // Through the sampler: the event is in the log and the run ends.
  TempDir dir;
  SampleWriter writer(dir / "samples.ndjson", test_header(pid));
  boost::asio::io_context io;
  Sampler sampler(io.get_executor(), std::move(reader), writer, SamplerOptions{});
  CHECK_FALSE(sampler.tick_now());
  const RunLog log = read_run_log(dir.path());
  REQUIRE_FALSE(log.events.empty());
  CHECK(log.events.front().kind == "pid_reused");
}

TEST_CASE("a slow source makes a late tick that is logged, and the grid does not drift") {
  struct SlowOnce : Source {
    int calls = 0;
    std::string_view name() const override { return "slow"; }
    void contribute(TickSink& sink) override {
      if (++calls == 5) std::this_thread::sleep_for(350ms);
      sink.metric("heap.slow_calls", calls);
    }
  } slow;
  auto target = start_leaky({});
  TempDir dir;
  SampleWriter writer(dir / "samples.ndjson", test_header(target->pid()));
  SamplerOptions options;
  options.interval = 100ms;
  options.duration = 2s;
  CHECK(run_sampler(open_reader(target->pid()), writer, options, &slow) ==
        EndReason::duration_elapsed);
  const RunLog log = read_run_log(dir.path());
  const auto late = std::find_if(log.events.begin(), log.events.end(),
                                 [](const LogEvent& e) { return e.kind == "late_tick"; });
  REQUIRE(late != log.events.end());
  CHECK(late->fields["skipped"].get<int>() >= 2);
  // After the stall, samples sit on the original grid: t = k * 0.1 s plus a small wake-up delay.
  const Series& rss = log.series.at("rss_bytes");
  std::vector<double> offsets;
  for (double t : rss.t) {
    if (t > 0.9) offsets.push_back(std::fmod(t + 1e-9, 0.1));
  }
  REQUIRE(offsets.size() >= 8);
  std::sort(offsets.begin(), offsets.end());
  CHECK(offsets[offsets.size() / 2] < 0.02);  // median wake-up within 20 ms of the deadline
  // The source's metric is in the log beside the process metrics.
  CHECK(log.series.at("heap.slow_calls").size() == rss.size());
  CHECK(rss.t.back() == Approx(2.0).margin(0.05));
}

TEST_CASE("the log reads back exactly what was written") {
  TempDir dir;
  {
    SampleWriter writer(dir / "samples.ndjson", test_header(42));
    for (int i = 0; i < 5; ++i) {
      writer.begin_sample(i * 0.5);
      writer.metric("rss_bytes", 1000.0 * i);
      writer.metric("cpu_s", 0.25 * i);
      writer.metric("not_a_number", NAN);
      REQUIRE(writer.end_sample());
    }
    REQUIRE(writer.event(2.5, "probe_timeout", "quote \" and \\ and \n newline", {{"n", 1}}));
  }
  const RunLog log = read_run_log(dir.path());
  CHECK(log.samples == 5);
  CHECK(log.warnings.empty());
  CHECK(log.series.at("rss_bytes").value == std::vector<double>{0, 1000, 2000, 3000, 4000});
  CHECK(log.series.at("cpu_s").t == std::vector<double>{0, 0.5, 1, 1.5, 2});
  CHECK(log.series.count("not_a_number") == 0);
  REQUIRE(log.events.size() == 1);
  CHECK(log.events[0].detail == "quote \" and \\ and \n newline");
  CHECK(log.events[0].fields["n"] == 1);
  CHECK(log.header["target"]["pid"] == 42);
}

TEST_CASE("a log cut mid-line still reads, with a warning") {
  // Recorded: the head of a real run's log, cut in the middle of its fifth sample line,
  // which is what a crash during a write leaves behind.
  const RunLog log = read_run_log(data_dir() / "torn.ndjson");
  CHECK(log.samples == 4);
  REQUIRE(log.warnings.size() == 1);
  CHECK_THAT(log.warnings[0], Catch::Contains("torn last line"));
  CHECK(log.series.at("rss_bytes").value.back() == 3956736);
}

TEST_CASE("a malformed line in the middle is skipped and counted") {
  TempDir dir;
  const std::string header = test_header(1).dump();
  std::ofstream(dir / "log.ndjson") << header << "\n"
                                    << R"({"type":"sample","t":0,"rss_bytes":1})"
                                    << "\n"
                                    << "garbage{\n"
                                    << R"({"type":"sample","t":1,"rss_bytes":2,"extra":{"x":1}})"
                                    << "\n";
  const RunLog log = read_run_log(dir / "log.ndjson");
  CHECK(log.samples == 2);
  CHECK(log.series.at("rss_bytes").value == std::vector<double>{1, 2});
  REQUIRE(log.warnings.size() == 1);
  CHECK_THAT(log.warnings[0], Catch::Contains("line 3"));
}

TEST_CASE("files that are not soak logs are refused with the file named") {
  TempDir dir;
  std::ofstream(dir / "empty.ndjson") << "";
  std::ofstream(dir / "other.json") << R"({"hello":"world"})"
                                    << "\n";
  CHECK_THROWS_WITH(read_run_log(dir / "empty.ndjson"), Catch::Contains("empty.ndjson"));
  CHECK_THROWS_WITH(read_run_log(dir / "other.json"), Catch::Contains("not a soak samples log"));
  CHECK_THROWS_WITH(read_run_log(dir / "missing"), Catch::Contains("no samples log"));
}

TEST_CASE("a launched command is the program itself and is stopped at the end") {
  LaunchOptions launch;
  launch.argv = {leaky_binary().string(), "--children", "2"};
  auto target = std::make_unique<LaunchedProcess>(launch);
  const pid_t pid = target->pid();
  REQUIRE(wait_until([&] { return open_reader(pid)->info().name == "soak-example-le"; }));
  const ExitInfo info = target->terminate(2000ms);
  CHECK(info.signal == SIGTERM);
  CHECK_FALSE(process_exists(pid));
  CHECK_THROWS_WITH(LaunchedProcess(LaunchOptions{{"/no/such/program"}, {}, {}, {}}),
                    Catch::Contains("cannot start '/no/such/program'"));
}

TEST_CASE("a target the reader cannot read ends the run with an event that names no platform") {
  // Any ProcessReader drives the sampler: here one that fails the way an unreadable target does.
  struct Unreadable : ProcessReader {
    ProcessInfo info_{{4242, 1}, "fake", {}, 0};
    const ProcessInfo& info() const override { return info_; }
    ReadResult read(ReadDetail) override { return {ReadStatus::io_error, EIO, {}, {}}; }
  };
  TempDir dir;
  SampleWriter writer(dir / "samples.ndjson", test_header(4242));
  const EndReason reason = run_sampler(std::make_unique<Unreadable>(), writer, SamplerOptions{});
  CHECK(reason == EndReason::target_unreadable);
  const RunLog log = read_run_log(dir / "samples.ndjson");
  REQUIRE_FALSE(log.events.empty());
  CHECK(log.events.front().kind == "target_unreadable");
  CHECK_THAT(log.events.front().detail,
             Catch::StartsWith("cannot read the target (pid 4242): i/o error ("));
  CHECK(log.events.front().detail.find("/proc") == std::string::npos);
  CHECK(log.samples == 0);
}

TEST_CASE("a zombie exists but is not running, and once reaped it does not exist") {
  LaunchOptions launch;
  launch.argv = {leaky_binary().string(), "--duration", "0.3"};
  LaunchedProcess target(launch);
  const Pid pid = target.pid();
  CHECK(process_running(pid));
  CHECK(process_exists(pid));
  // It ends on its own and stays a zombie until reaped: gone for process_running, not yet
  // for process_exists (nobody has reaped it, so its PID cannot have been reused).
  REQUIRE(wait_until([&] { return !process_running(pid); }));
  CHECK(process_exists(pid));
  CHECK(ProcessReader::open(pid).status == ReadStatus::exited);
  REQUIRE(target.try_reap());
  CHECK_FALSE(process_exists(pid));
  CHECK_FALSE(process_running(pid));
  CHECK_FALSE(process_running(0));
  CHECK_FALSE(process_exists(-1));
}

TEST_CASE("soak's own resident bytes and CPU seconds are read") {
  const SelfUsage before = read_self_usage();
  // statm's resident pages are the same kernel counter; 1 MiB covers what moved meanwhile.
  std::ifstream statm("/proc/self/statm");
  double size_pages = 0, resident_pages = 0;
  statm >> size_pages >> resident_pages;
  const double statm_bytes = resident_pages * static_cast<double>(::sysconf(_SC_PAGESIZE));
  CHECK(static_cast<double>(before.resident_bytes) == Approx(statm_bytes).margin(1048576));
  CHECK(before.resident_bytes > 1048576);
  // Burn 0.2 s of CPU (by the process's CPU clock, not the wall's: a loaded machine gives a
  // spinning thread less than its wall time): it shows at the kernel's clock-tick resolution.
  auto cpu_now = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  };
  const double cpu_until = cpu_now() + 0.2;
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  volatile std::uint64_t spin = 0;
  while (cpu_now() < cpu_until && std::chrono::steady_clock::now() < give_up) spin = spin + 1;
  const SelfUsage after = read_self_usage();
  CHECK(after.cpu_s >= before.cpu_s + 0.1);
}

TEST_CASE("a launched target's output is copied whole into its file, and kept under the cap") {
  TempDir dir;
  const fs::path output = dir / "target.log";
  {
    LaunchOptions launch;
    launch.argv = {"sh", "-c", "echo to-stdout; echo to-stderr >&2"};
    launch.output_file = output;
    LaunchedProcess target(launch);
    target.wait();
  }  // the keeper has copied everything once the LaunchedProcess is gone
  CHECK(read_file(output) == "to-stdout\nto-stderr\n");

  // 1 MiB of output against a 64 KiB cap: the file rotates, and what is kept is the newest.
  constexpr std::uint64_t kCap = 64 * 1024;
  {
    LaunchOptions launch;
    launch.argv = {
        "sh", "-c",
        "i=0; while [ $i -lt 16384 ]; do echo "
        "line-$i-of-output-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done; echo END"};
    launch.output_file = output;
    launch.output_file_cap_bytes = kCap;
    LaunchedProcess target(launch);
    REQUIRE(target.wait().exit_code == 0);
  }
  const std::string kept = read_file(output);
  const std::string older = read_file(dir / "target.log.1");
  CHECK(kept.size() <= kCap + 200);  // the cap, plus the one-line note at the top
  CHECK(older.size() <= kCap + 200);
  CHECK(older.size() > kCap / 2);
  CHECK_THAT(kept, Catch::StartsWith("[soak: the target's earlier output is in target.log.1"));
  CHECK_THAT(
      kept, Catch::EndsWith("line-16383-of-output-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nEND\n"));
  CHECK(fs::file_size(output) + fs::file_size(dir / "target.log.1") < 3 * kCap);
}

TEST_CASE("what a launched target started in its group ends with it when soak stops it") {
  TempDir dir;
  const fs::path output = dir / "target.log";
  pid_t grandchild = 0;
  {
    LaunchOptions launch;
    launch.argv = {"sh", "-c", "sleep 300 & echo child $!; wait"};
    launch.output_file = output;
    LaunchedProcess target(launch);
    REQUIRE(wait_until([&] { return read_file(output).find('\n') != std::string::npos; }));
    grandchild = static_cast<pid_t>(std::stol(read_file(output).substr(6)));
    REQUIRE(process_running(grandchild));
  }
  CHECK(wait_until([&] { return !process_running(grandchild); }, std::chrono::seconds(5)));
}
