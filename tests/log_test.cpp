// The run log library: header schema, run directory, process keys, version tolerance.

#include "soak/log/log.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "soak/log/header.hpp"
#include "soak/log/redact.hpp"
#include "soak/log/run_dir.hpp"
#include "support.hpp"

using namespace soak::log;
using namespace soak::test;

namespace {

HeaderFields sample_fields() {
  HeaderFields f;
  f.started_at = "2026-11-22T23:00:00Z";
  f.interval_s = 0.5;
  f.target = {1234, "server", {"./server", "--port", "8080"}, 987654, 1000};
  f.host = {"6.1.0", 4096, 25000000000ULL, 100};
  f.mode = "attach";
  f.planned_duration_s = 60;
  f.soak_version = "0.1.0";
  return f;
}

void write_lines(const fs::path& path, std::initializer_list<std::string> lines) {
  std::ofstream out(path);
  for (const auto& line : lines) out << line << "\n";
}

}  // namespace

TEST_CASE("a header written by the writer reads back with the pinned fields and host memory") {
  TempDir dir;
  {
    nlohmann::ordered_json header = make_header(sample_fields());
    add_scenario(header, {"soak", "/tmp/s.json", "http://127.0.0.1:1", "open", 0.05, 2.0,
                          nlohmann::json{{"initial_rss", "256 MiB"}}});
    SampleWriter writer(dir.path() / "samples.ndjson", header);
    writer.begin_sample(0);
    writer.metric("rss_bytes", 1048576);
    REQUIRE(writer.end_sample());
  }
  const RunLog log = read_run_log(dir.path());
  CHECK(log.warnings.empty());
  CHECK(log.header["format"] == "soak-samples");
  CHECK(log.header["version"] == 1);
  CHECK(log.header["interval_s"] == 0.5);
  CHECK(log.header["target"]["cmdline"].size() == 3);
  CHECK(log.header["target"]["pid"] == 1234);
  CHECK(host_memory_bytes(log.header) == Approx(25e9));
  REQUIRE(targets_document(log.header));
  CHECK((*targets_document(log.header))["initial_rss"] == "256 MiB");
  CHECK(scenario_error_rate_limit(log.header) == Approx(0.05));
  CHECK(scenario_p95_limit_s(log.header) == Approx(2.0));
  CHECK(log.series.at("rss_bytes").value.front() == 1048576);
}

TEST_CASE("header readers say 'not known' for missing or mistyped fields instead of throwing") {
  const nlohmann::json header = {{"host", {{"mem_total_bytes", "lots"}}}, {"targets", 5}};
  CHECK_FALSE(host_memory_bytes(header));
  CHECK_FALSE(targets_document(header));
  CHECK_FALSE(scenario_error_rate_limit(header));
  CHECK_FALSE(host_memory_bytes(nlohmann::json()));
}

// Found by fuzz_log_header: a pid of 1.2e100 was converted to an integer (undefined behaviour).
TEST_CASE("an integer field its type cannot hold reads as not known") {
  const auto header = nlohmann::json::parse(R"({
    "target": {"pid": 1.2e100, "start_ticks": -1, "uid": 1e10},
    "host": {"page_size": -4096, "mem_total_bytes": 18446744073709551616.0,
             "clock_ticks_per_s": 1e30},
    "import": {"bytes": -5, "processes": {"a": {"pid": 9223372036854775808}}}})");
  const HeaderFields f = read_header(header);
  CHECK(f.target.pid == 0);
  CHECK(f.target.start_ticks == 0);
  CHECK(f.target.uid == 0);
  CHECK(f.host.page_size == 0);
  CHECK(f.host.mem_total_bytes == 0);
  CHECK(f.host.clock_ticks_per_s == 0);
  const auto facts = import_facts(header);
  REQUIRE(facts);
  CHECK(facts->bytes == 0);
  CHECK(facts->processes.at("a").pid == 0);
  // Whole numbers in range still read, written as integers or not.
  const auto fine = nlohmann::json::parse(
      R"({"target": {"pid": 1234.0, "start_ticks": 18446744073709551615, "uid": 4294967295}})");
  CHECK(target_facts(fine).pid == 1234);
  CHECK(target_facts(fine).start_ticks == 18446744073709551615u);
  CHECK(target_facts(fine).uid == 4294967295u);
}

TEST_CASE("a run directory that already holds a run is refused, so nothing is overwritten") {
  TempDir dir;
  const fs::path run = create_run_dir(dir.path() / "run", "server");
  CHECK(fs::is_directory(run));
  write_lines(run / "samples.ndjson", {R"({"type":"header","format":"soak-samples","version":1})"});
  CHECK_THROWS_AS(create_run_dir(run, "server"), RunDirError);
  write_lines(dir.path() / "file", {"x"});
  CHECK_THROWS_AS(create_run_dir(dir.path() / "file", "server"), RunDirError);
}

TEST_CASE("samples and events with a process key go to that process, the others to the run") {
  TempDir dir;
  const fs::path path = dir.path() / "samples.ndjson";
  {
    nlohmann::ordered_json header = make_header(sample_fields());
    header["version"] = 2;
    SampleWriter writer(path, header);
    for (int i = 0; i < 3; ++i) {
      writer.begin_sample(i);
      writer.metric("rss_bytes", 100 + i);
      REQUIRE(writer.end_sample());
      writer.begin_sample(i, "worker \"2\"");
      writer.metric("rss_bytes", 200 + i);
      writer.metric("threads", 4);
      REQUIRE(writer.end_sample());
    }
    REQUIRE(writer.event(2.5, "target_exited", "exit code 0", {{"proc", "worker \"2\""}}));
  }
  const RunLog log = read_run_log(path);
  CHECK(log.warnings.empty());
  CHECK(log.samples == 3);
  CHECK(log.series.at("rss_bytes").value == std::vector<double>{100, 101, 102});
  REQUIRE(log.processes.count("worker \"2\"") == 1);
  const ProcessLog& worker = log.processes.at("worker \"2\"");
  CHECK(worker.samples == 3);
  CHECK(worker.last_t == 2);
  CHECK(worker.series.at("rss_bytes").value == std::vector<double>{200, 201, 202});
  CHECK(worker.series.at("threads").size() == 3);
  REQUIRE(log.events.size() == 1);
  CHECK(log.events.front().process == "worker \"2\"");
}

TEST_CASE("a log of a newer version than the reader knows is read with a warning") {
  TempDir dir;
  const fs::path path = dir.path() / "samples.ndjson";
  write_lines(path, {R"({"type":"header","format":"soak-samples","version":2})",
                     R"({"type":"sample","t":0,"rss_bytes":5})"});
  CHECK(read_run_log(path).warnings.empty());
  write_lines(path, {R"({"type":"header","format":"soak-samples","version":3})",
                     R"({"type":"sample","t":0,"rss_bytes":5})",
                     R"({"type":"future","t":1,"what":"unknown"})"});
  const RunLog log = read_run_log(path);
  REQUIRE(log.warnings.size() == 1);
  CHECK_THAT(log.warnings.front(), Catch::Contains("version 3"));
  CHECK(log.samples == 1);
}

TEST_CASE("NaN and Infinity tokens are skipped lines with a warning, never values") {
  TempDir dir;
  const fs::path path = dir.path() / "samples.ndjson";
  write_lines(path, {R"({"type":"header","format":"soak-samples","version":1})",
                     R"({"type":"sample","t":0,"rss_bytes":5})",
                     R"({"type":"sample","t":1,"rss_bytes":NaN,"threads":4})",
                     R"({"type":"sample","t":2,"rss_bytes":inf})",
                     R"({"type":"sample","t":3,"rss_bytes":-Infinity})",
                     R"({"type":"sample","t":4,"rss_bytes":7})"});
  const RunLog log = read_run_log(path);
  CHECK(log.samples == 2);
  REQUIRE(log.series.at("rss_bytes").value.size() == 2);
  CHECK(log.series.at("rss_bytes").value[1] == 7);
  REQUIRE(log.warnings.size() == 1);
  CHECK_THAT(log.warnings.front(), Catch::Contains("skipped 3 malformed line(s)"));
}

TEST_CASE("samples whose time goes backwards are dropped with a warning") {
  TempDir dir;
  const fs::path path = dir.path() / "samples.ndjson";
  write_lines(
      path, {R"({"type":"header","format":"soak-samples","version":1})",
             R"({"type":"sample","t":0,"rss_bytes":5})", R"({"type":"sample","t":2,"rss_bytes":6})",
             R"({"type":"sample","t":1,"rss_bytes":9})",
             R"({"type":"sample","t":-5,"rss_bytes":9,"x":[1]})",
             R"({"type":"sample","t":3,"rss_bytes":7})"});
  const RunLog log = read_run_log(path);
  CHECK(log.samples == 3);
  CHECK(log.last_t == 3);
  REQUIRE(log.warnings.size() == 1);
  CHECK_THAT(log.warnings.front(),
             Catch::Contains("dropped 2 sample(s) whose time went backwards"));
}

TEST_CASE("wrong-typed fields are read as not known, never an exception") {
  TempDir dir;
  const fs::path path = dir.path() / "samples.ndjson";
  write_lines(path,
              {R"({"type":"header","format":"soak-samples","version":"one","target":{"name":5}})",
               R"({"type":"sample","t":0,"rss_bytes":5})",
               R"({"type":"event","t":1,"kind":5,"detail":[1]})", R"({"type":5,"t":2})",
               R"({"type":"event","t":3,"kind":"x","detail":"fine"})"});
  const RunLog log = read_run_log(path);
  CHECK(log.samples == 1);
  REQUIRE(log.events.size() == 2);
  CHECK(log.events[0].kind.empty());
  CHECK(log.events[1].detail == "fine");
  CHECK(target_facts(log.header).name.empty());
}

TEST_CASE("secrets in a command line are written as ***, the rest as given") {
  const std::vector<std::string> argv = {"server",
                                         "--password=hunter2",
                                         "--token",
                                         "abc123",
                                         "DB_PASSWD=x",
                                         "--port",
                                         "8080",
                                         "--passes=3",
                                         "--auth-mode",
                                         "simple",
                                         "http://bob:pw@db:5432/app",
                                         "customer-42"};
  const auto plain = redact_command_line(argv);
  CHECK(plain == std::vector<std::string>{"server", "--password=***", "--token", "***",
                                          "DB_PASSWD=***", "--port", "8080", "--passes=3",
                                          "--auth-mode", "simple", "http://***@db:5432/app",
                                          "customer-42"});
  const auto own = redact_command_line(argv, compile_redactions({"customer-[0-9]+"}));
  CHECK(own.back() == "***");
  CHECK_THROWS_AS(compile_redactions({"("}), RedactError);
}
