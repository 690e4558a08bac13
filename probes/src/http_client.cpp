#include "soak/probes/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

namespace soak::probes {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

/// After the deadline, how long the io_context may still run to deliver the stream's own
/// timeout. Beast's timer fires at the deadline; this only guards against a missed wake-up.
constexpr auto kCompletionGrace = std::chrono::milliseconds(250);

UrlError url_error(std::string_view url, const std::string& what) {
  return UrlError("'" + std::string(url) + "': " + what +
                  " (write e.g. http://127.0.0.1:8080/metrics or http://[::1]:9090/)");
}

std::uint16_t parse_port(std::string_view url, std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0 ||
      value > 65535) {
    throw url_error(url, "the port '" + std::string(text) + "' is not a number from 1 to 65535");
  }
  return static_cast<std::uint16_t>(value);
}

/// Splits the authority (between "http://" and the path) into host and port.
void parse_authority(std::string_view url, std::string_view authority, HttpUrl& out) {
  if (authority.find('@') != std::string_view::npos) {
    throw url_error(url, "credentials in the URL are not supported; use auth=VAR");
  }
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) throw url_error(url, "the IPv6 address has no ']'");
    out.host = std::string(authority.substr(1, close - 1));
    boost::system::error_code ec;
    asio::ip::make_address_v6(out.host, ec);
    if (ec) throw url_error(url, "'" + out.host + "' is not an IPv6 address");
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) throw url_error(url, "expected ':PORT' after ']'");
    if (!rest.empty()) port_text = rest.substr(1);
  } else {
    const auto colon = authority.find(':');
    if (colon != std::string_view::npos &&
        authority.find(':', colon + 1) != std::string_view::npos) {
      throw url_error(url, "an IPv6 address must be written in brackets, as [::1]");
    }
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) throw url_error(url, "there is no host");
  if (!port_text.empty() || authority.ends_with(':')) out.port = parse_port(url, port_text);
}

}  // namespace

std::string HttpUrl::authority() const {
  const std::string name = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return port == 80 ? name : name + ":" + std::to_string(port);
}

HttpUrl parse_http_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (url.starts_with("https://")) {
    throw url_error(url, "https:// is not supported; soak fetches over plain http://");
  }
  if (!url.starts_with(scheme)) {
    throw UrlError("expected an http:// URL, got '" + std::string(url) + "'");
  }
  for (const char c : url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      throw url_error(url, "spaces and control characters must be percent-encoded");
    }
  }
  const std::string_view rest = url.substr(scheme.size());
  const auto end_of_authority = rest.find_first_of("/?#");
  HttpUrl out;
  parse_authority(url, rest.substr(0, end_of_authority), out);
  std::string_view target =
      end_of_authority == std::string_view::npos ? "" : rest.substr(end_of_authority);
  target = target.substr(0, target.find('#'));
  out.target = target.starts_with('/') ? std::string(target) : "/" + std::string(target);
  return out;
}

const char* to_string(HttpFailure failure) {
  switch (failure) {
    case HttpFailure::none:
      return "none";
    case HttpFailure::unresolved:
      return "unresolved";
    case HttpFailure::refused:
      return "refused";
    case HttpFailure::unreachable:
      return "unreachable";
    case HttpFailure::timeout:
      return "timeout";
    case HttpFailure::too_large:
      return "too_large";
    case HttpFailure::bad_response:
      return "bad_response";
  }
  return "unknown";
}

namespace {

HttpResult failed(HttpFailure failure, std::string message) {
  HttpResult r;
  r.failure = failure;
  r.message = std::move(message);
  return r;
}

std::string seconds_text(std::chrono::nanoseconds d) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", std::chrono::duration<double>(d).count());
  return text;
}

/// What a resolution on the helper thread hands back; shared, so an abandoned one is harmless.
struct Resolution {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  boost::system::error_code error;
  std::vector<tcp::endpoint> endpoints;
};

/// The endpoints for `url`, or a failure in `failure`. An IP literal needs no resolver; a name
/// is resolved on a detached thread that the caller stops waiting for at the deadline.
std::vector<tcp::endpoint> resolve(const HttpUrl& url, Clock::time_point deadline,
                                   std::chrono::nanoseconds timeout, HttpResult& failure) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(url.host, ec);
  if (!ec) return {tcp::endpoint(address, url.port)};
  auto state = std::make_shared<Resolution>();
  try {
    std::thread([state, host = url.host, port = std::to_string(url.port)] {
      asio::io_context context;
      tcp::resolver resolver(context);
      boost::system::error_code error;
      const auto results = resolver.resolve(host, port, error);
      std::lock_guard lock(state->mutex);
      state->error = error;
      for (const auto& entry : results) state->endpoints.push_back(entry.endpoint());
      state->done = true;
      state->done_cv.notify_all();
    }).detach();
  } catch (const std::system_error& e) {
    failure = failed(HttpFailure::unresolved,
                     "cannot start resolving " + url.host + " (" + e.what() + ")");
    return {};
  }
  std::unique_lock lock(state->mutex);
  if (!state->done_cv.wait_until(lock, deadline, [&] { return state->done; })) {
    failure =
        failed(HttpFailure::timeout, url.host + " did not resolve within " + seconds_text(timeout));
  } else if (state->error || state->endpoints.empty()) {
    failure = failed(HttpFailure::unresolved,
                     url.host + " does not resolve (" + state->error.message() + ")");
  }
  return state->endpoints;
}

/// One GET on an io_context of its own: connect, write, read, each step chained to the next,
/// all under the stream's one absolute deadline.
class Exchange {
 public:
  Exchange(http::verb method, const HttpUrl& url, const HttpHeaders& headers,
           std::chrono::nanoseconds timeout, std::size_t max_body_bytes)
      : timeout_(timeout), max_body_bytes_(max_body_bytes) {
    request_.method(method);
    request_.target(url.target);
    request_.version(11);
    request_.set(http::field::host, url.authority());
    request_.set(http::field::user_agent, "soak/" SOAK_VERSION);
    request_.set(http::field::connection, "close");
    for (const auto& [name, value] : headers) request_.set(name, value);
    if (method != http::verb::get) request_.content_length(0);  // an empty body, said so
    parser_.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
    parser_.body_limit(max_body_bytes);
  }

  HttpResult run(const std::vector<tcp::endpoint>& endpoints, Clock::time_point deadline) {
    stream_.expires_at(deadline);
    stream_.async_connect(endpoints,
                          [this](beast::error_code ec, const tcp::endpoint&) { on_connect(ec); });
    context_.run_until(deadline + kCompletionGrace);
    if (!finished_) {
      return failed(HttpFailure::timeout, "no answer within " + seconds_text(timeout_));
    }
    return std::move(result_);
  }

 private:
  void finish(HttpResult result) {
    result_ = std::move(result);
    finished_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  void on_connect(beast::error_code ec) {
    if (ec == beast::error::timeout) {
      return finish(
          failed(HttpFailure::timeout, "connect timed out after " + seconds_text(timeout_)));
    }
    if (ec == asio::error::connection_refused) {
      return finish(failed(HttpFailure::refused, "connection refused"));
    }
    if (ec)
      return finish(failed(HttpFailure::unreachable, "cannot connect (" + ec.message() + ")"));
    http::async_write(stream_, request_,
                      [this](beast::error_code wec, std::size_t) { on_write(wec); });
  }

  void on_write(beast::error_code ec) {
    if (ec == beast::error::timeout) {
      return finish(failed(HttpFailure::timeout,
                           "the request could not be sent within " + seconds_text(timeout_)));
    }
    if (ec) {
      return finish(failed(HttpFailure::unreachable,
                           "the connection broke while sending (" + ec.message() + ")"));
    }
    // The header first, then the body: Beast 1.74 loses a body_limit error raised by the header
    // when body bytes follow it in the same read, so the length is checked here as well.
    http::async_read_header(stream_, buffer_, parser_,
                            [this](beast::error_code hec, std::size_t) { on_header(hec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read(ec);
    if (const auto length = parser_.content_length(); length && *length > max_body_bytes_) {
      return on_read(http::error::body_limit);
    }
    if (parser_.is_done()) return on_read(ec);
    http::async_read(stream_, buffer_, parser_,
                     [this](beast::error_code rec, std::size_t) { on_read(rec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == beast::error::timeout) {
      return finish(failed(HttpFailure::timeout, "no answer within " + seconds_text(timeout_)));
    }
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      return finish(failed(HttpFailure::too_large,
                           "the answer is over the size bound (" + ec.message() + ")"));
    }
    if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
        ec == asio::error::eof || ec == asio::error::connection_reset) {
      return finish(failed(HttpFailure::bad_response,
                           "the server closed the connection before a complete answer"));
    }
    if (ec)
      return finish(failed(HttpFailure::bad_response, "not an HTTP answer (" + ec.message() + ")"));
    HttpResult ok;
    ok.status = parser_.get().result_int();
    ok.body = std::move(parser_.get().body());
    finish(std::move(ok));
  }

  std::chrono::nanoseconds timeout_;
  std::size_t max_body_bytes_;
  asio::io_context context_{1};
  beast::tcp_stream stream_{context_};
  http::request<http::empty_body> request_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  HttpResult result_;
  bool finished_ = false;
};

}  // namespace

namespace {

HttpResult exchange(http::verb method, const HttpUrl& url, const HttpHeaders& headers,
                    std::chrono::nanoseconds timeout, std::size_t max_body_bytes) {
  const auto deadline = Clock::now() + timeout;
  HttpResult failure;
  const auto endpoints = resolve(url, deadline, timeout, failure);
  if (!failure.ok()) return failure;
  Exchange exchange(method, url, headers, timeout, max_body_bytes);
  return exchange.run(endpoints, deadline);
}

}  // namespace

HttpResult http_get(const HttpUrl& url, const HttpHeaders& headers,
                    std::chrono::nanoseconds timeout, std::size_t max_body_bytes) {
  return exchange(http::verb::get, url, headers, timeout, max_body_bytes);
}

bool is_http_method(std::string_view method) {
  return method == "GET" || method == "POST" || method == "PUT" || method == "DELETE";
}

HttpResult http_request(std::string_view method, const HttpUrl& url, const HttpHeaders& headers,
                        std::chrono::nanoseconds timeout, std::size_t max_body_bytes) {
  if (!is_http_method(method)) {
    throw std::invalid_argument("not an HTTP method soak sends: " + std::string(method));
  }
  const http::verb verb = http::string_to_verb(beast::string_view(method.data(), method.size()));
  return exchange(verb, url, headers, timeout, max_body_bytes);
}

}  // namespace soak::probes
