#pragma once
// The load driver: HTTP/1.1 keep-alive over a pool of connections, on Boost.Asio (Beast for the
// protocol). Open model: requests are sent at the shape's arrival rate whatever the target's
// speed, and latency is measured from each request's intended send time, so a stalled target
// shows as latency instead of a quietly lower rate (no coordinated omission). Closed model:
// N users, each sending, waiting for the answer, thinking, and sending again. Job workflows
// run submit -> poll -> follow-up as one unit and are reported as job events.
//
// Everything runs on the executor given (the sampler's), so load figures are read on the
// sampling clock without locks. Not thread-safe.

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

/// Latencies in log-spaced buckets (~2 % wide, 1 us .. 1000 s): constant memory however long
/// the run, quantiles within a bucket's width.
class LatencyHistogram {
 public:
  LatencyHistogram();
  void add(double seconds);
  double quantile(double q) const;  ///< seconds; NaN when empty
  std::uint64_t count() const { return count_; }
  void reset();

 private:
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
};

/// What the driver did during one sampling interval.
struct LoadFigures {
  double interval_s = 0;
  double level = 0;  ///< the shape's level (rate or users) at the end of the interval
  std::uint64_t sent = 0;
  std::uint64_t completed = 0;  ///< answered (any status)
  std::map<std::string, std::uint64_t> errors;  ///< connect, timeout, io, http_4xx, http_5xx, overload
  double p50_s = NAN, p95_s = NAN, p99_s = NAN;
  std::uint64_t in_flight = 0;
  std::uint64_t jobs_started = 0, jobs_done = 0, jobs_failed = 0;  ///< cumulative
  std::uint64_t jobs_ended = 0;    ///< jobs that finished (either way) in this interval
  double job_seconds = 0;          ///< their summed durations
  std::uint64_t error_count() const;
};

struct JobEvent {
  std::string id;
  bool ok = false;
  double duration_s = 0;
  std::string detail;
};

class LoadDriver {
 public:
  LoadDriver(boost::asio::any_io_executor executor, const Scenario& scenario,
             boost::asio::ip::tcp::endpoint endpoint, std::string host_header);
  ~LoadDriver();
  LoadDriver(const LoadDriver&) = delete;
  LoadDriver& operator=(const LoadDriver&) = delete;

  /// Starts the shape now.
  void start();
  /// Stops sending; requests in flight are abandoned and connections closed.
  void stop();
  bool finished() const;  ///< the shape has run out

  /// Figures since the previous call (latency quantiles, errors, rate), and resets them.
  LoadFigures take_interval();
  std::vector<JobEvent> take_job_events();
  std::uint64_t total_sent() const { return total_sent_; }
  std::uint64_t total_completed() const { return total_completed_; }

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
  void record(const Result& r, std::chrono::steady_clock::time_point intended);
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
  std::mt19937_64 rng_{20261123};
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
  std::uint64_t jobs_started_ = 0, jobs_done_ = 0, jobs_failed_ = 0, job_counter_ = 0;
  std::vector<JobEvent> job_events_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  ///< guards late callbacks
};

/// Resolves "http://host:port" (IPv4/IPv6 literals or localhost). Throws std::invalid_argument.
boost::asio::ip::tcp::endpoint parse_base_url(const std::string& url, std::string& host_header);

}  // namespace soak::scenarios
