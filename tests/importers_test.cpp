// soak import: other tools' recordings become runs that the one verdict path judges. Each
// format is read from a file written the way its tool writes it; then imported with the real
// binary and analyzed as a user would.

#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <sstream>

#include "importers_support.hpp"

using namespace soak::test;

namespace {

/// A CSV with an epoch-seconds time column, RSS in KiB and a thread count: `kib_per_min` of
/// growth under 300 KiB of noise, every 5 s for 100 min (seed fixed).
std::string rss_csv(double kib_per_min, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, 300);
  std::ostringstream out;
  out << "timestamp,RSS (KiB),threads\n";
  for (int i = 0; i < 1200; ++i) {
    const double t = i * 5.0;
    out << 1764000000 + i * 5 << "," << std::llround(200000 + kib_per_min * t / 60 + noise(rng))
        << ",12\n";
  }
  return out.str();
}

}  // namespace

TEST_CASE("a CSV of RSS in KiB with epoch seconds imports as bytes and its leak fails the run") {
  TempDir dir;
  write_text(dir / "leak.csv", rss_csv(12 * 1024, 7));  // 12 MiB/min: over the 10 MB/min tier
  const Imported r =
      import_and_analyze("csv", dir / "leak.csv", dir,
                         {"--metric", "rss_bytes=RSS (KiB):KiB", "--metric", "threads=threads"});
  REQUIRE(r.import.exit_code == 0);
  CHECK(r.header["mode"] == "import");
  CHECK(r.header["import"]["format"] == "csv");
  CHECK(r.header["import"]["file"] == "leak.csv");
  CHECK(r.header["import"]["sha1"].get<std::string>().size() == 40);
  CHECK(r.header["started_at"] == "2025-11-24T16:00:00Z");  // 1764000000
  CHECK(r.header["interval_s"] == 5.0);
  CHECK(r.analyze.exit_code == 1);
  CHECK(classification(r.verdict, "rss_bytes") == "leak");
  CHECK(classification(r.verdict, "threads") == "steady");
  const double per_min = r.verdict["metrics"]["rss_bytes"]["growth_per_min"];
  CHECK(per_min == Approx(12 * 1024 * 1024.0).epsilon(0.02));  // the KiB scale applied
}

TEST_CASE("a flat CSV with ISO 8601 stamps, a semicolon separator and blanks passes") {
  TempDir dir;
  std::mt19937 rng(11);
  std::normal_distribution<double> noise(0, 1e6);
  std::ostringstream csv;
  csv << "time;rss_bytes;note\n";
  for (int i = 0; i < 1800; ++i) {
    char stamp[40];
    std::snprintf(stamp, sizeof stamp, "2026-12-01T%02d:%02d:%02d.500+01:00", 10 + i / 3600,
                  i / 60 % 60, i % 60);
    csv << stamp << ";";
    if (i % 97 != 0) csv << std::llround(300e6 + noise(rng));  // a blank now and then
    csv << ";x\n";
  }
  write_text(dir / "flat.csv", csv.str());
  const Imported r = import_and_analyze("csv", dir / "flat.csv", dir);
  REQUIRE(r.import.exit_code == 0);
  CHECK(r.header["started_at"] == "2026-12-01T09:00:00Z");  // +01:00 taken off, fraction cut
  CHECK(r.analyze.exit_code == 0);
  CHECK(classification(r.verdict, "rss_bytes") == "steady");
  CHECK(r.verdict["samples"] == 1800 - 19);  // rows whose only value was blank hold no sample
}

TEST_CASE("a CSV in elapsed seconds without rss_bytes is judged by its memory column") {
  TempDir dir;
  std::ostringstream csv;
  csv << "elapsed,heap_mb\n";
  for (int i = 0; i < 600; ++i)
    csv << i * 2 << "," << 100 + i * 0.5 + (i % 7) * 0.01 << "\n";  // 15 MB/min
  write_text(dir / "heap.csv", csv.str());
  const Imported r =
      import_and_analyze("csv", dir / "heap.csv", dir, {"--metric", "heap.used_bytes=heap_mb:MB"});
  REQUIRE(r.import.exit_code == 0);
  CHECK(r.header["import"]["started_at_estimated"] == true);
  CHECK(r.header["import"]["judged_series"] == "heap.used_bytes");
  CHECK(classification(r.verdict, "heap.used_bytes") == "leak");
  CHECK(r.verdict["judged_metric"] == "heap.used_bytes");
  CHECK(r.analyze.exit_code != 0);
}

TEST_CASE("bad CSV files give one line naming the problem and exit 3, and write no run") {
  TempDir dir;
  struct Case {
    std::string name, text;
    std::vector<std::string> flags;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"no-time.csv", "value,other\nabc,1\ndef,2\n", {}, "no usable time stamps"},
      {"blanks.csv", "t,rss\n1,\n2,\n3,\n", {}, "no values to import"},
      {"only-header.csv", "t,rss\n", {}, "expected samples after the header row"},
      {"empty.csv", "", {}, "empty"},
      {"mapped.csv", "t,rss\n1,2\n", {"--metric", "rss_bytes=RES:KiB"}, "no column \"RES\""},
      {"unit.csv", "t,rss\n1,2\n", {"--metric", "rss_bytes=rss:furlongs"}, "unknown unit"},
      {"timecol.csv", "t,rss\n1,2\n", {"--time-column", "when"}, "no time column \"when\""},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    write_text(dir / c.name, c.text);
    const Imported r = import_and_analyze("csv", dir / c.name, dir, c.flags, c.name + ".run");
    CHECK(r.import.exit_code == 3);
    CHECK(lines_of(r.import.err).size() == 1);
    CHECK(r.import.err.find(c.says) != std::string::npos);
    CHECK(r.import.err.find(c.name) != std::string::npos);
    CHECK_FALSE(fs::exists(r.run));
  }
  const Imported unknown = import_and_analyze("excel", dir / "empty.csv", dir, {}, "x.run");
  CHECK(unknown.import.exit_code == 3);
  CHECK(unknown.import.err.find("unknown format 'excel'") != std::string::npos);
  const Imported missing = import_and_analyze("csv", dir / "nope.csv", dir, {}, "y.run");
  CHECK(missing.import.exit_code == 3);
  CHECK(lines_of(missing.import.err).size() == 1);
}

TEST_CASE("a CSV time stamp past the year 9999 is a bad time, never a start time") {
  TempDir dir;
  // 1e300 epoch seconds was the start, cast to time_t for the header's started_at.
  std::string text = "t,rss\n1e300,5\n";
  for (int i = 0; i < 60; ++i) text += std::to_string(1764000000 + i) + ",100\n";
  write_text(dir / "huge.csv", text);
  const Imported r = import_and_analyze("csv", dir / "huge.csv", dir, {"--time-format", "epoch-s"});
  REQUIRE(r.import.exit_code == 0);
  CHECK(r.header["started_at"] == "2025-11-24T16:00:00Z");
  CHECK(r.verdict["samples"] == 60);
  write_text(dir / "elapsed.csv", "t,rss\n0,5\n1e300,6\n1,7\n2,8\n");
  const Imported e =
      import_and_analyze("csv", dir / "elapsed.csv", dir, {"--time-format", "elapsed-s"}, "e");
  REQUIRE(e.import.exit_code == 0);
  CHECK(e.header["started_at"] != "out of range");
  CHECK(e.verdict["samples"] == 3);
}

TEST_CASE("an import never overwrites a recorded run") {
  TempDir dir;
  write_text(dir / "a.csv", rss_csv(0, 3));
  REQUIRE(import_and_analyze("csv", dir / "a.csv", dir).import.exit_code == 0);
  const std::string before = read_file(dir / "run" / "samples.ndjson");
  const Imported again = import_and_analyze("csv", dir / "a.csv", dir);
  CHECK(again.import.exit_code == 3);
  CHECK(read_file(dir / "run" / "samples.ndjson") == before);
}

TEST_CASE("the report of an imported PerfMon file says where it came from and what each measures") {
  TempDir dir;
  const Imported one =
      import_and_analyze("perfmon", data_dir() / "import" / "perfmon-leak.csv", dir, {}, "one");
  REQUIRE(one.import.exit_code == 0);
  REQUIRE(run_soak({"report", one.run.string()}).exit_code == 0);
  const std::string html = read_file(one.run / "report.html");
  CHECK_THAT(html, Catch::Contains("Imported from the perfmon recording <code>perfmon-leak.csv"));
  CHECK_THAT(html, Catch::Contains("Memory, imported from perfmon file perfmon-leak.csv"));
  CHECK_THAT(html, Catch::Contains("private_bytes (PerfMon \\\\"));  // the counter's path
  CHECK_THAT(html, Catch::Contains("SHA-1 " + one.header["import"]["sha1"].get<std::string>()));
  // Two instances: a section each, under its name and verdict, and no empty run-level chart.
  const Imported two =
      import_and_analyze("perfmon", data_dir() / "import" / "perfmon-two.csv", dir, {}, "two");
  REQUIRE(two.import.exit_code == 0);
  REQUIRE(run_soak({"report", two.run.string()}).exit_code == 0);
  const std::string both = read_file(two.run / "report.html");
  CHECK_THAT(both, Catch::Contains("<section class=\"process\" id=\"process-1\"><h2>app: "));
  CHECK_THAT(both, Catch::Contains("<section class=\"process\" id=\"process-2\"><h2>app#1: "));
  CHECK(both.find("id=\"chart-memory\"") == std::string::npos);  // only p1-/p2- charts
  CHECK_THAT(both, Catch::Contains("id=\"chart-p1-memory\""));
}

TEST_CASE("a JSON recording with a number past a double's range is exit 3 with one line") {
  TempDir dir;
  write_text(
      dir / "big.json",
      R"j({"TargetProcess":"x","StartTime":"1","Events":[{"timestamp":"2026-12-01T10:00:00Z",)j"
      R"j("provider":"System.Runtime","name":"Working Set (MB)","counterType":"Metric",)j"
      R"j("value":1e999}]})j");
  write_text(dir / "big-prom.json",
             R"j({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},)j"
             R"j("values":[[1e999,"1"]]}]}})j");
  for (const auto& [format, file] : std::vector<std::pair<std::string, std::string>>{
           {"dotnet-counters", "big.json"}, {"prometheus", "big-prom.json"}}) {
    const Imported r = import_and_analyze(format, dir / file, dir, {}, file + ".run");
    INFO(r.import.err);
    CHECK(r.import.exit_code == 3);
    CHECK(lines_of(r.import.err).size() == 1);
  }
}
