#pragma once
// The tests' HTTP server: cpp-httplib on a port the kernel picks, on a thread of its own.
// Test-only (tests/): probes_test and scenario_test share it.

#include <httplib.h>

#include <functional>
#include <string>
#include <thread>

namespace soak::test {

/// A cpp-httplib server on HOST port 0, serving on a thread of its own until destroyed.
/// port is 0 when HOST cannot be listened on (no IPv6 on this machine, say).
struct TestServer {
  httplib::Server server;
  int port = 0;
  std::thread thread;
  explicit TestServer(const std::function<void(httplib::Server&)>& routes,
                      const std::string& host = "127.0.0.1") {
    routes(server);
    port = server.bind_to_any_port(host);  // listening from here: connections queue
    if (port <= 0) {
      port = 0;
      return;
    }
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~TestServer() {
    server.stop();
    if (thread.joinable()) thread.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
};

}  // namespace soak::test
