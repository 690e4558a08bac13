#pragma once
// soak's own HTTP client: one blocking exchange (GET, or a bodiless POST) over Boost.Beast, used by
// everything in soak that fetches (the --probe fetches, the Prometheus query_range client). Plain
// http:// only: soak reads endpoints on the machine or network it watches, and none of its fetches
// has needed TLS.
//
//   const HttpUrl url = parse_http_url("http://[::1]:9090/api/v1/query?query=up");
//   const HttpResult r = http_get(url, {{"Authorization", token}}, 2s, 16 << 20);
//   if (!r.ok()) log(to_string(r.failure), r.message);  // e.g. timeout, "no answer within 2 s"
//
// Bounds. The timeout is a hard bound on the whole exchange: name resolution, connect, writing
// the request and reading the answer together end by `timeout` after the call (plus the few
// milliseconds the completion takes), whatever the server does (silence, a byte a minute, an
// endless body). The answer is bounded too: a body over `max_body_bytes`, or headers over
// kMaxHeaderBytes, are refused as too_large before that much memory is held.
//
// Cancelling. An exchange given an HttpCancel ends at once, from any thread, when that token is
// cancelled (a probe's stop at the end of a run never waits for a fetch in flight).
//
// Secrets. Credentials written in a URL (http://user:pass@host/) are sent as Basic auth; they,
// and query values whose names look like secrets (?token=..., ?api_key=...), must never be
// written anywhere: redact_urls() is the one way a URL becomes text for a log, a report or a
// message. Every UrlError says the URL redacted.
//
// Thread-safety. Every function here is safe to call from any number of threads at once: each
// call runs on an io_context of its own and shares nothing but the HttpCancel it is given. A host
// name (not an IP literal) is resolved by the system resolver on a helper thread, so a resolver
// that hangs costs that helper thread until the resolver gives up, never the caller.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace soak::probes {

/// A URL the client cannot fetch (not http://, no host, a bad port, an unbracketed IPv6
/// address...). what() says what was given and what to write instead.
class UrlError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// An http:// URL taken apart. Values only; copy freely.
struct HttpUrl {
  std::string host;         ///< a name or an IP literal, IPv6 without its brackets ("::1")
  std::uint16_t port = 80;  ///< 1..65535
  std::string target;       ///< path and query as sent: starts with '/', no fragment
  std::string userinfo;     ///< "user:pass" percent-decoded, sent as Basic auth; "" when none
  /// host[:port] as the Host header wants it: IPv6 in brackets, the port left out when 80.
  std::string authority() const;
};

/// Parses "http://[USER[:PASS]@]HOST[:PORT][/PATH][?QUERY][#FRAGMENT]" (HOST a name, an IPv4
/// address or a bracketed IPv6 address such as [::1]). Throws UrlError for anything else, https://
/// included.
HttpUrl parse_http_url(std::string_view url);

/// `text` with every URL in it (SCHEME://..., up to a space or a quote) made safe to write: the
/// credentials before an '@' become "***" (http://***@host/), and so does the value of each
/// query parameter whose name looks like a secret (token, key, secret, password, passwd, auth,
/// access_token, api_key, and names holding token, secret, passw or ending in key; any case).
/// Everything else is kept as it is. Pure; any text is accepted.
std::string redact_urls(std::string_view text);

/// A token that ends exchanges from another thread. Thread-safety: every member may be called
/// from any thread; the token must outlive the exchanges given it.
class HttpCancel {
 public:
  HttpCancel() = default;
  HttpCancel(const HttpCancel&) = delete;
  HttpCancel& operator=(const HttpCancel&) = delete;
  /// Ends every exchange running with this token, and every later one before it starts, with
  /// HttpFailure::cancelled. Idempotent; returns once those exchanges have been told (they
  /// return within a few milliseconds).
  void cancel();
  bool cancelled() const;

 private:
  friend class CancelScope;  // http_client.cpp: an exchange's registration
  mutable std::mutex mutex_;
  bool cancelled_ = false;
  std::uint64_t next_id_ = 0;
  std::map<std::uint64_t, std::function<void()>> wake_;  ///< what ends each exchange in flight
};

/// Why an exchange produced no answer. An answer with any status (404, 500...) is not a failure.
enum class HttpFailure {
  none,          ///< an answer arrived (see HttpResult::status)
  unresolved,    ///< the host name does not resolve
  refused,       ///< nothing listens there (connection refused)
  unreachable,   ///< no route, network down, or the connection broke while sending
  timeout,       ///< the whole exchange did not finish within the timeout
  too_large,     ///< the answer's body or headers are over the bound
  bad_response,  ///< not HTTP, or the connection closed before the answer was complete
  cancelled,     ///< the HttpCancel given was cancelled (soak is stopping)
};

/// "none", "unresolved", "refused", ... (the enumerator's name).
const char* to_string(HttpFailure failure);

/// The outcome of one GET: an answer (status and body) or a failure reason with a message.
struct HttpResult {
  HttpFailure failure = HttpFailure::none;
  std::string message;  ///< one sentence when failed ("connection refused"), empty when ok
  unsigned status = 0;  ///< the HTTP status code when ok
  std::string body;     ///< the answer's body when ok (at most max_body_bytes)
  bool ok() const { return failure == HttpFailure::none; }
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

/// Headers over this many bytes make the answer too_large: a real server sends a few hundred.
inline constexpr std::size_t kMaxHeaderBytes = 64 * 1024;

/// GET `url` with `headers` added to the request (Host, User-Agent and Connection: close are
/// set here; Authorization: Basic from url.userinfo unless `headers` set Authorization). Blocks the
/// calling thread for at most about `timeout` (see Bounds above). Never throws for anything the
/// network or the server does; only std::bad_alloc can escape, and std::length_error for a header
/// value of 64 KiB or more (a caller's bug). `cancel` (may be null) ends it early, from another
/// thread, as HttpFailure::cancelled.
HttpResult http_get(const HttpUrl& url, const HttpHeaders& headers,
                    std::chrono::nanoseconds timeout, std::size_t max_body_bytes,
                    HttpCancel* cancel = nullptr);

/// True for the methods http_request sends: GET, POST, PUT, DELETE (upper case).
bool is_http_method(std::string_view method);

/// Like http_get with another method (a trigger such as `POST /gc/collect`): the request has an
/// empty body (Content-Length: 0 unless GET), the same bounds and the same failures. Throws
/// std::invalid_argument when is_http_method(method) is false (a caller's bug).
HttpResult http_request(std::string_view method, const HttpUrl& url, const HttpHeaders& headers,
                        std::chrono::nanoseconds timeout, std::size_t max_body_bytes,
                        HttpCancel* cancel = nullptr);

}  // namespace soak::probes
