// `soak analyze` of logs far longer than any series' capacity: peak memory bounded, time in
// proportion to the log's size, extremes exact. The logs are written here directly (as the
// writer writes its lines), not through soak, so that generating them costs seconds.

#include <sys/resource.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <charconv>
#include <cstdio>

#include "support.hpp"

using namespace soak::test;

namespace {

/// The peak RSS `soak analyze` may reach on any log, however long: the issue's bound.
// A sanitizer build's soak carries ASan's 256 MiB quarantine and its shadow (or TSan's) on
// top: the bound there only shows that memory does not follow the log's size.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr double kMaxPeakRssBytes = 700.0 * 1024 * 1024;
#else
constexpr double kMaxPeakRssBytes = 100.0 * 1024 * 1024;
#endif

/// What a generated log holds, to check the verdict against.
struct BigLog {
  std::size_t samples = 0;
  std::size_t events = 0;
  double max_rss = 0;
  double first_rss = 0;
};

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

/// A leaking target sampled every millisecond for `lines` lines: 9 of 10 lines samples of the
/// metrics an attach records, 1 of 10 a probe_failed event (a million-event log's worst case),
/// one RSS spike in the middle (the max an exact maximum must find), written in 4 MiB blocks.
BigLog write_big_log(const fs::path& path, std::size_t lines) {
  std::FILE* out = std::fopen(path.c_str(), "w");
  REQUIRE(out != nullptr);
  std::string block = R"({"type":"header","format":"soak-samples","version":1,"interval_s":0.001,)"
                      R"("mode":"attach","target":{"pid":4242,"name":"big"},)"
                      R"("host":{"mem_total_bytes":25000000000,"page_size":4096}})"
                      "\n";
  BigLog log;
  std::uint64_t state = 7;
  for (std::size_t i = 1; i < lines; ++i) {
    const std::int64_t t_us = static_cast<std::int64_t>(i) * 1000;  // 1 ms apart
    std::string t =
        std::to_string(t_us / 1000000) + "." + std::to_string(1000000 + t_us % 1000000).substr(1);
    if (i % 10 == 0) {
      block += R"({"type":"event","t":)" + t +
               R"(,"kind":"probe_failed","detail":"GET http://127.0.0.1:1/metrics: timeout"})"
               "\n";
      ++log.events;
    } else {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      const auto noise = static_cast<std::int64_t>((state >> 44) % 256) * 4096;
      std::int64_t rss = 200000000 + static_cast<std::int64_t>(i) * 400 + noise;
      if (i == lines / 2) rss += 300000000;  // a spike: one reading, exact in the max
      if (log.samples == 0) log.first_rss = static_cast<double>(rss);
      log.max_rss = std::max(log.max_rss, static_cast<double>(rss));
      ++log.samples;
      block += R"({"type":"sample","t":)" + t + R"(,"rss_bytes":)";
      append_int(block, rss);
      block += R"(,"vms_bytes":)";
      append_int(block, rss + 1200000000);
      block += R"(,"anon_bytes":)";
      append_int(block, rss - 20000000);
      block += R"(,"threads":24,"fds":64,"cpu_s":)";
      append_int(block, static_cast<std::int64_t>(i / 100));
      block += R"(,"minor_faults":)";
      append_int(block, static_cast<std::int64_t>(i * 3));
      block += ",\"major_faults\":3}\n";
    }
    if (block.size() > (std::size_t{4} << 20)) {
      REQUIRE(std::fwrite(block.data(), 1, block.size(), out) == block.size());
      block.clear();
    }
  }
  REQUIRE(std::fwrite(block.data(), 1, block.size(), out) == block.size());
  REQUIRE(std::fclose(out) == 0);
  return log;
}

struct Measured {
  int exit_code = -1;
  double peak_rss_bytes = 0;
  double wall_s = 0;
  nlohmann::json verdict;
};

/// Runs `soak analyze LOG --format json` and measures the child itself: its peak RSS from
/// wait4's rusage (ru_maxrss, KiB on Linux), its wall time.
Measured analyze_measured(const fs::path& log, const fs::path& out_file) {
  const std::string binary = soak_binary().string();
  const std::string log_arg = log.string();
  std::vector<char*> argv = {const_cast<char*>(binary.c_str()),  const_cast<char*>("analyze"),
                             const_cast<char*>(log_arg.c_str()), const_cast<char*>("--format"),
                             const_cast<char*>("json"),          nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(spawned == 0);
  int status = 0;
  struct rusage usage {};
  REQUIRE(::wait4(pid, &status, 0, &usage) == pid);
  Measured m;
  m.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  m.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  m.peak_rss_bytes = static_cast<double>(usage.ru_maxrss) * 1024;
  std::ifstream in(out_file);
  m.verdict = nlohmann::json::parse(in, nullptr, false);
  return m;
}

/// The verdict of a generated log says what was written: every sample counted, the spike's
/// exact maximum, the first reading, and the leak.
void check_verdict(const Measured& m, const BigLog& log) {
  INFO("exit " << m.exit_code << ", peak RSS " << m.peak_rss_bytes / 1048576 << " MiB, " << m.wall_s
               << " s");
  CHECK(m.exit_code == 1);  // it leaks 400 bytes a millisecond: 24 MB/min
  REQUIRE(m.verdict.is_object());
  CHECK(m.verdict["samples"] == log.samples);
  REQUIRE(m.verdict["metrics"].contains("rss_bytes"));
  const nlohmann::json* rss = &m.verdict["metrics"]["rss_bytes"];
  CHECK((*rss)["max"].get<double>() == log.max_rss);
  CHECK((*rss)["first"].get<double>() == log.first_rss);
  CHECK((*rss)["points"] == log.samples);
  CHECK((*rss)["classification"] == "leak");
  CHECK(m.peak_rss_bytes < kMaxPeakRssBytes);
}

}  // namespace

TEST_CASE("a million-line log is analyzed with a peak RSS under 100 MiB and exact extremes") {
  TempDir dir;
  const BigLog log = write_big_log(dir / "samples.ndjson", 1000000);
  const Measured m = analyze_measured(dir / "samples.ndjson", dir / "verdict.json");
  check_verdict(m, log);
  WARN("1M lines: " << m.wall_s << " s, peak RSS " << m.peak_rss_bytes / 1048576 << " MiB");
}

TEST_CASE("a ten-million-line log is analyzed in bounded memory and in time proportional to size",
          "[slow]") {
  TempDir dir;
  const BigLog small = write_big_log(dir / "small.ndjson", 1000000);
  const Measured one = analyze_measured(dir / "small.ndjson", dir / "small.json");
  check_verdict(one, small);
  fs::remove(dir / "small.ndjson");
  const BigLog big = write_big_log(dir / "big.ndjson", 10000000);
  const Measured ten = analyze_measured(dir / "big.ndjson", dir / "big.json");
  check_verdict(ten, big);
  // Ten times the lines: linear time is a ratio near 10 (less, as the start-up and the
  // bounded analysis are paid once). 15 leaves room for a machine shared with other builds;
  // a quadratic reader would be near 100.
  const double ratio = ten.wall_s / one.wall_s;
  INFO("1M: " << one.wall_s << " s, 10M: " << ten.wall_s << " s, ratio " << ratio);
  CHECK(ratio < 15);
  CHECK(ten.peak_rss_bytes < kMaxPeakRssBytes);
  WARN("10M lines: " << ten.wall_s << " s (1M: " << one.wall_s << " s), peak RSS "
                     << ten.peak_rss_bytes / 1048576 << " MiB");
}
