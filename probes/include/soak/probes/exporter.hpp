#pragma once
// --metrics-listen: the live run in the Prometheus text format, so Grafana (or a Prometheus
// server) can watch an overnight soak: the target's latest sample (soak_target_value{metric}),
// the growth estimate and verdict so far, and soak's own RSS and CPU. Served by cpp-httplib on
// its own thread; updates are copied in under a mutex.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace soak::probes {

class ExporterError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct GrowthFigures {
  std::string metric;
  std::string classification;
  double per_min = 0, low_per_min = 0, high_per_min = 0;
};

class Exporter {
 public:
  /// "9464", ":9464", "127.0.0.1:9464", "[::1]:0" (no host means 127.0.0.1; port 0 picks one).
  /// Throws ExporterError when the address is malformed or cannot be bound.
  explicit Exporter(const std::string& listen);
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  std::string url() const;  ///< http://host:port/metrics
  void set_target(const std::string& name, int pid);
  void set_sample(const std::vector<std::pair<std::string, double>>& metrics, std::uint64_t samples);
  void set_analysis(const std::string& verdict, const std::vector<GrowthFigures>& growth);
  /// The exposition text as a scrape would return it (tests, and the server's handler).
  std::string render() const;

 private:
  std::unique_ptr<httplib::Server> server_;
  std::string host_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::string target_name_;
  int target_pid_ = 0;
  std::vector<std::pair<std::string, double>> sample_;
  std::uint64_t samples_ = 0;
  std::string verdict_;
  std::vector<GrowthFigures> growth_;
};

}  // namespace soak::probes
