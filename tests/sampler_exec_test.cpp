// An exec of the target into a program with the same name: real children that exec a copy of
// a program under the same file name in another folder, with and without address-space
// randomization, read by the real Linux reader and the real Sampler.

#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "soak/log/log.hpp"
#include "soak/sampler/launcher.hpp"
#include "soak/sampler/process.hpp"
#include "soak/sampler/sampler.hpp"
#include "support.hpp"

using namespace soak::sampler;
using namespace soak::log;
using namespace soak::test;
using namespace std::chrono_literals;

namespace {

/// DIR/one/prog, a copy of /bin/sh, and DIR/two/prog, a copy of `second_program`: two files
/// with the same name (so the kernel gives both processes the comm "prog") and paths of the
/// same length.
fs::path same_name_programs(const fs::path& dir, const fs::path& second_program) {
  fs::create_directories(dir / "one");
  fs::create_directories(dir / "two");
  fs::copy_file("/bin/sh", dir / "one" / "prog");
  fs::copy_file(second_program, dir / "two" / "prog");
  return dir / "one" / "prog";
}

/// Reads the target every 10 ms until a read reports an exec or `limit` passes.
std::optional<ExecSeen> watch_for_exec(ProcessReader& reader, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    const ReadResult r = reader.read({});
    if (!r.ok()) return std::nullopt;
    if (r.exec) return r.exec;
    std::this_thread::sleep_for(10ms);
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("an exec into another program of the same name is seen and recorded") {
  TempDir dir;
  const fs::path first = same_name_programs(dir.path(), "/bin/sleep");
  const std::string second = (dir / "two" / "prog").string();
  LaunchOptions launch;
  launch.argv = {first.string(), "-c", "sleep 0.4; exec " + second + " 3"};
  LaunchedProcess target(launch);
  std::this_thread::sleep_for(100ms);  // the shell runs (not soak's fork, not yet the exec)
  OpenResult opened = ProcessReader::open(target.pid());
  REQUIRE(opened.status == ReadStatus::ok);
  CHECK(opened.reader->info().name == "prog");
  const auto exec = watch_for_exec(*opened.reader, 3000ms);
  REQUIRE(exec);
  CHECK(exec->name == "prog");
  CHECK(exec->cmdline == std::vector<std::string>{second, "3"});
  // Seen once: the next reads are of the same program.
  CHECK_FALSE(watch_for_exec(*opened.reader, 1500ms));
  CHECK(opened.reader->info().name == "prog");  // what was opened is kept

  // Through the Sampler: the existing target_exec event, with what runs now.
  LaunchOptions again = launch;
  LaunchedProcess target2(again);
  std::this_thread::sleep_for(100ms);
  OpenResult opened2 = ProcessReader::open(target2.pid());
  REQUIRE(opened2.status == ReadStatus::ok);
  SampleWriter writer(dir / "samples.ndjson",
                      {{"type", "header"}, {"format", "soak-samples"}, {"version", 1}});
  boost::asio::io_context io;
  SamplerOptions options;
  options.interval = 20ms;
  options.duration = 1500ms;
  Sampler sampler(io.get_executor(), std::move(opened2.reader), writer, options);
  sampler.start([](EndReason) {});
  io.run();
  const RunLog log = read_run_log(dir / "samples.ndjson");
  const auto seen = std::find_if(log.events.begin(), log.events.end(),
                                 [](const auto& e) { return e.kind == "target_exec"; });
  REQUIRE(seen != log.events.end());
  CHECK(seen->fields["name"] == "prog");
  CHECK(seen->fields["cmdline"] == nlohmann::json::array({second, "3"}));
  CHECK(seen->t == Approx(0.3).margin(0.3));
  CHECK(std::count_if(log.events.begin(), log.events.end(),
                      [](const auto& e) { return e.kind == "target_exec"; }) == 1);
}

TEST_CASE("an exec of an identical copy with randomization off is seen through the program file") {
  // setarch -R: no address-space randomization. The two copies of the shell run the same
  // command line (only argv[0]'s folder differs, in a path of the same length) in the same
  // environment, so stat's code and stack placement repeat exactly; only the program file
  // (another inode) tells them apart. The second copy then execs itself every 0.4 s: the very
  // same file, which is not an exec soak can see with randomization off.
  if (!fs::exists("/usr/bin/setarch")) SOAK_SKIP("no /usr/bin/setarch (util-linux)");
  TempDir dir;
  const fs::path first = same_name_programs(dir.path(), "/bin/sh");
  const std::string second = (dir / "two" / "prog").string();
  const std::string command = R"(sleep 0.4; exec "$NEXT" -c "$CMD")";
  LaunchOptions launch;
  launch.argv = {"/usr/bin/setarch", "-R", first.string(), "-c", command};
  launch.environment = {{"NEXT", second}, {"CMD", command}};
  LaunchedProcess target(launch);
  std::this_thread::sleep_for(100ms);  // setarch has exec'ed the first copy
  OpenResult opened = ProcessReader::open(target.pid());
  REQUIRE(opened.status == ReadStatus::ok);
  REQUIRE(opened.reader->info().name == "prog");
  REQUIRE(opened.reader->info().cmdline.front() == first.string());
  const auto exec = watch_for_exec(*opened.reader, 3000ms);
  REQUIRE(exec);
  CHECK(exec->name == "prog");
  CHECK(exec->cmdline == std::vector<std::string>{second, "-c", command});
}
