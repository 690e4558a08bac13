// The Linux sources of soak::sampler through their private headers (sampler/src/linux/):
// the one /proc/PID/stat parser, the cgroup source and its parsers, the smaps regions. The
// platform-neutral behaviour is in sampler_test.cpp.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>

#include "linux/cgroup.hpp"
#include "linux/procfs.hpp"
#include "linux/smaps.hpp"
#include "soak/log/log.hpp"
#include "soak/sampler/memory_sources.hpp"
#include "support.hpp"

using namespace soak::sampler;
using namespace soak::sampler::detail;
using namespace soak::test;

TEST_CASE("a stat line whose process name holds spaces and parentheses parses after the last ')'") {
  StatFields f;
  REQUIRE(parse_stat(read_file(data_dir() / "stat_paren_name.txt"), f));
  CHECK(f.comm == "we ird) (name) )");
  CHECK(f.state == 'S');
  CHECK(f.ppid == 1);
  CHECK(f.minor_faults == 1520);
  CHECK(f.major_faults == 3);
  CHECK(f.utime_ticks == 17);
  CHECK(f.stime_ticks == 9);
  CHECK(f.threads == 7);
  CHECK(f.start_ticks == 424242);
  CHECK(f.vsize_bytes == 123456789);
  CHECK(f.rss_pages == 2048);
  CHECK_FALSE(parse_stat("12345 (truncated", f));
  CHECK_FALSE(parse_stat("12345 (x) S 1 2", f));
}

TEST_CASE("a whole file is read past the first page, and a missing one says why") {
  // /proc/self/smaps streams page by page: a short first read is not the end of it.
  std::string text;
  int err = 0;
  REQUIRE(read_whole_file("/proc/self/smaps", text, err));
  CHECK(text.size() > 4096);
  CHECK(text.back() == '\n');
  CHECK(text.find("[stack]") != std::string::npos);  // mappings from the last pages too
  CHECK_FALSE(read_whole_file("/no/such/file", text, err));
  CHECK(err == ENOENT);
  CHECK(text.empty());
}

namespace {

struct CollectingSink : TickSink {
  std::map<std::string, double> metrics;
  std::vector<std::string> events;
  void metric(std::string_view name, double value) override { metrics[std::string(name)] = value; }
  void event(std::string_view kind, std::string_view detail) override {
    events.push_back(std::string(kind) + ": " + std::string(detail));
  }
};

}  // namespace

TEST_CASE("cgroup v2 memory, limit, anon and file are read from the target's cgroup") {
  // A cgroup v2 tree laid out as the kernel does, in real files.
  TempDir root;
  fs::create_directories(root / "proc/4242");
  fs::create_directories(root / "sys/system.slice/app.service");
  std::ofstream(root / "proc/4242/cgroup") << "0::/system.slice/app.service\n";
  std::ofstream(root / "sys/system.slice/app.service/memory.current") << "104857600\n";
  std::ofstream(root / "sys/system.slice/app.service/memory.max") << "536870912\n";
  std::ofstream(root / "sys/system.slice/app.service/memory.stat")
      << "anon 73400320\nfile 31457280\nkernel 1048576\n";
  auto source = CgroupSource::discover(4242, root / "sys", root / "proc");
  REQUIRE(source);
  CHECK(source->version() == 2);
  CollectingSink sink;
  source->contribute(sink);
  CHECK(sink.metrics.at("cgroup.memory_bytes") == 104857600);
  CHECK(sink.metrics.at("cgroup.limit_bytes") == 536870912);
  CHECK(sink.metrics.at("cgroup.anon_bytes") == 73400320);
  CHECK(sink.metrics.at("cgroup.file_bytes") == 31457280);
  REQUIRE(sink.events.size() == 1);
  CHECK_THAT(sink.events[0],
             Catch::Contains("cgroup v2 /system.slice/app.service, memory limit 536870912"));
  // "max" means no limit: no limit metric rather than a made-up number.
  std::ofstream(root / "sys/system.slice/app.service/memory.max") << "max\n";
  CollectingSink again;
  source->contribute(again);
  CHECK(again.metrics.count("cgroup.limit_bytes") == 0);
  // The kernel's OOM killer in the cgroup during the run: the target's end says so.
  nlohmann::json quiet = nlohmann::json::object();
  source->target_ended(quiet);
  CHECK(quiet.empty());  // no memory.events: nothing known
  std::ofstream(root / "proc/4242/cgroup") << "0::/system.slice/app.service\n";
  std::ofstream(root / "sys/system.slice/app.service/memory.events")
      << "low 0\nhigh 0\nmax 12\noom 1\noom_kill 2\n";
  auto watched = CgroupSource::discover(4242, root / "sys", root / "proc");
  REQUIRE(watched);
  nlohmann::json none = nlohmann::json::object();
  watched->target_ended(none);
  CHECK(none.empty());  // no new kill since the start
  std::ofstream(root / "sys/system.slice/app.service/memory.events")
      << "low 0\nhigh 0\nmax 15\noom 2\noom_kill 3\n";
  nlohmann::json killed = nlohmann::json::object();
  watched->target_ended(killed);
  CHECK(killed["oom_kill"] == true);
  CHECK(killed["oom_kills"] == 1);
  // The root cgroup has no memory files of its own: no source.
  std::ofstream(root / "proc/4242/cgroup") << "0::/\n";
  CHECK_FALSE(CgroupSource::discover(4242, root / "sys", root / "proc"));
}

TEST_CASE("a cgroup v1 memory controller is read, and its root is not the target's cgroup") {
  TempDir root;
  fs::create_directories(root / "proc/4242");
  fs::create_directories(root / "sys/memory/docker/abc");
  std::ofstream(root / "sys/memory/memory.usage_in_bytes") << "8000000000\n";  // the host
  std::ofstream(root / "sys/memory/docker/abc/memory.usage_in_bytes") << "104857600\n";
  std::ofstream(root / "sys/memory/docker/abc/memory.limit_in_bytes") << "536870912\n";
  std::ofstream(root / "proc/4242/cgroup") << "4:memory:/docker/abc\n1:cpu,cpuacct:/docker/abc\n";
  auto source = CgroupSource::discover(4242, root / "sys", root / "proc");
  REQUIRE(source);
  CHECK(source->version() == 1);
  CollectingSink sink;
  source->contribute(sink);
  CHECK(sink.metrics.at("cgroup.memory_bytes") == 104857600);
  std::ofstream(root / "proc/4242/cgroup") << "4:memory:/\n1:cpu,cpuacct:/\n";
  CHECK_FALSE(CgroupSource::discover(4242, root / "sys", root / "proc"));
}

TEST_CASE("this machine's own cgroup is found and read, v1 or v2") {
  auto source = CgroupSource::discover(::getpid());
  if (!source) SOAK_SKIP("no memory cgroup of its own here (the root cgroup)");
  CollectingSink sink;
  source->contribute(sink);
  CHECK(sink.metrics.at("cgroup.memory_bytes") > 0);
}

// Found by fuzz/procfs.cpp: a mapping header cut short after its range ("1-2", no space)
// made the range's end pointer run past the text (UBSan: pointer overflow).
TEST_CASE("a mapping header without fields is an anonymous region, read within its line") {
  const auto regions = reduce_smaps("ffff-\nRss: 4 kB\n1-2\nRss: 8 kB\n");
  CHECK(regions == std::map<std::string, double>{{"anonymous", 12 * 1024}});
}

// Rss was read as a double: "nan" and "inf" were sizes, and a NaN broke the sort of the regions
// by size (no strict weak order).
TEST_CASE("an smaps Rss that is not a whole number of kB is not counted") {
  const auto regions =
      reduce_smaps("ffff-\nRss: nan kB\n1-2\nRss: inf kB\n3-4\nRss: -8 kB\n5-6\nRss: 8 kB\n");
  REQUIRE(regions.size() == 1);
  CHECK(regions.at("anonymous") == 8 * 1024);
}

TEST_CASE("smaps text reduces to regions: heap, stack, anonymous, shared, files") {
  const std::string smaps =
      "55d4c0a00000-55d4c0a21000 rw-p 00000000 00:00 0                          [heap]\n"
      "Size:                132 kB\nRss:                  96 kB\nPss:                  96 kB\n"
      "7f1c2a000000-7f1c2a100000 rw-p 00000000 00:00 0 \n"
      "Rss:                1024 kB\n"
      "7f1c2b000000-7f1c2b200000 r-xp 00000000 fd:01 1234                       "
      "/usr/lib/libfoo.so.1\n"
      "Rss:                 200 kB\n"
      "7f1c2c000000-7f1c2c100000 r--p 00200000 fd:01 1234                       "
      "/usr/lib/libfoo.so.1\n"
      "Rss:                  56 kB\n"
      "7f1c2d000000-7f1c2d100000 rw-s 00000000 00:05 99                         /dev/shm/pool\n"
      "Rss:                 512 kB\n"
      "7f1c2e000000-7f1c2e100000 rw-s 00000000 00:05 98                         /tmp/data file.bin "
      "(deleted)\n"
      "Rss:                 300 kB\n"
      "7ffd1a000000-7ffd1a021000 rw-p 00000000 00:00 0                          [stack]\n"
      "Rss:                  40 kB\n"
      "7ffd1b000000-7ffd1b002000 r-xp 00000000 00:00 0                          [vdso]\n"
      "Rss:                   4 kB\n";
  const auto regions = reduce_smaps(smaps);
  CHECK(regions.at("heap") == 96 * 1024);
  CHECK(regions.at("anonymous") == 1024 * 1024);
  CHECK(regions.at("file:/usr/lib/libfoo.so.1") == 256 * 1024);
  CHECK(regions.at("shared") == 512 * 1024);
  CHECK(regions.at("file:/tmp/data file.bin") == 300 * 1024);  // a path with a space, deleted
  CHECK(regions.at("stack") == 40 * 1024);
  CHECK(regions.at("kernel") == 4 * 1024);
  // A real process: the regions add up to its RSS (within the pages that moved meanwhile).
  // Thread stacks: a guard page directly below a read-write block.
  const auto stacks = reduce_smaps(
      "7f0000000000-7f0000001000 ---p 00000000 00:00 0 \nRss: 0 kB\n"
      "7f0000001000-7f0000801000 rw-p 00000000 00:00 0 \nRss: 16 kB\n"
      "7f1000000000-7f1000021000 rw-p 00000000 00:00 0 \nRss: 132 kB\n"  // an arena: rw first
      "7f1000021000-7f1004000000 ---p 00000000 00:00 0 \nRss: 0 kB\n");
  CHECK(stacks.at("thread_stacks") == 16 * 1024);
  CHECK(stacks.at("anonymous") == 132 * 1024);
  auto threaded = start_leaky({"--threads", "8"});
  const auto real = reduce_smaps(read_file("/proc/" + std::to_string(threaded->pid()) + "/smaps"));
  CHECK(real.count("thread_stacks") == 1);  // eight parked threads, each with its stack
  const auto self = reduce_smaps(read_file("/proc/self/smaps"));
  double total = 0;
  for (const auto& [name, bytes] : self) total += bytes;
  std::ifstream statm("/proc/self/statm");
  double size = 0, resident = 0;
  statm >> size >> resident;
  CHECK(total == Approx(resident * static_cast<double>(::sysconf(_SC_PAGESIZE))).epsilon(0.05));
}

TEST_CASE("smaps attribution names the heap for a malloc leak, the file for a mapped-file leak") {
  TempDir dir;
  // A malloc leak of small blocks: glibc serves them from the heap (brk) or, past its mmap
  // threshold, from anonymous mappings; both are "where malloc grows".
  const SoakResult malloc_run =
      run_soak({"run", "-d", "6s", "-i", "1s", "-q", "--out", (dir / "malloc").string(), "--",
                leaky_binary().string(), "--leak-mib-per-min", "300"});
  REQUIRE(malloc_run.exit_code <= 2);
  const auto malloc_verdict = nlohmann::json::parse(read_file(dir / "malloc" / "verdict.json"));
  REQUIRE_FALSE(malloc_verdict["regions_grown"].empty());
  const std::string top = malloc_verdict["regions_grown"][0]["region"];
  CHECK((top == "heap" || top == "anonymous"));
  CHECK(malloc_verdict["regions_grown"][0]["growth_bytes"].get<double>() > 15e6);

  // The example server maps 1 MiB more of one data file per finished job.
  std::ofstream(dir / "s.json") << nlohmann::json{
      {"target",
       {{"command", {server_binary().string(), "--port", "0", "--mmap-leak-per-job-kib", "1024"}},
        {"port_from_output", "listening on [0-9.]+:([0-9]+)"},
        {"ready", {{"http", "/health"}}}}},
      {"duration", "6s"},
      {"load",
       {{"model", "closed"},
        {"shape", {{"type", "constant"}, {"users", 2}}},
        {"jobs",
         {{"submit",
           {{"method", "POST"}, {"path", "/api/jobs"}, {"body", "{\"duration_ms\": 50}"}}},
          {"poll", {{"path", "/api/jobs/{id}"}, {"field", "/status"}}},
          {"interval", "20ms"}}}}}}.dump();
  const SoakResult mapped =
      run_soak({"run", (dir / "s.json").string(), "-q", "--out", (dir / "mapped").string()});
  REQUIRE(mapped.exit_code <= 2);
  const auto verdict = nlohmann::json::parse(read_file(dir / "mapped" / "verdict.json"));
  REQUIRE_FALSE(verdict["regions_grown"].empty());
  const std::string region = verdict["regions_grown"][0]["region"];
  CHECK_THAT(region,
             Catch::StartsWith("file:/tmp/soak-example-server-") && Catch::EndsWith(".data"));
  CHECK_THAT(read_file(dir / "mapped" / "report.html"), Catch::Contains("Where it grows"));
}

TEST_CASE("cgroup v1 memory files are read, and v1's huge no-limit value is no limit") {
  TempDir root;
  fs::create_directories(root / "proc/4242");
  fs::create_directories(root / "sys/memory/docker/abc");
  std::ofstream(root / "proc/4242/cgroup")
      << "5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n0::/\n";
  std::ofstream(root / "sys/memory/docker/abc/memory.usage_in_bytes") << "52428800\n";
  std::ofstream(root / "sys/memory/docker/abc/memory.limit_in_bytes") << "9223372036854771712\n";
  std::ofstream(root / "sys/memory/docker/abc/memory.stat")
      << "cache 1000\nrss 2000\ntotal_cache 4096\ntotal_rss 8192\n";
  auto source = CgroupSource::discover(4242, root / "sys", root / "proc");
  REQUIRE(source);
  CHECK(source->version() == 1);
  CollectingSink sink;
  source->contribute(sink);
  CHECK(sink.metrics.at("cgroup.memory_bytes") == 52428800);
  CHECK(sink.metrics.count("cgroup.limit_bytes") == 0);
  CHECK(sink.metrics.at("cgroup.anon_bytes") == 8192);
  CHECK(sink.metrics.at("cgroup.file_bytes") == 4096);
  REQUIRE(sink.events.size() == 1);
  CHECK_THAT(sink.events[0], Catch::Contains("cgroup v1 /docker/abc, memory limit none"));
  // The parsers on their own: a value file, and a key that is a prefix of another.
  CHECK(parse_cgroup_value(" 123\n") == 123.0);
  CHECK_FALSE(parse_cgroup_value("max\n").has_value());
  CHECK_FALSE(parse_cgroup_value("12x").has_value());
  CHECK_FALSE(parse_cgroup_value("").has_value());
  // from_chars reads these as doubles; no count of bytes, and the limit's event cast them.
  for (const char* not_bytes : {"nan", "-nan", "inf", "-1e300", "-1"}) {
    INFO(not_bytes);
    CHECK_FALSE(parse_cgroup_value(not_bytes).has_value());
  }
  CHECK(parse_cgroup_stat_field("anon_thp 5\nanon 7\n", "anon") == 7.0);
  CHECK_FALSE(parse_cgroup_stat_field("file 1\n", "anon").has_value());
}

TEST_CASE("the regions source logs region metrics of a real process on its last tick") {
  struct LastTickSink : CollectingSink {
    bool last_tick() const override { return true; }
  };
  auto target = start_leaky({"--threads", "4"});
  const auto source = make_regions_source(target->pid(), std::chrono::hours(1));
  REQUIRE(source);
  LastTickSink sink;
  source->contribute(sink);
  source->stop();
  CHECK(sink.metrics.count("region.thread_stacks") == 1);
  CHECK(sink.metrics.count("region.heap") + sink.metrics.count("region.anonymous") >= 1);
  for (const auto& [name, bytes] : sink.metrics) {
    INFO(name);
    CHECK(name.starts_with("region."));
    CHECK(bytes > 0);  // a region is listed because something of it is resident
  }
}

TEST_CASE("a file path that is not UTF-8 is escaped in the region name, and no sample is lost") {
  // The table case: each invalid byte becomes the text \xNN; valid UTF-8 (é) stays as it is.
  const std::string smaps =
      "7f1c2e000000-7f1c2e100000 rw-s 00000000 00:05 98   /tmp/bad\xff\xfeutf8 \xc3\xa9\n"
      "Rss:                 300 kB\n"
      "7f1c2f000000-7f1c2f100000 rw-s 00000000 00:05 97   /tmp/cut\xe2\x82\n"
      "Rss:                   4 kB\n"
      "7f1c30000000-7f1c30100000 rw-s 00000000 00:05 96   /tmp/overlong\xc0\xaf\xed\xa0\x80\n"
      "Rss:                   8 kB\n";
  const auto regions = reduce_smaps(smaps);
  CHECK(regions.at("file:/tmp/bad\\xff\\xfeutf8 \xc3\xa9") == 300 * 1024);
  CHECK(regions.at("file:/tmp/cut\\xe2\\x82") == 4 * 1024);
  CHECK(regions.at("file:/tmp/overlong\\xc0\\xaf\\xed\\xa0\\x80") == 8 * 1024);
  for (const auto& [name, bytes] : regions) {
    CHECK_NOTHROW(nlohmann::json{{name, bytes}}.dump());  // throws on invalid UTF-8
  }
  // A real target mapping such a file (repro 8): analyze drops no line, the region is there.
  TempDir dir;
  const std::string script =
      "import mmap,sys,time\n"
      "f=open(sys.argv[1].encode()+b'/bad\\xff\\xfeutf8','w+b'); f.write(b'x'*(1<<20)); f.flush()\n"
      "m=mmap.mmap(f.fileno(),1<<20); m[:]=b'y'*(1<<20)\n"
      "print('ready',flush=True); time.sleep(60)\n";
  { std::ofstream(dir / "map.py") << script; }
  Child target({"/usr/bin/python3", (dir / "map.py").string(), dir.path().string()});
  REQUIRE(target.wait_for_output("ready"));
  const SoakResult r = run_soak({"attach", std::to_string(target.pid()), "-d", "2s", "-i", "500ms",
                                 "-q", "--out", (dir / "run").string()});
  INFO(r.err);
  CHECK(r.exit_code == 2);
  const auto log = soak::log::read_run_log(dir / "run");
  CHECK(log.warnings.empty());  // no line skipped as malformed
  bool found = false;
  for (const auto& [name, series] : log.series) {
    found |= name.find("bad\\xff\\xfeutf8") != std::string::npos;
  }
  CHECK(found);
  const SoakResult analyzed = run_soak({"analyze", (dir / "run").string()});
  CHECK(analyzed.err.find("malformed") == std::string::npos);
}

TEST_CASE("smaps_rollup's text gives PSS, USS and swap in bytes, and other text no rollup") {
  namespace detail = soak::sampler::detail;
  const auto rollup = detail::parse_smaps_rollup(
      "55d5a8a3b000-7ffd1c3ef000 ---p 00000000 00:00 0    [rollup]\n"
      "Rss:               12004 kB\nPss:                8123 kB\nPss_Anon:   6000 kB\n"
      "Private_Clean:       100 kB\nPrivate_Dirty:      7000 kB\nPrivate_Hugetlb:  0 kB\n"
      "Swap:                 12 kB\n");
  REQUIRE(rollup.has_value());
  CHECK(rollup->pss_bytes == 8123u * 1024);
  CHECK(rollup->uss_bytes == 7100u * 1024);
  CHECK(rollup->swap_bytes == 12u * 1024);
  CHECK_FALSE(detail::parse_smaps_rollup("Rss: 12 kB\n").has_value());  // no Pss line
  CHECK_FALSE(detail::parse_smaps_rollup("").has_value());
  CHECK_FALSE(detail::parse_smaps_rollup("Pss: 99999999999999999999 kB\n").has_value());
  CHECK_FALSE(detail::parse_smaps_rollup("Pss: 36028797018963968 kB\n").has_value());  // 2^55
}
