// soak import of the Python tools' recordings and of a Prometheus query_range answer. The mprof
// files are real recordings of real Python programs (tests/data/import/record-mprof.sh), and
// prometheus-real.json / prometheus-promtool.json a real Prometheus's answers
// (record-prometheus.sh); the psrecord files and the other Prometheus answers are written the
// way those tools write them, by tests/data/import/make-fixtures.py with fixed seeds.

#include <catch2/catch.hpp>

#include "importers_support.hpp"
#include "soak/importers/prometheus.hpp"
#include "soak/importers/recording.hpp"
#include "soak/log/header.hpp"

using namespace soak::test;

namespace {

fs::path fixture(const std::string& name) {
  return data_dir() / "import" / name;
}

/// The verdict of the process named `name` in a verdict with several processes.
const nlohmann::json* process_named(const nlohmann::json& verdict, const std::string& name) {
  if (!verdict.contains("processes")) return nullptr;
  for (const auto& p : verdict["processes"]) {
    if (p.value("name", "") == name) return &p;
  }
  return nullptr;
}

std::string read_fixture(const std::string& name) {
  return read_file(fixture(name));
}

}  // namespace

// ---- mprof: real recordings --------------------------------------------------------------

TEST_CASE("a real mprof recording of a leaking Python service fails the run") {
  TempDir dir;
  const Imported r = import_and_analyze("mprof", fixture("mprof-leak.dat"), dir);
  REQUIRE(r.import.exit_code == 0);
  CHECK(r.header["import"]["format"] == "mprof");
  CHECK(r.header["import"]["file"] == "mprof-leak.dat");
  CHECK(r.header["target"]["name"] == "leaky_service.py");
  CHECK(r.header["target"]["cmdline"] ==
        nlohmann::json::array({"/usr/bin/python3", "leaky_service.py", "240"}));
  CHECK_THAT(r.header["import"]["measures"]["rss_bytes"].get<std::string>(),
             Catch::Contains("mprof MEM") && Catch::Contains("MiB"));
  CHECK(r.header["import"]["started_at_estimated"] == false);
  CHECK(r.analyze.exit_code == 1);
  CHECK(r.verdict["verdict"] == "fail");
  CHECK(classification(r.verdict, "rss_bytes") == "leak");
  // 32 x 16 KiB a second: 30 MiB/min, less the interpreter's own slack.
  const double per_min = r.verdict["metrics"]["rss_bytes"]["growth_per_min"];
  CHECK(per_min > 25 * 1048576.0);
  CHECK(per_min < 35 * 1048576.0);
}

TEST_CASE("a real mprof recording of a healthy Python service (with FUNC lines) passes") {
  TempDir dir;
  const std::string text = read_fixture("mprof-healthy.dat");
  REQUIRE(text.find("\nFUNC ") != std::string::npos);  // @profile timings are in the file
  const Imported r = import_and_analyze("mprof", fixture("mprof-healthy.dat"), dir);
  REQUIRE(r.import.exit_code == 0);
  CHECK_THAT(r.import.err, Catch::Contains("FUNC lines"));
  CHECK(r.header["target"]["name"] == "healthy_service.py");
  CHECK(r.analyze.exit_code == 0);
  CHECK(r.verdict["verdict"] == "pass");
  // The sawtooth's floor creeps by ~0.02 MB/min (memory_profiler keeps every @profile call's
  // readings in the process): real, and under the effect-size floor, so not a leak.
  CHECK(classification(r.verdict, "rss_bytes") == "slow_growth");
  CHECK(r.verdict["metrics"]["rss_bytes"]["sawtooth_floor"] == true);
  CHECK(r.verdict["metrics"]["rss_bytes"]["growth_per_min"].get<double>() < 0.1e6);
}

TEST_CASE("mprof run -M: each child is judged on its own and the leaking one fails the run") {
  TempDir dir;
  const Imported r = import_and_analyze("mprof", fixture("mprof-children.dat"), dir);
  REQUIRE(r.import.exit_code == 0);
  CHECK(r.analyze.exit_code == 1);
  CHECK(r.verdict["verdict"] == "fail");
  REQUIRE(r.verdict.contains("processes"));
  CHECK(r.verdict["processes"].size() == 3);
  const auto* parent = process_named(r.verdict, "worker_pool.py");
  const auto* leaky = process_named(r.verdict, "child 10035");
  const auto* flat = process_named(r.verdict, "child 10036");
  REQUIRE(parent != nullptr);
  REQUIRE(leaky != nullptr);
  REQUIRE(flat != nullptr);
  CHECK((*leaky)["pid"] == 10035);
  CHECK((*flat)["pid"] == 10036);
  CHECK((*parent)["verdict"] == "pass");
  CHECK((*leaky)["verdict"] == "fail");
  CHECK((*flat)["verdict"] == "pass");
  CHECK(classification(r.verdict, "rss_bytes", "child 10035") == "leak");
  CHECK(classification(r.verdict, "rss_bytes", "child 10036") == "steady");
  CHECK(classification(r.verdict, "rss_bytes", "worker_pool.py") == "steady");
  CHECK_THAT(r.header["import"]["measures"]["rss_bytes"].get<std::string>(),
             Catch::Contains("CHLD"));
  const auto& processes = r.header["import"]["processes"];
  REQUIRE(processes.contains("child 10035"));
  CHECK(processes["child 10035"]["pid"] == 10035);
}

TEST_CASE("mprof's quirks: a run appended to the file, psutil's failed CHLD line, quoted args") {
  TempDir dir;
  std::string text =
      "CMDLINE /usr/bin/python3 'my app.py' --port 8080\n"
      "CHLD 0 0.000000 1764000000.0000\n"
      // Not pids: one past any int64 (the fuzzer's find) and a fraction. Skipped, said once.
      "CHLD 22222222222222222222222222222222 3.5 1764000000.0\n"
      "CHLD 12.5 3.5 1764000000.0\n";
  for (int i = 0; i < 120; ++i) {
    text += "MEM " + std::to_string(40.0 + (i % 3) * 0.01) + " " +
            std::to_string(1764000000.0 + i * 0.5) + "\n";
  }
  text += "CMDLINE /usr/bin/python3 other.py\nMEM 900.0 1764100000.0\n";
  write_text(dir / "appended.dat", text);
  const Imported r = import_and_analyze("mprof", dir / "appended.dat", dir);
  REQUIRE(r.import.exit_code == 0);
  CHECK_THAT(r.import.err, Catch::Contains("1 later runs appended"));
  CHECK_THAT(r.import.err, Catch::Contains("psutil could not read the children"));
  CHECK_THAT(r.import.err, Catch::Contains("2 lines that are not mprof samples were skipped"));
  CHECK_FALSE(
      r.header.at("import").value("processes", nlohmann::json::object()).contains("child 12"));
  CHECK(r.header["target"]["name"] == "my app.py");
  CHECK(r.header["target"]["cmdline"] ==
        nlohmann::json::array({"/usr/bin/python3", "my app.py", "--port", "8080"}));
  CHECK(r.header["started_at"] == "2025-11-24T16:00:00Z");
  CHECK(r.verdict["samples"] == 120);  // the appended run's sample is not in it
  CHECK(r.analyze.exit_code == 0);
}

// ---- psrecord: files as psrecord writes them -----------------------------------------------

TEST_CASE("a psrecord log of a leak fails the run, psrecord's MB read as MiB") {
  TempDir dir;
  const Imported r = import_and_analyze("psrecord", fixture("psrecord-leak.txt"), dir);
  REQUIRE(r.import.exit_code == 0);
  CHECK(r.header["import"]["format"] == "psrecord");
  CHECK(r.header["import"]["started_at_estimated"] == true);  // elapsed seconds only
  CHECK_THAT(r.header["import"]["measures"]["rss_bytes"].get<std::string>(),
             Catch::Contains("Real (MB)") && Catch::Contains("--include-children"));
  CHECK(r.analyze.exit_code == 1);
  CHECK(classification(r.verdict, "rss_bytes") == "leak");
  CHECK(classification(r.verdict, "vms_bytes") == "leak");
  CHECK(classification(r.verdict, "cpu_s") == "(absent)");  // CPU % is not cumulative seconds
  const double per_min = r.verdict["metrics"]["rss_bytes"]["growth_per_min"];
  // 15 MiB/min of psrecord's MB: 15.7 MB/min; read as 10^6 it would be 15.0 (out of 2%)
  CHECK(per_min == Approx(15 * 1048576.0).epsilon(0.02));
  CHECK(r.verdict["samples"] == 300);
}

TEST_CASE("a flat psrecord log (with --include-io's columns) passes") {
  TempDir dir;
  const Imported r = import_and_analyze("psrecord", fixture("psrecord-flat.txt"), dir);
  REQUIRE(r.import.exit_code == 0);
  CHECK(r.analyze.exit_code == 0);
  CHECK(r.verdict["verdict"] == "pass");
  CHECK(classification(r.verdict, "rss_bytes") == "steady");
  CHECK(classification(r.verdict, "vms_bytes") == "steady");
  CHECK(r.verdict["metrics"].size() == 2);  // the I/O counters are not imported
}

TEST_CASE("psrecord's standard output kept as the log: its messages are not samples") {
  TempDir dir;
  std::string text =
      "Starting up command 'python3 app.py' and attaching to process\n"
      "# Elapsed time   CPU (%)     Real (MB)   Virtual (MB)\n";
  char row[80];
  for (int i = 0; i < 60; ++i) {
    std::snprintf(row, sizeof row, "%12.3f %12.3f %12.3f %12.3f\n", i * 1.0, 3.0,
                  40.0 + (i % 2) * 0.004, 300.0);
    text += row;
  }
  text += "Process finished (60.02 seconds)\n";
  write_text(dir / "stdout.txt", text);
  const Imported r = import_and_analyze("psrecord", dir / "stdout.txt", dir);
  REQUIRE(r.import.exit_code == 0);
  CHECK(r.import.err.find("skipped") == std::string::npos);
  CHECK(r.verdict["samples"] == 60);
  CHECK(classification(r.verdict, "rss_bytes") == "steady");
}

TEST_CASE("psrecord --log-format csv --include-children: nproc becomes soak's children") {
  TempDir dir;
  const Imported r = import_and_analyze("psrecord", fixture("psrecord-children.csv"), dir);
  REQUIRE(r.import.exit_code == 0);
  CHECK_THAT(r.header["import"]["measures"]["children"].get<std::string>(),
             Catch::Contains("nproc"));
  CHECK(r.analyze.exit_code == 1);
  CHECK(classification(r.verdict, "rss_bytes") == "leak");
  CHECK(classification(r.verdict, "children") == "steady");
  CHECK(r.verdict["metrics"]["children"]["last"] == 2);  // nproc 3: the process and two children
  const double per_min = r.verdict["metrics"]["rss_bytes"]["growth_per_min"];
  CHECK(per_min == Approx(12 * 1048576.0).epsilon(0.02));
  CHECK(r.verdict["samples"] == 200);
}

TEST_CASE("a psrecord log without children's counts has no children metric, a torn row skipped") {
  TempDir dir;
  std::string text = "elapsed_time,nproc,cpu,mem_real,mem_virtual\n";
  for (int i = 0; i < 100; ++i) {
    text +=
        std::to_string(i * 1.0) + ",1,5.0," + std::to_string(50.0 + (i % 2) * 0.01) + ",400.0\n";
  }
  text += "100.00123,1,12.0,50.0";  // psrecord stopped mid-row
  write_text(dir / "plain.csv", text);
  const Imported r = import_and_analyze("psrecord", dir / "plain.csv", dir);
  REQUIRE(r.import.exit_code == 0);
  CHECK_THAT(r.import.err, Catch::Contains("1 rows that are not psrecord samples"));
  CHECK_FALSE(r.header["import"]["measures"].contains("children"));
  CHECK(classification(r.verdict, "children") == "(absent)");
  CHECK(classification(r.verdict, "rss_bytes") == "steady");
  CHECK(r.verdict["samples"] == 100);
}

// ---- Prometheus query_range answers --------------------------------------------------------

TEST_CASE("a Prometheus query_range answer: each series judged on its own, NaN values as gaps") {
  TempDir dir;
  const Imported r = import_and_analyze("prometheus", fixture("prometheus-range.json"), dir);
  REQUIRE(r.import.exit_code == 0);
  CHECK_THAT(r.import.err, Catch::Contains("NaN or Inf values were read as gaps"));
  CHECK(r.header["started_at"] == "2025-11-24T16:00:00Z");
  CHECK_THAT(r.header["import"]["measures"]["rss_bytes"].get<std::string>(),
             Catch::Contains("process_resident_memory_bytes"));
  const std::string leaking = "orders 10.0.0.5:8080";
  const std::string flat = "orders 10.0.0.6:8080";
  REQUIRE(r.header["import"]["processes"].contains(leaking));
  CHECK(r.header["import"]["processes"][leaking]["labels"]["instance"] == "10.0.0.5:8080");
  CHECK(r.analyze.exit_code == 1);
  REQUIRE(process_named(r.verdict, leaking) != nullptr);
  REQUIRE(process_named(r.verdict, flat) != nullptr);
  CHECK((*process_named(r.verdict, leaking))["verdict"] == "fail");
  CHECK((*process_named(r.verdict, flat))["verdict"] == "pass");
  CHECK(classification(r.verdict, "rss_bytes", leaking) == "leak");
  CHECK(classification(r.verdict, "rss_bytes", flat) == "steady");
  const double per_min =
      (*process_named(r.verdict, leaking))["metrics"]["rss_bytes"]["growth_per_min"];
  CHECK(per_min == Approx(20e6).epsilon(0.05));
}

TEST_CASE("a real Prometheus's answer and promtool's output of the same window judge alike") {
  // record-prometheus.sh: Debian's prometheus scraping a leaking and a flat exporter of their
  // own RSS every 2 s for 4 minutes, saved with curl and with promtool.
  const std::string leaking = "orders 127.0.0.1:19101";
  const std::string flat = "orders 127.0.0.1:19102";
  for (const char* name : {"prometheus-real.json", "prometheus-promtool.json"}) {
    INFO(name);
    TempDir dir;
    const Imported r = import_and_analyze("prometheus", fixture(name), dir);
    REQUIRE(r.import.exit_code == 0);
    CHECK(r.header["interval_s"] == 2.0);
    CHECK(r.analyze.exit_code == 1);
    REQUIRE(process_named(r.verdict, leaking) != nullptr);
    REQUIRE(process_named(r.verdict, flat) != nullptr);
    CHECK((*process_named(r.verdict, leaking))["verdict"] == "fail");
    CHECK((*process_named(r.verdict, flat))["verdict"] == "pass");
    CHECK(classification(r.verdict, "rss_bytes", leaking) == "leak");
    // The flat exporter's RSS settles by ~20 kB/min over the 4 minutes: real, under the
    // effect-size floor, so not a leak.
    CHECK(classification(r.verdict, "rss_bytes", flat) == "slow_growth");
    CHECK((*process_named(r.verdict, flat))["metrics"]["rss_bytes"]["growth_per_min"] < 0.1e6);
    // 340 KiB a second kept: 20.9 MB/min
    const double per_min =
        (*process_named(r.verdict, leaking))["metrics"]["rss_bytes"]["growth_per_min"];
    CHECK(per_min == Approx(340 * 1024 * 60.0).epsilon(0.05));
  }
}

TEST_CASE("parse_query_range: series, gaps, and the failures as values") {
  using soak::importers::parse_query_range;
  using soak::importers::QueryRangeFailure;
  const auto range = parse_query_range(read_fixture("prometheus-range.json"));
  REQUIRE(range.ok());
  CHECK(range.result_type == "matrix");
  REQUIRE(range.series.size() == 2);
  CHECK(range.series[0].points.size() == 160);
  CHECK(range.series[1].gaps == 7);  // i % 23 == 5 for i < 160
  CHECK(range.series[1].points.size() == 160 - 7);
  CHECK(range.series[0].points.front().first == 1764000000);

  const auto vector = parse_query_range(read_fixture("prometheus-vector.json"));
  REQUIRE(vector.ok());
  CHECK(vector.result_type == "vector");
  REQUIRE(vector.series.size() == 1);
  CHECK(vector.series[0].points.empty());

  const auto error = parse_query_range(read_fixture("prometheus-error.json"));
  CHECK(error.failure == QueryRangeFailure::refused);
  CHECK_THAT(error.error, Catch::Contains("unclosed left parenthesis"));
  CHECK(parse_query_range(R"({"status":"error"})").error == "unknown error");
  CHECK(parse_query_range("<html>").failure == QueryRangeFailure::not_json);
  CHECK(parse_query_range("42").failure == QueryRangeFailure::not_json);
  CHECK(parse_query_range("[1]").series.empty());  // an array: bare, but no series in it
  CHECK(parse_query_range(R"({"status":"success"})").failure == QueryRangeFailure::not_prometheus);
  const auto mixed = parse_query_range(
      R"({"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"a":1},"values":[[1,"2"],[2,"+Inf"],[3,4],"x",[4,"-Inf"],[5,"5e2"]]}, 7]}})");
  REQUIRE(mixed.ok());
  REQUIRE(mixed.series.size() == 1);
  CHECK(mixed.series[0].labels.at("a") == "1");
  CHECK(mixed.series[0].points == std::vector<std::pair<double, double>>{{1, 2}, {5, 500}});
  CHECK(mixed.series[0].gaps == 2);
  CHECK(mixed.series[0].malformed == 2);

  const auto warned = parse_query_range(
      R"({"status":"success","warnings":["too many samples"],"infos":["PromQL info: x"],)"
      R"("data":{"resultType":"matrix","result":[]}})");
  REQUIRE(warned.ok());
  CHECK(warned.warnings == std::vector<std::string>{"too many samples", "PromQL info: x"});
  CHECK_FALSE(warned.bare);

  // promtool query range -o json prints the result alone
  const auto bare = parse_query_range(R"([{"metric":{"a":"b"},"values":[[1.5,"3"]]}])");
  REQUIRE(bare.ok());
  CHECK(bare.bare);
  CHECK(bare.result_type == "matrix");
  REQUIRE(bare.series.size() == 1);
  CHECK(bare.series[0].points == std::vector<std::pair<double, double>>{{1.5, 3}});
  CHECK(parse_query_range(R"([{"metric":{},"value":[1,"3"]}])").result_type == "vector");
}

TEST_CASE("promtool's bare matrix imports, and the answer's warnings are passed on") {
  TempDir dir;
  std::string values;
  for (int i = 0; i < 60; ++i) {
    values += std::string(i ? "," : "") + "[" + std::to_string(1764000000 + i) + ".25,\"" +
              std::to_string(5000000 + (i % 3)) + "\"]";
  }
  write_text(dir / "promtool.json",
             R"([{"metric":{"__name__":"process_resident_memory_bytes","job":"p"},"values":[)" +
                 values + "]}]\n");
  const Imported bare = import_and_analyze("prometheus", dir / "promtool.json", dir);
  REQUIRE(bare.import.exit_code == 0);
  CHECK(bare.header["started_at"] == "2025-11-24T16:00:00Z");  // .25 cut by the header's format
  CHECK(bare.header["target"]["name"] == "p");
  CHECK(classification(bare.verdict, "rss_bytes") == "steady");

  write_text(dir / "warned.json",
             R"({"status":"success","warnings":["results truncated"],"data":{"resultType":)"
             R"("matrix","result":[{"metric":{"job":"p"},"values":[)" +
                 values + "]}]}}");
  const Imported warned = import_and_analyze("prometheus", dir / "warned.json", dir, {}, "w");
  REQUIRE(warned.import.exit_code == 0);
  CHECK_THAT(warned.import.err, Catch::Contains("Prometheus warned: results truncated"));
  CHECK_THAT(warned.import.err, Catch::Contains("1 series have no __name__"));
  CHECK(classification(warned.verdict, "value") == "steady");
}

TEST_CASE("Prometheus series are judged as soak's metric, by label or by name") {
  TempDir dir;
  std::string values;
  for (int i = 0; i < 100; ++i) {
    values += std::string(i ? "," : "") + "[" + std::to_string(1764000000 + i * 10) + ",\"" +
              std::to_string(100000000 + (i % 2) * 1000) + "\"]";
  }
  const auto series = [&](const std::string& labels) {
    return R"({"metric":{)" + labels + R"(},"values":[)" + values + "]}";
  };
  write_text(dir / "kinds.json",
             R"({"status":"success","data":{"resultType":"matrix","result":[)" +
                 series(R"("__name__":"soak_target_value","metric":"threads","target":"a")") + "," +
                 series(R"("__name__":"container_memory_working_set_bytes","pod":"web-1",)"
                        R"("container":"app")") +
                 "," + series(R"("__name__":"jvm_memory_used_bytes","area":"heap","job":"jvm")") +
                 "," +
                 series(R"("__name__":"jvm_memory_used_bytes","area":"nonheap","job":"jvm")") +
                 "," + series(R"("__name__":"go_memstats_heap_inuse_bytes","job":"go")") + "]}}");
  const Imported r = import_and_analyze("prometheus", dir / "kinds.json", dir);
  REQUIRE(r.import.exit_code == 0);
  const auto& measures = r.header["import"]["measures"];
  CHECK_THAT(measures["rss_bytes"].get<std::string>(), Catch::Contains("working set"));
  CHECK_THAT(measures["heap.used_bytes"].get<std::string>(), Catch::Contains("JVM heap"));
  CHECK(measures.contains("threads"));
  CHECK(measures.contains("go_memstats_heap_inuse_bytes"));
  CHECK(classification(r.verdict, "threads", "soak_target_value") == "steady");
  CHECK(classification(r.verdict, "rss_bytes", "container_memory_working_set_bytes web-1 app") ==
        "steady");
  // two series named alike: their other labels tell them apart
  CHECK(classification(r.verdict, "heap.used_bytes", "jvm_memory_used_bytes jvm {area=heap}") ==
        "steady");
  CHECK(classification(r.verdict, "jvm_memory_used_bytes",
                       "jvm_memory_used_bytes jvm {area=nonheap}") == "steady");
  CHECK(classification(r.verdict, "go_memstats_heap_inuse_bytes",
                       "go_memstats_heap_inuse_bytes go") == "steady");
}

// ---- bad files ---------------------------------------------------------------------------

TEST_CASE("bad Python-tool and Prometheus files give one line naming the line and exit 3") {
  TempDir dir;
  struct Case {
    std::string format;
    fs::path file;
    std::string says;
  };
  write_text(dir / "torn.json", "{\"status\":\"success\",\n\"data\": {\"resultType\": mat");
  write_text(dir / "header-only.txt", "# Elapsed time   CPU (%)     Real (MB)   Virtual (MB)\n");
  write_text(dir / "words.txt",
             "# Elapsed time   CPU (%)     Real (MB)   Virtual (MB)\n   1.000   x   2   3\n");
  write_text(dir / "nan.json", R"({"status":"success","data":{"resultType":"matrix","result":[)"
                               R"({"metric":{},"values":[[1,"NaN"],[2,"NaN"]]}]}})");
  write_text(dir / "empty.dat", "");
  const std::vector<Case> cases = {
      {"mprof", fixture("psrecord-leak.txt"), ":1:1: expected mprof's lines"},
      {"psrecord", fixture("mprof-leak.dat"), ":1:1: expected psrecord's header line"},
      {"prometheus", fixture("psrecord-leak.txt"), ":1:1: not a JSON object"},
      {"prometheus", fixture("prometheus-vector.json"), "expected a query_range (matrix) answer"},
      {"prometheus", fixture("prometheus-error.json"), "unclosed left parenthesis"},
      {"prometheus", dir / "torn.json", ":2:"},
      {"prometheus", dir / "nan.json", "no values to import"},
      {"psrecord", dir / "header-only.txt", "expected samples after psrecord's header line"},
      {"psrecord", dir / "words.txt", ":2:12: expected a row of numbers"},
      {"mprof", dir / "empty.dat", "found no MEM or CHLD lines"},
  };
  int n = 0;
  for (const auto& c : cases) {
    INFO(c.format << " " << c.file.filename().string());
    const Imported r = import_and_analyze(c.format, c.file, dir, {}, "bad" + std::to_string(n++));
    CHECK(r.import.exit_code == 3);
    CHECK(lines_of(r.import.err).size() == 1);
    CHECK_THAT(r.import.err, Catch::Contains(c.says));
    CHECK_THAT(r.import.err, Catch::Contains(c.file.filename().string()));
    CHECK_FALSE(fs::exists(r.run));
  }
  const Imported vector =
      import_and_analyze("prometheus", fixture("prometheus-vector.json"), dir, {}, "vector");
  CHECK_THAT(vector.import.err, Catch::Contains("\"vector\" answer (an instant query"));
}

TEST_CASE("time stamps past the year 9999 are skipped lines, never a start time") {
  TempDir dir;
  // mprof: MEM 1 1e300 made the start 1e300, cast to time_t for the header's started_at.
  std::string mprof = "MEM 1 1e300\nCHLD 5 1 -1\n";
  for (int i = 0; i < 60; ++i) {
    mprof += "MEM 40.0 " + std::to_string(1764000000.0 + i) + "\n";
  }
  write_text(dir / "huge.dat", mprof);
  const Imported m = import_and_analyze("mprof", dir / "huge.dat", dir, {}, "mprof");
  REQUIRE(m.import.exit_code == 0);
  CHECK_THAT(m.import.err, Catch::Contains("2 lines that are not mprof samples were skipped"));
  CHECK(m.header["started_at"] == "2025-11-24T16:00:00Z");
  write_text(dir / "only.dat", "MEM 1 1e300\n");
  const Imported only = import_and_analyze("mprof", dir / "only.dat", dir, {}, "only");
  CHECK(only.import.exit_code == 3);
  CHECK_THAT(only.import.err, Catch::Contains("only.dat:1:7: expected mprof's lines"));

  // psrecord: elapsed rows 0 and 1e300 made the estimated start mtime - 1e300.
  std::string ps = "# Elapsed time   CPU (%)     Real (MB)   Virtual (MB)\n";
  ps += "       1e300        0.000       40.000      100.000\n";
  for (int i = 0; i < 60; ++i) {
    ps += "       " + std::to_string(i) + ".000        0.000       40.000      100.000\n";
  }
  write_text(dir / "huge.txt", ps);
  const Imported p = import_and_analyze("psrecord", dir / "huge.txt", dir, {}, "psrecord");
  REQUIRE(p.import.exit_code == 0);
  CHECK(p.verdict["samples"] == 60);
  CHECK(p.header["started_at"] != soak::log::kOutOfRangeTime);

  // Prometheus: a point at 1e300 is a malformed point.
  std::string values;
  for (int i = 0; i < 60; ++i) values += "[" + std::to_string(1764000000 + 15 * i) + ",\"1\"],";
  write_text(dir / "huge.json",
             R"({"status":"success","data":{"resultType":"matrix","result":[)"
             R"({"metric":{"__name__":"process_resident_memory_bytes"},"values":[)" +
                 values + R"([1e300,"1"]]}]}})");
  const Imported q = import_and_analyze("prometheus", dir / "huge.json", dir, {}, "prometheus");
  REQUIRE(q.import.exit_code == 0);
  CHECK_THAT(q.import.err, Catch::Contains("1 points that are not [time, \"value\"] were skipped"));
  CHECK(q.header["started_at"] == "2025-11-24T16:00:00Z");
}
