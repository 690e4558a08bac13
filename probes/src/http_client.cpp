#include "soak/probes/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
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
  return UrlError("'" + redact_urls(url) + "': " + what +
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

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// "%41" -> "A"; a '%' not followed by two hex digits is kept as written.
std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
        hex_value(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

/// Splits the authority (between "http://" and the path) into credentials, host and port.
void parse_authority(std::string_view url, std::string_view authority, HttpUrl& out) {
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    out.userinfo = percent_decode(authority.substr(0, at));
    authority = authority.substr(at + 1);
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

namespace {

/// A query parameter whose value must not be written (redact_urls documents the names).
bool secret_name(std::string_view name) {
  std::string lower;
  for (const char c : name)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  for (const std::string_view word :
       {"token", "key", "secret", "password", "passwd", "auth", "access_token", "api_key"}) {
    if (lower == word) return true;
  }
  return lower.find("token") != std::string::npos || lower.find("secret") != std::string::npos ||
         lower.find("passw") != std::string::npos || lower.starts_with("auth") ||
         lower.ends_with("key");
}

/// The query (after '?', before '#') with each secret-looking value as ***.
void append_redacted_query(std::string_view query, std::string& out) {
  for (bool first = true;; first = false) {
    const auto amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    if (!first) out += '&';
    const auto eq = param.find('=');
    if (eq != std::string_view::npos && secret_name(param.substr(0, eq))) {
      out.append(param.substr(0, eq + 1)).append("***");
    } else {
      out.append(param);
    }
    if (amp == std::string_view::npos) return;
    query = query.substr(amp + 1);
  }
}

/// One URL, from its scheme to its end, made safe to write.
std::string redact_url(std::string_view url) {
  const auto scheme_end = url.find("://") + 3;
  std::string out(url.substr(0, scheme_end));
  std::string_view rest = url.substr(scheme_end);
  const auto authority_end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, authority_end);
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) {
    out.append(authority);
  } else {
    out.append("***").append(authority.substr(at));  // "***@host:port"
  }
  if (authority_end == std::string_view::npos) return out;
  rest = rest.substr(authority_end);
  const auto question = rest.find('?');
  const auto hash = rest.find('#');
  if (question == std::string_view::npos || (hash != std::string_view::npos && hash < question)) {
    return out.append(rest);
  }
  out.append(rest.substr(0, question + 1));
  append_redacted_query(
      rest.substr(question + 1,
                  hash == std::string_view::npos ? std::string_view::npos : hash - question - 1),
      out);
  if (hash != std::string_view::npos) out.append(rest.substr(hash));
  return out;
}

bool ends_url(char c) {
  return std::isspace(static_cast<unsigned char>(c)) || c == '\'' || c == '"' || c == '<' ||
         c == '>';
}

bool in_scheme(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
}

}  // namespace

std::string redact_urls(std::string_view text) {
  std::string out;
  std::size_t done = 0;  // text[0, done) is in `out` already
  auto sep = text.find("://");
  while (sep != std::string_view::npos) {
    std::size_t start = sep;
    while (start > done && in_scheme(text[start - 1])) --start;
    std::size_t end = sep + 3;
    while (end < text.size() && !ends_url(text[end])) ++end;
    out.append(text.substr(done, start - done)).append(redact_url(text.substr(start, end - start)));
    done = end;
    sep = text.find("://", end);
  }
  return out.append(text.substr(done));
}

void HttpCancel::cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
  for (const auto& [id, wake] : wake_) wake();
}

bool HttpCancel::cancelled() const {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

/// An exchange's registration with an HttpCancel (none when it is null): `wake` ends the
/// exchange from the cancelling thread; gone when the scope ends.
class CancelScope {
 public:
  CancelScope(HttpCancel* cancel, std::function<void()> wake) : cancel_(cancel) {
    if (cancel_ == nullptr) return;
    std::lock_guard lock(cancel_->mutex_);
    id_ = ++cancel_->next_id_;
    cancel_->wake_.emplace(id_, std::move(wake));
  }
  ~CancelScope() {
    if (cancel_ == nullptr) return;
    std::lock_guard lock(cancel_->mutex_);
    cancel_->wake_.erase(id_);
  }
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;
  bool cancelled() const { return cancel_ != nullptr && cancel_->cancelled(); }

 private:
  HttpCancel* cancel_;
  std::uint64_t id_ = 0;
};

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
    throw UrlError("expected an http:// URL, got '" + redact_urls(url) + "'");
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
    case HttpFailure::cancelled:
      return "cancelled";
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

/// "8 MiB", "64 KiB" or "1000 bytes".
std::string size_text(std::size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

/// RFC 4648 base64 with padding, for the Basic credentials.
std::string base64(std::string_view in) {
  static constexpr char kDigits[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, in.size() - i);
    std::uint32_t group = 0;
    for (std::size_t k = 0; k < 3; ++k) {
      group = (group << 8) | (k < n ? static_cast<unsigned char>(in[i + k]) : 0u);
    }
    for (std::size_t k = 0; k < 4; ++k) {
      out.push_back(k <= n ? kDigits[(group >> (18 - 6 * k)) & 0x3f] : '=');
    }
  }
  return out;
}

/// What a resolution on the helper thread hands back; shared, so an abandoned one is harmless.
struct Resolution {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  bool cancelled = false;  ///< the caller's HttpCancel fired; it stops waiting
  boost::system::error_code error;
  std::vector<tcp::endpoint> endpoints;
};

/// The endpoints for `url`, or a failure in `failure`. An IP literal needs no resolver; a name
/// is resolved on a detached thread that the caller stops waiting for at the deadline.
std::vector<tcp::endpoint> resolve(const HttpUrl& url, Clock::time_point deadline,
                                   std::chrono::nanoseconds timeout, HttpCancel* cancel,
                                   HttpResult& failure) {
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
  const CancelScope scope(cancel, [state] {
    std::lock_guard lock(state->mutex);
    state->cancelled = true;
    state->done_cv.notify_all();
  });
  std::unique_lock lock(state->mutex);
  if (!state->done_cv.wait_until(lock, deadline, [&] { return state->done || state->cancelled; })) {
    failure =
        failed(HttpFailure::timeout, url.host + " did not resolve within " + seconds_text(timeout));
  } else if (!state->done) {
    failure = failed(HttpFailure::cancelled, "cancelled while resolving " + url.host);
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
    // Credentials in the URL as Basic auth; an Authorization in `headers` replaces them.
    if (!url.userinfo.empty()) {
      request_.set(http::field::authorization, "Basic " + base64(url.userinfo));
    }
    for (const auto& [name, value] : headers) request_.set(name, value);
    if (method != http::verb::get) request_.content_length(0);  // an empty body, said so
    parser_.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
    parser_.body_limit(max_body_bytes);
  }

  HttpResult run(const std::vector<tcp::endpoint>& endpoints, Clock::time_point deadline,
                 HttpCancel* cancel) {
    // io_context::stop is thread-safe, and a stop before run_until makes it return at once.
    const CancelScope scope(cancel, [this] { context_.stop(); });
    stream_.expires_at(deadline);
    stream_.async_connect(endpoints,
                          [this](beast::error_code ec, const tcp::endpoint&) { on_connect(ec); });
    context_.run_until(deadline + kCompletionGrace);
    if (!finished_ && scope.cancelled()) {
      return failed(HttpFailure::cancelled, "cancelled: soak is stopping");
    }
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
    if (ec == http::error::body_limit) {
      return finish(
          failed(HttpFailure::too_large, "answer larger than " + size_text(max_body_bytes_)));
    }
    if (ec == http::error::header_limit) {
      return finish(failed(HttpFailure::too_large,
                           "answer headers larger than " + size_text(kMaxHeaderBytes)));
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
                    std::chrono::nanoseconds timeout, std::size_t max_body_bytes,
                    HttpCancel* cancel) {
  if (cancel != nullptr && cancel->cancelled()) {
    return failed(HttpFailure::cancelled, "cancelled: soak is stopping");
  }
  const auto deadline = Clock::now() + timeout;
  HttpResult failure;
  const auto endpoints = resolve(url, deadline, timeout, cancel, failure);
  if (!failure.ok()) return failure;
  Exchange exchange(method, url, headers, timeout, max_body_bytes);
  return exchange.run(endpoints, deadline, cancel);
}

}  // namespace

HttpResult http_get(const HttpUrl& url, const HttpHeaders& headers,
                    std::chrono::nanoseconds timeout, std::size_t max_body_bytes,
                    HttpCancel* cancel) {
  return exchange(http::verb::get, url, headers, timeout, max_body_bytes, cancel);
}

bool is_http_method(std::string_view method) {
  return method == "GET" || method == "POST" || method == "PUT" || method == "DELETE";
}

HttpResult http_request(std::string_view method, const HttpUrl& url, const HttpHeaders& headers,
                        std::chrono::nanoseconds timeout, std::size_t max_body_bytes,
                        HttpCancel* cancel) {
  if (!is_http_method(method)) {
    throw std::invalid_argument("not an HTTP method soak sends: " + std::string(method));
  }
  const http::verb verb = http::string_to_verb(beast::string_view(method.data(), method.size()));
  return exchange(verb, url, headers, timeout, max_body_bytes, cancel);
}

}  // namespace soak::probes
