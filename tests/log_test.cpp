// The run log library: header schema, run directory, process keys, version tolerance.

#include "soak/log/log.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <charconv>
#include <cmath>
#include <fstream>
#include <optional>

#include "soak/log/header.hpp"
#include "soak/log/redact.hpp"
#include "soak/log/run_dir.hpp"
#include "soak/log/run_log_builder.hpp"
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

/// A number as the writer writes it: integral values without a fraction, else shortest.
void append_json_number_for_test(std::string& out, double value) {
  char buf[32];
  const auto r = value == std::floor(value) && std::fabs(value) < 9.0e15
                     ? std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(value))
                     : std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, r.ptr);
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

TEST_CASE("utc_iso shows the years 0000 to 9999 and says 'out of range' for any other time") {
  CHECK(utc_iso(0) == "1970-01-01T00:00:00Z");
  CHECK(utc_iso(1764000000.75) == "2025-11-24T16:00:00Z");
  CHECK(utc_iso(-0.5) == "1969-12-31T23:59:59Z");
  CHECK(utc_iso(253402300799.5) == "9999-12-31T23:59:59Z");
  CHECK(utc_iso(-62167219200) == "0000-01-01T00:00:00Z");
  // An imported stamp of 1e300 was cast to time_t (UB); inf and NaN too.
  for (const double t : {253402300800.0, -62167219201.0, 1e300, -1e300, double(INFINITY),
                         -double(INFINITY), double(NAN)}) {
    INFO(t);
    CHECK(utc_iso(t) == kOutOfRangeTime);
  }
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

// ---------------------------------------------------------------------------------------------
// The bounded builder (run_log_builder.hpp): capacity, merging, exact extremes, determinism.

namespace {

const std::string kHeaderLine = R"({"type":"header","format":"soak-samples","version":1})";

std::string sample_line(double t, double rss) {
  std::string line = R"({"type":"sample","t":)";
  append_json_number_for_test(line, t);
  line += R"(,"rss_bytes":)";
  append_json_number_for_test(line, rss);
  return line + "}";
}

}  // namespace

TEST_CASE("a series within the capacity is kept point for point, unbinned") {
  RunLogBuilder builder("mem", 8);
  builder.add_line(kHeaderLine);
  for (int i = 0; i < 8; ++i) builder.add_line(sample_line(i, 100 + i));
  const RunLog log = std::move(builder).finish();
  const Series& s = log.series.at("rss_bytes");
  CHECK_FALSE(s.binned());
  CHECK(s.t == std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(s.value == std::vector<double>{100, 101, 102, 103, 104, 105, 106, 107});
  CHECK(s.max.empty());
  CHECK(s.readings == 8);
  CHECK(s.first == 100);
  CHECK(s.last == 107);
}

TEST_CASE("past the capacity neighbouring points merge pairwise into bins twice as wide") {
  RunLogBuilder builder("mem", 4);
  builder.add_line(kHeaderLine);
  for (int i = 0; i < 9; ++i) builder.add_line(sample_line(i, i % 2 == 0 ? 10 * i : -i));
  // 9 readings into 4 points: two merges (width 4), then one reading in the open bin.
  const RunLog log = builder.snapshot();
  const Series& s = log.series.at("rss_bytes");
  REQUIRE(s.binned());
  REQUIRE(s.size() == 3);
  CHECK(s.t == std::vector<double>{1.5, 5.5, 8});
  // Readings 0,-1,20,-3 | 40,-5,60,-7 | 80.
  CHECK(s.value == std::vector<double>{4, 22, 80});
  CHECK(s.max == std::vector<double>{20, 60, 80});
  CHECK(s.min == std::vector<double>{-3, -7, 80});
  CHECK(s.readings == 9);
  CHECK(s.first == 0);
  CHECK(s.last == 80);
}

TEST_CASE("a series never holds more than the capacity, its extremes and ends stay exact") {
  constexpr std::size_t kCapacity = 64;
  RunLogBuilder builder("mem", kCapacity);
  builder.add_line(kHeaderLine);
  double raw_max = -INFINITY, raw_min = INFINITY;
  std::uint64_t state = 12345;
  double first = 0, last = 0;
  for (int i = 0; i < 100000; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const double v = static_cast<double>(state >> 40);
    if (i == 0) first = v;
    last = v;
    raw_max = std::max(raw_max, v);
    raw_min = std::min(raw_min, v);
    builder.add_line(sample_line(i * 0.001, v));
    if (i % 997 == 0) CHECK(builder.snapshot().series.at("rss_bytes").size() <= kCapacity);
  }
  const RunLog log = std::move(builder).finish();
  const Series& s = log.series.at("rss_bytes");
  CHECK(s.size() <= kCapacity);
  CHECK(s.size() > kCapacity / 2);
  CHECK(log.samples == 100000);
  CHECK(s.readings == 100000);
  CHECK(s.first == first);
  CHECK(s.last == last);
  CHECK(*std::max_element(s.max.begin(), s.max.end()) == raw_max);
  CHECK(*std::min_element(s.min.begin(), s.min.end()) == raw_min);
  CHECK(std::is_sorted(s.t.begin(), s.t.end()));
  for (std::size_t i = 0; i < s.size(); ++i) {
    CHECK(s.min[i] <= s.value[i]);
    CHECK(s.value[i] <= s.max[i]);
  }
}

TEST_CASE("the same lines give the same log, bit for bit, whether streamed from a file or fed") {
  TempDir dir;
  const fs::path path = dir / "samples.ndjson";
  std::vector<std::string> lines = {kHeaderLine};
  for (int i = 0; i < 5000; ++i) {
    lines.push_back(sample_line(i * 0.25, 1e6 + i * 37.5 + (i % 7) * 1e3));
    if (i % 100 == 0) {
      lines.push_back(R"({"type":"event","t":)" + std::to_string(i * 0.25) +
                      R"(,"kind":"job_finished","detail":"ok"})");
    }
  }
  {
    std::ofstream out(path);
    for (const auto& l : lines) out << l << "\n";
  }
  RunLogBuilder fed(path, 128), streamed(path, 128);
  for (const auto& l : lines) fed.add_line(l);
  read_log_into(path, streamed);
  const RunLog a = std::move(fed).finish(), b = std::move(streamed).finish();
  const Series &sa = a.series.at("rss_bytes"), &sb = b.series.at("rss_bytes");
  CHECK(sa.t == sb.t);
  CHECK(sa.value == sb.value);
  CHECK(sa.max == sb.max);
  CHECK(sa.min == sb.min);
  CHECK(a.events.size() == b.events.size());
  CHECK(a.event_counts.at("job_finished") == 50);
  // And read_run_log (the default capacity) keeps these 5000 readings as they are.
  const RunLog raw = read_run_log(path);
  CHECK_FALSE(raw.series.at("rss_bytes").binned());
  CHECK(raw.series.at("rss_bytes").size() == 5000);
}

TEST_CASE("a million events of one kind keep their count and a bounded, evenly spread few") {
  RunLogBuilder builder("mem");
  builder.add_line(kHeaderLine);
  builder.add_line(R"({"type":"event","t":0,"kind":"target_exec","detail":"/bin/x"})");
  for (int i = 0; i < 1000000; ++i) {
    builder.add_line(R"({"type":"event","t":)" + std::to_string(i) +
                     R"(,"kind":"probe_failed","detail":"timeout"})");
  }
  builder.add_line(R"({"type":"event","t":1000001,"kind":"target_exited","detail":"x"})");
  const RunLog log = std::move(builder).finish();
  CHECK(log.event_counts.at("probe_failed") == 1000000);
  CHECK(log.event_counts.at("target_exited") == 1);
  std::size_t kept = 0;
  double last_t = -1;
  for (const auto& e : log.events) {
    if (e.kind != "probe_failed") continue;
    ++kept;
    CHECK(e.t > last_t);
    last_t = e.t;
  }
  CHECK(kept <= kEventsKeptPerKind);
  CHECK(kept > kEventsKeptPerKind / 2);
  CHECK(log.events.front().kind == "target_exec");
  CHECK(log.events.back().kind == "target_exited");
  CHECK(last_t > 900000);  // spread over the whole run, not the first thousand
  REQUIRE(log.warnings.size() == 1);
  CHECK_THAT(log.warnings[0], Catch::Contains("of the 1000000 \"probe_failed\" events"));
}

TEST_CASE("a line longer than the limit is skipped as malformed, the lines after it are read") {
  TempDir dir;
  const fs::path path = dir / "samples.ndjson";
  {
    std::ofstream out(path);
    out << kHeaderLine << "\n" << sample_line(0, 1) << "\n";
    out << std::string(kMaxLineBytes + 10, 'x') << "\n";
    out << sample_line(1, 2) << "\n";
  }
  const RunLog log = read_run_log(path);
  CHECK(log.series.at("rss_bytes").size() == 2);
  REQUIRE(log.warnings.size() == 1);
  CHECK_THAT(log.warnings[0], Catch::Contains("skipped 1 malformed line(s), the first at line 3"));
}

TEST_CASE("a live log fed by its writer equals the file read back, header and early events too") {
  TempDir dir;
  const fs::path path = dir / "samples.ndjson";
  SampleWriter writer(path, make_header(sample_fields()));
  writer.event(0, "target_exec", "before the live log");
  std::optional<RunLog> at_end;
  {
    LiveRunLog live(writer, 32);
    for (int i = 0; i < 1000; ++i) {
      writer.begin_sample(i * 0.01);
      writer.metric("rss_bytes", 4096.0 * (1000 + i));
      writer.metric("cpu_s", i * 0.0031);
      REQUIRE(writer.end_sample());
      if (i % 250 == 0) writer.event(i * 0.01, "late_tick", "x");
    }
    at_end = live.snapshot();
  }
  writer.event(11, "after", "not fed: the live log is gone");
  RunLogBuilder read(path, 32);
  read_log_into(path, read);
  RunLog file = std::move(read).finish();
  CHECK(at_end->header == file.header);
  CHECK(at_end->samples == file.samples);
  for (const auto& [name, s] : file.series) {
    const Series& live = at_end->series.at(name);
    CHECK(live.t == s.t);
    CHECK(live.value == s.value);
    CHECK(live.max == s.max);
    CHECK(live.min == s.min);
  }
  CHECK(at_end->events.size() + 1 == file.events.size());
  CHECK(at_end->events.front().detail == "before the live log");
}

TEST_CASE("a live log's minute copy reuses its memory and equals a fresh snapshot") {
  TempDir dir;
  SampleWriter writer(dir / "samples.ndjson", make_header(sample_fields()));
  LiveRunLog live(writer, 64);
  RunLog copy;
  const double* data = nullptr;
  for (int i = 0; i < 5000; ++i) {
    writer.begin_sample(i * 0.01);
    writer.metric("rss_bytes", 4096.0 * (1000 + i % 77));
    REQUIRE(writer.end_sample());
    if (i % 500 != 499) continue;
    live.snapshot_into(copy);
    const RunLog fresh = live.snapshot();
    const Series &a = copy.series.at("rss_bytes"), &b = fresh.series.at("rss_bytes");
    CHECK(a.t == b.t);
    CHECK(a.value == b.value);
    CHECK(a.max == b.max);
    CHECK(a.min == b.min);
    CHECK(a.readings == b.readings);
    CHECK(copy.samples == fresh.samples);
    // The series took its whole capacity at once: every later copy lands in the same memory.
    if (data == nullptr) data = a.value.data();
    CHECK(a.value.data() == data);
  }
}
