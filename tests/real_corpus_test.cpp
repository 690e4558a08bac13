// The recorded corpus of real programs (tests/data/real/): redis, memcached, nginx, a G1 JVM,
// Node.js, CPython and a server under soak's own stress ramp, each recorded with soak itself
// for at least 10 minutes (scripts/record-real-corpus.sh re-records them). Every recording is
// judged by the path `soak analyze` takes (soak::judge::judge_log) and its classifications and
// verdict are checked against tests/data/real/expected.json: the truth as the program was built,
// not what soak said when the file was recorded. One test case per recording, so a failure
// names it.

#include <zlib.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "soak/judge/judge.hpp"
#include "soak/log/log.hpp"
#include "support.hpp"

using namespace soak::test;

namespace {

/// A recording must be at least this long (the corpus is of 10-minute runs and longer); a
/// little under 600 s allows for the first sample's offset and the last one's timing.
constexpr double kMinRecordingSeconds = 590.0;

fs::path real_dir() {
  return fs::path(SOAK_TEST_DATA) / "real";
}

nlohmann::json expected_document() {
  std::ifstream in(real_dir() / "expected.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

/// Decompresses a .gz file to `to` with zlib.
void gunzip(const fs::path& from, const fs::path& to) {
  gzFile in = gzopen(from.c_str(), "rb");
  REQUIRE(in != nullptr);
  std::ofstream out(to, std::ios::binary);
  std::vector<char> buffer(1 << 16);
  int n = 0;
  while ((n = gzread(in, buffer.data(), static_cast<unsigned>(buffer.size()))) > 0) {
    out.write(buffer.data(), n);
  }
  const bool clean_end = n == 0;
  gzclose(in);
  REQUIRE(clean_end);
  REQUIRE(out.good());
}

/// The classifications a metric may have: one name, or a list where the shape is ambiguous.
std::set<std::string> allowed_of(const nlohmann::json& expected) {
  std::set<std::string> allowed;
  if (expected.is_string()) {
    allowed.insert(expected.get<std::string>());
  } else {
    for (const auto& c : expected) allowed.insert(c.get<std::string>());
  }
  return allowed;
}

std::string joined(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : " | ") + n;
  return out;
}

void check_recording(const std::string& name) {
  const nlohmann::json doc = expected_document();
  REQUIRE(doc["recordings"].contains(name));
  const nlohmann::json& expected = doc["recordings"][name];
  const fs::path gz = real_dir() / (name + ".ndjson.gz");
  if (!fs::exists(gz)) SOAK_SKIP(gz.string() + " is not recorded (scripts/record-real-corpus.sh)");

  TempDir dir;
  const fs::path log_path = dir / "samples.ndjson";
  gunzip(gz, log_path);

  const soak::log::RunLog log = soak::log::read_run_log(log_path);
  INFO(name << ": " << expected.value("why", std::string()));
  CHECK(log.warnings.empty());
  CHECK(log.last_t - log.first_t >= kMinRecordingSeconds);

  const soak::judge::Judgement judgement = soak::judge::judge_log(log_path, {}, {});
  const auto& metrics = judgement.document["metrics"];
  for (const auto& [metric, classes] : expected["classification"].items()) {
    const std::set<std::string> allowed = allowed_of(classes);
    REQUIRE(metrics.contains(metric));
    const std::string got = metrics[metric].value("classification", std::string("(none)"));
    INFO(name << " " << metric << ": expected " << joined(allowed) << ", soak says " << got);
    CHECK(allowed.count(got) == 1);
  }
  if (expected.contains("verdict")) {
    const std::string got = judgement.document["verdict"].get<std::string>();
    INFO(name << " verdict: expected " << expected["verdict"].get<std::string>() << ", soak says "
              << got << " (" << judgement.document.value("summary", std::string()) << ")");
    CHECK(got == expected["verdict"].get<std::string>());
  }
}

}  // namespace

TEST_CASE("real corpus: expected.json names every recording and each one's truth", "[real]") {
  const nlohmann::json doc = expected_document();
  const std::set<std::string> known = {
      "redis_growing", "redis_fixed",  "memcached_cap", "nginx_wrk",        "jvm_healthy",
      "jvm_leak",      "node_healthy", "node_leak",     "python_slow_leak", "stress_ramp"};
  std::set<std::string> listed;
  for (const auto& [name, r] : doc["recordings"].items()) {
    INFO(name);
    listed.insert(name);
    CHECK(r.contains("truth"));
    CHECK(r.contains("why"));
    CHECK(r["classification"].contains("rss_bytes"));
  }
  CHECK(listed == known);
  for (const auto& entry : fs::directory_iterator(real_dir())) {
    const std::string file = entry.path().filename().string();
    if (!file.ends_with(".ndjson.gz")) continue;
    INFO(file);
    CHECK(listed.count(file.substr(0, file.size() - std::string(".ndjson.gz").size())) == 1);
  }
}

TEST_CASE("real corpus: redis_growing", "[real]") {
  check_recording("redis_growing");
}
TEST_CASE("real corpus: redis_fixed", "[real]") {
  check_recording("redis_fixed");
}
TEST_CASE("real corpus: memcached_cap", "[real]") {
  check_recording("memcached_cap");
}
TEST_CASE("real corpus: nginx_wrk", "[real]") {
  check_recording("nginx_wrk");
}
TEST_CASE("real corpus: jvm_healthy", "[real]") {
  check_recording("jvm_healthy");
}
TEST_CASE("real corpus: jvm_leak", "[real]") {
  check_recording("jvm_leak");
}
TEST_CASE("real corpus: node_healthy", "[real]") {
  check_recording("node_healthy");
}
TEST_CASE("real corpus: node_leak", "[real]") {
  check_recording("node_leak");
}
TEST_CASE("real corpus: python_slow_leak", "[real]") {
  check_recording("python_slow_leak");
}
TEST_CASE("real corpus: stress_ramp", "[real]") {
  check_recording("stress_ramp");
}
