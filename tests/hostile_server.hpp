#pragma once
// A hostile HTTP endpoint for the tests: a raw TCP server on 127.0.0.1 port 0 whose handler
// writes whatever bytes it likes, as slowly as it likes (a byte every 0.5 s, an endless chunked
// body). Test-only (tests/), plain POSIX sockets so that every test executable can use it.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace soak::test {

/// Listens on 127.0.0.1, port 0; each connection runs `handler(fd, stopping)` on a thread of its
/// own. The destructor sets `stopping`, shuts every connection down and joins the threads, so a
/// handler must return soon after `stopping` is set or a write fails.
class HostileServer {
 public:
  using Handler = std::function<void(int fd, const std::atomic<bool>& stopping)>;

  explicit HostileServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 64);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~HostileServer() {
    stopping_ = true;
    accept_thread_.join();
    {
      std::lock_guard lock(mutex_);
      for (const int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
    for (const int fd : fds_) ::close(fd);
    ::close(listen_fd_);
  }
  HostileServer(const HostileServer&) = delete;
  HostileServer& operator=(const HostileServer&) = delete;

  std::string url(const std::string& path_and_query) const {
    return "http://127.0.0.1:" + std::to_string(port) + path_and_query;
  }

  int port = 0;
  std::atomic<int> accepted{0};  ///< connections accepted so far

  // ---- helpers for handlers

  /// Writes all of `bytes`; false when the peer is gone.
  static bool send_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  /// Reads until the end of the request's headers (or the peer goes, or `stopping`).
  static std::string read_request(int fd, const std::atomic<bool>& stopping) {
    std::string request;
    char buf[4096];
    while (!stopping && request.find("\r\n\r\n") == std::string::npos) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      request.append(buf, static_cast<std::size_t>(n));
    }
    return request;
  }
  /// Sleeps `d` in small steps; false when `stopping` was set meanwhile.
  static bool pause(std::chrono::milliseconds d, const std::atomic<bool>& stopping) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
      if (stopping) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return !stopping;
  }
  /// Sends `bytes` one byte every `gap`; false when stopped or the peer is gone.
  static bool dribble(int fd, std::string_view bytes, std::chrono::milliseconds gap,
                      const std::atomic<bool>& stopping) {
    for (const char c : bytes) {
      if (!send_all(fd, std::string_view(&c, 1)) || !pause(gap, stopping)) return false;
    }
    return true;
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      ++accepted;
      std::lock_guard lock(mutex_);
      fds_.push_back(fd);
      threads_.emplace_back([this, fd] { handler_(fd, stopping_); });
    }
  }

  Handler handler_;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  std::thread accept_thread_;  // last: starts after the members it uses
};

}  // namespace soak::test
