#pragma once
// Test support: real child processes with RAII cleanup, the soak binary run as a user would,
// temporary directories, deadlines. No mocks.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace soak::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// Ends the running test as skipped, saying why: ctest reports it "Skipped" (the marker is
/// the SKIP_REGULAR_EXPRESSION in tests/CMakeLists.txt), never "Passed". Catch2 v2 has no skip
/// of its own; WARN is printed for passing tests too, which is what ctest matches.
#define SOAK_SKIP(why)                    \
  do {                                    \
    WARN("SOAK_TEST_SKIPPED: " << (why)); \
    return;                               \
  } while (false)

/// Paths of the built programs, passed in by CMake.
inline fs::path soak_binary() {
  return SOAK_BINARY;
}
inline fs::path leaky_binary() {
  return SOAK_EXAMPLE_LEAKY;
}
inline fs::path server_binary() {
  return SOAK_EXAMPLE_SERVER;
}
inline fs::path data_dir() {
  return SOAK_TEST_DATA;
}

/// A fresh directory under /tmp, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "soak-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
inline bool wait_until(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A child process started with posix_spawn; stdout and stderr go to files.
/// The destructor kills the whole process group and reaps it.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv, bool own_group = true) {
    out_path_ = dir_ / "stdout";
    err_path_ = dir_ / "stderr";
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT, 0644);
    if (own_group) {
      posix_spawnattr_setpgroup(&attr, 0);
      posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = posix_spawnp(&pid_, args[0], &actions, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) throw std::runtime_error("cannot spawn " + argv[0]);
    own_group_ = own_group;
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (!status_) {
      if (own_group_) ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      wait();
    }
  }

  pid_t pid() const { return pid_; }
  std::string out() const { return read_file(out_path_); }
  std::string err() const { return read_file(err_path_); }

  /// Waits for a line in stdout containing `text`.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout = 10s) const {
    return wait_until([&] { return out().find(text) != std::string::npos; }, timeout);
  }
  void signal(int sig) const { ::kill(pid_, sig); }

  /// Reaps the child; returns its exit code (128 + signal when killed). Blocks.
  int wait() {
    if (!status_) {
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      status_ = status;
    }
    return WIFEXITED(*status_) ? WEXITSTATUS(*status_) : 128 + WTERMSIG(*status_);
  }
  /// Waits up to `timeout`; nullopt if still running.
  std::optional<int> wait_for(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        status_ = status;
        return wait();
      }
      std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
  }

 private:
  TempDir dir_;
  fs::path out_path_;
  fs::path err_path_;
  pid_t pid_ = -1;
  bool own_group_ = true;
  std::optional<int> status_;
};

/// The example leaky program, started and ready.
inline std::unique_ptr<Child> start_leaky(std::vector<std::string> flags) {
  flags.insert(flags.begin(), leaky_binary().string());
  auto child = std::make_unique<Child>(flags);
  if (!child->wait_for_output("ready pid=")) {
    throw std::runtime_error("the example program did not become ready: " + child->err());
  }
  return child;
}

struct SoakResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs the soak binary to completion (killing it after `timeout`).
inline SoakResult run_soak(std::vector<std::string> args, std::chrono::milliseconds timeout = 60s) {
  args.insert(args.begin(), soak_binary().string());
  Child child(args);
  SoakResult result;
  auto code = child.wait_for(timeout);
  result.exit_code = code ? *code : -1;
  result.out = child.out();
  result.err = child.err();
  return result;
}

/// Lines of a file that are non-empty.
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

/// Runs python3-psutil (Debian's /usr/bin/python3, a test-only reference) on `pid`.
inline nlohmann::json psutil_reading(pid_t pid) {
  const std::string script =
      "import json,sys,psutil\n"
      "p=psutil.Process(int(sys.argv[1]))\n"
      "m=p.memory_info(); f=p.memory_full_info(); c=p.cpu_times()\n"
      "kids=p.children(recursive=True)\n"
      "print(json.dumps({'rss':m.rss,'vms':m.vms,'shared':m.shared,'threads':p.num_threads(),"
      "'fds':p.num_fds(),'cpu':c.user+c.system,'pss':f.pss,'uss':f.uss,'swap':f.swap,"
      "'children':len(kids),'children_rss':sum(k.memory_info().rss for k in kids)}))\n";
  TempDir dir;
  { std::ofstream(dir / "ref.py") << script; }
  Child py({"/usr/bin/python3", (dir / "ref.py").string(), std::to_string(pid)});
  const auto code = py.wait_for(30s);
  if (!code || *code != 0) throw std::runtime_error("psutil reference failed: " + py.err());
  return nlohmann::json::parse(py.out());
}

/// A real Prometheus server (Debian's prometheus package) on 127.0.0.1 port 0: its port is read
/// back from its own log, so no port number is borrowed and raced for. `config` is the text of
/// prometheus.yml; `backfill`, when given, is OpenMetrics text loaded into its TSDB first with
/// promtool (exact points at exact times). Throws std::runtime_error when it does not come up.
class PrometheusServer {
 public:
  PrometheusServer(const fs::path& dir, const std::string& config,
                   const std::string& backfill = "") {
    if (!backfill.empty()) {
      std::ofstream(dir / "in.om") << backfill << "# EOF\n";
      Child promtool({"promtool", "tsdb", "create-blocks-from", "openmetrics",
                      (dir / "in.om").string(), (dir / "tsdb").string()});
      if (promtool.wait_for(60s) != 0) {
        throw std::runtime_error("promtool could not backfill: " + promtool.err());
      }
    }
    std::ofstream(dir / "prometheus.yml") << config;
    server_ = std::make_unique<Child>(std::vector<std::string>{
        "/usr/bin/prometheus", "--config.file=" + (dir / "prometheus.yml").string(),
        "--storage.tsdb.path=" + (dir / "tsdb").string(), "--web.listen-address=127.0.0.1:0"});
    const std::regex listening(R"(msg="Listening on" address=127\.0\.0\.1:([0-9]+))");
    std::smatch m;
    std::string err;
    if (!wait_until([&] { return std::regex_search(err = server_->err(), m, listening); }, 60s)) {
      throw std::runtime_error("prometheus did not start listening: " + server_->err());
    }
    url_ = "http://127.0.0.1:" + m[1].str();
    if (!wait_until([&] { return get("/-/ready", true) == "200"; }, 60s)) {
      throw std::runtime_error("prometheus did not get ready: " + server_->err());
    }
  }
  const std::string& url() const { return url_; }
  /// The value of an instant query's first series; NaN when there is none yet.
  double instant(const std::string& promql) const {
    Child curl({"curl", "-s", "-G", "--max-time", "10", "--data-urlencode", "query=" + promql,
                url_ + "/api/v1/query"});
    curl.wait_for(15s);
    const auto doc = nlohmann::json::parse(curl.out(), nullptr, false);
    if (doc.is_discarded() || !doc.contains("data") || doc["data"]["result"].empty()) return NAN;
    return std::stod(doc["data"]["result"][0]["value"][1].get<std::string>());
  }
  /// GETs url() + `path` (with its query string); the body, or the status code alone.
  std::string get(const std::string& path, bool status_only = false) const {
    std::vector<std::string> argv = {"curl", "-s", "-g", "--max-time", "10"};
    if (status_only) argv.insert(argv.end(), {"-o", "/dev/null", "-w", "%{http_code}"});
    argv.push_back(url_ + path);
    Child curl(argv);
    curl.wait_for(15s);
    return curl.out();
  }

 private:
  std::unique_ptr<Child> server_;
  std::string url_;
};

}  // namespace soak::test
