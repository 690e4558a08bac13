#pragma once
// --metrics-listen: the live run in the Prometheus text format, so Grafana (or a Prometheus
// server) can watch an overnight soak. Named per Prometheus' conventions
// (soak/importers/prometheus_names.hpp, docs/exporter.md): one metric per meaning in base
// units (soak_target_resident_memory_bytes, soak_target_cpu_seconds_total, ...), each metric's
// growth per second with its 95 % interval, the classification and the verdict so far as
// state sets (one series per possible state, 1 for the current one), and soak's own
// process_resident_memory_bytes and process_cpu_seconds_total.
//
// Served by a Boost.Beast HTTP/1.1 server on a thread of its own: GET or HEAD /metrics (any
// query string) answers the text of render(); other paths get 404, other methods 405. Each
// connection is bounded: a request over 16 KiB of headers, or with a body, closes it; so does a
// client that takes over 10 s to send its first request (however slowly its bytes come), 30 s
// for a later one, or 30 s to read an answer; at most 64 connections are served at once, and
// at that bound a new one takes the place of the one that has waited longest for a request, so
// slow or half-open clients cannot lock a scraper out (the reasons for each bound are beside
// them in exporter.cpp).
//
// Thread-safety: the set_* calls and render() may be called from any thread while the server
// runs; updates are copied in under a mutex and every scrape sees one consistent state.
// Failure modes: the constructor throws ExporterError; a failing connection only ends itself.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace soak::probes {

class ExporterServer;  // the Beast server, in exporter.cpp

/// --metrics-listen cannot be used: a malformed address, or one this machine cannot listen on.
class ExporterError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One metric's analysis so far, as the exporter serves it: its growth per second (the metric
/// soak_target_..._growth_<unit>_per_second) and its class (soak_classification).
struct GrowthFigures {
  std::string metric;          ///< the log's metric name (rss_bytes, heap.in_use, ...)
  std::string classification;  ///< leak, stable, ... (analysis::to_string)
  bool estimated = true;       ///< false: too little data for a growth (insufficient)
  double per_s = 0, low_per_s = 0, high_per_s = 0;  ///< metric unit per second, 95 % CI
};

/// The classes soak_classification has one series each for (analysis::Classification, as
/// SPEC.md names them); a class outside it gets a series of its own.
inline constexpr const char* kClassifications[] = {"steady",      "warmup",     "plateau",
                                                   "sawtooth",    "leak",       "slow_growth",
                                                   "load_driven", "decreasing", "insufficient"};

class Exporter {
 public:
  /// "9464", ":9464", "127.0.0.1:9464", "localhost:9464", "[::1]:0" (no host means
  /// 127.0.0.1; port 0 picks a free one). Listens before returning, so a scrape can follow at
  /// once. Throws ExporterError when the address is malformed or cannot be bound (in use).
  /// The destructor stops the server and joins its thread; open connections are closed.
  explicit Exporter(const std::string& listen);
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  std::string url() const;  ///< http://host:port/metrics, the port the one actually bound
  /// The target's full program name (the run header's, from its command line; labels
  /// `target`) and PID (label `pid`) on every series about it.
  void set_target(const std::string& name, int pid);
  /// The latest sample (metric name, value in the metric's unit) and the samples written so far.
  void set_sample(const std::vector<std::pair<std::string, double>>& metrics,
                  std::uint64_t samples);
  /// The verdict so far ("pass", "fail", "inconclusive") and each metric's growth and class.
  void set_analysis(const std::string& verdict, const std::vector<GrowthFigures>& growth);
  /// The exposition text as a scrape would return it (tests, and the server's handler).
  std::string render() const;

 private:
  void serve();  ///< the server thread's body

  std::unique_ptr<ExporterServer> server_;
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
