// External loads (load.command, load.locust, load.wrk): Locust's CSVs and wrk's summary read
// into verdict.json's `load`, validation before the target starts, and real runs of Debian's
// Locust and wrk against the example server inside `soak run` ([real]; skipped without them).

#include "soak/scenarios/external_load.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "soak/scenarios/scenario.hpp"
#include "support.hpp"

using namespace soak::scenarios;
using namespace soak::test;
using namespace std::chrono_literals;

namespace {

const char* kStats =
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min "
    "Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,"
    "90%,95%,98%,99%,99.9%,99.99%,100%\n"
    "GET,/health,30,3,3,7.3,2.3,131.3,15.0,3.337,0.3,3,3,3,4,7,8,130,130,130,130,130\n"
    "POST,\"/api/jobs, new\",1,0,7.07,7.07,7.07,7.07,33.0,0.111,0.0,7,7,7,7,7,7,7,7,7,7,7\n"
    ",Aggregated,31,3,3,6.6,2.3,131.3,17.9,4.115,0.3,3,3,3,3,7,8,130,130,130,130,130\n";
const char* kFailures =
    "Method,Name,Error,Occurrences\n"
    "GET,/health,\"HTTPError('503 Server Error: Service Unavailable for url: /health')\",2\n"
    "GET,/health,\"ConnectionRefusedError(111, 'Connection refused')\",1\n";

nlohmann::json verdict_of(const fs::path& dir) {
  return nlohmann::json::parse(read_file(dir / "verdict.json"));
}

/// Every line of the run's log, parsed.
std::vector<nlohmann::json> log_of(const fs::path& dir) {
  std::vector<nlohmann::json> out;
  for (const auto& line : lines_of(read_file(dir / "samples.ndjson"))) {
    out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

std::size_t samples_with(const std::vector<nlohmann::json>& log, const std::string& name) {
  std::size_t n = 0;
  for (const auto& j : log) n += j.value("type", "") == "sample" && j.contains(name);
  return n;
}

std::optional<nlohmann::json> event_of(const std::vector<nlohmann::json>& log,
                                       const std::string& kind) {
  for (const auto& j : log) {
    if (j.value("type", "") == "event" && j.value("kind", "") == kind) return j;
  }
  return std::nullopt;
}

fs::path write_scenario(const fs::path& dir, const nlohmann::json& load, const std::string& dur,
                        const std::vector<std::string>& server_flags = {}) {
  std::vector<std::string> command = {server_binary().string(), "--port", "0"};
  command.insert(command.end(), server_flags.begin(), server_flags.end());
  const nlohmann::json doc = {{"target",
                               {{"command", command},
                                {"port_from_output", "listening on [0-9.]+:([0-9]+)"},
                                {"base_url", "http://127.0.0.1:${port}"},
                                {"ready", {{"http", "/health"}}}}},
                              {"duration", dur},
                              {"load", load}};
  const fs::path file = dir / "scenario.json";
  std::ofstream(file) << doc.dump(2);
  return file;
}

/// The rows of Locust's own final CSV, by "TYPE NAME" (and "Aggregated").
std::map<std::string, std::map<std::string, std::string>> locust_csv(const fs::path& file) {
  std::map<std::string, std::map<std::string, std::string>> rows;
  const auto lines = lines_of(read_file(file));
  REQUIRE(lines.size() >= 2);
  const auto header = *split_csv_line(lines[0]);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto fields = *split_csv_line(lines[i]);
    std::map<std::string, std::string> row;
    for (std::size_t c = 0; c < header.size() && c < fields.size(); ++c) row[header[c]] = fields[c];
    const std::string key = row["Type"].empty() ? row["Name"] : row["Name"];
    rows[key] = row;
  }
  return rows;
}

bool have(const char* program) {
  return find_program(program).has_value();
}

}  // namespace

TEST_CASE("a CSV line keeps quoted commas and doubled quotes") {
  CHECK(*split_csv_line("a,\"b, c\",\"d\"\"e\",") ==
        std::vector<std::string>{"a", "b, c", "d\"e", ""});
  CHECK_FALSE(split_csv_line("a,\"open"));
}

TEST_CASE("Locust's final stats become verdict.json's load, errors by kind, per endpoint") {
  const auto j = locust_figures(kStats, kFailures);
  REQUIRE(j.is_object());
  CHECK(j["requests"] == 31);
  CHECK(j["answered"] == 28);
  CHECK(j["errors"]["http_5xx"] == 2);
  CHECK(j["errors"]["connect"] == 1);
  CHECK(j["error_rate"].get<double>() == Approx(3.0 / 31).epsilon(1e-5));
  CHECK(j["rps"] == Approx(4.115));
  CHECK(j["latency_ms"]["p50"] == 3);
  CHECK(j["latency_ms"]["p95"] == 8);
  CHECK(j["latency_ms"]["p99"] == 130);
  CHECK(j["latency_ms"]["max"] == Approx(131.3));
  REQUIRE(j["by_request"].contains("GET /health"));
  CHECK(j["by_request"]["GET /health"]["requests"] == 30);
  CHECK(j["by_request"]["GET /health"]["errors"]["http_5xx"] == 2);
  CHECK(j["by_request"]["POST /api/jobs, new"]["latency_ms"]["p99"] == 7);
  CHECK(locust_figures("Type,Name\n", "").is_null());
}

TEST_CASE("wrk's summary line becomes load figures, and no summary none") {
  const auto j = wrk_figures(
      "Running 3s test\nsoak-wrk-summary {\"duration_us\":2000000,\"requests\":100,\"bytes\":9,"
      "\"connect\":1,\"read\":0,\"write\":0,\"status\":4,\"timeout\":0,\"p50_us\":151,"
      "\"p95_us\":363,\"p99_us\":742,\"max_us\":4434}\n",
      "GET /");
  CHECK(j["requests"] == 100);
  CHECK(j["rps"] == 50);
  CHECK(j["errors"]["http_status"] == 4);
  CHECK(j["errors"]["connect"] == 1);
  CHECK(j["latency_ms"]["p95"] == Approx(0.363));
  CHECK(j["by_request"]["GET /"]["requests"] == 100);
  CHECK(wrk_figures("Running 3s test\n", "GET /").is_null());
}

TEST_CASE("a missing Locust or wrk is one line naming its Debian package, before the target") {
  TempDir dir;
  std::ofstream(dir / "locustfile.py") << "from locust import HttpUser\n";
  const std::string path = std::getenv("PATH");
  ::setenv("PATH", dir.path().c_str(), 1);  // a PATH without locust or wrk
  auto error_of = [&](const nlohmann::json& load) {
    try {
      parse_scenario({{"target", {{"pid", 1}, {"base_url", "http://127.0.0.1:1"}}}, {"load", load}},
                     dir / "s.json");
    } catch (const ScenarioError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string locust = error_of({{"locust", "locustfile.py"}});
  const std::string wrk = error_of({{"wrk", nlohmann::json::object()}});
  const std::string command = error_of({{"command", {"no-such-load-program"}}});
  ::setenv("PATH", path.c_str(), 1);
  CHECK_THAT(locust, Catch::Contains("python3-locust"));
  CHECK_THAT(wrk, Catch::Contains("install Debian's package wrk"));
  CHECK_THAT(command, Catch::Contains("no program"));
}

TEST_CASE(
    "a Locust file's load series and final figures agree with Locust's own CSV, and the "
    "leak is called under its load",
    "[real]") {
  if (!have("locust")) SOAK_SKIP("Debian's python3-locust is not installed");
  TempDir dir;
  const fs::path locustfile = dir / "team.py";
  std::ofstream(locustfile) << "from locust import HttpUser, task, constant\n"
                               "class Team(HttpUser):\n"
                               "    wait_time = constant(0.1)\n"
                               "    @task(3)\n"
                               "    def items(self):\n"
                               "        self.client.get('/api/items')\n"
                               "    @task(1)\n"
                               "    def health(self):\n"
                               "        self.client.get('/health')\n"
                               "    @task(1)\n"
                               "    def missing(self):\n"
                               "        self.client.get('/no-such-page')\n";
  const fs::path scenario =
      write_scenario(dir.path(), {{"locust", locustfile.string()}, {"users", 4}, {"spawn_rate", 4}},
                     "45s", {"--leak-per-request-kib", "64"});
  const auto r = run_soak({"run", scenario.string(), "--out", (dir / "run").string(), "-q"}, 150s);
  INFO(r.err);
  CHECK(r.exit_code == 1);
  const auto log = log_of(dir / "run");
  CHECK(samples_with(log, "load.rps") >= 20);
  CHECK(samples_with(log, "load.users") >= 20);
  CHECK(samples_with(log, "load.request.GET /api/items.p95_ms") >= 20);
  const auto v = verdict_of(dir / "run");
  CHECK(v["verdict"] == "fail");
  CHECK(v["metrics"]["rss_bytes"]["classification"] == "leak");
  const auto& load = v["load"];
  CHECK(load["source"] == "locust");
  CHECK(load["under_load_share"].get<double>() > 0.95);
  const auto csv = locust_csv(dir / "run" / "load" / "locust_stats.csv");
  for (const auto& [key, name] : {std::pair<std::string, std::string>{"Aggregated", ""},
                                  {"/api/items", "GET /api/items"},
                                  {"/health", "GET /health"},
                                  {"/no-such-page", "GET /no-such-page"}}) {
    INFO(key);
    const auto& row = csv.at(key);
    const auto& figures = name.empty() ? load : load["by_request"].at(name);
    CHECK(figures["requests"].get<double>() == std::stod(row.at("Request Count")));
    const double failures = std::stod(row.at("Failure Count"));
    CHECK(figures["requests"].get<double>() - figures["answered"].get<double>() == failures);
    CHECK(figures["latency_ms"]["p50"].get<double>() == Approx(std::stod(row.at("50%"))));
    CHECK(figures["latency_ms"]["p95"].get<double>() == Approx(std::stod(row.at("95%"))));
    CHECK(figures["latency_ms"]["p99"].get<double>() == Approx(std::stod(row.at("99%"))));
  }
  CHECK(load["by_request"]["GET /no-such-page"]["errors"]["http_4xx"].get<double>() > 0);
}

TEST_CASE(
    "wrk's load is in the log, its summary in verdict.json, and its end by itself is "
    "load_ended",
    "[real]") {
  if (!have("wrk")) SOAK_SKIP("Debian's wrk is not installed");
  TempDir dir;
  const fs::path scenario = write_scenario(
      dir.path(),
      {{"wrk", {{"threads", 2}, {"connections", 4}, {"duration", "10s"}, {"path", "/api/items"}}}},
      "20s");
  const auto r = run_soak({"run", scenario.string(), "--out", (dir / "run").string(), "-q"}, 90s);
  INFO(r.err);
  const auto log = log_of(dir / "run");
  CHECK(samples_with(log, "load.rps") >= 5);
  const auto ended = event_of(log, "load_ended");
  REQUIRE(ended);
  CHECK((*ended)["t"].get<double>() == Approx(10).margin(3));
  CHECK_FALSE(event_of(log, "load_failed"));
  const auto v = verdict_of(dir / "run");
  const auto& load = v["load"];
  CHECK(load["source"] == "wrk");
  CHECK(load["requests"].get<double>() > 1000);
  CHECK(load["latency_ms"]["p99"].get<double>() >= load["latency_ms"]["p50"].get<double>());
  CHECK(load["by_request"]["GET /api/items"]["requests"] == load["requests"]);
  CHECK(load["under_load_share"].get<double>() == Approx(0.5).margin(0.15));
  for (const auto& c : v["checks"]) {
    if (c["name"] == "load_alive") CHECK(c["status"] == "pass");
  }
}

TEST_CASE(
    "a load command that dies a quarter into the run makes it inconclusive, with the "
    "reason",
    "[real]") {
  // The 30 s of a 2-minute run, scaled down by four: 8 s of 32 s.
  TempDir dir;
  const fs::path scenario = write_scenario(
      dir.path(), {{"command", {"sh", "-c", "test -n \"$SOAK_BASE_URL\" && sleep 8; exit 3"}}},
      "32s");
  const auto r = run_soak({"run", scenario.string(), "--out", (dir / "run").string(), "-q"}, 90s);
  INFO(r.err);
  CHECK(r.exit_code == 2);
  const auto log = log_of(dir / "run");
  const auto failed = event_of(log, "load_failed");
  REQUIRE(failed);
  CHECK((*failed)["t"].get<double>() == Approx(8).margin(2));
  CHECK_THAT((*failed)["detail"].get<std::string>(), Catch::Contains("exit code 3"));
  const auto v = verdict_of(dir / "run");
  CHECK(v["verdict"] == "inconclusive");
  bool found = false;
  for (const auto& c : v["checks"]) {
    if (c["name"] != "load_alive") continue;
    found = true;
    CHECK(c["status"] == "inconclusive");
    CHECK(c["code"] == "load_died");
    CHECK_THAT(c["detail"].get<std::string>(), Catch::Contains("the load died"));
  }
  CHECK(found);
  CHECK(v["load"]["under_load_share"].get<double>() == Approx(0.25).margin(0.08));
  CHECK(v["load"]["exit"]["code"] == 3);
  CHECK(fs::exists(dir / "run" / "load.log"));
}

TEST_CASE("the examples/locust files run as documented", "[real]") {
  if (!have("locust")) SOAK_SKIP("Debian's python3-locust is not installed");
  TempDir dir;
  // The endurance scenario beside the Locust file, its shape shortened to 9 s.
  const std::string scenario = std::string(SOAK_SOURCE_DIR) + "/examples/locust/endurance.json";
  const auto r =
      run_soak({"run", scenario, "--duration", "20s", "--out", (dir / "run").string(), "-q"}, 90s);
  (void)r;
  const auto log = log_of(dir / "run");
  CHECK(samples_with(log, "load.users") >= 5);
  const auto v = verdict_of(dir / "run");
  CHECK(v["load"]["source"] == "locust");
  CHECK(v["load"]["by_request"].contains("GET /health"));
  // The command line form, with a shape chosen by name from the file's four.
  const auto r2 =
      run_soak({"run", "--locust", std::string(SOAK_SOURCE_DIR) + "/examples/locust/locustfile.py",
                "--shape", "NoSuchShape", "--base-url", "http://127.0.0.1:1", "--duration", "5s",
                "--out", (dir / "run2").string(), "-q", "--", "sleep", "30"},
               60s);
  const auto log2 = log_of(dir / "run2");
  const auto failed = event_of(log2, "load_failed");
  REQUIRE(failed);
  CHECK_THAT(read_file(dir / "run2" / "load.log"), Catch::Contains("no shape class NoSuchShape"));
}
