#include "soak/scenarios/external_load.hpp"

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <regex>
#include <thread>

#include "soak/importers/text.hpp"
#include "soak/log/metrics.hpp"
#include "soak/sampler/stop_signals.hpp"

namespace soak::scenarios {

namespace fs = std::filesystem;
namespace metric = log::metric;
using Clock = std::chrono::steady_clock;

namespace {

/// wrk needs a duration: the run's length and this margin, so soak (not wrk) ends it.
constexpr double kWrkMarginSeconds = 60;
/// The tail of load.log read for wrk's summary line.
constexpr std::uint64_t kSummaryTailBytes = 1 << 20;
/// Locust flushes its CSVs every 10 s; the wrapper asks for every second, so the log's load
/// series lag the traffic by about a second, not ten.
constexpr int kLocustFlushSeconds = 1;

double rounded(double v, double digits = 1000) {
  return std::round(v * digits) / digits;
}

std::string replaced(std::string text, std::string_view from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

/// A Python or Lua string literal of `text` (JSON's escapes are valid in both).
std::string quoted(const std::string& text) {
  return nlohmann::json(text).dump();
}

void write_file(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw sampler::LaunchError("cannot write " + file.string());
}

/// The first `cap` bytes of a file (empty when it cannot be read).
std::string read_head(const fs::path& file, std::uint64_t cap) {
  std::ifstream in(file, std::ios::binary);
  std::string text(static_cast<std::size_t>(cap), '\0');
  in.read(text.data(), static_cast<std::streamsize>(cap));
  text.resize(static_cast<std::size_t>(std::max<std::streamsize>(0, in.gcount())));
  return text;
}

/// The last `cap` bytes of a file.
std::string read_tail(const fs::path& file, std::uint64_t cap) {
  std::error_code ec;
  const std::uint64_t size = fs::file_size(file, ec);
  if (ec) return {};
  std::ifstream in(file, std::ios::binary);
  const std::uint64_t from = size > cap ? size - cap : 0;
  in.seekg(static_cast<std::streamoff>(from));
  std::string text(static_cast<std::size_t>(size - from), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(std::max<std::streamsize>(0, in.gcount())));
  return text;
}

/// A CSV table: its header's columns by name, and its rows.
struct Table {
  std::map<std::string, std::size_t> column;
  std::vector<std::vector<std::string>> rows;
  std::optional<std::string_view> at(const std::vector<std::string>& row, const char* name) const {
    const auto it = column.find(name);
    if (it == column.end() || it->second >= row.size()) return std::nullopt;
    return row[it->second];
  }
  std::optional<double> number_at(const std::vector<std::string>& row, const char* name) const {
    const auto text = at(row, name);
    return text ? importers::text::number(*text) : std::nullopt;
  }
};

Table table_of(std::string_view text) {
  Table t;
  bool first = true;
  for (const auto& line : importers::text::lines(text)) {
    if (line.text.size() > kMaxLineBytes) continue;
    auto fields = split_csv_line(line.text);
    if (!fields) continue;
    if (first) {
      for (std::size_t i = 0; i < fields->size(); ++i) t.column[(*fields)[i]] = i;
      first = false;
    } else if (fields->size() == t.column.size()) {
      t.rows.push_back(std::move(*fields));
    }
  }
  return t;
}

/// "GET /health" for Locust's (Type, Name): the name as given when it already says the method.
std::string endpoint_name(std::string_view type, std::string_view name) {
  const std::string prefix = std::string(type) + " ";
  if (type.empty() || name.starts_with(prefix)) return std::string(name);
  return prefix + std::string(name);
}

/// The kind of one of Locust's failures, from its error text: soak's driver's kinds.
std::string failure_kind(std::string_view error) {
  static const std::regex http_status(R"(HTTPError\('([45])\d\d)");
  std::match_results<std::string_view::const_iterator> m;
  if (std::regex_search(error.begin(), error.end(), m, http_status)) {
    return "http_" + m[1].str() + "xx";
  }
  for (const auto& [needle, kind] : {std::pair<const char*, const char*>{"Timeout", "timeout"},
                                     {"timed out", "timeout"},
                                     {"ConnectionRefused", "connect"},
                                     {"NewConnectionError", "connect"},
                                     {"ConnectionError", "connect"},
                                     {"RemoteDisconnected", "io"}}) {
    if (error.find(needle) != std::string_view::npos) return kind;
  }
  return "other";
}

/// Locust's failures by endpoint and kind; "" is every endpoint.
std::map<std::string, std::map<std::string, std::uint64_t>> failures_by_kind(
    std::string_view failures_csv) {
  std::map<std::string, std::map<std::string, std::uint64_t>> out;
  const Table t = table_of(failures_csv);
  for (const auto& row : t.rows) {
    const auto occurrences = t.number_at(row, "Occurrences");
    if (!occurrences || *occurrences < 0) continue;
    const std::string kind = failure_kind(t.at(row, "Error").value_or(""));
    const std::string name =
        endpoint_name(t.at(row, "Method").value_or(""), t.at(row, "Name").value_or(""));
    const auto n = static_cast<std::uint64_t>(*occurrences);
    if (out.size() <= kMaxEndpoints || out.contains(name)) out[name][kind] += n;
    out[""][kind] += n;
  }
  return out;
}

/// One row of Locust's final stats as verdict.json's request figures.
nlohmann::ordered_json locust_row(const Table& t, const std::vector<std::string>& row,
                                  const std::map<std::string, std::uint64_t>* kinds) {
  nlohmann::ordered_json j;
  const double requests = t.number_at(row, "Request Count").value_or(0);
  const double failures = t.number_at(row, "Failure Count").value_or(0);
  j["requests"] = requests;
  j["answered"] = requests - failures;
  j["errors"] = nlohmann::ordered_json::object();
  std::uint64_t classified = 0;
  if (kinds) {
    for (const auto& [kind, n] : *kinds) {
      j["errors"][kind] = n;
      classified += n;
    }
  }
  // Failures the failures file does not account for (it was cut short) are still failures.
  if (failures > static_cast<double>(classified)) {
    j["errors"]["other"] =
        j["errors"].value("other", 0.0) + failures - static_cast<double>(classified);
  }
  j["error_rate"] = requests > 0 ? rounded(failures / requests, 1e6) : 0.0;
  j["rps"] = rounded(t.number_at(row, "Requests/s").value_or(0));
  nlohmann::ordered_json latency = nullptr;
  if (requests > failures || t.number_at(row, "50%")) {
    latency = nlohmann::ordered_json::object();
    for (const auto& [key, column] : {std::pair<const char*, const char*>{"p50", "50%"},
                                      {"p95", "95%"},
                                      {"p99", "99%"},
                                      {"max", "Max Response Time"}}) {
      if (const auto v = t.number_at(row, column)) latency[key] = rounded(*v);
    }
    if (latency.empty()) latency = nullptr;
  }
  j["latency_ms"] = latency;
  return j;
}

}  // namespace

std::optional<std::vector<std::string>> split_csv_line(std::string_view line) {
  // Every quote opens or closes a field or is doubled inside one, so a line cut inside a quoted
  // field (a row Locust is still writing) has an odd count.
  if (std::count(line.begin(), line.end(), '"') % 2 != 0) return std::nullopt;
  std::vector<std::string> out;
  for (auto& field : importers::text::csv_fields(line)) out.push_back(std::move(field.value));
  return out;
}

nlohmann::ordered_json locust_figures(std::string_view stats_csv, std::string_view failures_csv) {
  const Table t = table_of(stats_csv);
  const auto kinds = failures_by_kind(failures_csv);
  auto kinds_of = [&](const std::string& name) {
    const auto it = kinds.find(name);
    return it == kinds.end() ? nullptr : &it->second;
  };
  nlohmann::ordered_json out = nullptr;
  nlohmann::ordered_json by_request = nlohmann::ordered_json::object();
  for (const auto& row : t.rows) {
    const std::string_view name = t.at(row, "Name").value_or("");
    const std::string_view type = t.at(row, "Type").value_or("");
    if (type.empty() && name == "Aggregated") {
      out = locust_row(t, row, kinds_of(""));
    } else if (by_request.size() < kMaxEndpoints) {
      const std::string key = endpoint_name(type, name);
      by_request[key] = locust_row(t, row, kinds_of(key));
    }
  }
  if (out.is_null()) return out;
  out["sent"] = out["requests"];
  out["by_request"] = std::move(by_request);
  return out;
}

nlohmann::ordered_json wrk_figures(std::string_view output, const std::string& request_name) {
  constexpr std::string_view marker = "soak-wrk-summary ";
  const auto at = output.rfind(marker);
  if (at == std::string_view::npos) return nullptr;
  std::string_view line = output.substr(at + marker.size());
  line = line.substr(0, line.find('\n'));
  const nlohmann::json s = nlohmann::json::parse(line, nullptr, false);
  if (!s.is_object()) return nullptr;
  auto n = [&](const char* key) {
    const auto it = s.find(key);
    return it != s.end() && it->is_number() ? it->get<double>() : 0.0;
  };
  nlohmann::ordered_json j;
  const double requests = n("requests");
  const double duration_s = n("duration_us") / 1e6;
  j["requests"] = requests;
  j["sent"] = requests;
  j["errors"] = nlohmann::ordered_json::object();
  const std::pair<const char*, double> kinds[] = {{"connect", n("connect")},
                                                  {"io", n("read") + n("write")},
                                                  {"timeout", n("timeout")},
                                                  {"http_status", n("status")}};
  double errors = 0;
  for (const auto& [kind, count] : kinds) {
    if (count > 0) j["errors"][kind] = count;
    errors += count;
  }
  j["answered"] = requests - n("status") > 0 ? requests : 0.0;  // a non-2xx answer is an answer
  j["error_rate"] = requests > 0 ? rounded(std::min(1.0, errors / requests), 1e6) : 0.0;
  j["rps"] = duration_s > 0 ? rounded(requests / duration_s) : 0.0;
  j["duration_s"] = rounded(duration_s);
  j["latency_ms"] = requests > 0 ? nlohmann::ordered_json{{"p50", rounded(n("p50_us") / 1000)},
                                                          {"p95", rounded(n("p95_us") / 1000)},
                                                          {"p99", rounded(n("p99_us") / 1000)},
                                                          {"max", rounded(n("max_us") / 1000)}}
                                 : nlohmann::ordered_json(nullptr);
  nlohmann::ordered_json one = j;
  one.erase("sent");
  one.erase("duration_s");
  j["by_request"] = {{request_name, one}};
  return j;
}

std::vector<std::string> FileTail::read_lines() {
  std::vector<std::string> lines;
  std::ifstream in(file_, std::ios::binary);
  if (!in) return lines;
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::uint64_t>(std::max<std::streamoff>(0, in.tellg()));
  if (size < offset_) offset_ = 0;  // truncated or replaced: start again
  const std::uint64_t n = std::min<std::uint64_t>(size - offset_, kMaxReadBytes);
  if (n == 0) return lines;
  std::string chunk(static_cast<std::size_t>(n), '\0');
  in.seekg(static_cast<std::streamoff>(offset_));
  in.read(chunk.data(), static_cast<std::streamsize>(n));
  chunk.resize(static_cast<std::size_t>(std::max<std::streamsize>(0, in.gcount())));
  offset_ += chunk.size();
  for (const char ch : chunk) {
    if (ch == '\n') {
      if (!skipping_) {
        if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
        lines.push_back(std::move(partial_));
      }
      partial_.clear();
      skipping_ = false;
    } else if (!skipping_) {
      partial_ += ch;
      if (partial_.size() > kMaxLineBytes) {
        partial_.clear();
        skipping_ = true;
      }
    }
  }
  return lines;
}

namespace {

std::string locust_wrapper(const ExternalLoad& load) {
  // Debian's Locust 2.12 has no --shape: it runs the one shape class a file defines (the first
  // of several). The wrapper imports the user's file and exposes every name of it but the shape
  // classes other than the one asked for.
  std::string py =
      "# Written by soak: runs " + load.locustfile.filename().string() +
      " with only the shape asked for.\n"
      "import importlib.machinery, inspect, sys\n"
      "import locust.stats\n"
      "from locust import LoadTestShape\n"
      "locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = " +
      std::to_string(kLocustFlushSeconds) +
      "\n"
      "_path = " +
      quoted(load.locustfile.string()) +
      "\n"
      "_shape = " +
      quoted(load.shape) +
      "\n"
      "sys.path.insert(0, " +
      quoted(load.locustfile.parent_path().string()) +
      ")\n"
      "_module = importlib.machinery.SourceFileLoader(" +
      quoted(load.locustfile.stem().string()) +
      ", _path).load_module()\n"
      "_found = False\n"
      "for _name, _value in list(vars(_module).items()):\n"
      "    if _name.startswith('__'):\n"
      "        continue\n"
      "    if inspect.isclass(_value) and issubclass(_value, LoadTestShape) and "
      "_value.__module__ != 'locust.shape':\n"
      "        if _shape and _name != _shape:\n"
      "            continue\n"
      "        _found = _found or _name == _shape\n"
      "    globals()[_name] = _value\n"
      "del _name, _value  # a loop variable left holding a User class would be a second one\n"
      "if _shape and not _found:\n"
      "    sys.stderr.write('soak: no shape class ' + _shape + ' in ' + _path + '\\n')\n"
      "    sys.exit(2)\n";
  return py;
}

std::string wrk_wrapper(const ExternalLoad& load, const fs::path& progress) {
  std::string lua = "-- Written by soak: wrk's progress a second, and its summary as one line.\n";
  if (load.script) lua += "dofile(" + quoted(load.script->string()) + ")\n";
  lua += "local soak_progress = " + quoted(progress.string()) + "\n" + R"LUA(
local soak_n, soak_err, soak_sec, soak_file = 0, 0, 0, nil
local soak_user_response = response
response = function(status, headers, body)
  soak_n = soak_n + 1
  if status >= 400 then soak_err = soak_err + 1 end
  local now = os.time()
  if now ~= soak_sec then
    if soak_file == nil then soak_file = io.open(soak_progress, "a") end
    if soak_file ~= nil then
      soak_file:write(string.format("%d %d %d\n", now, soak_n, soak_err))
      soak_file:flush()
    end
    soak_n, soak_err, soak_sec = 0, 0, now
  end
  if soak_user_response ~= nil then return soak_user_response(status, headers, body) end
end
local soak_user_done = done
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("soak-wrk-summary {\"duration_us\":%d,\"requests\":%d,\"bytes\":%d," ..
    "\"connect\":%d,\"read\":%d,\"write\":%d,\"status\":%d,\"timeout\":%d," ..
    "\"p50_us\":%d,\"p95_us\":%d,\"p99_us\":%d,\"max_us\":%d}\n",
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max))
  io.stdout:flush()
  if soak_user_done ~= nil then soak_user_done(summary, latency, requests) end
end
)LUA";
  return lua;
}

void plan_locust(const ExternalLoad& load, const std::string& base_url, const fs::path& folder,
                 ExternalPlan& plan) {
  const fs::path wrapper = folder / "soak_locustfile.py";
  write_file(wrapper, locust_wrapper(load));
  plan.csv_prefix = folder / "locust";
  plan.argv = {"locust", "-f", wrapper.string(), "--headless", "--host", base_url,
               "--csv=" + plan.csv_prefix.string(), "--csv-full-history", "--only-summary",
               // A failed request is a figure, not a reason to call the load dead.
               "--exit-code-on-error", "0"};
  if (load.users) plan.argv.insert(plan.argv.end(), {"-u", std::to_string(*load.users)});
  if (load.spawn_rate) {
    char rate[32];
    std::snprintf(rate, sizeof rate, "%g", *load.spawn_rate);
    plan.argv.insert(plan.argv.end(), {"-r", rate});
  }
  if (!load.tags.empty()) {
    plan.argv.push_back("--tags");
    plan.argv.insert(plan.argv.end(), load.tags.begin(), load.tags.end());
  }
  plan.working_directory = load.locustfile.parent_path();
}

void plan_wrk(const ExternalLoad& load, const std::string& base_url, const fs::path& folder,
              double run_s, ExternalPlan& plan) {
  plan.progress_file = folder / "wrk_progress.txt";
  const fs::path script = folder / "soak_wrk.lua";
  write_file(script, wrk_wrapper(load, plan.progress_file));
  std::string url = base_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  const double seconds = load.duration_s.value_or(run_s + kWrkMarginSeconds);
  const int connections = std::max(load.connections, load.threads);  // wrk wants c >= t
  plan.argv = {"wrk",
               "-t",
               std::to_string(load.threads),
               "-c",
               std::to_string(connections),
               "-d",
               std::to_string(std::max(1L, std::lround(seconds))) + "s",
               "-s",
               script.string(),
               url + load.path};
  plan.request_name = "GET " + load.path;
}

}  // namespace

ExternalPlan plan_external_load(const ExternalLoad& load, const std::string& base_url,
                                const fs::path& given_dir, double run_s) {
  ExternalPlan plan;
  const fs::path run_dir = fs::absolute(given_dir);  // Locust runs in its file's folder
  plan.output_file = run_dir / kLoadOutputFile;
  plan.environment["SOAK_BASE_URL"] = base_url;
  const fs::path folder = run_dir / kLoadFolder;
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) throw sampler::LaunchError("cannot create " + folder.string() + ": " + ec.message());
  switch (load.kind) {
    case ExternalLoad::Kind::command:
      for (const auto& arg : load.command)
        plan.argv.push_back(replaced(arg, "${base_url}", base_url));
      break;
    case ExternalLoad::Kind::locust:
      plan_locust(load, base_url, folder, plan);
      break;
    case ExternalLoad::Kind::wrk:
      plan_wrk(load, base_url, folder, run_s, plan);
      break;
  }
  return plan;
}

ExternalLoadRun::ExternalLoadRun(const ExternalLoad& load, const std::string& base_url,
                                 const fs::path& run_dir, double run_s)
    : load_(load),
      plan_(plan_external_load(load, base_url, run_dir, run_s)),
      tail_(load.kind == ExternalLoad::Kind::wrk
                ? plan_.progress_file
                : fs::path(plan_.csv_prefix.string() + "_stats_history.csv")) {
  sampler::LaunchOptions launch;
  launch.argv = plan_.argv;
  launch.environment = plan_.environment;
  launch.working_directory = plan_.working_directory;
  launch.output_file = plan_.output_file;
  launch.dies_with_soak = true;
  process_ = std::make_unique<sampler::LaunchedProcess>(launch);
  started_ = last_read_ = Clock::now();
}

ExternalLoadRun::~ExternalLoadRun() = default;

double ExternalLoadRun::since_start() const {
  return std::chrono::duration<double>(Clock::now() - started_).count();
}

void ExternalLoadRun::contribute(sampler::TickSink& sink) {
  if (load_.kind == ExternalLoad::Kind::locust) read_locust(sink);
  if (load_.kind == ExternalLoad::Kind::wrk) read_wrk(sink);
  check_ended(sink);
}

void ExternalLoadRun::check_ended(sampler::TickSink& sink) {
  if (ended_at_s_ || !process_ || !process_->try_reap()) return;
  ::kill(-process_->pid(), SIGKILL);  // what it left behind in its group goes with it
  const sampler::ExitInfo& exit = *process_->exit_info();
  ended_at_s_ = since_start();
  failed_ = exit.signal.has_value() || exit.exit_code.value_or(1) != 0;
  char after[64];
  std::snprintf(after, sizeof after, " after %.1f s", *ended_at_s_);
  const std::string what = std::string("the load (") + to_string(load_.kind) + ")";
  if (failed_) {
    end_detail_ = what + " died: " + exit.detail + after + "; see " + plan_.output_file.string();
    sink.event(log::event::load_failed, end_detail_);
  } else {
    end_detail_ =
        what + " ended by itself (" + exit.detail + ")" + after + "; sampling goes on without load";
    sink.event(log::event::load_ended, end_detail_);
  }
}

void ExternalLoadRun::read_locust(sampler::TickSink& sink) {
  std::optional<std::vector<std::string>> aggregated;
  std::map<std::string, std::vector<std::string>> endpoints;
  std::map<std::string, std::size_t> column;
  for (const auto& line : tail_.read_lines()) {
    auto fields = split_csv_line(line);
    if (!fields) continue;
    if (columns_.empty()) {
      if (!fields->empty() && fields->front() == "Timestamp") columns_ = *fields;
      continue;
    }
    if (fields->size() != columns_.size()) continue;
    const std::string& type = (*fields)[2];
    const std::string& name = (*fields)[3];
    if (type.empty() && name == "Aggregated") {
      aggregated = std::move(*fields);
    } else {
      const std::string key = endpoint_name(type, name);
      if (endpoints.size() < kMaxEndpoints || endpoints.contains(key)) endpoints[key] = *fields;
    }
  }
  if (columns_.empty()) return;
  for (std::size_t i = 0; i < columns_.size(); ++i) column[columns_[i]] = i;
  auto value = [&](const std::vector<std::string>& row, const char* name) -> std::optional<double> {
    const auto it = column.find(name);
    return it == column.end() ? std::nullopt : importers::text::number(row[it->second]);
  };
  auto put = [&](const std::string& prefix, const std::vector<std::string>& row) {
    for (const auto& [suffix, col] : {std::pair<const char*, const char*>{"rps", "Requests/s"},
                                      {"failures_rps", "Failures/s"},
                                      {"p50_ms", "50%"},
                                      {"p95_ms", "95%"},
                                      {"p99_ms", "99%"}}) {
      if (const auto v = value(row, col)) {
        name_buffer_ = prefix + suffix;
        sink.metric(name_buffer_, rounded(*v));
      }
    }
  };
  if (aggregated) {
    if (const auto users = value(*aggregated, "User Count")) {
      sink.metric(metric::load_level, *users);
      sink.metric(metric::load_users, *users);
    }
    put(std::string(metric::load_prefix), *aggregated);
    if (const auto failures = value(*aggregated, "Total Failure Count")) {
      sink.metric(metric::load_errors, std::max(0.0, *failures - std::max(0.0, last_failures_)));
      last_failures_ = *failures;
    }
  }
  for (const auto& [name, row] : endpoints)
    put(std::string(metric::load_request_prefix) + name + ".", row);
}

void ExternalLoadRun::read_wrk(sampler::TickSink& sink) {
  // A line "EPOCH N ERRORS" per thread and second counts the answers before it; a second's
  // lines are all in once a later second's first line is.
  for (const auto& line : tail_.read_lines()) {
    long epoch = 0;
    double n = 0, errors = 0;
    if (std::sscanf(line.c_str(), "%ld %lf %lf", &epoch, &n, &errors) != 3) continue;
    if (wrk_seconds_.size() < kMaxEndpoints || wrk_seconds_.contains(epoch)) {
      auto& s = wrk_seconds_[epoch];
      s.first += n;
      s.second += errors;
    }
  }
  if (wrk_seconds_.size() < 2) return;
  const long newest = wrk_seconds_.rbegin()->first;
  double answers = 0, errors = 0;
  std::size_t seconds = 0;
  for (auto it = wrk_seconds_.begin(); it != wrk_seconds_.end() && it->first < newest;) {
    answers += it->second.first;
    errors += it->second.second;
    ++seconds;
    it = wrk_seconds_.erase(it);
  }
  if (seconds == 0) return;
  sink.metric(metric::load_level, std::max(load_.connections, load_.threads));
  sink.metric(metric::load_rps, rounded(answers / static_cast<double>(seconds)));
  sink.metric(metric::load_errors, errors);
}

nlohmann::ordered_json ExternalLoadRun::finish(double run_s) {
  bool stopped_by_soak = false;
  if (!ended_at_s_ && process_ && !process_->try_reap()) {
    // SIGINT first: Locust and wrk both end cleanly on it and write their final figures.
    ::kill(-process_->pid(), SIGINT);
    const auto grace = std::chrono::duration<double>(load_.stop_grace_s);
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(grace);
    const int requests = sampler::stop_requests();
    while (Clock::now() < deadline && !process_->try_reap() &&
           sampler::stop_requests() == requests) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    process_->terminate(std::chrono::duration_cast<std::chrono::milliseconds>(grace),
                        [requests] { return sampler::stop_requests() > requests; });
    stopped_by_soak = true;
  }
  const sampler::ExitInfo exit =
      process_ && process_->exit_info() ? *process_->exit_info() : sampler::ExitInfo{};
  process_.reset();  // the keeper has copied the last of its output
  const double under = std::min(run_s, ended_at_s_.value_or(run_s));
  nlohmann::ordered_json j = nullptr;
  if (load_.kind == ExternalLoad::Kind::locust) {
    j = locust_figures(read_head(plan_.csv_prefix.string() + "_stats.csv", kMaxReadBytes),
                       read_head(plan_.csv_prefix.string() + "_failures.csv", kMaxReadBytes));
  } else if (load_.kind == ExternalLoad::Kind::wrk) {
    j = wrk_figures(read_tail(plan_.output_file, kSummaryTailBytes), plan_.request_name);
  }
  const bool measured = j.is_object();
  if (!measured) j = nlohmann::ordered_json::object();
  j["source"] = to_string(load_.kind);
  if (!j.contains("duration_s")) j["duration_s"] = rounded(under);
  j["under_load_s"] = rounded(under);
  j["under_load_share"] = run_s > 0 ? rounded(under / run_s, 1e4) : 0.0;
  nlohmann::ordered_json e = {
      {"detail", exit.detail}, {"stopped_by_soak", stopped_by_soak}, {"failed", failed_}};
  if (exit.exit_code) e["code"] = *exit.exit_code;
  if (exit.signal) e["signal"] = *exit.signal;
  j["exit"] = std::move(e);
  char share[160];
  std::snprintf(share, sizeof share, "under load %.1f s of %.1f s (%.0f %%)", under, run_s,
                run_s > 0 ? 100 * under / run_s : 0.0);
  sentence_ = std::string(to_string(load_.kind)) + " load ";
  if (measured) {
    double errors = 0;
    for (const auto& [kind, n] : j["errors"].items()) errors += n.get<double>();
    sentence_ += std::to_string(static_cast<long long>(j.value("requests", 0.0))) + " requests, " +
                 std::to_string(static_cast<long long>(errors)) + " errors; ";
  }
  sentence_ += share + std::string(failed_ ? "; it died: " + exit.detail : "");
  return j;
}

}  // namespace soak::scenarios
