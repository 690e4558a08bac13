#include "soak/sampler/sampler.hpp"

#include <boost/asio/post.hpp>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <utility>

#include "soak/log/metrics.hpp"
#include "soak/log/redact.hpp"

namespace soak::sampler {

namespace metric = log::metric;

using Clock = std::chrono::steady_clock;

const char* to_string(EndReason reason) {
  switch (reason) {
    case EndReason::duration_elapsed:
      return "duration elapsed";
    case EndReason::target_exited:
      return "target exited";
    case EndReason::pid_reused:
      return "target pid reused";
    case EndReason::target_unreadable:
      return "target unreadable";
    case EndReason::stopped:
      return "stopped";
    case EndReason::write_failed:
      return "log write failed";
  }
  return "unknown";
}

Sampler::Sampler(boost::asio::any_io_executor executor, std::unique_ptr<ProcessReader> reader,
                 log::SampleWriter& writer, SamplerOptions options)
    : timer_(std::move(executor)), reader_(std::move(reader)), writer_(writer), options_(options) {
  assert(reader_ != nullptr);
}

double Sampler::seconds_since_start(Clock::time_point when) const {
  return std::chrono::duration<double>(when - start_).count();
}

void Sampler::start(std::function<void(EndReason)> on_end) {
  on_end_ = std::move(on_end);
  running_ = true;
  start_ = Clock::now();
  deadline_ = start_;
  last_sync_ = start_;
  last_late_report_ = start_;
  if (!take_sample()) return;
  schedule_next();
}

bool Sampler::tick_now() {
  if (!running_) {
    running_ = true;
    start_ = Clock::now();
    last_sync_ = start_;
    last_late_report_ = start_;
  }
  return take_sample();
}

void Sampler::stop(std::string_view why) {
  if (!running_) return;
  const double t = seconds_since_start(Clock::now());
  writer_.event(t, "stopped", why);
  finish(EndReason::stopped);
}

void Sampler::schedule_next() {
  if (!running_) return;
  const auto now = Clock::now();
  deadline_ += options_.interval;
  if (deadline_ <= now) {
    // Overran one or more deadlines: skip them and stay on the grid.
    const auto behind = (now - deadline_) / options_.interval + 1;
    deadline_ += behind * options_.interval;
    status_.skipped_ticks += static_cast<std::uint64_t>(behind);
    skipped_unreported_ += static_cast<std::uint64_t>(behind);
  }
  if (options_.duration) {
    const auto end = start_ + *options_.duration;
    if (deadline_ > end &&
        status_.elapsed_s < std::chrono::duration<double>(*options_.duration).count()) {
      deadline_ = end;  // the last sample is taken at the end of the planned duration
    }
  }
  timer_.expires_at(deadline_);
  timer_.async_wait([this](const boost::system::error_code& ec) { on_timer(ec); });
}

void Sampler::on_timer(const boost::system::error_code& ec) {
  if (ec || !running_) return;
  const auto now = Clock::now();
  const auto lateness = now - deadline_;
  if (lateness > options_.interval / 2) {
    ++status_.late_ticks;
    ++late_unreported_;
    worst_late_s_ = std::max(worst_late_s_, std::chrono::duration<double>(lateness).count());
  }
  if (!take_sample()) return;
  if (options_.duration && Clock::now() - start_ >= *options_.duration) {
    finish(EndReason::duration_elapsed);
    return;
  }
  schedule_next();
}

void Sampler::metric(std::string_view name, double value) {
  emit(name, value);
}

void Sampler::emit(std::string_view name, double value) {
  writer_.metric(name, value);
  if (tap_fn_) tap_.emplace_back(name, value);
}

void Sampler::record_exec(double t, const ExecSeen& exec) {
  // The header keeps what was attached to or launched; the event says what runs now, with its
  // command line redacted as the header's is.
  const std::vector<std::string> cmdline =
      log::redact_command_line(exec.cmdline, log::compile_redactions(options_.redact));
  std::string shown;
  for (const auto& arg : cmdline) shown += (shown.empty() ? "" : " ") + arg;
  writer_.event(t, log::event::target_exec,
                "the target ran exec: now " + exec.name + " (" + shown + ")",
                nlohmann::json{{"name", exec.name}, {"cmdline", cmdline}});
}

void Sampler::event(std::string_view kind, std::string_view detail) {
  // The sample line is still being built; a source's event is written right after it.
  pending_events_.emplace_back(kind, detail);
}

bool Sampler::take_sample() {
  const auto read_time = Clock::now();
  // The first and the last sample of a run carry the costly readings too, so a short run
  // still has start and end values for PSS, USS and descendants.
  const bool last_tick = options_.duration && read_time - start_ >= *options_.duration;
  last_tick_ = last_tick;
  const bool detail_tick =
      status_.samples == 0 || last_tick || read_time - last_detail_ >= options_.detail_period;
  const ReadResult result = reader_->read(ReadDetail{detail_tick, detail_tick});
  current_t_ = seconds_since_start(read_time);
  const double t = current_t_;

  if (!result.ok()) {
    const Pid pid = reader_->info().identity.pid;
    char detail[160];
    switch (result.status) {
      case ReadStatus::exited: {
        ExitInfo info = exit_info_ ? exit_info_() : ExitInfo{"process exited", {}, {}};
        nlohmann::json extra = nlohmann::json::object();
        if (info.exit_code) extra["exit_code"] = *info.exit_code;
        if (info.signal) extra["signal"] = *info.signal;
        for (Source* source : sources_) source->target_ended(extra);
        writer_.event(t, "target_exited", info.detail, extra);
        finish(EndReason::target_exited);
        return false;
      }
      case ReadStatus::pid_reused:
        std::snprintf(detail, sizeof detail,
                      "pid %d now belongs to another process; the target is gone",
                      static_cast<int>(pid));
        writer_.event(t, "pid_reused", detail);
        finish(EndReason::pid_reused);
        return false;
      default:
        std::snprintf(detail, sizeof detail, "cannot read the target (pid %d): %s (%s)",
                      static_cast<int>(pid), to_string(result.status),
                      std::strerror(result.error_number));
        writer_.event(t, "target_unreadable", detail);
        finish(EndReason::target_unreadable);
        return false;
    }
  }

  if (result.exec) record_exec(t, *result.exec);
  const ProcessSnapshot& s = result.snapshot;
  if (detail_tick) last_detail_ = read_time;
  writer_.begin_sample(t);
  tap_.clear();
  emit(metric::rss_bytes, static_cast<double>(s.rss_bytes));
  emit(metric::vms_bytes, static_cast<double>(s.vms_bytes));
  emit(metric::anon_bytes, static_cast<double>(s.anon_bytes));
  emit(metric::threads, s.threads);
  if (s.fds) emit(metric::fds, *s.fds);
  emit(metric::cpu_s, s.cpu_s);
  emit(metric::minor_faults, static_cast<double>(s.minor_faults));
  emit(metric::major_faults, static_cast<double>(s.major_faults));
  if (s.pss_bytes) emit(metric::pss_bytes, static_cast<double>(*s.pss_bytes));
  if (s.uss_bytes) emit(metric::uss_bytes, static_cast<double>(*s.uss_bytes));
  if (s.swap_bytes) emit(metric::swap_bytes, static_cast<double>(*s.swap_bytes));
  if (s.children) emit(metric::children, *s.children);
  if (s.children_rss_bytes)
    emit(metric::children_rss_bytes, static_cast<double>(*s.children_rss_bytes));
  for (Source* source : sources_) source->contribute(*this);
  bool written = writer_.end_sample();
  if (tap_fn_) tap_fn_(tap_);
  for (const auto& [kind, text] : pending_events_)
    written = writer_.event(t, kind, text) && written;
  pending_events_.clear();

  if (late_unreported_ + skipped_unreported_ > 0 &&
      read_time - last_late_report_ >= std::chrono::seconds(10)) {
    report_late(t);
    last_late_report_ = read_time;
  }
  if (read_time - last_sync_ >= options_.sync_period) {
    writer_.sync();
    last_sync_ = read_time;
  }
  if (!written) {
    finish(EndReason::write_failed);
    return false;
  }

  if (status_.samples == 0) status_.first = s;
  status_.latest = s;
  if (s.children) {
    status_.children = s.children;
    status_.children_rss_bytes = s.children_rss_bytes;
  }
  ++status_.samples;
  status_.elapsed_s = t;
  if (on_sample_) on_sample_(status_);
  return true;
}

void Sampler::report_late(double t) {
  char detail[200];
  std::snprintf(detail, sizeof detail,
                "%llu tick(s) late by up to %.1f ms, %llu deadline(s) skipped",
                static_cast<unsigned long long>(late_unreported_), worst_late_s_ * 1000.0,
                static_cast<unsigned long long>(skipped_unreported_));
  writer_.event(t, "late_tick", detail,
                {{"late", late_unreported_},
                 {"skipped", skipped_unreported_},
                 {"worst_late_s", worst_late_s_}});
  late_unreported_ = 0;
  skipped_unreported_ = 0;
  worst_late_s_ = 0;
}

void Sampler::finish(EndReason reason) {
  if (!running_) return;
  running_ = false;
  timer_.cancel();
  const double t = std::max(current_t_, seconds_since_start(Clock::now()));
  if (late_unreported_ + skipped_unreported_ > 0) report_late(t);
  writer_.event(t, "run_ended", to_string(reason));
  writer_.sync();
  for (Source* source : sources_) source->stop();
  if (on_end_) {
    boost::asio::post(timer_.get_executor(), [cb = std::move(on_end_), reason] { cb(reason); });
  }
}

}  // namespace soak::sampler
