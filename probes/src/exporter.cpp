#include "soak/probes/exporter.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "soak/importers/prometheus_names.hpp"
#include "soak/sampler/process.hpp"

namespace soak::probes {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

using importers::PromType;

/// `v` as UTF-8 the text format accepts: each byte that does not begin or continue a valid
/// sequence becomes U+FFFD (a process name is any bytes; Prometheus refuses invalid UTF-8).
std::string valid_utf8(std::string_view v) {
  std::string out;
  std::size_t i = 0;
  while (i < v.size()) {
    const auto c = static_cast<unsigned char>(v[i]);
    const std::size_t length = c < 0x80                ? 1
                               : c >= 0xc2 && c < 0xe0 ? 2
                               : c >= 0xe0 && c < 0xf0 ? 3
                               : c >= 0xf0 && c < 0xf5 ? 4
                                                       : 0;
    bool ok = length > 0 && i + length <= v.size();
    for (std::size_t k = 1; ok && k < length; ++k) {
      ok = (static_cast<unsigned char>(v[i + k]) & 0xc0) == 0x80;
    }
    if (ok && length == 3) {  // no overlong forms, no surrogates
      const auto c1 = static_cast<unsigned char>(v[i + 1]);
      ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);
    } else if (ok && length == 4) {
      const auto c1 = static_cast<unsigned char>(v[i + 1]);
      ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
    }
    if (ok) {
      out.append(v.substr(i, length));
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

/// A label value or HELP text escaped: backslash and newline always, '"' in label values.
std::string escaped(std::string_view v, bool label) {
  std::string out;
  for (const char c : valid_utf8(v)) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"' && label)
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

/// `name="value"` pairs, joined with ','.
std::string labels(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
  std::string out;
  for (const auto& [name, value] : pairs) {
    if (name.empty()) continue;
    if (!out.empty()) out += ',';
    out.append(name) += "=\"" + escaped(value, true) + "\"";
  }
  return out;
}

/// The text of one scrape: families in the order they first appear, each once with its HELP
/// and TYPE, every series in it once (a later series with a name and labels already there is
/// dropped: two soak names a sanitized name cannot tell apart keep the first).
class Exposition {
 public:
  void add(const std::string& name, PromType type, std::string_view help,
           const std::string& label_text, double value) {
    auto [at, fresh] = index_.try_emplace(name, families_.size());
    if (fresh) families_.push_back({name, type, escaped(help, false), {}, {}});
    Family& f = families_[at->second];
    if (!f.series.insert(label_text).second) return;
    f.lines +=
        name + (label_text.empty() ? "" : "{" + label_text + "}") + " " + number(value) + "\n";
  }
  std::string text() const {
    std::string s;
    for (const Family& f : families_) {
      s += "# HELP " + f.name + " " + f.help + "\n# TYPE " + f.name + " " +
           importers::to_string(f.type) + "\n" + f.lines;
    }
    return s;
  }

 private:
  struct Family {
    std::string name;
    PromType type;
    std::string help;
    std::string lines;
    std::set<std::string> series;  ///< label texts already written
  };
  std::vector<Family> families_;
  std::map<std::string, std::size_t> index_;
};

/// Each metric's growth (in its base unit per second, three bounds) and class (a state set).
void add_analysis(Exposition& out, const std::string& target, const std::string& pid,
                  const std::vector<GrowthFigures>& growth) {
  for (const GrowthFigures& g : growth) {
    if (!g.estimated) continue;
    const importers::ExportedName e = importers::exported_name(g.metric);
    const std::string help = "Growth of " + e.name + " so far, in " +
                             (e.unit.empty() ? std::string("units") : e.unit) +
                             " per second: the estimate, and the low and high ends of its 95 % "
                             "interval (label bound).";
    const std::string name = importers::growth_name(e);
    for (const auto& [bound, value] : {std::pair<const char*, double>{"estimate", g.per_s},
                                       {"low", g.low_per_s},
                                       {"high", g.high_per_s}}) {
      out.add(
          name, PromType::gauge, help,
          labels({{"target", target}, {"pid", pid}, {e.label, e.label_value}, {"bound", bound}}),
          value * e.scale);
    }
  }
  constexpr std::string_view help =
      "1 for each metric's class so far (label class), 0 for the other classes; metric is the "
      "name in verdict.json.";
  for (const GrowthFigures& g : growth) {
    bool known = false;
    for (const char* c : kClassifications) {
      known = known || g.classification == c;
      out.add("soak_classification", PromType::gauge, help,
              labels({{"target", target}, {"pid", pid}, {"metric", g.metric}, {"class", c}}),
              g.classification == c ? 1 : 0);
    }
    if (!known) {
      out.add("soak_classification", PromType::gauge, help,
              labels({{"target", target},
                      {"pid", pid},
                      {"metric", g.metric},
                      {"class", g.classification}}),
              1);
    }
  }
}

}  // namespace

namespace {

/// A scrape request is a few hundred bytes of headers and no body; anything larger is not one.
constexpr std::uint32_t kMaxRequestBytes = 16 * 1024;
/// How long a connection may take to send its next request (and so how long an idle keep-alive
/// connection stays open): scrapers send one at once; 30 s keeps a stalled client from holding
/// a connection, while a 15 s scrape interval still reuses its connection.
constexpr auto kRequestTimeout = std::chrono::seconds(30);
/// How long writing one answer may take: the text is a few KiB.
constexpr auto kWriteTimeout = std::chrono::seconds(30);
/// How long a new connection may take to send its first request: a scraper sends it at once.
/// Shorter than kRequestTimeout so that half-open connections (slowloris) go quickly.
constexpr auto kFirstRequestTimeout = std::chrono::seconds(10);
/// Open connections served at once. A dashboard and a Prometheus server or two need a handful;
/// this bounds what a runaway client can hold. At the bound, a new connection takes the place
/// of the one that has waited longest for its request (an idle or half-open one), so clients
/// that hold connections without asking cannot lock a scraper out.
constexpr std::size_t kMaxConnections = 64;
/// After an accept fails (out of descriptors), wait this long before the next one.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

}  // namespace

/// The Beast server: one io_context, run by the exporter's thread; every handler runs there.
class ExporterServer {
 public:
  /// A session as the server sees it: when it began waiting for a request (none while it
  /// answers) and how to close it. Io thread only.
  struct Waiting {
    std::optional<std::chrono::steady_clock::time_point> since;
    std::function<void()> close;
  };

  explicit ExporterServer(std::function<std::string()> render) : render_(std::move(render)) {}
  /// Binds and listens; false when the address cannot be used.
  bool listen(const tcp::endpoint& endpoint) {
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    return !ec;
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  asio::io_context& context() { return context_; }
  void accept();
  std::string render() const { return render_(); }
  std::size_t connections = 0;                ///< open sessions; touched on the io thread only
  std::map<std::uint64_t, Waiting> sessions;  ///< by session id; io thread only
  std::uint64_t next_session = 0;
  /// Closes the session that has waited longest for its request; false when none waits.
  bool evict_longest_waiting() {
    auto oldest = sessions.end();
    for (auto it = sessions.begin(); it != sessions.end(); ++it) {
      if (it->second.since &&
          (oldest == sessions.end() || *it->second.since < *oldest->second.since)) {
        oldest = it;
      }
    }
    if (oldest == sessions.end()) return false;
    oldest->second.since.reset();  // closing: not a candidate again
    oldest->second.close();
    return true;
  }

 private:
  std::function<std::string()> render_;
  // Destroyed first (declared last): pending handlers, and the sessions they hold, go while
  // `connections` and `render_` are still alive.
  asio::io_context context_{1};
  tcp::acceptor acceptor_{context_};
  asio::steady_timer retry_{context_};
};

namespace {

/// One connection: read a request (bounded in size and time), answer, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, ExporterServer& server)
      : stream_(std::move(socket)), server_(server), id_(++server.next_session) {
    ++server_.connections;
  }
  ~Session() {
    --server_.connections;
    server_.sessions.erase(id_);
  }

  void read() {
    parser_.emplace();
    parser_->header_limit(kMaxRequestBytes);
    parser_->body_limit(0);
    // The whole request within the deadline, however slowly its bytes come.
    stream_.expires_after(requests_ == 0 ? kFirstRequestTimeout : kRequestTimeout);
    ExporterServer::Waiting& waiting = server_.sessions[id_];
    waiting.since = std::chrono::steady_clock::now();
    waiting.close = [weak = weak_from_this()] {
      if (const auto self = weak.lock()) self->close();
    };
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       self->server_.sessions[self->id_].since.reset();
                       if (ec) return self->close();
                       ++self->requests_;
                       self->respond(self->parser_->get());
                     });
  }

 private:
  void respond(const http::request<http::empty_body>& request) {
    const std::string_view target(request.target().data(), request.target().size());
    const bool head = request.method() == http::verb::head;
    response_ = {};
    response_.version(request.version());
    response_.keep_alive(request.keep_alive());
    response_.set(http::field::server, "soak");
    if (target.substr(0, target.find('?')) != "/metrics") {
      response_.result(http::status::not_found);
      response_.set(http::field::content_type, "text/plain; charset=utf-8");
      response_.body() = "not found: the metrics are at /metrics\n";
    } else if (request.method() != http::verb::get && !head) {
      response_.result(http::status::method_not_allowed);
      response_.set(http::field::allow, "GET, HEAD");
    } else {
      response_.result(http::status::ok);
      response_.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      response_.body() = server_.render();
    }
    response_.prepare_payload();
    if (head) {
      const auto length = response_.body().size();
      response_.body().clear();
      response_.content_length(length);
    }
    stream_.expires_after(kWriteTimeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec || !self->response_.keep_alive()) return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  ExporterServer& server_;
  std::uint64_t id_;            ///< the key in server_.sessions
  std::uint64_t requests_ = 0;  ///< answered on this connection
  beast::flat_buffer buffer_{kMaxRequestBytes};
  std::optional<http::request_parser<http::empty_body>> parser_;
  http::response<http::string_body> response_;
};

}  // namespace

void ExporterServer::accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      retry_.expires_after(kAcceptRetry);
      retry_.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) accept();
      });
      return;
    }
    accept();  // first, so that a session that fails to start cannot end the accept loop
    if (connections < kMaxConnections || evict_longest_waiting()) {
      std::make_shared<Session>(std::move(socket), *this)->read();
    }  // else every session is answering: the socket closes here and the client may retry
  });
}

namespace {

/// The address to listen on: an IP literal as it is, a name (localhost) resolved here.
std::optional<tcp::endpoint> listen_endpoint(const std::string& host, std::uint16_t port) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(address, port);
  asio::io_context context;
  tcp::resolver resolver(context);
  const auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || results.empty()) return std::nullopt;
  return results.begin()->endpoint();
}

}  // namespace

Exporter::Exporter(const std::string& listen) {
  std::string host = "127.0.0.1", port_text = listen;
  if (!listen.empty() && listen.front() == '[') {
    const auto close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      throw ExporterError("--metrics-listen '" + listen + "': write [::1]:PORT");
    }
    host = listen.substr(1, close - 1);
    port_text = listen.substr(close + 2);
  } else if (const auto colon = listen.rfind(':'); colon != std::string::npos) {
    if (colon > 0) host = listen.substr(0, colon);
    port_text = listen.substr(colon + 1);
  }
  char* end = nullptr;
  const long port = std::strtol(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end != '\0' || port < 0 || port > 65535) {
    throw ExporterError("--metrics-listen '" + listen + "': expected PORT, :PORT or HOST:PORT");
  }
  host_ = host;
  server_ = std::make_unique<ExporterServer>([this] { return render(); });
  const auto endpoint = listen_endpoint(host_, static_cast<std::uint16_t>(port));
  if (!endpoint || !server_->listen(*endpoint)) {
    throw ExporterError("--metrics-listen '" + listen +
                        "': cannot listen there (in use, or not an " +
                        "address of this machine); choose another port");
  }
  port_ = server_->port();
  server_->accept();
  thread_ = std::thread([this] { serve(); });
}

void Exporter::serve() {
  for (;;) {
    try {
      server_->context().run();
      return;  // stopped
    } catch (const std::exception& e) {
      // A handler threw (out of memory while rendering): drop that connection, keep serving.
      std::fprintf(stderr, "soak: metrics exporter: %s\n", e.what());
    }
  }
}

Exporter::~Exporter() {
  server_->context().stop();
  if (thread_.joinable()) thread_.join();
}

std::string Exporter::url() const {
  const bool v6 = host_.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_) + "/metrics";
}

void Exporter::set_target(const std::string& name, int pid) {
  std::lock_guard lock(mutex_);
  target_name_ = name;
  target_pid_ = pid;
}

void Exporter::set_sample(const std::vector<std::pair<std::string, double>>& metrics,
                          std::uint64_t samples) {
  std::lock_guard lock(mutex_);
  sample_ = metrics;
  samples_ = samples;
}

void Exporter::set_analysis(const std::string& verdict, const std::vector<GrowthFigures>& growth) {
  std::lock_guard lock(mutex_);
  verdict_ = verdict;
  growth_ = growth;
}

std::string Exporter::render() const {
  std::lock_guard lock(mutex_);
  const std::string pid = std::to_string(target_pid_);
  const std::string target = labels({{"target", target_name_}, {"pid", pid}});
  Exposition out;
  out.add("soak_up", PromType::gauge, "1 while soak is sampling.", "", 1);
  for (const auto& [metric, value] : sample_) {
    const importers::ExportedName e = importers::exported_name(metric);
    out.add(e.name, e.type, e.help,
            labels({{"target", target_name_}, {"pid", pid}, {e.label, e.label_value}}),
            value * e.scale);
  }
  out.add("soak_samples_total", PromType::counter, "Samples written so far.", target,
          static_cast<double>(samples_));
  add_analysis(out, target_name_, pid, growth_);
  for (const char* v : {"pass", "fail", "inconclusive"}) {
    out.add("soak_verdict_so_far", PromType::gauge,
            "1 for the verdict the run would get now (label verdict), 0 for the others; all 0 "
            "before the first analysis.",
            labels({{"target", target_name_}, {"pid", pid}, {"verdict", v}}),
            verdict_ == v ? 1 : 0);
  }
  // soak's own footprint, under the names client libraries give a process's own: an
  // overnight run must keep it flat.
  const sampler::SelfUsage self = sampler::read_self_usage();
  out.add("process_resident_memory_bytes", PromType::gauge, "soak's own resident memory.", "",
          static_cast<double>(self.resident_bytes));
  out.add("process_cpu_seconds_total", PromType::counter, "soak's own user and system CPU time.",
          "", self.cpu_s);
  return out.text();
}

}  // namespace soak::probes
