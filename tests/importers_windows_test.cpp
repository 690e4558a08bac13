// soak import perfmon and dotnet-counters: recordings written byte for byte the way typeperf,
// relog and dotnet-counters write them (tests/data/import/make-windows-fixtures.py makes them,
// with fixed seeds), imported with the real binary and judged by `soak analyze`.

#include <catch2/catch.hpp>
#include <fstream>
#include <set>

#include "importers_support.hpp"

using namespace soak::test;

namespace {

fs::path fixture(const std::string& name) {
  return data_dir() / "import" / name;
}

/// The sample lines of a run's log.
std::vector<nlohmann::json> samples_of(const fs::path& run) {
  std::vector<nlohmann::json> out;
  std::ifstream log(run / "samples.ndjson");
  for (std::string line; std::getline(log, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("type", "") == "sample") out.push_back(std::move(j));
  }
  return out;
}

/// Every metric's classification in a verdict (one process).
std::map<std::string, std::string> classifications(const nlohmann::json& verdict) {
  std::map<std::string, std::string> out;
  for (const auto& [name, m] : verdict["metrics"].items()) {
    out[name] = m.value("classification", "");
  }
  return out;
}

const nlohmann::json* process_named(const nlohmann::json& verdict, const std::string& name) {
  if (!verdict.contains("processes")) return nullptr;
  for (const auto& p : verdict["processes"]) {
    if (p.value("name", "") == name) return &p;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a leak in an imported PerfMon Private Bytes series fails the run as a leak") {
  TempDir dir;
  const Imported r = import_and_analyze("perfmon", fixture("perfmon-leak.csv"), dir);
  REQUIRE(r.import.exit_code == 0);
  CHECK(r.header["import"]["format"] == "perfmon");
  CHECK(r.header["target"]["name"] == "app");
  CHECK(r.header["target"]["pid"] == 4312);  // from the ID Process counter
  CHECK(r.header["import"]["measures"]["private_bytes"] ==
        "PerfMon \\\\WIN-SOAK01\\Process(app)\\Private Bytes");
  CHECK(r.header["import"]["measures"]["rss_bytes"] ==
        "PerfMon \\\\WIN-SOAK01\\Process(app)\\Working Set");
  CHECK(r.import.err.find("% Processor Time skipped") != std::string::npos);
  CHECK(r.verdict["samples"] == 241);
  CHECK(classification(r.verdict, "private_bytes") == "leak");
  const double per_min = r.verdict["metrics"]["private_bytes"]["growth_per_min"];
  CHECK(per_min == Approx(20e6).epsilon(0.05));
  CHECK(classification(r.verdict, "rss_bytes") == "steady");  // the leak is not in the WS
  // The working set is flat: the run fails on Private Bytes' own growth check.
  CHECK(r.analyze.exit_code == 1);
}

TEST_CASE("a healthy GC sawtooth in a relog PerfMon file passes") {
  TempDir dir;
  const Imported r = import_and_analyze("perfmon", fixture("perfmon-healthy.csv"), dir);
  REQUIRE(r.import.exit_code == 0);
  CHECK(r.analyze.exit_code == 0);
  CHECK(r.verdict["samples"] == 241);  // relog's trailing empty line is no sample
  for (const std::string metric : {"rss_bytes", "private_bytes", "heap.gc_heap_size_bytes"}) {
    INFO(metric);
    const std::string c = classification(r.verdict, metric);
    CHECK(c != "(absent)");
    CHECK(c != "leak");
    CHECK(c != "slow_growth");
  }
  CHECK(r.header["import"]["measures"]["heap.gc_heap_size_bytes"] ==
        "PerfMon \\\\WIN-SOAK01\\.NET CLR Memory(app)\\# Bytes in all Heaps");
}

TEST_CASE("two PerfMon instances are judged each on its own and the worst decides the run") {
  TempDir dir;
  const Imported r = import_and_analyze("perfmon", fixture("perfmon-two.csv"), dir);
  REQUIRE(r.import.exit_code == 0);
  REQUIRE(r.verdict.contains("processes"));
  CHECK(r.verdict["processes"].size() == 2);
  const nlohmann::json* app = process_named(r.verdict, "app");
  const nlohmann::json* app1 = process_named(r.verdict, "app#1");
  REQUIRE(app != nullptr);
  REQUIRE(app1 != nullptr);
  CHECK(classification(r.verdict, "private_bytes", "app") == "steady");
  CHECK(classification(r.verdict, "rss_bytes", "app") == "steady");
  CHECK(classification(r.verdict, "rss_bytes", "app#1") == "leak");
  CHECK(classification(r.verdict, "private_bytes", "app#1") == "leak");
  CHECK((*app)["verdict"] == "pass");
  CHECK((*app1)["verdict"] == "fail");
  CHECK(r.verdict["verdict"] == "fail");
  CHECK(r.analyze.exit_code == 1);
  // Several instances: the counter is named without its instance.
  CHECK(r.header["import"]["measures"]["private_bytes"] == "PerfMon Process(*)\\Private Bytes");
  CHECK(r.header["import"]["processes"].contains("app#1"));
  CHECK(r.header["import"]["processes"]["app#1"]["pid"] == 6144);
}

TEST_CASE("a blank PerfMon field is a gap in its series and not a zero") {
  TempDir dir;
  const Imported r = import_and_analyze("perfmon", fixture("perfmon-two.csv"), dir);
  REQUIRE(r.import.exit_code == 0);
  std::size_t app1_samples = 0, app1_private = 0, zeros = 0;
  for (const auto& s : samples_of(r.run)) {
    if (s.value("proc", "") != "app#1") continue;
    ++app1_samples;
    if (s.contains("private_bytes")) {
      ++app1_private;
      zeros += s["private_bytes"] == 0;
    }
    for (const auto& [name, value] : s.items()) {
      if (value.is_number()) zeros += name != "t" && value == 0;
    }
  }
  CHECK(zeros == 0);
  CHECK(app1_samples == 241 - 4);      // the rows before app#1 started hold no sample of it
  CHECK(app1_private == 241 - 4 - 1);  // the blank field mid-run is left out
}

TEST_CASE("the PDH header's time zone bias takes the local time stamps to UTC") {
  TempDir dir;
  // Pacific Standard Time, bias 480: 10:00:00.129 local is 18:00 UTC.
  const Imported pst = import_and_analyze("perfmon", fixture("perfmon-leak.csv"), dir, {}, "pst");
  REQUIRE(pst.import.exit_code == 0);
  CHECK(pst.header["started_at"] == "2026-12-01T18:00:00Z");
  CHECK(pst.header["import"]["started_at_estimated"] == false);
  CHECK(pst.header["interval_s"] == Approx(15).margin(0.01));
  // W. Europe Standard Time, bias -60: 10:00 local is 09:00 UTC.
  const Imported cet = import_and_analyze("perfmon", fixture("perfmon-two.csv"), dir, {}, "cet");
  REQUIRE(cet.import.exit_code == 0);
  CHECK(cet.header["started_at"] == "2026-12-01T09:00:00Z");
}

TEST_CASE("dotnet-counters CSV and JSON of the same run give the same classifications") {
  TempDir dir;
  const Imported csv =
      import_and_analyze("dotnet-counters", fixture("dotnet-counters-leak.csv"), dir, {}, "csv");
  const Imported json =
      import_and_analyze("dotnet-counters", fixture("dotnet-counters-leak.json"), dir, {}, "json");
  REQUIRE(csv.import.exit_code == 0);
  REQUIRE(json.import.exit_code == 0);
  CHECK(csv.verdict["samples"] == 61);
  CHECK(json.verdict["samples"] == 61);
  const auto from_csv = classifications(csv.verdict);
  const auto from_json = classifications(json.verdict);
  CHECK(from_csv == from_json);
  const std::set<std::string> expected = {"rss_bytes",
                                          "heap.gc_heap_size_bytes",
                                          "heap.gen0_size_bytes",
                                          "heap.gen2_size_bytes",
                                          "heap.loh_size_bytes",
                                          "heap.alloc_rate_bytes_per_s",
                                          "threads"};
  std::set<std::string> names;
  for (const auto& [name, c] : from_json) names.insert(name);
  CHECK(names == expected);  // CPU Usage (a percentage) is skipped
  CHECK(classification(json.verdict, "rss_bytes") == "leak");
  CHECK(classification(json.verdict, "heap.gc_heap_size_bytes") == "leak");
  CHECK(classification(json.verdict, "heap.gen0_size_bytes") == "steady");
  CHECK(csv.analyze.exit_code == 1);
  CHECK(json.analyze.exit_code == 1);
  // Working Set (MB) is in 10^6 bytes; the rate is per second (the file's is per 30 s).
  const double rss_per_min = json.verdict["metrics"]["rss_bytes"]["growth_per_min"];
  CHECK(rss_per_min == Approx(15e6).epsilon(0.05));
  const auto first = samples_of(json.run).at(0);
  CHECK(first["heap.alloc_rate_bytes_per_s"].get<double>() == Approx(9e8 / 30).epsilon(0.5));
  CHECK(json.header["target"]["name"] == "Seeds.Backend");
  CHECK(json.header["import"]["measures"]["heap.gc_heap_size_bytes"] ==
        ".NET GC heap size (dotnet-counters System.Runtime)");
  // JSON stamps carry the offset (-08:00); the CSV's are local without a zone, read as UTC.
  CHECK(json.header["started_at"] == "2026-12-01T17:30:00Z");
  CHECK(csv.header["started_at"] == "2026-12-01T09:30:00Z");
  CHECK(csv.import.err.find("local time") != std::string::npos);
}

TEST_CASE("a dotnet-counters JSON left without its closing brackets still imports") {
  TempDir dir;
  const Imported r =
      import_and_analyze("dotnet-counters", fixture("dotnet-counters-unclosed.json"), dir);
  REQUIRE(r.import.exit_code == 0);
  CHECK(r.import.err.find("without its closing") != std::string::npos);
  CHECK(r.verdict["samples"] == 41);
  CHECK(r.analyze.exit_code == 0);
  // The .NET 9 meter's names: the working set, generation sizes by tag, the running total of
  // allocations made a rate (about 2.5e8 bytes per 30 s).
  CHECK(classification(r.verdict, "rss_bytes") != "leak");
  CHECK(classification(r.verdict, "heap.gen2_size_bytes") != "(absent)");
  CHECK(classification(r.verdict, "heap.gen2_size_bytes") != "leak");
  CHECK(r.header["import"]["measures"]["rss_bytes"] ==
        "working set (dotnet-counters System.Runtime meter)");
  // The meter reports the GC heap by generation only: its size is their sum.
  CHECK(classification(r.verdict, "heap.gc_heap_size_bytes") != "(absent)");
  CHECK(classification(r.verdict, "heap.gc_heap_size_bytes") != "leak");
  const std::string heap_measures = r.header["import"]["measures"]["heap.gc_heap_size_bytes"];
  CHECK(heap_measures.find("summed over gen0, gen1, gen2, loh, poh") != std::string::npos);
  const auto samples = samples_of(r.run);
  REQUIRE(samples.size() == 41);
  double generations = 0;
  for (const std::string g : {"gen0", "gen1", "gen2", "loh", "poh"}) {
    generations += samples[0]["heap." + g + "_size_bytes"].get<double>();
  }
  CHECK(samples[0]["heap.gc_heap_size_bytes"].get<double>() == Approx(generations));
  CHECK_FALSE(samples[0].contains("heap.alloc_rate_bytes_per_s"));  // a total has no rate yet
  CHECK(samples[1]["heap.alloc_rate_bytes_per_s"].get<double>() == Approx(2.5e8 / 30).epsilon(0.3));

  // Cut inside an event, as a killed session's last flush may leave it: read to the last one.
  const std::string whole = read_file(fixture("dotnet-counters-leak.json"));
  write_text(dir / "cut.json", whole.substr(0, whole.size() * 2 / 3 + 17));
  const Imported cut = import_and_analyze("dotnet-counters", dir / "cut.json", dir, {}, "cut");
  REQUIRE(cut.import.exit_code == 0);
  CHECK(cut.verdict["samples"].get<int>() > 30);
  CHECK(cut.verdict["samples"].get<int>() < 61);
}

TEST_CASE("bad PerfMon and dotnet-counters files give one line naming the problem and exit 3") {
  TempDir dir;
  const std::string pdh = "\"(PDH-CSV 4.0) (Pacific Standard Time)(480)\"";
  const std::string counters =
      ",\"\\\\H\\Process(app)\\Private Bytes\",\"\\\\H\\Process(app)\\Thread Count\"\r\n";
  struct Case {
    std::string format, name, text, says;
  };
  const std::vector<Case> cases = {
      {"perfmon", "not-pdh.csv", "timestamp,rss\n1764000000,100\n",
       "expected a PerfMon CSV header"},
      {"perfmon", "blanks.csv",
       pdh + counters + "\"12/01/2026 10:00:00.000\",\" \",\" \"\r\n" +
           "\"12/01/2026 10:00:15.000\",\"\",\" \"\r\n",
       "no values to import"},
      {"perfmon", "bad-stamps.csv", pdh + counters + "\"yesterday\",\"1\",\"2\"\r\n",
       "expected a PDH time stamp"},
      {"perfmon", "machine.csv", pdh + ",\"\\\\H\\Memory\\Available Bytes\"\r\n",
       "no per-process counters"},
      {"perfmon", "empty.csv", "", "empty"},
      {"dotnet-counters", "pdh.csv", pdh + counters, "expected dotnet-counters CSV"},
      {"dotnet-counters", "garbage.json", "{ \"TargetProcess\": \"x\", \"Events\": [ {",
       "expected dotnet-counters JSON"},
      {"dotnet-counters", "no-events.json",
       "{ \"TargetProcess\": \"x\", \"StartTime\": \"2026-12-01T10:00:00.0000000-08:00\", "
       "\"Events\": []}",
       "no counter values"},
      {"dotnet-counters", "header-only.csv",
       "Timestamp,Provider,Counter Name,Counter Type,Mean/Increment\r\n", "no counter values"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    write_text(dir / c.name, c.text);
    const Imported r = import_and_analyze(c.format, dir / c.name, dir, {}, c.name + ".run");
    CHECK(r.import.exit_code == 3);
    CHECK(lines_of(r.import.err).size() == 1);
    CHECK(r.import.err.find(c.says) != std::string::npos);
    CHECK(r.import.err.find(c.name) != std::string::npos);
    CHECK_FALSE(fs::exists(r.run));
  }
}

TEST_CASE("a dotnet-counters CSV of the .NET 9 meter in a day-first culture reads tags and dates") {
  TempDir dir;
  // de-DE DateTime.ToString(): dd.MM.yyyy HH:mm:ss. Tags follow the name in brackets, their
  // commas made ';' by the exporter. The total allocated is a running total (.NET 8+).
  std::ostringstream csv;
  csv << "Timestamp,Provider,Counter Name,Counter Type,Mean/Increment\r\n";
  for (int i = 0; i < 120; ++i) {
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "13.12.2026 %02d:%02d:%02d", 8 + i / 60, i % 60, 5);
    const double heap = 20e6 + (i % 6) * 2e6;
    csv << stamp << ",System.Runtime,dotnet.process.memory.working_set (By),Metric," << 90e6 + heap
        << "\n"
        << stamp << ",System.Runtime,dotnet.gc.last_collection.heap.size (By)"
        << "[gc.heap.generation=gen2],Metric," << heap << "\n"
        << stamp << ",System.Runtime,dotnet.gc.heap.total_allocated (By),Metric," << 1e6 * i * 60
        << "\n"
        << stamp << ",Microsoft.AspNetCore.Hosting,http.server.active_requests ({request})"
        << "[http.request.method=GET;url.scheme=http],Metric,3\n";
  }
  write_text(dir / "meter.csv", csv.str());
  const Imported r = import_and_analyze("dotnet-counters", dir / "meter.csv", dir);
  REQUIRE(r.import.exit_code == 0);
  CHECK(r.header["started_at"] == "2026-12-13T08:00:05Z");  // day first: there is no month 13
  CHECK(r.verdict["samples"] == 120);
  CHECK(r.header["interval_s"] == 60.0);
  CHECK(classification(r.verdict, "heap.gen2_size_bytes") != "(absent)");
  CHECK(classification(r.verdict, "heap.gc_heap_size_bytes") != "(absent)");  // gen2's alone
  CHECK(classification(r.verdict, "rss_bytes") != "leak");
  const auto samples = samples_of(r.run);
  REQUIRE(samples.size() == 120);
  CHECK(samples[5]["heap.alloc_rate_bytes_per_s"].get<double>() == Approx(1e6));
  CHECK(r.import.err.find("http.server.active_requests") != std::string::npos);  // skipped
  CHECK(r.analyze.exit_code == 0);
}

TEST_CASE("a dotnet-counters JSON value written as NaN is a missing value") {
  TempDir dir;
  std::ostringstream json;
  json << R"j({ "TargetProcess": "app", "StartTime": "2026-12-01T10:00:00.0000000+01:00", )j"
       << R"j("Events": [)j";
  for (int i = 0; i < 60; ++i) {
    char stamp[48];
    std::snprintf(stamp, sizeof stamp, "2026-12-01T10:%02d:00.0000000+01:00", i);
    json << (i > 0 ? "," : "") << R"j({ "timestamp": ")j" << stamp
         << R"j(",  "provider": "System.Runtime",  "name": "Working Set (MB)",  "tags": "",  )j"
         << R"j("counterType": "Metric",  "meterTags": "",  "instrumentTags": "",  "value": )j"
         << (i == 30 ? "NaN" : std::to_string(150 + i % 3)) << " }";
  }
  json << "]}";
  write_text(dir / "nan.json", json.str());
  const Imported r = import_and_analyze("dotnet-counters", dir / "nan.json", dir);
  REQUIRE(r.import.exit_code == 0);
  CHECK(r.header["started_at"] == "2026-12-01T09:00:00Z");
  CHECK(r.verdict["samples"] == 59);
  CHECK(r.import.err.find("1 events without a time stamp or a number") != std::string::npos);
  CHECK(classification(r.verdict, "rss_bytes") == "steady");
}

TEST_CASE("a dotnet-counters event whose provider, name or tags are not strings still imports") {
  TempDir dir;
  // nlohmann's value("provider", "") threw type_error on 1: "unexpected failure", exit 4.
  std::string events;
  for (int i = 0; i < 40; ++i) {
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "2026-01-01T00:%02d:%02dZ", i / 60, i % 60);
    events += std::string(i ? "," : "") + R"({"timestamp":")" + stamp +
              R"(","provider":1,"name":["x"],"tags":{"a":1},"value":)" + std::to_string(100 + i) +
              "}";
  }
  write_text(dir / "typed.json", "{\"Events\":[" + events + "]}");
  const Imported r = import_and_analyze("dotnet-counters", dir / "typed.json", dir);
  INFO(r.import.err);
  CHECK(r.import.exit_code != 4);
  CHECK_THAT(r.import.err, !Catch::Contains("unexpected"));
}

TEST_CASE("a PDH time zone bias past a day is refused, naming the line and column") {
  TempDir dir;
  // (1e300) minutes put the start past any time_t: cast to one when the header was written.
  write_text(dir / "bias.csv",
             "\"(PDH-CSV 4.0) (x)(1e300)\",\"\\\\H\\Process(app)\\Private Bytes\"\r\n"
             "\"12/01/2026 10:00:00.000\",\"1\"\r\n");
  const Imported r = import_and_analyze("perfmon", dir / "bias.csv", dir);
  CHECK(r.import.exit_code == 3);
  CHECK(lines_of(r.import.err).size() == 1);
  CHECK_THAT(r.import.err, Catch::Contains("bias.csv:1:1: expected a PDH time zone bias from "
                                           "-1440 to 1440 minutes, found \"1e300\""));
  CHECK_FALSE(fs::exists(r.run));
}
