#include "soak/scenarios/runner.hpp"

#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <utility>

#include "soak/log/metrics.hpp"
#include "soak/probes/http_client.hpp"
#include "soak/sampler/process.hpp"
#include "soak/sampler/stop_signals.hpp"

namespace soak::scenarios {

namespace metric = log::metric;
using Clock = std::chrono::steady_clock;

namespace {
/// Load figures to a sensible precision (the log is read by people too).
double rounded(double v, double digits = 1000) {
  return std::round(v * digits) / digits;
}
}  // namespace

void LoadSource::contribute(sampler::TickSink& sink) {
  for (const JobEvent& e : driver_.take_job_events()) {
    sink.event(e.ok ? log::event::job_finished : log::event::job_failed, e.detail);
  }
  if (std::exchange(first_tick_, false)) return;  // nothing measured over a whole interval yet
  const LoadFigures f = driver_.take_interval();
  if (f.interval_s < 1e-3) return;
  sink.metric(metric::load_level, f.level);
  sink.metric(metric::load_sent_rps, rounded(static_cast<double>(f.sent) / f.interval_s));
  sink.metric(metric::load_rps, rounded(static_cast<double>(f.completed) / f.interval_s));
  sink.metric(metric::load_errors, static_cast<double>(f.error_count()));
  for (const auto& [kind, count] : f.errors) {
    name_buffer_.assign(metric::load_errors_prefix);
    name_buffer_ += kind;
    sink.metric(name_buffer_, static_cast<double>(count));
  }
  if (!std::isnan(f.p50_s)) {
    sink.metric(metric::load_p50_ms, rounded(f.p50_s * 1000));
    sink.metric(metric::load_p95_ms, rounded(f.p95_s * 1000));
    sink.metric(metric::load_p99_ms, rounded(f.p99_s * 1000));
  }
  sink.metric(metric::load_in_flight, static_cast<double>(f.in_flight));
  if (f.jobs_started > 0) {
    sink.metric(metric::load_jobs_done, static_cast<double>(f.jobs_done));
    sink.metric(metric::load_jobs_failed, static_cast<double>(f.jobs_failed));
  }
  if (f.jobs_ended > 0)
    sink.metric(metric::load_job_s, rounded(f.job_seconds / static_cast<double>(f.jobs_ended)));
}

namespace {

/// One readiness request: a target that is up answers a health check at once.
constexpr std::chrono::seconds kReadyAttempt{2};
/// A health check's answer is small; anything longer is read no further.
constexpr std::size_t kReadyAnswerBytes = 64 * 1024;

/// A target soak waits for is still worth waiting for; pid 0 means there is none to watch.
bool still_running(sampler::Pid pid) {
  return pid <= 0 || sampler::process_running(pid);
}

/// A Ctrl-C while waiting for the target: the start is abandoned (the target is stopped as
/// the launch unwinds).
void throw_if_stopped(const std::string& waiting_for) {
  if (sampler::stop_requests() == 0) return;
  throw TargetNotReady(std::string("stopped by ") +
                       sampler::stop_signal_name(sampler::last_stop_signal()) +
                       " while waiting for " + waiting_for + "; the target was stopped");
}

}  // namespace

std::string discover_base_url(const std::string& base_url, const std::string& pattern,
                              const std::filesystem::path& output_file, sampler::Pid pid,
                              double timeout_s) {
  if (base_url.find("${port}") == std::string::npos) return base_url;
  const std::regex re(pattern);
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (Clock::now() < deadline) {
    std::ifstream in(output_file);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    std::smatch m;
    if (std::regex_search(text, m, re) && m.size() > 1) {
      std::string url = base_url;
      url.replace(url.find("${port}"), 7, m[1].str());
      return url;
    }
    throw_if_stopped("the target to print its port");
    if (!still_running(pid)) {
      throw TargetNotReady("the target exited before printing its port; see " +
                           output_file.string());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw TargetNotReady("the target did not print a line matching port_from_output within " +
                       std::to_string(static_cast<int>(timeout_s)) + " s; see " +
                       output_file.string());
}

void wait_until_ready(const std::string& base_url, const std::string& path, sampler::Pid pid,
                      double timeout_s) {
  if (path.empty()) return;
  probes::HttpUrl url;
  try {
    url = probes::parse_http_url(base_url + path);
  } catch (const probes::UrlError& e) {
    throw TargetNotReady(std::string(e.what()) + "; check the scenario's target.ready");
  }
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  std::string last = "no answer";
  while (Clock::now() < deadline) {
    const probes::HttpResult r = probes::http_get(url, {}, kReadyAttempt, kReadyAnswerBytes);
    const bool ok = r.ok() && r.status >= 200 && r.status < 300;
    last = r.ok() ? "HTTP " + std::to_string(r.status) : r.message;
    if (ok) return;
    throw_if_stopped(base_url + path + " to answer");
    if (!still_running(pid))
      throw TargetNotReady("the target exited before " + base_url + path + " answered");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw TargetNotReady(base_url + path + " did not answer 2xx within " +
                       std::to_string(static_cast<int>(timeout_s)) + " s (last: " + last +
                       "); check the target's output and the scenario's target.ready");
}

}  // namespace soak::scenarios
