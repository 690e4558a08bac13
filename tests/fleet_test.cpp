// One verdict path: the same series judged from a samples log and from a real Prometheus server
// (holding exactly those points, backfilled with promtool) gets the same verdict, checks, JUnit
// and exit code, with --targets and --junit honoured on both.

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>

#include "support.hpp"

using namespace soak::test;

namespace {

constexpr int kPoints = 181;  // 3 min at 1 s: the case the review found judged two ways

/// RSS around 200 MB, growing `mib_per_min`, with white noise of `noise_bytes`.
std::vector<double> make_series(unsigned seed, double mib_per_min, double noise_bytes) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, noise_bytes);
  std::vector<double> v;
  for (int i = 0; i < kPoints; ++i)
    v.push_back(200e6 + mib_per_min * 1048576 * i / 60.0 + noise(rng));
  return v;
}

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void write_log(const fs::path& path, const std::vector<double>& values) {
  std::ofstream out(path);
  out << R"({"type":"header","format":"soak-samples","version":1,"started_at":"2026-12-01T00:00:00Z",)"
         R"("interval_s":1,"target":{"pid":1,"name":"fleet","cmdline":[]},"host":{"kernel":"6.1"}})"
      << "\n";
  for (std::size_t i = 0; i < values.size(); ++i) {
    out << R"({"type":"sample","t":)" << i << R"(,"rss_bytes":)" << number(values[i]) << "}\n";
  }
}

/// Every (testcase, outcome) of a JUnit document; outcome is pass, failure or skipped.
std::multiset<std::string> junit_cases(const std::string& xml) {
  std::multiset<std::string> cases;
  const std::regex testcase(R"re(<testcase[^>]*name="([^"]*)"[^>]*?(/>|>([\s\S]*?)</testcase>))re");
  for (auto it = std::sregex_iterator(xml.begin(), xml.end(), testcase);
       it != std::sregex_iterator(); ++it) {
    const std::string body = (*it)[3].str();
    const char* outcome = body.find("<failure") != std::string::npos   ? "failure"
                          : body.find("<skipped") != std::string::npos ? "skipped"
                                                                       : "pass";
    cases.insert((*it)[1].str() + ":" + outcome);
  }
  return cases;
}

}  // namespace

TEST_CASE(
    "a series judged from a log and from Prometheus gets the same verdict, checks, JUnit and exit "
    "code") {
  REQUIRE(fs::exists("/usr/bin/prometheus"));  // Debian's prometheus, installed by scripts/setup.sh
  TempDir dir;
  std::ofstream(dir / "strict.json") << R"({"rss_growth": "1 MiB/min"})";
  // Seed 20261201 is the one the expectations were written for; 7 and 99 are held out.
  struct Case {
    std::string name;
    unsigned seed;
    double mib_per_min;
    double noise_bytes;
    int expected_exit;  // judged from the log, against strict.json
  };
  // Noisy flat: the interval still reaches 1 MiB/min (inconclusive). Quiet flat: it does not
  // (pass). A 4 MiB/min leak fails.
  const std::vector<Case> cases = {{"flat", 20261201, 0, 8e6, 2}, {"quiet", 20261201, 0, 2e5, 0},
                                   {"leak", 20261201, 4, 1e6, 1}, {"flat7", 7, 0, 8e6, 2},
                                   {"quiet7", 7, 0, 2e5, 0},      {"leak99", 99, 4, 1e6, 1}};
  const long t0 = static_cast<long>(std::time(nullptr)) - 600;
  std::string openmetrics = "# TYPE soak_target_value gauge\n";
  for (const auto& c : cases) {
    const auto values = make_series(c.seed, c.mib_per_min, c.noise_bytes);
    write_log(dir / (c.name + ".ndjson"), values);
    for (int i = 0; i < kPoints; ++i) {
      openmetrics += "soak_target_value{metric=\"rss_bytes\",series=\"" + c.name + "\"} " +
                     number(values[i]) + " " + std::to_string(t0 + i) + "\n";
    }
  }
  // A series that is not process memory, judged by its growth in its own unit.
  const auto heap = make_series(20261201, 4, 1e6);
  for (int i = 0; i < kPoints; ++i) {
    openmetrics += "soak_target_value{metric=\"heap_bytes\",series=\"heap\"} " + number(heap[i]) +
                   " " + std::to_string(t0 + i) + "\n";
  }
  const PrometheusServer prometheus(dir.path(), "global:\n  scrape_interval: 1m\n", openmetrics);

  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      const fs::path log_junit = dir / (c.name + "-log.xml"),
                     prom_junit = dir / (c.name + "-prom.xml");
      const SoakResult from_log = run_soak({"analyze", (dir / (c.name + ".ndjson")).string(),
                                            "--targets", (dir / "strict.json").string(), "--junit",
                                            log_junit.string(), "--format", "json"});
      INFO(from_log.err);
      REQUIRE(from_log.exit_code == c.expected_exit);
      const SoakResult from_prom =
          run_soak({"analyze", "--prometheus", prometheus.url(), "--query",
                    "soak_target_value{metric=\"rss_bytes\",series=\"" + c.name + "\"}", "--since",
                    std::to_string(kPoints - 1) + "s", "--end", std::to_string(t0 + kPoints - 1),
                    "--step", "1s", "--targets", (dir / "strict.json").string(), "--junit",
                    prom_junit.string(), "--format", "json"});
      INFO(from_prom.err << from_prom.out);
      CHECK(from_prom.exit_code == from_log.exit_code);
      const auto a = nlohmann::json::parse(from_log.out);
      const auto b = nlohmann::json::parse(from_prom.out);
      CHECK(b["verdict"] == a["verdict"]);
      REQUIRE(b["processes"].size() == 1);
      const auto& member = b["processes"][0];
      CHECK(member["labels"]["series"] == c.name);
      CHECK(member["verdict"] == a["verdict"]);
      CHECK(member["metrics"]["rss_bytes"]["classification"] ==
            a["metrics"]["rss_bytes"]["classification"]);
      CHECK(member["metrics"]["rss_bytes"]["growth_per_min"] ==
            a["metrics"]["rss_bytes"]["growth_per_min"]);
      REQUIRE(member["checks"].size() == a["checks"].size());
      for (std::size_t i = 0; i < a["checks"].size(); ++i) {
        CHECK(member["checks"][i]["name"] == a["checks"][i]["name"]);
        CHECK(member["checks"][i]["status"] == a["checks"][i]["status"]);
        CHECK(member["checks"][i]["measured"] == a["checks"][i]["measured"]);
        CHECK(member["checks"][i]["limit"] == a["checks"][i]["limit"]);
      }
      REQUIRE(fs::exists(log_junit));
      REQUIRE(fs::exists(prom_junit));
      const auto log_cases = junit_cases(read_file(log_junit));
      CHECK_FALSE(log_cases.empty());
      CHECK(junit_cases(read_file(prom_junit)) == log_cases);
    }
  }
  SECTION("a series that is not process memory gets its growth check only") {
    const SoakResult r =
        run_soak({"analyze", "--prometheus", prometheus.url(), "--query",
                  "soak_target_value{series=\"heap\"}", "--since",
                  std::to_string(kPoints - 1) + "s", "--end", std::to_string(t0 + kPoints - 1),
                  "--step", "1s", "--targets", (dir / "strict.json").string(), "--format", "json"});
    INFO(r.err << r.out);
    CHECK(r.exit_code == 1);
    const auto doc = nlohmann::json::parse(r.out);
    REQUIRE(doc["processes"].size() == 1);
    const auto& checks = doc["processes"][0]["checks"];
    REQUIRE(checks.size() == 1);
    CHECK(checks[0]["name"] == "heap_bytes_growth");
    CHECK(checks[0]["status"] == "fail");
  }
}

TEST_CASE("a log of several processes is judged process by process") {
  TempDir dir;
  const fs::path path = dir / "samples.ndjson";
  std::ofstream out(path);
  out << R"({"type":"header","format":"soak-samples","version":2,"interval_s":1,)"
         R"("target":{"pid":1,"name":"group","cmdline":[]}})"
      << "\n";
  const auto growing = make_series(20261201, 6, 1e6), steady = make_series(7, 0, 2e5);
  for (int i = 0; i < kPoints; ++i) {
    out << R"({"type":"sample","t":)" << i << R"(,"proc":"worker","rss_bytes":)"
        << number(growing[i]) << "}\n";
    out << R"({"type":"sample","t":)" << i << R"(,"proc":"cache","rss_bytes":)" << number(steady[i])
        << "}\n";
  }
  out.close();
  const SoakResult r = run_soak({"analyze", path.string(), "--format", "json"});
  INFO(r.err << r.out);
  CHECK(r.exit_code == 1);
  const auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["verdict"] == "fail");
  REQUIRE(doc["processes"].size() == 2);
  std::map<std::string, std::string> verdicts;
  for (const auto& p : doc["processes"]) verdicts[p["name"]] = p["verdict"];
  CHECK(verdicts["worker"] == "fail");
  CHECK(verdicts["cache"] == "pass");
}

TEST_CASE("an --end past the year 9999 is a usage error, before any query is sent") {
  // strtod reads "inf" and "1e300": the start was then cast to time_t for its ISO 8601 form.
  for (const char* end : {"inf", "1e300", "253402300800", "nan", "0"}) {
    INFO(end);
    const SoakResult r = run_soak({"analyze", "--prometheus", "http://127.0.0.1:1", "--query",
                                   "process_resident_memory_bytes", "--end", end});
    CHECK(r.exit_code == 3);
    CHECK(lines_of(r.err).size() == 1);
    CHECK_THAT(r.err, Catch::Contains("--end: expected a Unix time in seconds from 1 to "
                                      "253402300799 (the year 9999"));
  }
}
