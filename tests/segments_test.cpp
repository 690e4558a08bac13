// The log in segments (segments.hpp): closed segments compressed, old ones binned, and a
// reader of the run directory seeing what a reader of one full-rate file would.

#include "soak/log/segments.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <optional>
#include <set>

#include "soak/log/header.hpp"
#include "soak/log/log.hpp"
#include "soak/log/run_log_builder.hpp"
#include "support.hpp"

using namespace soak::log;
using namespace soak::test;

namespace {

nlohmann::ordered_json test_header() {
  HeaderFields f;
  f.started_at = "2026-12-02T00:00:00Z";
  f.interval_s = 0.001;
  f.target = {4321, "steady", {"./steady"}, 1, 1000};
  f.host = {"6.1.0", 4096, 25000000000ULL, 100};
  f.mode = "attach";
  f.soak_version = "0.1.0";
  return make_header(f);
}

/// Writes the same run, `n` samples at 1 ms, into `writer`: a saw-toothed, slowly growing RSS,
/// a CPU counter, a metric present in every 7th sample only, and events now and then. Values
/// come from a fixed-seed generator so every writer gets the same lines.
void write_run(SampleWriter& writer, int n, std::uint64_t seed = 42) {
  std::uint64_t state = seed;
  for (int i = 0; i < n; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const double t = i * 0.001;
    writer.begin_sample(t);
    writer.metric("rss_bytes",
                  1e8 + 4096.0 * (i % 5000) + 10.0 * i + static_cast<double>(state >> 52));
    writer.metric("cpu_s", i * 0.00031);
    if (i % 7 == 0) writer.metric("heap.used_bytes", 5e6 + static_cast<double>(state >> 44));
    REQUIRE(writer.end_sample());
    if (i % 20000 == 0) writer.event(t, "job_finished", "ok", {{"duration_s", 0.5}});
  }
}

std::string sample_text(double t, double rss) {
  std::string line = R"({"type":"sample","t":)";
  append_json_number(line, t);
  line += R"(,"rss_bytes":)";
  append_json_number(line, rss);
  return line + "}";
}

std::map<std::string, std::uint64_t> files_by_suffix(const fs::path& dir) {
  std::map<std::string, std::uint64_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir / segments_dir, ec)) {
    const std::string name = e.path().filename().string();
    const std::string suffix = name.substr(name.find('.'));
    out[suffix] += 1;
  }
  return out;
}

std::uint64_t directory_bytes(const fs::path& dir) {
  std::uint64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

void check_same_series(const Series& a, const Series& b, double tolerance) {
  CHECK(a.readings == b.readings);
  CHECK(a.first == b.first);
  CHECK(a.last == b.last);
  REQUIRE(a.size() == b.size());
  CHECK(a.binned() == b.binned());
  std::size_t off = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    // Bin times are written to the writer's microsecond.
    const bool close = std::fabs(a.t[i] - b.t[i]) <= (tolerance > 0 ? 1e-6 : 0) &&
                       std::fabs(a.value[i] - b.value[i]) <= tolerance * std::fabs(a.value[i]);
    if (!close && off++ < 3) {
      INFO("point " << i << ": t " << a.t[i] << " vs " << b.t[i] << ", value " << a.value[i]
                    << " vs " << b.value[i]);
      CHECK(close);
    }
    if (a.binned() && b.binned() && (a.max[i] != b.max[i] || a.min[i] != b.min[i])) ++off;
  }
  CHECK(off == 0);
}

}  // namespace

TEST_CASE("a log closed into compressed segments reads back as the one file it replaces") {
  TempDir dir;
  fs::create_directories(dir / "one");
  fs::create_directories(dir / "seg");
  constexpr int kSamples = 60000;
  {
    SampleWriter one(dir / "one" / "samples.ndjson", test_header());
    write_run(one, kSamples);
  }
  std::uint64_t closed = 0;
  {
    SampleWriter seg(dir / "seg" / "samples.ndjson", test_header(),
                     SegmentOptions{std::uint64_t{256} << 10, 0, -1});
    write_run(seg, kSamples);
    seg.settle_segments();
    closed = seg.segments_closed();
  }
  CHECK(closed >= 8);
  // Every closed segment is compressed; nothing raw or half-written is left.
  const auto kinds = files_by_suffix(dir / "seg");
  CHECK(kinds == std::map<std::string, std::uint64_t>{{".ndjson.gz", closed}});
  const RunLog a = read_run_log(dir / "one"), b = read_run_log(dir / "seg");
  CHECK(a.samples == b.samples);
  CHECK(a.first_t == b.first_t);
  CHECK(a.last_t == b.last_t);
  CHECK(b.warnings.empty());
  REQUIRE(a.series.size() == b.series.size());
  for (const auto& [name, series] : a.series) check_same_series(series, b.series.at(name), 0);
  CHECK(a.event_counts == b.event_counts);
  // The closed segments take a fraction of their raw size (zlib level 1 on soak's lines).
  const auto raw = fs::file_size(dir / "one" / "samples.ndjson");
  CHECK(directory_bytes(dir / "seg") < raw / 3);
}

TEST_CASE("segments past the full-rate window are binned, and the run reads as it was sampled") {
  TempDir dir;
  constexpr int kSamples = 400000;  // 400 s at 1 ms: ~24 readings a point at the capacity
  std::optional<RunLog> live;
  std::uint64_t written = 0;
  {
    SampleWriter writer(dir / "samples.ndjson", test_header(),
                        SegmentOptions{std::uint64_t{1} << 20, 0, 60});
    LiveRunLog live_log(writer);
    write_run(writer, kSamples, 7);
    writer.settle_segments();
    live = live_log.snapshot();
    written = writer.bytes_written();
  }
  const auto kinds = files_by_suffix(dir.path());
  CHECK(kinds.count(".bins.ndjson.gz") == 1);
  CHECK(kinds.at(".bins.ndjson.gz") >= 5);
  const RunLog read = read_run_log(dir.path());
  CHECK(read.samples == live->samples);
  CHECK(read.first_t == live->first_t);
  CHECK(read.last_t == live->last_t);
  // The same points the live run had: binning groups readings exactly as the reader does, so
  // only the order of the float sums differs (values: a few ulps of a sum of ~2^5 terms),
  // and bin times are rounded to the writer's microsecond.
  REQUIRE(read.series.size() == live->series.size());
  for (const auto& [name, series] : live->series) {
    INFO(name);
    check_same_series(series, read.series.at(name), 1e-12);
  }
  // Events survive binning whole, and the log says what was binned.
  CHECK(read.event_counts.at("job_finished") == live->event_counts.at("job_finished"));
  REQUIRE(read.event_counts.count("log_binned") == 1);
  const auto binned = std::find_if(read.events.begin(), read.events.end(),
                                   [](const LogEvent& e) { return e.kind == "log_binned"; });
  REQUIRE(binned != read.events.end());
  CHECK(binned->fields.at("bytes_after").get<double>() <
        binned->fields.at("bytes_before").get<double>());
  // What is on disk: the last minute at full rate (compressed) and binned minutes before it.
  CHECK(directory_bytes(dir.path()) < written / 8);
}

TEST_CASE("a segment closed but still the active file after a crash is read once") {
  TempDir dir;
  {
    SampleWriter writer(dir / "samples.ndjson", test_header());
    write_run(writer, 100);
  }
  fs::create_directories(dir / std::string(segments_dir));
  REQUIRE(::link((dir / "samples.ndjson").c_str(),
                 closed_segment_path(dir / "samples.ndjson", 1).c_str()) == 0);
  const RunLog log = read_run_log(dir.path());
  CHECK(log.samples == 100);
  CHECK(log.series.at("rss_bytes").readings == 100);
}

TEST_CASE("a log whose segments cannot be closed goes on in one file and says why") {
  TempDir dir;
  fs::create_directories(dir / std::string(segments_dir));
  // A file where the segment would go: link(2) refuses, nothing is lost.
  { std::ofstream(closed_segment_path(dir / "samples.ndjson", 1)) << "x"; }
  {
    SampleWriter writer(dir / "samples.ndjson", test_header(), SegmentOptions{4096, 0, -1});
    write_run(writer, 2000);
    writer.settle_segments();
    CHECK(writer.segments_closed() == 0);
  }
  fs::remove(closed_segment_path(dir / "samples.ndjson", 1));
  const RunLog log = read_run_log(dir.path());
  CHECK(log.samples == 2000);
  CHECK(log.event_counts.count("log_segment_kept") == 1);
}

TEST_CASE("a segment is binned only where that halves it, the rest stays at full rate") {
  // A steady series compresses to almost nothing at full rate (its lines repeat): binning is
  // tried for each old segment and kept only where the bins take at most half.
  TempDir dir;
  constexpr int kSamples = 200000;
  std::uint64_t closed = 0;
  {
    SampleWriter writer(dir / "samples.ndjson", test_header(),
                        SegmentOptions{std::uint64_t{1} << 20, 0, 20});
    for (int i = 0; i < kSamples; ++i) {
      writer.begin_sample(i * 0.001);
      writer.metric("rss_bytes", 104857600);
      writer.metric("threads", 4);
      REQUIRE(writer.end_sample());
    }
    writer.settle_segments();
    closed = writer.segments_closed();
  }
  const auto kinds = files_by_suffix(dir.path());
  const std::uint64_t binned = kinds.count(".bins.ndjson.gz") ? kinds.at(".bins.ndjson.gz") : 0;
  CHECK(binned < closed);  // the early ones (bins of 8 readings) did not pay
  CHECK(kinds.at(".ndjson.gz") + binned == closed);
  const RunLog log = read_run_log(dir.path());
  CHECK(log.samples == kSamples);
  CHECK(log.series.at("rss_bytes").readings == kSamples);
  CHECK(log.event_counts.count("log_binned") == (binned > 0 ? 1u : 0u));
  for (const auto& e : log.events) {
    if (e.kind != "log_binned") continue;
    CHECK(2 * e.fields.at("bytes_after").get<double>() <=
          e.fields.at("bytes_before").get<double>());
  }
}

TEST_CASE("bin lines a reader does not expect are taken without breaking the series") {
  // A hand-made log: bins that start unaligned, a group wider than the reader's, a bin of many
  // readings into a series of single readings, a span, then plain samples.
  RunLogBuilder builder("mem", 8);
  builder.add_line(R"({"type":"header","format":"soak-samples","version":1})");
  builder.add_line(R"({"type":"sample","t":0,"rss_bytes":10})");
  builder.add_line(R"({"type":"bin","t":0.5,"m":"rss_bytes","n":3,"w":4,"v":20,"max":30})");
  builder.add_line(R"({"type":"bin","t":1,"t_end":2,"samples":3})");
  builder.add_line(R"({"type":"bin","t":2,"m":"rss_bytes","n":1000000,"w":1048576,"v":40})");
  builder.add_line(R"({"type":"bin","t":3,"m":"rss_bytes","n":0,"w":1,"v":1})");    // n 0
  builder.add_line(R"({"type":"bin","t":3,"m":"rss_bytes","n":1,"w":1,"v":"x"})");  // bad v
  for (int i = 0; i < 40; ++i) builder.add_line(sample_text(4 + i, 50 + i));
  const RunLog log = std::move(builder).finish();
  const Series& s = log.series.at("rss_bytes");
  CHECK(s.readings == 1 + 3 + 1000000 + 40);
  CHECK(s.first == 10);
  CHECK(s.last == 89);
  REQUIRE(s.binned());
  CHECK(s.size() <= 8);
  CHECK(s.max.size() == s.size());
  CHECK(s.min.size() == s.size());
  CHECK(*std::max_element(s.max.begin(), s.max.end()) == 89);
  CHECK(log.samples == 1 + 3 + 40);
}

TEST_CASE("a run directory copied without its closed segments reads what is there, and says so") {
  TempDir dir;
  {
    SampleWriter writer(dir / "samples.ndjson", test_header(), SegmentOptions{65536, 0, -1});
    write_run(writer, 5000);
    writer.settle_segments();
    REQUIRE(writer.segments_closed() >= 3);
  }
  fs::remove(dir / "samples.d" / "000001.ndjson.gz");
  const RunLog log = read_run_log(dir.path());
  CHECK(log.samples < 5000);
  CHECK(log.samples > 0);
  REQUIRE(log.warnings.size() == 1);
  CHECK_THAT(log.warnings[0], Catch::Contains("1 of the log's"));
  CHECK_THAT(log.warnings[0], Catch::Contains("earlier segments are missing"));
}
