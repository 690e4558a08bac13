#pragma once
// The load driver: HTTP/1.1 keep-alive over a pool of connections, on Boost.Asio (Beast for the
// protocol). Open model: requests are sent at the shape's arrival rate whatever the target's
// speed, and latency is measured from each request's intended send time, so a stalled target
// shows as latency instead of a quietly lower rate (no coordinated omission). Closed model:
// N users, each sending, waiting for the answer, thinking, and sending again. Job workflows
// run submit -> poll -> follow-up as one unit and are reported as job events.
//
// Units: durations in seconds (double, `_s`), latencies in seconds, counts per interval unless
// marked cumulative.
//
// Thread-safety: none. Everything runs on the executor given (the sampler's), so load figures
// are read on the sampling clock without locks: call every member from that executor's thread
// (or while nothing runs it).
//
// Failure modes: the target misbehaving is never an exception; refused connections, timeouts,
// broken streams, 4xx/5xx answers and a client that cannot keep up are counted in
// LoadFigures::errors, and failed jobs are JobEvents with ok == false. parse_base_url throws
// std::invalid_argument for a URL the driver cannot use (parse_scenario rejects those first).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "soak/scenarios/scenario.hpp"

namespace soak::scenarios {

/// Latencies in log-spaced buckets (~2 % wide, 1 us .. ~1e6 s; longer ones land in the last):
/// constant memory however long the run, quantiles within a bucket's width. Not thread-safe.
class LatencyHistogram {
 public:
  LatencyHistogram();
  void add(double seconds);
  /// q in 0..1; seconds, a bucket's middle kept within the exact smallest and largest reading
  /// (so p99 never reads above max); NaN when empty.
  double quantile(double q) const;
  std::uint64_t count() const { return count_; }
  void reset();

 private:
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
  double min_ = 0, max_ = 0;  ///< the exact extremes (valid while count_ > 0)
};

/// What the driver did during one sampling interval.
struct LoadFigures {
  double interval_s = 0;  ///< since the previous take_interval() (or start())
  double level = 0;       ///< the shape's level (rate or users) at the end of the interval
  std::uint64_t sent = 0;
  std::uint64_t completed = 0;  ///< answered (any status)
  std::map<std::string, std::uint64_t>
      errors;  ///< connect, timeout, io, http_4xx, http_5xx, overload
  double p50_s = NAN, p95_s = NAN, p99_s = NAN;  ///< NaN when nothing was answered
  std::uint64_t in_flight = 0;  ///< sent and not yet answered, at the end of the interval
  std::uint64_t jobs_started = 0, jobs_done = 0, jobs_failed = 0;  ///< cumulative
  std::uint64_t jobs_ended = 0;  ///< jobs done in this interval (failed ones not counted)
  double job_seconds = 0;        ///< their summed durations
  std::uint64_t error_count() const;
};

/// Cumulative figures of one request name (or of all requests), from start() on: bounded
/// memory (one histogram) however long the run. A request is counted when it ends: answered
/// (any status; its latency is recorded) or failed without an answer (connect, timeout, io,
/// overload); requests still in flight when the driver stops are not counted.
struct RequestTotals {
  std::uint64_t requests = 0;
  std::uint64_t answered = 0;                   ///< an HTTP answer arrived, any status
  std::map<std::string, std::uint64_t> errors;  ///< by kind, as LoadFigures::errors
  LatencyHistogram latency;                     ///< answered requests, from intended send
  double max_latency_s = 0;                     ///< exact, not a bucket's middle
  std::uint64_t error_count() const;
};

/// Everything the driver did from start() to now (or to stop()).
struct LoadTotals {
  double duration_s = 0;  ///< from start() to stop() (or now), at most the shape's length
  std::uint64_t sent = 0;
  RequestTotals all;
  std::map<std::string, RequestTotals> by_request;  ///< by RequestSpec::name
  std::uint64_t jobs_done = 0, jobs_failed = 0;
  LatencyHistogram job_duration;  ///< jobs done only: a failed job's time says nothing of speed
  double max_job_s = 0;           ///< the longest job done, exact
};

/// One finished job workflow.
struct JobEvent {
  std::string id;  ///< as the submit answer gave it; empty when it gave none
  bool ok = false;
  double duration_s = 0;  ///< from submit to the last answer
  std::string detail;     ///< "job ID done in 0.42 s", or what went wrong
};

/// Drives one scenario's load against one endpoint.
///
/// Lifetime: the driver keeps a reference to `scenario` (and pointers into its requests while
/// they wait in the queue), so the scenario must outlive the driver. Nothing has to outlive the
/// driver: destroying it stops it, and callbacks that complete later find it gone and do
/// nothing, so the executor may keep running. LoadSource (runner.hpp) holds a LoadDriver& and must
/// be destroyed first.
class LoadDriver {
 public:
  /// `endpoint` and `host_header` come from parse_base_url(scenario's URL). Nothing is sent
  /// before start().
  LoadDriver(boost::asio::any_io_executor executor, const Scenario& scenario,
             boost::asio::ip::tcp::endpoint endpoint, std::string host_header);
  ~LoadDriver();  ///< stop()s
  LoadDriver(const LoadDriver&) = delete;
  LoadDriver& operator=(const LoadDriver&) = delete;

  /// Starts the shape now (its time 0). Call once.
  void start();
  /// Stops sending; requests in flight are abandoned and connections closed. Idempotent.
  void stop();
  bool finished() const;  ///< the shape has run out (false before start())

  /// Figures since the previous call (latency quantiles, errors, rate), and resets them.
  LoadFigures take_interval();
  /// Jobs finished since the previous call, in the order they finished.
  std::vector<JobEvent> take_job_events();
  std::uint64_t total_sent() const { return total_sent_; }
  std::uint64_t total_completed() const { return total_completed_; }
  /// Cumulative figures since start(), per request name and for all; see LoadTotals.
  const LoadTotals& totals();

  struct Connection;
  struct Result;

 private:
  struct Pending {
    std::chrono::steady_clock::time_point intended;
    const RequestSpec* spec;
  };
  class JobRun;
  double elapsed_s() const;
  const RequestSpec& pick_request();
  void open_tick();
  void closed_tick();
  void dispatch(Pending p);
  void send_on(std::shared_ptr<Connection> c, Pending p);
  void record(const Result& r, std::chrono::steady_clock::time_point intended,
              const RequestSpec& spec);
  void count_error(const std::string& kind, const RequestSpec& spec);
  void user_loop(std::size_t user);
  void start_job();
  void jobs_tick();
  void on_job_finished(const std::shared_ptr<JobRun>& job);
  std::shared_ptr<Connection> new_connection();

  boost::asio::any_io_executor executor_;
  const Scenario& scenario_;
  boost::asio::ip::tcp::endpoint endpoint_;
  std::string host_header_;
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer jobs_timer_;
  std::chrono::steady_clock::time_point start_, next_send_, interval_start_;
  bool running_ = false;
  std::mt19937_64 rng_;  ///< picks from the request mix; fixed seed, so runs are repeatable
  std::vector<double> cumulative_weights_;
  // open model
  std::vector<std::shared_ptr<Connection>> idle_;
  std::size_t open_connections_ = 0;
  std::deque<Pending> queue_;
  // closed model and jobs
  std::vector<std::shared_ptr<Connection>> users_;
  std::vector<bool> user_active_;
  std::vector<std::shared_ptr<JobRun>> jobs_;
  // figures
  LatencyHistogram histogram_;
  LoadFigures interval_;
  std::uint64_t in_flight_ = 0, total_sent_ = 0, total_completed_ = 0;
  std::uint64_t jobs_started_ = 0, jobs_done_ = 0, jobs_failed_ = 0;
  std::vector<JobEvent> job_events_;
  LoadTotals totals_;
  std::chrono::steady_clock::time_point stopped_;  ///< when stop() ran; unset while running
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  ///< guards late callbacks
};

/// The endpoint of "http://host[:port][/path]" (IPv4/IPv6 literals or localhost; nothing is
/// resolved), and its authority for the Host header in `host_header`. Throws
/// std::invalid_argument naming the problem (split_base_url says which, without throwing).
boost::asio::ip::tcp::endpoint parse_base_url(const std::string& url, std::string& host_header);

}  // namespace soak::scenarios
