#pragma once
// The interface every metric source implements: the process reader's companions
// (HTTP heap probes, Prometheus scrapes, cgroup files) contribute to the same tick.
//
// Thread-safety: contribute() and stop() are called on the sampling executor only.
// Failure modes: a source never throws from contribute(); what fails is reported through
// TickSink::event and shows as a gap (no metric) on that tick. Units go in metric names.

#include <nlohmann/json.hpp>
#include <string_view>

namespace soak::sampler {

/// Receives what sources contribute to one tick. Names must outlive the call only.
class TickSink {
 public:
  virtual ~TickSink() = default;
  /// One metric value for this tick, e.g. ("heap.gc_heap", 12345678). Units go in the name.
  virtual void metric(std::string_view name, double value) = 0;
  /// Something that happened (probe_timeout, probe_bad_payload, ...), logged as an event.
  virtual void event(std::string_view kind, std::string_view detail) = 0;
  /// True on the run's last planned tick (its duration ends): the place for closing readings.
  virtual bool last_tick() const { return false; }
};

/// A thing that yields named metrics on a tick.
///
/// contribute() runs on the sampling executor at every tick and must not block: a source
/// whose data is slow to get (a network endpoint) fetches it off the sampling clock and
/// contributes the latest value it has, or nothing (a gap, which means "not measured").
class Source {
 public:
  virtual ~Source() = default;
  virtual std::string_view name() const = 0;
  virtual void contribute(TickSink& sink) = 0;
  /// Called once when sampling ends; release connections, stop background work.
  virtual void stop() {}
  /// Called once when the target is seen gone, before its event is written: a source adds
  /// what it knows of how it ended (the cgroup: "oom_kill": true when its OOM kills rose).
  virtual void target_ended(nlohmann::json& event_fields) { (void)event_fields; }
};

}  // namespace soak::sampler
