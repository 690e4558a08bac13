#include "soak/probes/http_probe.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "soak/log/metrics.hpp"
#include "soak/probes/http_client.hpp"
#include "soak/probes/prometheus.hpp"
#include "soak/sampler/duration.hpp"

namespace soak::probes {

namespace metric = log::metric;

namespace {

std::string metric_name(const std::string& name) {
  return name.starts_with(metric::heap_prefix) ? name : std::string(metric::heap_prefix) + name;
}

/// The number at JSON pointer `pointer` in `doc`; nullopt when absent, not a number or not
/// finite. Never throws: an array index past what size_t holds ("/list/99999999999999999999",
/// out_of_range in nlohmann's contains()) is absent too.
std::optional<double> number_at(const nlohmann::json& doc, const std::string& pointer) {
  try {
    const nlohmann::json::json_pointer ptr(pointer);
    if (!doc.contains(ptr) || !doc.at(ptr).is_number()) return std::nullopt;
    const double value = doc.at(ptr).get<double>();
    if (std::isfinite(value)) return value;
  } catch (const nlohmann::json::exception&) {  // parse_probe_spec has checked the syntax
  }
  return std::nullopt;
}

/// Why `text` is not a JSON pointer (RFC 6901), or empty when it is one.
std::string json_pointer_problem(const std::string& text) {
  if (!text.starts_with('/')) return "it must start with /";
  try {
    (void)nlohmann::json::json_pointer(text);
  } catch (const nlohmann::json::exception&) {
    return "'~' must be followed by 0 (for ~) or 1 (for /)";
  }
  return {};
}

std::string default_name(ProbeKind kind, const std::string& selector) {
  if (kind == ProbeKind::json) {
    const auto slash = selector.rfind('/');
    return slash == std::string::npos ? selector : selector.substr(slash + 1);
  }
  return selector.substr(0, selector.find('{'));
}

double seconds_of(const std::string& key, const std::string& value, const std::string& spec) {
  try {
    return std::chrono::duration<double>(sampler::parse_duration(value)).count();
  } catch (const sampler::DurationError&) {
    throw ProbeSpecError("--probe '" + spec + "': " + key + "=" + value +
                         " is not a duration (write e.g. " + key + "=2s)");
  }
}

}  // namespace

std::vector<ProbeField> preset_fields(const std::string& name) {
  if (name == "go") {
    return {{"go_memstats_heap_inuse_bytes", "heap.go_heap_inuse_bytes"},
            {"go_memstats_heap_alloc_bytes", "heap.go_heap_alloc_bytes"},
            {"go_goroutines", "heap.go_goroutines"}};
  }
  if (name == "node") {
    return {{"nodejs_heap_size_used_bytes", "heap.node_heap_used_bytes"},
            {"nodejs_heap_size_total_bytes", "heap.node_heap_total_bytes"},
            {"nodejs_external_memory_bytes", "heap.node_external_bytes"}};
  }
  if (name == "jvm") {
    return {{"jvm_memory_used_bytes{area=\"heap\"}", "heap.jvm_heap_used_bytes"},
            {"jvm_memory_used_bytes{area=\"nonheap\"}", "heap.jvm_nonheap_used_bytes"},
            {"jvm_threads_live_threads", "heap.jvm_threads"}};
  }
  if (name == "dotnet") {
    return {{"dotnet_total_memory_bytes", "heap.dotnet_total_memory_bytes"},
            {"process_runtime_dotnet_gc_heap_size_bytes", "heap.dotnet_gc_heap_bytes"}};
  }
  if (name == "python") {
    return {{"process_resident_memory_bytes", "heap.python_rss_bytes"},
            {"python_gc_objects_uncollectable_total", "heap.python_gc_uncollectable"}};
  }
  if (name == "process") {
    return {{"process_resident_memory_bytes", "heap.process_resident_bytes"},
            {"process_virtual_memory_bytes", "heap.process_virtual_bytes"},
            {"process_open_fds", "heap.process_open_fds"}};
  }
  return {};
}

ProbeSpec parse_probe_spec(const std::string& text) {
  ProbeSpec spec;
  spec.text = text;
  std::istringstream in(text);
  std::vector<std::string> tokens;
  for (std::string t; in >> t;) {
    // "a,b" and "a ," both separate items: split on commas, keep them as tokens.
    std::size_t start = 0;
    for (std::size_t i = 0; i <= t.size(); ++i) {
      if (i == t.size() || (t[i] == ',' && t.find('{') == std::string::npos)) {
        if (i > start) tokens.push_back(t.substr(start, i - start));
        if (i < t.size()) tokens.push_back(",");
        start = i + 1;
      }
    }
  }
  auto fail = [&](const std::string& what) -> ProbeSpecError {
    return ProbeSpecError("--probe '" + redact_urls(text) + "': " + what +
                          " (write e.g. 'json http://127.0.0.1:8080/stats /heap/used as used' or "
                          "'prom http://127.0.0.1:8080/metrics preset=go')");
  };
  if (tokens.size() < 2) throw fail("expected a kind, a URL and what to read");
  if (tokens[0] == "json")
    spec.kind = ProbeKind::json;
  else if (tokens[0] == "prom" || tokens[0] == "prometheus")
    spec.kind = ProbeKind::prometheus;
  else
    throw fail("unknown kind '" + tokens[0] + "' (json or prom)");
  spec.url = tokens[1];
  if (!spec.url.starts_with("http://")) throw fail("the URL must start with http://");
  try {
    parse_http_url(spec.url);
  } catch (const UrlError& e) {
    throw ProbeSpecError("--probe '" + redact_urls(text) + "': " + e.what());
  }
  spec.shown_url = redact_urls(spec.url);
  for (std::size_t i = 2; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (t == ",") continue;
    if (t.starts_with("auth=")) {
      spec.auth_env = t.substr(5);
    } else if (t.starts_with("timeout=")) {
      spec.timeout_s = seconds_of("timeout", t.substr(8), text);
    } else if (t.starts_with("every=")) {
      spec.every_s = seconds_of("every", t.substr(6), text);
    } else if (t.starts_with("preset=")) {
      const auto fields = preset_fields(t.substr(7));
      if (fields.empty())
        throw fail("unknown preset '" + t.substr(7) + "' (go, node, jvm, dotnet, python, process)");
      spec.fields.insert(spec.fields.end(), fields.begin(), fields.end());
    } else if (t == "as") {
      if (spec.fields.empty() || i + 1 >= tokens.size() || tokens[i + 1] == ",")
        throw fail("'as' needs a name after a field");
      spec.fields.back().metric = metric_name(tokens[++i]);
    } else {
      if (spec.kind == ProbeKind::json) {
        if (const std::string problem = json_pointer_problem(t); !problem.empty())
          throw fail("'" + t + "' is not a JSON pointer (" + problem + ")");
      }
      if (spec.kind == ProbeKind::prometheus && !parse_selector(t))
        throw fail("'" + t + "' is not a metric selector");
      spec.fields.push_back({t, metric_name(default_name(spec.kind, t))});
    }
  }
  if (spec.fields.empty()) throw fail("nothing to read: give a JSON pointer, a metric or a preset");
  if (spec.auth_env && std::getenv(spec.auth_env->c_str()) == nullptr) {
    throw fail("auth=" + *spec.auth_env + " names an environment variable that is not set");
  }
  return spec;
}

HttpProbe::HttpProbe(ProbeSpec spec, std::chrono::nanoseconds sampling_interval)
    : spec_(std::move(spec)), url_(parse_http_url(spec_.url)) {
  const double every = std::max(
      {spec_.every_s.value_or(0.0), std::chrono::duration<double>(sampling_interval).count(), 1.0});
  every_ = std::chrono::nanoseconds(static_cast<std::int64_t>(every * 1e9));
  spec_.shown_url = redact_urls(spec_.url);  // also for a spec not made by parse_probe_spec
  for (const auto& f : spec_.fields) names_.push_back(f.metric);
  task_ = std::make_unique<sampler::PeriodicTask>(std::chrono::nanoseconds(0),
                                                  [this] { return step(); });
}

HttpProbe::~HttpProbe() {
  stop();
}

void HttpProbe::stop() {
  cancel_.cancel();
  task_->stop();
}

void HttpProbe::contribute(sampler::TickSink& sink) {
  std::map<std::string, double> values;
  std::vector<std::pair<std::string, std::string>> events;
  {
    std::lock_guard lock(mutex_);
    values.swap(fresh_);
    events.swap(events_);
  }
  for (const auto& name : names_) {
    const auto it = values.find(name);
    if (it != values.end()) sink.metric(name, it->second);
  }
  for (const auto& [kind, detail] : events) sink.event(kind, detail);
}

bool HttpProbe::fetch_now(std::map<std::string, double>& values, std::string& error) const {
  std::string kind;
  return fetch_once(values, error, kind);
}

bool HttpProbe::fetch_once(std::map<std::string, double>& values, std::string& error,
                           std::string& kind) const {
  HttpHeaders headers;
  if (spec_.auth_env) {
    if (const char* secret = std::getenv(spec_.auth_env->c_str())) {
      headers.emplace_back("Authorization", secret);
    }
  }
  const auto timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(spec_.timeout_s));
  const HttpResult res = http_get(url_, headers, timeout, kMaxProbeAnswerBytes, &cancel_);
  if (res.failure == HttpFailure::cancelled) {
    kind.clear();  // stopping: not an event
    error = res.message;
    return false;
  }
  if (!res.ok()) {
    kind = res.failure == HttpFailure::timeout     ? "probe_timeout"
           : res.failure == HttpFailure::too_large ? "probe_bad_payload"
                                                   : "probe_error";
    error = res.message;
    return false;
  }
  if (res.status >= 300) {
    kind = "probe_error";
    error = "HTTP " + std::to_string(res.status);
    return false;
  }
  return read_probe_answer(spec_, res.body, values, error, kind);
}

bool read_probe_answer(const ProbeSpec& spec, const std::string& body,
                       std::map<std::string, double>& values, std::string& error,
                       std::string& kind) {
  std::size_t found = 0;
  if (spec.kind == ProbeKind::json) {
    const auto doc = nlohmann::json::parse(body, nullptr, false);
    if (doc.is_discarded()) {
      kind = "probe_bad_payload";
      error = "the answer is not JSON";
      return false;
    }
    for (const auto& f : spec.fields) {
      if (const auto v = number_at(doc, f.selector)) {
        values[f.metric] = *v;
        ++found;
      }
    }
  } else {
    const PromDocument doc = parse_prometheus_text(body);
    for (const auto& f : spec.fields) {
      if (const auto sel = parse_selector(f.selector)) {
        if (const auto v = select_sum(doc, *sel); v && std::isfinite(*v)) {
          values[f.metric] = *v;
          ++found;
        }
      }
    }
    if (doc.samples.empty()) {
      kind = "probe_bad_payload";
      error =
          "no metrics in the answer (" + std::to_string(doc.skipped_lines) + " unreadable lines)";
      return false;
    }
  }
  if (found == 0) {
    kind = "probe_bad_payload";
    error = "none of the fields are in the answer";
    return false;
  }
  return true;
}

std::chrono::nanoseconds probe_backoff(std::chrono::nanoseconds every, int failures) {
  // The interval doubles with each consecutive failure, up to a minute. `every` goes up to
  // 1e18 ns, so the minute caps it before it is multiplied (2000d x 64 overflowed int64).
  constexpr std::chrono::nanoseconds kMax = std::chrono::seconds(60);
  const int doublings = std::clamp(failures, 1, 7) - 1;
  return std::min(kMax, std::min(kMax, every) * (1 << doublings));
}

std::chrono::nanoseconds HttpProbe::step() {
  std::map<std::string, double> values;
  std::string error, kind;
  const bool ok = fetch_once(values, error, kind);
  if (!ok && kind.empty()) return every_;  // cancelled: the task is stopping
  const int previous_failures = failures_;
  failures_ = ok ? 0 : failures_ + 1;
  std::lock_guard lock(mutex_);
  if (ok) {
    for (const auto& [k, v] : values) fresh_[k] = v;
    if (previous_failures > 0)
      events_.emplace_back("probe_recovered", "GET " + spec_.shown_url + " answers again");
    return every_;
  }
  const auto backoff = probe_backoff(every_, failures_);
  // One event per doubling of the back-off, not one per attempt.
  if ((failures_ & (failures_ - 1)) == 0) {
    char detail[64];
    std::snprintf(detail, sizeof detail, " (%d failure%s; next try in %.0f s)", failures_,
                  failures_ == 1 ? "" : "s", std::chrono::duration<double>(backoff).count());
    events_.emplace_back(kind, "GET " + spec_.shown_url + ": " + error + detail);
  }
  return backoff;
}

}  // namespace soak::probes
