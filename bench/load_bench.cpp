// Load driver benchmark against the same nginx (Debian's package) on 127.0.0.1, same
// connections, in one run:
//   1. peak requests/s: soak's driver (closed model, no think time) against wrk;
//   2. the achieved rate against an asked 1,000 requests/s (open model);
//   3. the driver's own RSS after warm-up and after 1,000,000 requests.
//
// usage: load_bench [--quick]     (needs nginx and wrk: apt-get install nginx-light wrk)

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "soak/scenarios/driver.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& out) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double self_rss_mib() {
  std::ifstream in("/proc/self/statm");
  long size = 0, resident = 0;
  in >> size >> resident;
  return static_cast<double>(resident * sysconf(_SC_PAGESIZE)) / 1048576.0;
}

soak::scenarios::Scenario scenario(const std::string& model, int connections, double level,
                                   double seconds) {
  soak::scenarios::Scenario s;
  s.model = model;
  s.connections = connections;
  s.stages = {{seconds, level}};
  soak::scenarios::RequestSpec r;
  r.path = "/";
  s.requests = {r};
  return s;
}

/// Runs the driver until `done` says so; returns requests answered per second.
double drive(const soak::scenarios::Scenario& s, int port, double seconds,
             const std::function<bool(soak::scenarios::LoadDriver&)>& more = {}) {
  boost::asio::io_context io;
  const boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"),
                                          static_cast<unsigned short>(port));
  soak::scenarios::LoadDriver driver(io.get_executor(), s, ep, "127.0.0.1:" + std::to_string(port));
  const auto start = Clock::now();
  driver.start();
  while (std::chrono::duration<double>(Clock::now() - start).count() < seconds &&
         (!more || more(driver))) {
    io.run_for(std::chrono::milliseconds(50));
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double rate = static_cast<double>(driver.total_completed()) / elapsed;
  driver.stop();
  io.run_for(std::chrono::milliseconds(50));
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  if (::access("/usr/sbin/nginx", X_OK) != 0 || std::system("command -v wrk >/dev/null") != 0) {
    std::printf("load_bench: needs nginx and wrk (apt-get install nginx-light wrk); skipped\n");
    return 0;
  }
  const fs::path dir = fs::temp_directory_path() / ("soak-load-bench-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const int port = free_port();
  std::ofstream(dir / "nginx.conf")
      << "daemon off; worker_processes 1; pid " << (dir / "nginx.pid").string() << ";\n"
      << "error_log " << (dir / "error.log").string() << ";\n"
      << "events { worker_connections 1024; }\n"
      << "http { access_log off; keepalive_requests 100000000; keepalive_timeout 60s;\n"
      << "  server { listen 127.0.0.1:" << port << "; location / { return 200 \"ok\\n\"; } } }\n";
  const pid_t nginx =
      spawn({"/usr/sbin/nginx", "-p", dir.string(), "-c", (dir / "nginx.conf").string()},
            (dir / "nginx.out").string());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  const int connections = 8;
  const double seconds = quick ? 3 : 8;

  // 1. Peak: wrk (one thread, like soak's driver) and soak, same connections, same target.
  const pid_t wrk = spawn({"wrk", "-t1", "-c" + std::to_string(connections),
                           "-d" + std::to_string(static_cast<int>(seconds)) + "s", url},
                          (dir / "wrk.out").string());
  int status = 0;
  ::waitpid(wrk, &status, 0);
  const std::string wrk_out = slurp(dir / "wrk.out");
  const auto at = wrk_out.find("Requests/sec:");
  const double wrk_rps = at == std::string::npos ? 0 : std::atof(wrk_out.c_str() + at + 13);
  const double soak_rps =
      drive(scenario("closed", connections, connections, seconds), port, seconds);

  // 2. The asked 1,000/s, open model.
  const double asked = 1000;
  const double achieved = drive(scenario("open", connections, asked, seconds), port, seconds);

  // 3. RSS over 1,000,000 requests (closed model, as fast as it goes).
  const std::uint64_t total = quick ? 200000 : 1000000;
  double rss_start = 0;
  bool measured_start = false;
  const auto start = Clock::now();
  drive(scenario("closed", connections, connections, 3600), port, 3600,
        [&](soak::scenarios::LoadDriver& d) {
          if (!measured_start && d.total_completed() >= 10000) {
            rss_start = self_rss_mib();
            measured_start = true;
          }
          return d.total_completed() < total;
        });
  const double rss_end = self_rss_mib();
  const double drive_s = std::chrono::duration<double>(Clock::now() - start).count();

  std::printf("load against nginx on 127.0.0.1, %d connections\n", connections);
  std::printf("  peak requests/s: soak %.0f, wrk %.0f: %.2fx wrk (goal >= 0.7x: %s)\n", soak_rps,
              wrk_rps, wrk_rps > 0 ? soak_rps / wrk_rps : 0,
              wrk_rps > 0 && soak_rps >= 0.7 * wrk_rps ? "met" : "NOT MET");
  std::printf("  asked %.0f/s, achieved %.1f/s: %+.2f%% (goal within 1%%: %s)\n", asked, achieved,
              (achieved - asked) / asked * 100,
              std::fabs(achieved - asked) <= asked * 0.01 ? "met" : "NOT MET");
  std::printf(
      "  driver RSS %.2f MiB after 10,000 requests, %.2f MiB after %llu (%+.2f MiB, "
      "goal within 2 MiB: %s), %.1f s\n",
      rss_start, rss_end, static_cast<unsigned long long>(total), rss_end - rss_start,
      std::fabs(rss_end - rss_start) <= 2 ? "met" : "NOT MET", drive_s);
  ::kill(nginx, SIGTERM);
  ::waitpid(nginx, &status, 0);
  fs::remove_all(dir);
  return 0;
}
