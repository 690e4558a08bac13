#pragma once
// Probes: the target's own figures over HTTP, sampled beside RSS.
//
//   --probe 'json http://127.0.0.1:8080/api/perf /heap/in_use_bytes as in_use, /jobs/running'
//   --probe 'prom http://127.0.0.1:8080/metrics go_memstats_heap_inuse_bytes, jvm_memory_used_bytes{area="heap"} as jvm_heap'
//   --probe 'prom http://127.0.0.1:8080/metrics preset=go auth=METRICS_TOKEN timeout=2s every=5s'
//
// Values land in the log as heap.<name>. Each probe fetches on its own thread, off the
// sampling clock, with a timeout; a slow, failing or absent endpoint becomes events and gaps
// (a value is logged once, on the tick after it was fetched), with exponential backoff.
// auth=VAR sends the environment variable VAR as the Authorization header; its value never
// appears in the log, the report or an error.

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <memory>
#include <vector>

#include "soak/sampler/periodic.hpp"
#include "soak/sampler/source.hpp"

namespace soak::probes {

/// A --probe spec that cannot be used; what() says what to write instead.
class ProbeSpecError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

enum class ProbeKind { json, prometheus };

struct ProbeField {
  std::string selector;  ///< a JSON pointer, or a Prometheus selector name{label="v"}
  std::string metric;    ///< heap.<name>
};

struct ProbeSpec {
  ProbeKind kind = ProbeKind::json;
  std::string url;
  std::vector<ProbeField> fields;
  std::optional<std::string> auth_env;
  double timeout_s = 2;
  std::optional<double> every_s;
  std::string text;  ///< the spec as given, for messages (holds no secret: only a variable name)
};

/// Parses "KIND URL ITEM[, ITEM]... [preset=NAME] [auth=VAR] [timeout=D] [every=D]".
ProbeSpec parse_probe_spec(const std::string& text);

/// Metric names the usual runtimes export: go, node, jvm, dotnet, python, process.
std::vector<ProbeField> preset_fields(const std::string& name);

class HttpProbe : public sampler::Source {
 public:
  /// Starts fetching at once, every max(spec.every, sampling_interval, 1 s).
  HttpProbe(ProbeSpec spec, std::chrono::nanoseconds sampling_interval);
  ~HttpProbe() override;
  std::string_view name() const override { return spec_.url; }
  void contribute(sampler::TickSink& sink) override;
  void stop() override;

 private:
  std::chrono::nanoseconds step();  ///< one fetch; returns the wait before the next
  bool fetch_once(std::map<std::string, double>& values, std::string& error, std::string& kind);

  ProbeSpec spec_;
  std::chrono::nanoseconds every_;
  int failures_ = 0;  ///< consecutive; used by the fetch thread only
  std::mutex mutex_;
  std::map<std::string, double> fresh_;  ///< fetched since the last tick
  std::vector<std::pair<std::string, std::string>> events_;
  std::vector<std::string> names_;  ///< stable storage for metric names handed to the sink
  std::unique_ptr<sampler::PeriodicTask> task_;  // last: stops before the members it uses
};

}  // namespace soak::probes
