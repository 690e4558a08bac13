#include "soak/scenarios/driver.hpp"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <stdexcept>

namespace soak::scenarios {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// The driver's fixed numbers, each with its reason.
namespace {
/// Latency histogram: buckets 2 % wide from 1 us; 1.02^1400 * 1 us is ~1e6 s, beyond any
/// request timeout.
constexpr double kMinLatency = 1e-6;
constexpr double kBucketGrowth = 1.02;
const double kLogGrowth = std::log(kBucketGrowth);
constexpr std::size_t kBuckets = 1400;
/// Open-model sends waiting for a free connection. Past this the target is long saturated
/// (latency already shows it) and the client would only eat memory (16 B a send); further
/// sends are counted as "overload" errors, never dropped silently.
constexpr std::size_t kMaxQueuedSends = 100000;
/// How often the closed model and job workflows look at the shape's level: level changes are
/// followed within 50 ms (stages last seconds) for 20 wake-ups a second.
constexpr std::chrono::milliseconds kControlTick{50};
/// A stage with level 0 sends nothing; the open model looks again this much later.
constexpr std::chrono::milliseconds kIdleRateStep{100};
/// An answer body larger than this is an "io" error instead of unbounded memory.
constexpr std::uint64_t kMaxResponseBodyBytes = 256u << 20;
/// The request mix is drawn from a fixed seed, so two runs of a scenario send the same
/// sequence (any constant would do; this one is a date).
constexpr std::uint64_t kRequestMixSeed = 20261123;
/// HTTP/1.1, for keep-alive.
constexpr unsigned kHttpVersion = 11;
constexpr std::string_view kIdVariable = "{id}";
}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBuckets, 0) {}

void LatencyHistogram::add(double seconds) {
  const double v = std::max(seconds, kMinLatency);
  const auto b = std::min<std::size_t>(
      kBuckets - 1, static_cast<std::size_t>(std::log(v / kMinLatency) / kLogGrowth));
  ++buckets_[b];
  min_ = count_ == 0 ? seconds : std::min(min_, seconds);
  max_ = count_ == 0 ? seconds : std::max(max_, seconds);
  ++count_;
}

double LatencyHistogram::quantile(double q) const {
  if (count_ == 0) return NAN;
  const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  if (rank >= count_) return max_;  // the largest reading is known exactly
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < kBuckets; ++b) {
    seen += buckets_[b];
    if (seen >= std::max<std::uint64_t>(1, rank)) {
      const double middle = kMinLatency * std::pow(kBucketGrowth, static_cast<double>(b) + 0.5);
      return std::clamp(middle, min_, max_);
    }
  }
  return max_;
}

void LatencyHistogram::reset() {
  std::fill(buckets_.begin(), buckets_.end(), 0);
  count_ = 0;
}

namespace {
std::uint64_t sum_of(const std::map<std::string, std::uint64_t>& errors) {
  std::uint64_t n = 0;
  for (const auto& [kind, count] : errors) n += count;
  return n;
}
}  // namespace

std::uint64_t LoadFigures::error_count() const {
  return sum_of(errors);
}

std::uint64_t RequestTotals::error_count() const {
  return sum_of(errors);
}

// ---- one keep-alive connection -----------------------------------------------------------

struct LoadDriver::Result {
  std::string error;  ///< empty when an HTTP answer arrived
  unsigned status = 0;
  std::string body;
};

struct LoadDriver::Connection : std::enable_shared_from_this<Connection> {
  Connection(asio::any_io_executor ex, asio::ip::tcp::endpoint ep, std::chrono::nanoseconds limit)
      : stream(ex), endpoint(ep), timeout(limit) {}

  beast::tcp_stream stream;
  asio::ip::tcp::endpoint endpoint;
  std::chrono::nanoseconds timeout;
  beast::flat_buffer buffer;
  http::request<http::string_body> request;
  std::optional<http::response_parser<http::string_body>> parser;
  bool connected = false;
  std::function<void(Result)> done;

  void send(http::request<http::string_body> req, std::function<void(Result)> on_done) {
    request = std::move(req);
    done = std::move(on_done);
    if (!connected) {
      stream.expires_after(timeout);
      stream.async_connect(endpoint, [self = shared_from_this()](beast::error_code ec) {
        if (ec) return self->finish(ec == beast::error::timeout ? "timeout" : "connect");
        self->connected = true;
        self->stream.socket().set_option(asio::ip::tcp::no_delay(true));
        self->write();
      });
      return;
    }
    write();
  }

  void write() {
    stream.expires_after(timeout);
    http::async_write(
        stream, request, [self = shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec) return self->finish(ec == beast::error::timeout ? "timeout" : "io");
          self->parser.emplace();
          self->parser->body_limit(kMaxResponseBodyBytes);
          http::async_read(self->stream, self->buffer, *self->parser,
                           [self](beast::error_code rec, std::size_t) {
                             if (rec)
                               return self->finish(rec == beast::error::timeout ? "timeout" : "io");
                             Result r;
                             auto& res = self->parser->get();
                             r.status = res.result_int();
                             r.body = std::move(res.body());
                             if (!res.keep_alive()) self->close();
                             self->complete(std::move(r));
                           });
        });
  }

  void finish(const char* error) {
    close();
    Result r;
    r.error = error;
    complete(std::move(r));
  }

  void complete(Result r) {
    auto cb = std::move(done);
    done = nullptr;
    if (cb) cb(std::move(r));
  }

  void close() {
    // The stream's own close cancels whatever is pending (a connect holds both its read and
    // write halves) together with their timers; resetting the timers by hand here would
    // assert when a connect is in flight.
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream.close();
    connected = false;
    buffer.clear();
  }
};

namespace {

http::request<http::string_body> build_request(const RequestSpec& spec, const std::string& host,
                                               const std::string& path) {
  http::request<http::string_body> req;
  req.method(http::string_to_verb(spec.method));
  req.target(path);
  req.version(kHttpVersion);
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "soak/" SOAK_VERSION);
  req.keep_alive(true);
  for (const auto& [k, v] : spec.headers) req.set(k, v);
  if (!spec.body.empty() || spec.method == "POST" || spec.method == "PUT" ||
      spec.method == "PATCH") {
    if (req.find(http::field::content_type) == req.end())
      req.set(http::field::content_type, "application/json");
    req.body() = spec.body;
    req.prepare_payload();
  }
  return req;
}

std::string substitute_id(const std::string& path, const std::string& id) {
  std::string out = path;
  for (auto pos = out.find(kIdVariable); pos != std::string::npos;
       pos = out.find(kIdVariable, pos + id.size())) {
    out.replace(pos, kIdVariable.size(), id);
  }
  return out;
}

/// `seconds` (which the scenario bounds to 1e9) in nanoseconds; never out of int64's range.
std::chrono::nanoseconds to_ns(double seconds) {
  if (!(seconds > 0)) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::min(seconds, 1e9) * 1e9));
}

/// The value at `pointer` in `doc`, or nullptr. Never throws: the scenario has checked the
/// pointer's syntax, and an array index past what size_t holds ("/99999999999999999999", which
/// makes nlohmann's contains() throw out_of_range) is absent.
const nlohmann::json* value_at(const nlohmann::json& doc, const std::string& pointer) {
  try {
    const nlohmann::json::json_pointer ptr(pointer);
    if (doc.is_discarded() || !doc.contains(ptr)) return nullptr;
    return &doc.at(ptr);
  } catch (const nlohmann::json::exception&) {
    return nullptr;
  }
}

}  // namespace

// ---- a job workflow ----------------------------------------------------------------------

class LoadDriver::JobRun : public std::enable_shared_from_this<JobRun> {
 public:
  explicit JobRun(LoadDriver& driver)
      : d_(driver),
        alive_(driver.alive_),
        conn_(driver.new_connection()),
        timer_(driver.executor_) {}

  void start() {
    started_ = Clock::now();
    ++d_.jobs_started_;
    request(d_.scenario_.jobs->submit, d_.scenario_.jobs->submit.path,
            [self = shared_from_this()](const Result& r) { self->on_submitted(r); });
  }
  bool busy() const { return busy_; }
  void cancel() {
    timer_.cancel();
    conn_->close();
    busy_ = false;
  }

 private:
  void request(const RequestSpec& spec, const std::string& path,
               std::function<void(const Result&)> next) {
    const auto intended = Clock::now();
    ++d_.in_flight_;
    ++d_.total_sent_;
    ++d_.interval_.sent;
    std::weak_ptr<bool> alive = d_.alive_;
    conn_->send(build_request(spec, d_.host_header_, path),
                [this, &spec, intended, next = std::move(next), alive](Result r) {
                  if (alive.expired()) return;
                  d_.record(r, intended, spec);
                  next(r);
                });
  }

  void on_submitted(const Result& r) {
    if (!r.error.empty() || r.status >= 300)
      return finish(false, "submit failed (" + describe(r) + ")");
    const auto body = nlohmann::json::parse(r.body, nullptr, false);
    const nlohmann::json* v = value_at(body, d_.scenario_.jobs->id_pointer);
    if (!v) {
      return finish(false, "no id at " + d_.scenario_.jobs->id_pointer + " in the submit answer");
    }
    id_ = v->is_string() ? v->get<std::string>() : v->dump();
    poll_later();
  }

  void poll_later() {
    const JobSpec& js = *d_.scenario_.jobs;
    if (std::chrono::duration<double>(Clock::now() - started_).count() > js.timeout_s) {
      return finish(false, "timed out waiting for " + js.field_pointer + " == " + js.until);
    }
    timer_.expires_after(to_ns(js.poll_interval_s));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->alive_.expired()) return;  // cancelled, or the driver is gone
      const JobSpec& j = *self->d_.scenario_.jobs;
      self->request(j.poll, substitute_id(j.poll.path, self->id_),
                    [self](const Result& r) { self->on_polled(r); });
    });
  }

  void on_polled(const Result& r) {
    const JobSpec& js = *d_.scenario_.jobs;
    if (!r.error.empty() || r.status >= 300) return poll_later();  // a failed poll is retried
    const auto body = nlohmann::json::parse(r.body, nullptr, false);
    std::string state;
    if (const nlohmann::json* v = value_at(body, js.field_pointer)) {
      state = v->is_string() ? v->get<std::string>() : v->dump();
    }
    if (state == js.until) {
      if (js.then) {
        return request(*js.then, substitute_id(js.then->path, id_),
                       [self = shared_from_this()](const Result& res) {
                         const bool ok = res.error.empty() && res.status < 300;
                         self->finish(ok, ok ? "done" : "follow-up failed (" + describe(res) + ")");
                       });
      }
      return finish(true, "done");
    }
    if (std::find(js.fail_values.begin(), js.fail_values.end(), state) != js.fail_values.end()) {
      return finish(false, "the job reported " + state);
    }
    poll_later();
  }

  static std::string describe(const Result& r) {
    return r.error.empty() ? "HTTP " + std::to_string(r.status) : r.error;
  }

  void finish(bool ok, const std::string& why) {
    busy_ = false;
    const double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    (ok ? d_.jobs_done_ : d_.jobs_failed_)++;
    if (ok) {
      // Durations of jobs done only: a job that failed fast would read as a fast job.
      ++d_.interval_.jobs_ended;
      d_.interval_.job_seconds += seconds;
      d_.totals_.job_duration.add(seconds);
      d_.totals_.max_job_s = std::max(d_.totals_.max_job_s, seconds);
    }
    char detail[256];
    std::snprintf(detail, sizeof detail, "job %s %s in %.2f s", id_.empty() ? "?" : id_.c_str(),
                  why.c_str(), seconds);
    d_.job_events_.push_back({id_, ok, seconds, detail});
    d_.on_job_finished(shared_from_this());
  }

  LoadDriver& d_;
  std::weak_ptr<bool> alive_;  ///< the driver's, as this job started
  std::shared_ptr<Connection> conn_;
  asio::steady_timer timer_;
  Clock::time_point started_;
  std::string id_;
  bool busy_ = true;
};

// ---- the driver --------------------------------------------------------------------------

asio::ip::tcp::endpoint parse_base_url(const std::string& url, std::string& host_header) {
  const BaseUrl parts = split_base_url(url);
  switch (parts.problem) {
    case BaseUrlProblem::none:
      break;
    case BaseUrlProblem::not_http:
      throw std::invalid_argument("only http:// URLs are supported: " + url);
    case BaseUrlProblem::bad_ipv6:
      throw std::invalid_argument("bad IPv6 address in " + url);
    case BaseUrlProblem::bad_port:
      throw std::invalid_argument("the port is not a number from 1 to 65535 in " + url);
    case BaseUrlProblem::not_an_ip_address:
      throw std::invalid_argument("not an IP address (use 127.0.0.1 or [::1]): " + parts.host);
  }
  host_header = parts.host_header;
  return {asio::ip::make_address(parts.host), parts.port};
}

LoadDriver::LoadDriver(asio::any_io_executor executor, const Scenario& scenario,
                       asio::ip::tcp::endpoint endpoint, std::string host_header)
    : executor_(std::move(executor)),
      scenario_(scenario),
      endpoint_(endpoint),
      host_header_(std::move(host_header)),
      timer_(executor_),
      jobs_timer_(executor_),
      rng_(kRequestMixSeed) {
  double sum = 0;
  for (const auto& r : scenario_.requests) cumulative_weights_.push_back(sum += r.weight);
}

LoadDriver::~LoadDriver() {
  stop();
}

double LoadDriver::elapsed_s() const {
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

bool LoadDriver::finished() const {
  return running_ && elapsed_s() >= scenario_.total_duration();
}

std::shared_ptr<LoadDriver::Connection> LoadDriver::new_connection() {
  return std::make_shared<Connection>(executor_, endpoint_, to_ns(scenario_.request_timeout_s));
}

const RequestSpec& LoadDriver::pick_request() {
  std::uniform_real_distribution<double> u(0, cumulative_weights_.back());
  const double x = u(rng_);
  const auto it = std::upper_bound(cumulative_weights_.begin(), cumulative_weights_.end(), x);
  return scenario_.requests[std::min<std::size_t>(it - cumulative_weights_.begin(),
                                                  scenario_.requests.size() - 1)];
}

void LoadDriver::start() {
  running_ = true;
  start_ = interval_start_ = next_send_ = Clock::now();
  if (scenario_.model == "open") {
    open_tick();
  } else {
    closed_tick();
  }
  if (scenario_.jobs && !scenario_.requests.empty()) jobs_tick();
}

void LoadDriver::jobs_tick() {
  // Requests and jobs together: keep jobs.concurrency workflows running beside the requests.
  if (!running_ || elapsed_s() >= scenario_.total_duration()) return;
  std::size_t busy = 0;
  for (const auto& j : jobs_) busy += j->busy();
  for (; busy < static_cast<std::size_t>(scenario_.jobs->concurrency); ++busy) start_job();
  jobs_timer_.expires_after(kControlTick);
  jobs_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
    if (!ec && !alive.expired()) jobs_tick();
  });
}

void LoadDriver::stop() {
  if (!running_) return;
  running_ = false;
  stopped_ = Clock::now();
  *alive_ = false;
  alive_ = std::make_shared<bool>(true);
  timer_.cancel();
  jobs_timer_.cancel();
  for (auto& c : idle_) c->close();
  for (auto& c : users_)
    if (c) c->close();
  for (auto& j : jobs_) j->cancel();
  idle_.clear();
  queue_.clear();
}

void LoadDriver::count_error(const std::string& kind, const RequestSpec& spec) {
  ++interval_.errors[kind];
  RequestTotals& named = totals_.by_request[spec.name];
  for (RequestTotals* t : {&totals_.all, &named}) {
    ++t->requests;
    ++t->errors[kind];
  }
}

void LoadDriver::record(const Result& r, Clock::time_point intended, const RequestSpec& spec) {
  --in_flight_;
  if (!r.error.empty()) return count_error(r.error, spec);
  ++total_completed_;
  ++interval_.completed;
  const double latency = std::chrono::duration<double>(Clock::now() - intended).count();
  histogram_.add(latency);
  const char* kind = r.status >= 500 ? "http_5xx" : r.status >= 400 ? "http_4xx" : nullptr;
  if (kind != nullptr) ++interval_.errors[kind];
  RequestTotals& named = totals_.by_request[spec.name];
  for (RequestTotals* t : {&totals_.all, &named}) {
    ++t->requests;
    ++t->answered;
    if (kind != nullptr) ++t->errors[kind];
    t->latency.add(latency);
    t->max_latency_s = std::max(t->max_latency_s, latency);
  }
}

void LoadDriver::open_tick() {
  if (!running_) return;
  const auto now = Clock::now();
  // Every intended send time that has come, in order: the rate does not sag if we are late.
  while (next_send_ <= now) {
    const double t = std::chrono::duration<double>(next_send_ - start_).count();
    const double rate = scenario_.level_at(t);
    if (t >= scenario_.total_duration()) return;
    if (rate <= 0) {
      next_send_ += kIdleRateStep;
      continue;
    }
    if (scenario_.jobs && scenario_.requests.empty()) {
      start_job();
    } else {
      dispatch({next_send_, &pick_request()});
    }
    next_send_ += to_ns(1.0 / rate);
  }
  timer_.expires_at(next_send_);
  timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
    if (!ec && !alive.expired()) open_tick();
  });
}

void LoadDriver::dispatch(Pending p) {
  ++total_sent_;
  ++interval_.sent;
  if (!idle_.empty()) {
    auto c = idle_.back();
    idle_.pop_back();
    return send_on(std::move(c), p);
  }
  if (open_connections_ < static_cast<std::size_t>(scenario_.connections)) {
    ++open_connections_;
    return send_on(new_connection(), p);
  }
  if (queue_.size() >= kMaxQueuedSends) {
    count_error("overload", *p.spec);  // the client cannot keep up: counted, never hidden
    return;
  }
  queue_.push_back(p);
}

void LoadDriver::send_on(std::shared_ptr<Connection> c, Pending p) {
  ++in_flight_;
  std::weak_ptr<bool> alive = alive_;
  const std::string& path = p.spec->path;
  c->send(build_request(*p.spec, host_header_, path), [this, c, p, alive](Result r) {
    if (alive.expired()) return;
    record(r, p.intended, *p.spec);
    if (!running_) return;
    if (!queue_.empty()) {
      const Pending next = queue_.front();
      queue_.pop_front();
      return send_on(c, next);
    }
    idle_.push_back(c);
  });
}

void LoadDriver::closed_tick() {
  if (!running_) return;
  const double t = elapsed_s();
  const auto wanted =
      t >= scenario_.total_duration() ? 0u : static_cast<std::size_t>(scenario_.level_at(t));
  if (scenario_.jobs && scenario_.requests.empty()) {
    std::size_t busy = 0;
    for (const auto& j : jobs_) busy += j->busy();
    for (; busy < wanted; ++busy) start_job();
  } else {
    if (users_.size() < wanted) {
      users_.resize(wanted);
      user_active_.resize(wanted, false);
    }
    for (std::size_t u = 0; u < users_.size(); ++u) {
      const bool should = u < wanted;
      if (should && !user_active_[u]) {
        user_active_[u] = true;
        if (!users_[u]) users_[u] = new_connection();
        user_loop(u);
      } else if (!should) {
        user_active_[u] = false;
      }
    }
  }
  timer_.expires_after(kControlTick);
  timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
    if (!ec && !alive.expired()) closed_tick();
  });
}

void LoadDriver::user_loop(std::size_t u) {
  if (!running_ || !user_active_[u]) return;
  const RequestSpec& spec = pick_request();
  const auto intended = Clock::now();
  ++total_sent_;
  ++interval_.sent;
  ++in_flight_;
  std::weak_ptr<bool> alive = alive_;
  users_[u]->send(
      build_request(spec, host_header_, spec.path), [this, u, &spec, intended, alive](Result r) {
        if (alive.expired()) return;
        record(r, intended, spec);
        if (!running_) return;
        if (scenario_.think_time_s <= 0) return user_loop(u);
        auto timer = std::make_shared<asio::steady_timer>(executor_, to_ns(scenario_.think_time_s));
        timer->async_wait([this, u, timer, alive](const boost::system::error_code& ec) {
          if (!ec && !alive.expired()) user_loop(u);
        });
      });
}

void LoadDriver::start_job() {
  auto job = std::make_shared<JobRun>(*this);
  jobs_.push_back(job);
  job->start();
}

void LoadDriver::on_job_finished(const std::shared_ptr<JobRun>& job) {
  // Finished runs are dropped after their callback returns (posted: we are inside it).
  asio::post(executor_, [this, job, alive = std::weak_ptr<bool>(alive_)] {
    if (alive.expired()) return;
    jobs_.erase(std::remove(jobs_.begin(), jobs_.end(), job), jobs_.end());
  });
}

LoadFigures LoadDriver::take_interval() {
  const auto now = Clock::now();
  LoadFigures f = std::move(interval_);
  interval_ = LoadFigures{};
  f.interval_s = std::chrono::duration<double>(now - interval_start_).count();
  interval_start_ = now;
  f.level = running_ ? scenario_.level_at(elapsed_s()) : 0.0;
  if (histogram_.count() > 0) {
    f.p50_s = histogram_.quantile(0.50);
    f.p95_s = histogram_.quantile(0.95);
    f.p99_s = histogram_.quantile(0.99);
  }
  histogram_.reset();
  f.in_flight = in_flight_;
  f.jobs_started = jobs_started_;
  f.jobs_done = jobs_done_;
  f.jobs_failed = jobs_failed_;
  return f;
}

const LoadTotals& LoadDriver::totals() {
  const auto end = running_ || stopped_ == Clock::time_point{} ? Clock::now() : stopped_;
  totals_.duration_s = start_ == Clock::time_point{}
                           ? 0.0
                           : std::min(std::chrono::duration<double>(end - start_).count(),
                                      scenario_.total_duration());
  totals_.sent = total_sent_;
  totals_.jobs_done = jobs_done_;
  totals_.jobs_failed = jobs_failed_;
  return totals_;
}

std::vector<JobEvent> LoadDriver::take_job_events() {
  std::vector<JobEvent> out;
  out.swap(job_events_);
  return out;
}

}  // namespace soak::scenarios
