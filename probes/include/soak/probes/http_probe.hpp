#pragma once
// Probes: the target's own figures over HTTP, sampled beside RSS.
//
//   --probe 'json http://127.0.0.1:8080/api/perf /heap/in_use_bytes as in_use, /jobs/running'
//   --probe 'prom http://127.0.0.1:8080/metrics go_memstats_heap_inuse_bytes,
//            jvm_memory_used_bytes{area="heap"} as jvm_heap'
//   --probe 'prom http://127.0.0.1:8080/metrics preset=go auth=METRICS_TOKEN timeout=2s every=5s'
//
// Values land in the log as heap.<name>. Each probe fetches on its own thread, off the
// sampling clock, with a timeout; a slow, failing or absent endpoint becomes events and gaps
// (a value is logged once, on the tick after it was fetched), with exponential backoff.
// auth=VAR sends the environment variable VAR as the Authorization header; its value never
// appears in the log, the report or an error. Credentials in the URL (http://user:pass@host/)
// are sent as Basic auth; they and secret-looking query values (?token=...) are written as ***
// wherever a probe's URL is written (ProbeSpec::shown_url, redact_urls in http_client.hpp).
//
// Fetches go through soak's own client (http_client.hpp): timeout= bounds the whole exchange,
// and an answer over kMaxProbeAnswerBytes is refused. Failures become events, never exceptions:
//   probe_timeout      no complete answer within timeout= (connect, send and read together)
//   probe_error        refused, unreachable, unresolved, not HTTP, or an HTTP status >= 300
//   probe_bad_payload  not JSON / no metrics, none of the fields in it, or an answer larger
//                      than kMaxProbeAnswerBytes ("answer larger than 8 MiB"; reading stops there)
//   probe_recovered    the first answer after failures
// The first failure and each doubling of the back-off give one event, not every attempt.
//
// Thread-safety: parse_probe_spec and preset_fields are pure. An HttpProbe fetches on its own
// thread; contribute() and stop() may be called from the sampling thread meanwhile.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "soak/probes/http_client.hpp"
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
  std::string url;        ///< as given: may hold credentials; only for fetching, never written
  std::string shown_url;  ///< url through redact_urls: what events and messages say
  std::vector<ProbeField> fields;
  std::optional<std::string> auth_env;
  double timeout_s = 2;           ///< bound on one whole fetch, seconds
  std::optional<double> every_s;  ///< fetch interval, seconds (at least the sampling interval)
  /// The spec as given, to parse again (the session does): it holds the URL's secrets, so it is
  /// never written; messages use redact_urls(text).
  std::string text;
};

/// The largest answer a probe reads. A big service's /metrics (a JVM or kube-state-metrics with
/// many labels) is one to a few MiB; past 8 MiB the endpoint is not one to poll every second,
/// and reading stops there so that a runaway or hostile endpoint (an endless chunked body)
/// costs soak at most this much per probe, not its memory.
inline constexpr std::size_t kMaxProbeAnswerBytes = std::size_t{8} << 20;

/// Parses "KIND URL ITEM[, ITEM]... [preset=NAME] [auth=VAR] [timeout=D] [every=D]" (durations
/// as "500ms", "2s"; URL as parse_http_url accepts it). Throws ProbeSpecError naming the part
/// that is wrong, or when auth=VAR names a variable that is not set.
ProbeSpec parse_probe_spec(const std::string& text);

/// Metric names the usual runtimes export: go, node, jvm, dotnet, python, process.
std::vector<ProbeField> preset_fields(const std::string& name);

/// The fields of one answer's `body` into `values` (heap.<name> -> value), as a probe of `spec`
/// reads every answer: the JSON number at each pointer, or the sum of the Prometheus samples
/// each selector matches (finite sums only). A field the answer lacks is left out. False, with
/// `error` (a sentence) and `kind` (the event: probe_bad_payload) set, when the body is not JSON
/// or holds no metrics, or when none of the fields is in it. Pure: any thread; never throws.
bool read_probe_answer(const ProbeSpec& spec, const std::string& body,
                       std::map<std::string, double>& values, std::string& error,
                       std::string& kind);

/// The wait after `failures` (>= 1) consecutive failed fetches of a probe fetching `every`:
/// `every`, doubling with each failure, never above 60 s. Any `every` parse_duration gives
/// (up to 1e18 ns) is fine: nothing overflows.
std::chrono::nanoseconds probe_backoff(std::chrono::nanoseconds every, int failures);

class HttpProbe : public sampler::Source {
 public:
  /// Starts fetching at once, every max(spec.every, sampling_interval, 1 s), backing off
  /// (doubling, up to 60 s) while fetches fail. Throws UrlError when spec.url is not a URL
  /// parse_http_url accepts (parse_probe_spec has checked that already).
  HttpProbe(ProbeSpec spec, std::chrono::nanoseconds sampling_interval);
  ~HttpProbe() override;
  std::string_view name() const override { return spec_.shown_url; }
  /// Hands the values fetched since the last call (each once) and the events to `sink`.
  void contribute(sampler::TickSink& sink) override;
  /// Stops fetching: a fetch in flight is cancelled (its socket closed), so this returns within
  /// milliseconds whatever the endpoint does. Idempotent; fetch_now fails after it.
  void stop() override;
  /// One fetch now, on the calling thread, outside the probe's schedule and back-off (a reading
  /// right after a forced collection). Fills `values` (heap.<name> -> value) and returns true,
  /// or returns false with `error` set. Blocks for at most the spec's timeout; safe to call from
  /// any thread while the probe runs; records no event and changes nothing the ticks see.
  bool fetch_now(std::map<std::string, double>& values, std::string& error) const;

 private:
  std::chrono::nanoseconds step();  ///< one fetch; returns the wait before the next
  bool fetch_once(std::map<std::string, double>& values, std::string& error,
                  std::string& kind) const;

  ProbeSpec spec_;
  HttpUrl url_;  ///< spec_.url, parsed once
  std::chrono::nanoseconds every_;
  int failures_ = 0;           ///< consecutive; used by the fetch thread only
  mutable HttpCancel cancel_;  ///< ends the fetches in flight at stop()
  std::mutex mutex_;
  std::map<std::string, double> fresh_;  ///< fetched since the last tick
  std::vector<std::pair<std::string, std::string>> events_;
  std::vector<std::string> names_;  ///< stable storage for metric names handed to the sink
  std::unique_ptr<sampler::PeriodicTask> task_;  // last: stops before the members it uses
};

}  // namespace soak::probes
