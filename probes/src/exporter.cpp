#include "soak/probes/exporter.hpp"

#include <httplib.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace soak::probes {

namespace {

std::string escape_label(const std::string& v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
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

}  // namespace

Exporter::Exporter(const std::string& listen) : server_(std::make_unique<httplib::Server>()) {
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
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  port_ = port == 0 ? server_->bind_to_any_port(host_) : (server_->bind_to_port(host_, static_cast<int>(port)) ? static_cast<int>(port) : -1);
  if (port_ <= 0) {
    throw ExporterError("--metrics-listen '" + listen + "': cannot listen there (in use, or not an " +
                        "address of this machine); choose another port");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

Exporter::~Exporter() {
  server_->stop();
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

void Exporter::set_sample(const std::vector<std::pair<std::string, double>>& metrics, std::uint64_t samples) {
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
  const std::string target = "target=\"" + escape_label(target_name_) + "\",pid=\"" + std::to_string(target_pid_) + "\"";
  std::string s;
  s += "# HELP soak_up 1 while soak is sampling.\n# TYPE soak_up gauge\nsoak_up 1\n";
  s += "# HELP soak_target_value The target's latest sample, by metric (units in the metric's name).\n";
  s += "# TYPE soak_target_value gauge\n";
  for (const auto& [name, value] : sample_) {
    s += "soak_target_value{" + target + ",metric=\"" + escape_label(name) + "\"} " + number(value) + "\n";
  }
  s += "# HELP soak_samples_total Samples written so far.\n# TYPE soak_samples_total counter\n";
  s += "soak_samples_total{" + target + "} " + std::to_string(samples_) + "\n";
  s += "# HELP soak_growth_per_minute Growth estimate so far (metric unit per minute) and its 95% interval.\n";
  s += "# TYPE soak_growth_per_minute gauge\n";
  for (const auto& g : growth_) {
    const std::string labels = target + ",metric=\"" + escape_label(g.metric) + "\",classification=\"" +
                               escape_label(g.classification) + "\"";
    s += "soak_growth_per_minute{" + labels + ",bound=\"estimate\"} " + number(g.per_min) + "\n";
    s += "soak_growth_per_minute{" + labels + ",bound=\"low\"} " + number(g.low_per_min) + "\n";
    s += "soak_growth_per_minute{" + labels + ",bound=\"high\"} " + number(g.high_per_min) + "\n";
  }
  s += "# HELP soak_verdict_so_far 1 for the verdict the run would get now.\n# TYPE soak_verdict_so_far gauge\n";
  for (const char* v : {"pass", "fail", "inconclusive"}) {
    s += "soak_verdict_so_far{" + target + ",verdict=\"" + v + "\"} " + (verdict_ == v ? "1" : "0") + "\n";
  }
  // soak's own footprint: an overnight run must keep it flat.
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  double cpu = 0;
  if (const auto close = text.rfind(')'); close != std::string::npos) {
    std::istringstream fields(text.substr(close + 2));
    std::string f;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
      if (i == 14) utime = std::stod(f);
      if (i == 15) stime = std::stod(f);
    }
    cpu = (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  s += "# HELP soak_process_resident_bytes soak's own RSS.\n# TYPE soak_process_resident_bytes gauge\n";
  s += "soak_process_resident_bytes " + number(static_cast<double>(resident * ::sysconf(_SC_PAGESIZE))) + "\n";
  s += "# HELP soak_process_cpu_seconds_total soak's own CPU time.\n# TYPE soak_process_cpu_seconds_total counter\n";
  s += "soak_process_cpu_seconds_total " + number(cpu) + "\n";
  return s;
}

}  // namespace soak::probes
