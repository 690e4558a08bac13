// soak-example-server: an HTTP service in the shape the seed documents test, with switches that
// make it leak in each of the ways a soak test must catch, or stay healthy.
//
//   GET  /health                      -> {"status":"ok"}
//   GET  /api/items                   -> a small JSON list (a plain GET to keep traffic going)
//   POST /api/jobs        {"duration_ms": N}  -> 202 {"id": "...", "status": "queued"}
//   GET  /api/jobs/{id}               -> {"id", "status": queued|running|done|failed, ...}
//   GET  /api/jobs/{id}/result        -> the job's output (bytes)
//   POST /api/assets/upload           -> {"bytes": N} (any body, e.g. a 5 MB upload)
//   GET  /api/perf                    -> JSON performance figures (heap, requests, jobs)
//   GET  /metrics                     -> Prometheus text format
//
// Switches (all off by default: a healthy server):
//   --port P (0 = any free port; the chosen one is printed) --host H (default 127.0.0.1)
//   --leak-per-request-kib K   keep K KiB for every request served
//   --leak-per-job-kib K       keep K KiB for every finished job
//   --fd-leak-per-job N        keep N descriptors open per finished job
//   --thread-leak-per-job N    leave N parked threads per finished job
//   --cache-cap-mib M          a cache that keeps 64 KiB per request until it holds M MiB
//   --sawtooth-mib M           allocator churn: grows by M MiB over --sawtooth-period s, freed
//   --job-child                each job runs a short-lived child process (as FFmpeg would)
//   --leave-children           ... and never reaps or stops it: children accumulate
//   --mmap-leak-per-job-kib K  map K KiB more of one data file per finished job, never unmapped
//   --slow-ms N                add N ms to every /api request (a slow target)
//   --fail-above-jobs N        answer 503 to new jobs while more than N run (a breaking point)
// Prints "listening on 127.0.0.1:PORT" once it accepts connections.

#include <fcntl.h>
#include <httplib.h>
#include <malloc.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  double leak_per_request_kib = 0;
  double leak_per_job_kib = 0;
  int fd_leak_per_job = 0;
  int thread_leak_per_job = 0;
  double cache_cap_mib = 0;
  double sawtooth_mib = 0;
  double sawtooth_period_s = 30;
  bool job_child = false;
  bool leave_children = false;
  int slow_ms = 0;
  int fail_above_jobs = 0;
  double mmap_leak_per_job_kib = 0;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr, "soak-example-server: %s\n", why.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--job-child") {
      o.job_child = true;
      continue;
    }
    if (flag == "--leave-children") {
      o.leave_children = o.job_child = true;
      continue;
    }
    if (i + 1 >= argc) usage("missing value for " + flag);
    const std::string value = argv[++i];
    if (flag == "--host") {
      o.host = value;
      continue;
    }
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (end == value.c_str() || *end != '\0' || v < 0) usage("bad value for " + flag);
    if (flag == "--port")
      o.port = static_cast<int>(v);
    else if (flag == "--leak-per-request-kib")
      o.leak_per_request_kib = v;
    else if (flag == "--leak-per-job-kib")
      o.leak_per_job_kib = v;
    else if (flag == "--fd-leak-per-job")
      o.fd_leak_per_job = static_cast<int>(v);
    else if (flag == "--thread-leak-per-job")
      o.thread_leak_per_job = static_cast<int>(v);
    else if (flag == "--cache-cap-mib")
      o.cache_cap_mib = v;
    else if (flag == "--sawtooth-mib")
      o.sawtooth_mib = v;
    else if (flag == "--sawtooth-period")
      o.sawtooth_period_s = v;
    else if (flag == "--slow-ms")
      o.slow_ms = static_cast<int>(v);
    else if (flag == "--fail-above-jobs")
      o.fail_above_jobs = static_cast<int>(v);
    else if (flag == "--mmap-leak-per-job-kib")
      o.mmap_leak_per_job_kib = v;
    else
      usage("unknown flag " + flag);
  }
  return o;
}

struct Job {
  std::string status = "queued";
  int duration_ms = 200;
  std::chrono::steady_clock::time_point created;
  std::string result;
};

/// The server's state. One mutex: this is a test target, not a fast server.
class Service {
 public:
  explicit Service(Options o) : o_(std::move(o)), start_(std::chrono::steady_clock::now()) {}

  void retain(std::size_t bytes) {
    if (bytes == 0) return;
    std::vector<char> block(bytes, 'L');  // touched: resident
    std::lock_guard lock(mutex_);
    leaked_bytes_ += bytes;
    leaked_.push_back(std::move(block));
  }

  void on_request() {
    ++requests_;
    retain(static_cast<std::size_t>(o_.leak_per_request_kib * 1024));
    if (o_.cache_cap_mib > 0) {
      std::lock_guard lock(mutex_);
      if (static_cast<double>(cache_bytes_) < o_.cache_cap_mib * 1024 * 1024) {
        cache_.emplace_back(64 * 1024, 'C');
        cache_bytes_ += 64 * 1024;
      }
    }
    if (o_.slow_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(o_.slow_ms));
  }

  /// Returns the new job's id, or empty when over the configured capacity.
  std::string submit(int duration_ms) {
    std::lock_guard lock(mutex_);
    if (o_.fail_above_jobs > 0 && running_ >= o_.fail_above_jobs) return {};
    const std::string id = "job-" + std::to_string(++next_id_);
    Job& job = jobs_[id];
    job.duration_ms = duration_ms;
    job.created = std::chrono::steady_clock::now();
    job.status = "running";
    ++running_;
    std::thread([this, id, duration_ms] { run_job(id, duration_ms); }).detach();
    return id;
  }

  std::optional<Job> job(const std::string& id) {
    std::lock_guard lock(mutex_);
    const auto it = jobs_.find(id);
    if (it == jobs_.end()) return std::nullopt;
    return it->second;
  }

  std::string perf_json() {
    std::lock_guard lock(mutex_);
    const struct mallinfo2 mi = mallinfo2();
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "{\"uptime_s\":%.1f,\"requests\":%llu,\"jobs\":{\"running\":%d,\"done\":%llu},"
                  "\"heap\":{\"in_use_bytes\":%zu,\"leaked_bytes\":%zu,\"cache_bytes\":%zu}}",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(),
                  static_cast<unsigned long long>(requests_.load()), running_,
                  static_cast<unsigned long long>(done_), mi.uordblks + mi.hblkhd, leaked_bytes_,
                  cache_bytes_);
    return buf;
  }

  std::string metrics_text() {
    std::lock_guard lock(mutex_);
    const struct mallinfo2 mi = mallinfo2();
    std::string s;
    s += "# HELP demo_requests_total Requests served.\n# TYPE demo_requests_total counter\n";
    s += "demo_requests_total " + std::to_string(requests_.load()) + "\n";
    s += "# HELP demo_heap_in_use_bytes malloc'd bytes in use.\n# TYPE demo_heap_in_use_bytes "
         "gauge\n";
    s += "demo_heap_in_use_bytes " + std::to_string(mi.uordblks + mi.hblkhd) + "\n";
    s += "# TYPE demo_jobs gauge\ndemo_jobs{state=\"running\"} " + std::to_string(running_) +
         "\ndemo_jobs{state=\"done\"} " + std::to_string(done_) + "\n";
    return s;
  }

  void churn_forever() {
    if (o_.sawtooth_mib <= 0) return;
    std::thread([this] {
      std::vector<std::vector<char>> blocks;
      const auto begin = std::chrono::steady_clock::now();
      for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        const double t =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
        const double phase = std::fmod(t, o_.sawtooth_period_s) / o_.sawtooth_period_s;
        const auto wanted = static_cast<std::size_t>(phase * o_.sawtooth_mib);
        if (wanted < blocks.size()) {
          blocks.clear();
          blocks.shrink_to_fit();
          malloc_trim(0);
        }
        while (blocks.size() < wanted) blocks.emplace_back(1 << 20, 'S');
      }
    }).detach();
  }

 private:
  void run_job(const std::string& id, int duration_ms) {
    pid_t child = -1;
    if (o_.job_child) {
      // A short-lived worker process, as a video job runs FFmpeg; left behind on request.
      const std::string seconds = o_.leave_children ? "3600" : std::to_string(duration_ms / 1000.0);
      char* argv[] = {const_cast<char*>("sleep"), const_cast<char*>(seconds.c_str()), nullptr};
      posix_spawnp(&child, "sleep", nullptr, nullptr, argv, environ);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(duration_ms));
    if (child > 0 && !o_.leave_children) {
      ::kill(child, SIGTERM);
      ::waitpid(child, nullptr, 0);
    }
    retain(static_cast<std::size_t>(o_.leak_per_job_kib * 1024));
    map_more(static_cast<std::size_t>(o_.mmap_leak_per_job_kib * 1024));
    for (int i = 0; i < o_.fd_leak_per_job; ++i) ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    for (int i = 0; i < o_.thread_leak_per_job; ++i) {
      std::thread([this] {
        std::unique_lock lock(park_mutex_);
        park_.wait(lock, [] { return false; });
      }).detach();
    }
    std::lock_guard lock(mutex_);
    Job& job = jobs_[id];
    job.status = "done";
    job.result = "result of " + id + "\n";
    --running_;
    ++done_;
    // Finished jobs are forgotten after a while, as a real service would.
    finished_.push_back(id);
    while (finished_.size() > 1000) {
      jobs_.erase(finished_.front());
      finished_.pop_front();
    }
  }

  /// Maps the next `bytes` of a data file (a file-backed leak: the mapping is never undone).
  void map_more(std::size_t bytes) {
    if (bytes == 0) return;
    std::lock_guard lock(mutex_);
    if (map_fd_ < 0) {
      const std::string path = "/tmp/soak-example-server-" + std::to_string(::getpid()) + ".data";
      map_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      ::unlink(path.c_str());  // gone from the directory, still mapped: "(deleted)" in smaps
    }
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t length = (bytes + page - 1) / page * page;
    if (::ftruncate(map_fd_, static_cast<off_t>(map_offset_ + length)) != 0) return;
    void* p = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd_,
                     static_cast<off_t>(map_offset_));
    if (p == MAP_FAILED) return;
    std::memset(p, 'M', length);  // resident
    map_offset_ += length;
  }

  Options o_;
  int map_fd_ = -1;
  std::size_t map_offset_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::mutex mutex_;
  std::map<std::string, Job> jobs_;
  std::deque<std::string> finished_;
  std::vector<std::vector<char>> leaked_, cache_;
  std::size_t leaked_bytes_ = 0, cache_bytes_ = 0;
  std::atomic<unsigned long long> requests_{0};
  unsigned long long next_id_ = 0, done_ = 0;
  int running_ = 0;
  std::mutex park_mutex_;
  std::condition_variable park_;
};

std::string json_string_field(const std::string& body, const std::string& key) {
  const auto pos = body.find("\"" + key + "\"");
  if (pos == std::string::npos) return {};
  const auto colon = body.find(':', pos);
  if (colon == std::string::npos) return {};
  std::size_t start = body.find_first_not_of(" \t\"", colon + 1);
  std::size_t end = body.find_first_of(",}\"", start);
  return start == std::string::npos ? std::string() : body.substr(start, end - start);
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGCHLD, options.leave_children ? SIG_DFL : SIG_DFL);
  Service service(options);
  service.churn_forever();

  httplib::Server server;
  server.set_tcp_nodelay(true);  // no Nagle stalls between header and body writes
  server.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  server.Get("/api/items", [&](const httplib::Request&, httplib::Response& res) {
    service.on_request();
    res.set_content("[{\"id\":1,\"name\":\"alpha\"},{\"id\":2,\"name\":\"beta\"}]",
                    "application/json");
  });
  server.Post("/api/jobs", [&](const httplib::Request& req, httplib::Response& res) {
    service.on_request();
    int duration_ms = 200;
    if (const std::string d = json_string_field(req.body, "duration_ms"); !d.empty()) {
      duration_ms = std::clamp(std::atoi(d.c_str()), 0, 600000);
    }
    const std::string id = service.submit(duration_ms);
    if (id.empty()) {
      res.status = 503;
      res.set_content("{\"error\":\"too many running jobs\"}", "application/json");
      return;
    }
    res.status = 202;
    res.set_content("{\"id\":\"" + id + "\",\"status\":\"running\"}", "application/json");
  });
  server.Get(R"(/api/jobs/([\w-]+))", [&](const httplib::Request& req, httplib::Response& res) {
    service.on_request();
    const auto job = service.job(req.matches[1]);
    if (!job) {
      res.status = 404;
      res.set_content("{\"error\":\"no such job\"}", "application/json");
      return;
    }
    res.set_content(
        "{\"id\":\"" + std::string(req.matches[1]) + "\",\"status\":\"" + job->status + "\"}",
        "application/json");
  });
  server.Get(R"(/api/jobs/([\w-]+)/result)",
             [&](const httplib::Request& req, httplib::Response& res) {
               service.on_request();
               const auto job = service.job(req.matches[1]);
               if (!job || job->status != "done") {
                 res.status = job ? 409 : 404;
                 res.set_content("{\"error\":\"not ready\"}", "application/json");
                 return;
               }
               res.set_content(job->result, "application/octet-stream");
             });
  server.Post("/api/assets/upload", [&](const httplib::Request& req, httplib::Response& res) {
    service.on_request();
    res.set_content("{\"bytes\":" + std::to_string(req.body.size()) + "}", "application/json");
  });
  server.Get("/api/perf", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(service.perf_json(), "application/json");
  });
  server.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(service.metrics_text(), "text/plain; version=0.0.4");
  });

  const int port = options.port == 0
                       ? server.bind_to_any_port(options.host)
                       : (server.bind_to_port(options.host, options.port) ? options.port : -1);
  if (port <= 0) {
    std::fprintf(stderr, "soak-example-server: cannot listen on %s:%d\n", options.host.c_str(),
                 options.port);
    return 1;
  }
  std::printf("listening on %s:%d\n", options.host.c_str(), port);
  std::fflush(stdout);
  server.listen_after_bind();
  return 0;
}
