#include "soak/scenarios/gc_checkpoint.hpp"

#include <signal.h>  // POSIX: the signal action (the only platform code here)

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "soak/log/metrics.hpp"
#include "soak/probes/http_client.hpp"
#include "soak/sampler/duration.hpp"
#include "soak/sampler/launcher.hpp"

namespace soak::scenarios {

namespace {

using Clock = std::chrono::steady_clock;

/// How often a running command is checked for its end: short against any timeout, and a
/// handful of wake-ups a second cost nothing.
constexpr std::chrono::milliseconds kCommandPoll{10};
/// How long a command that ran out of time gets between SIGTERM and SIGKILL.
constexpr std::chrono::milliseconds kCommandKillGrace{1000};

constexpr std::string_view kPidVariable = "${pid}";

const char* const kActionForms =
    "expected an action: a URL (http://HOST:PORT/PATH), http:METHOD URL, jcmd, signal:NAME or "
    "cmd:PROGRAM [ARG...]";

/// Splits words like a shell, without expansion: quotes group, a backslash escapes.
std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < text.size()) {
        word += text[++i];
      } else {
        word += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote != 0) {
    throw GcCheckpointSpecError(std::string("unterminated ") + quote + " quote in '" +
                                std::string(text) + "'");
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

std::chrono::nanoseconds option_duration(const std::string& key, const std::string& value) {
  try {
    return sampler::parse_duration(value);
  } catch (const sampler::DurationError& e) {
    throw GcCheckpointSpecError(key + "=" + value + ": " + e.what());
  }
}

/// Takes the trailing every=, settle= and timeout= words off `words` into `spec`.
void take_options(std::vector<std::string>& words, GcCheckpointSpec& spec) {
  bool every_given = false;
  while (!words.empty()) {
    const std::string& w = words.back();
    const auto eq = w.find('=');
    const std::string key = eq == std::string::npos ? "" : w.substr(0, eq);
    if (key != "every" && key != "settle" && key != "timeout") break;
    const auto d = option_duration(key, w.substr(eq + 1));
    if (key == "every") {
      spec.every = d;
      every_given = true;
    } else if (key == "settle") {
      spec.settle = d;
    } else {
      spec.timeout = d;
    }
    words.pop_back();
  }
  if (!every_given) throw GcCheckpointSpecError("every=D is missing (e.g. every=5m)");
  if (spec.every < kGcMinEvery) {
    throw GcCheckpointSpecError("every= must be at least 1s");
  }
  if (spec.timeout <= std::chrono::nanoseconds::zero()) {
    throw GcCheckpointSpecError("timeout= must be greater than zero");
  }
}

int signal_from_name(std::string name) {
  if (name.starts_with("SIG")) name = name.substr(3);
  static const std::pair<const char*, int> kSignals[] = {
      {"HUP", SIGHUP},     {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"USR1", SIGUSR1},
      {"USR2", SIGUSR2},   {"TERM", SIGTERM}, {"ALRM", SIGALRM}, {"CONT", SIGCONT},
      {"WINCH", SIGWINCH}, {"URG", SIGURG},   {"TSTP", SIGTSTP}, {"PROF", SIGPROF}};
  for (const auto& [n, number] : kSignals) {
    if (name == n) return number;
  }
  return 0;
}

void parse_http(const std::vector<std::string>& words, GcCheckpointSpec& spec) {
  spec.kind = GcActionKind::http;
  std::size_t url_at = 0;
  if (!words[0].starts_with("http://")) {  // http:METHOD URL
    spec.method = words[0].substr(5);
    if (!probes::is_http_method(spec.method)) {
      throw GcCheckpointSpecError("'" + words[0] +
                                  "': the method must be GET, POST, PUT or DELETE");
    }
    if (words.size() < 2) throw GcCheckpointSpecError(words[0] + " needs a URL after it");
    url_at = 1;
  }
  if (words.size() > url_at + 1) {
    throw GcCheckpointSpecError("'" + words[url_at + 1] + "' after the URL: " + kActionForms +
                                ", then every=D [settle=D] [timeout=D]");
  }
  spec.url = words[url_at];
  try {
    probes::parse_http_url(spec.url);
  } catch (const probes::UrlError& e) {
    throw GcCheckpointSpecError(e.what());
  }
}

void parse_action(const std::vector<std::string>& words, GcCheckpointSpec& spec) {
  if (words.empty()) throw GcCheckpointSpecError(kActionForms);
  const std::string& first = words[0];
  auto alone = [&] {
    if (words.size() > 1) {
      throw GcCheckpointSpecError("'" + words[1] + "' after " + first +
                                  ": only every=, settle= and timeout= may follow it");
    }
  };
  if (first.starts_with("https:")) {
    throw GcCheckpointSpecError("'" + first + "': soak speaks plain http:// only (no TLS)");
  }
  if (first.starts_with("http:")) return parse_http(words, spec);
  if (first == "jcmd") {
    alone();
    spec.kind = GcActionKind::jcmd;
    return;
  }
  if (first.starts_with("signal:")) {
    alone();
    spec.kind = GcActionKind::signal;
    spec.signal_name = first.substr(7);
    if (spec.signal_name.starts_with("SIG")) spec.signal_name = spec.signal_name.substr(3);
    spec.signal_number = signal_from_name(spec.signal_name);
    if (spec.signal_number == 0) {
      throw GcCheckpointSpecError("'" + first +
                                  "': not a signal soak sends; use a name such as USR1, USR2 "
                                  "or HUP");
    }
    return;
  }
  if (first.starts_with("cmd:")) {
    spec.kind = GcActionKind::command;
    spec.argv.assign(words.begin(), words.end());
    spec.argv[0] = first.substr(4);
    if (spec.argv[0].empty()) spec.argv.erase(spec.argv.begin());
    if (spec.argv.empty()) throw GcCheckpointSpecError("cmd: needs a program (cmd:PROGRAM ARG...)");
    return;
  }
  throw GcCheckpointSpecError("unknown action '" + first + "'; " + kActionForms);
}

std::string join_words(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

std::string with_pid(std::string word, sampler::Pid pid) {
  for (auto pos = word.find(kPidVariable); pos != std::string::npos;
       pos = word.find(kPidVariable, pos)) {
    word.replace(pos, kPidVariable.size(), std::to_string(pid));
  }
  return word;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string seconds_text(std::chrono::nanoseconds d) {
  return sampler::format_duration(std::chrono::duration<double>(d));
}

GcActionResult run_http(const GcCheckpointSpec& spec) {
  const probes::HttpResult r = probes::http_request(spec.method, probes::parse_http_url(spec.url),
                                                    {}, spec.timeout, kGcMaxAnswerBytes);
  if (r.failure == probes::HttpFailure::refused) return {GcFailure::refused, r.message, 0};
  if (r.failure == probes::HttpFailure::timeout) return {GcFailure::timeout, r.message, 0};
  if (!r.ok()) return {GcFailure::http_error, r.message, 0};
  if (r.status >= 300) {
    return {GcFailure::http_error, "answered HTTP " + std::to_string(r.status), 0};
  }
  return {};
}

/// Runs argv to its end or its timeout (then kills it), its output appended to `output`.
GcActionResult run_program(const std::vector<std::string>& argv, std::chrono::nanoseconds timeout,
                           const std::filesystem::path& output, const std::atomic<bool>& stopping) {
  sampler::LaunchOptions launch;
  launch.argv = argv;
  launch.output_file = output;
  std::optional<sampler::LaunchedProcess> child;
  try {
    child.emplace(launch);
  } catch (const sampler::LaunchError& e) {
    return {GcFailure::cannot_start, e.what(), 0};
  }
  const auto deadline = Clock::now() + timeout;
  while (!child->try_reap()) {
    if (stopping || Clock::now() >= deadline) {
      child->terminate(kCommandKillGrace);
      if (stopping) return {GcFailure::stopped, "the run ended while " + argv[0] + " ran", 0};
      return {GcFailure::timeout,
              argv[0] + " did not end within " + seconds_text(timeout) + "; it was killed", 0};
    }
    std::this_thread::sleep_for(kCommandPoll);
  }
  const sampler::ExitInfo& exit = *child->exit_info();
  if (exit.exit_code && *exit.exit_code == 0) return {};
  return {GcFailure::exit_code,
          argv[0] + " ended with " + exit.detail + " (its output: " + output.string() + ")", 0};
}

GcActionResult send_signal(const GcCheckpointSpec& spec, sampler::Pid pid) {
  if (::kill(static_cast<pid_t>(pid), spec.signal_number) == 0) return {};
  if (errno == ESRCH) return {GcFailure::no_process, "no process " + std::to_string(pid), 0};
  if (errno == EPERM) {
    return {GcFailure::denied, "not permitted to signal process " + std::to_string(pid), 0};
  }
  return {GcFailure::no_process, std::strerror(errno), 0};
}

}  // namespace

std::string GcCheckpointSpec::action_text() const {
  switch (kind) {
    case GcActionKind::http:
      return method + " " + probes::redact_urls(url);  // written in events: no credentials
    case GcActionKind::jcmd:
      return "jcmd GC.run";
    case GcActionKind::signal:
      return "signal " + signal_name;
    case GcActionKind::command:
      return join_words(argv);
  }
  return {};
}

GcCheckpointSpec parse_gc_checkpoint(std::string_view text) {
  GcCheckpointSpec spec;
  spec.text = std::string(text);
  spec.settle = kGcDefaultSettle;
  spec.timeout = kGcDefaultTimeout;
  std::vector<std::string> words = split_words(text);
  take_options(words, spec);
  parse_action(words, spec);
  return spec;
}

std::string gc_checkpoint_text(const nlohmann::json& object) {
  if (!object.is_object()) {
    throw GcCheckpointSpecError("expected an object {\"action\": ..., \"every\": \"5m\"}, got " +
                                object.dump());
  }
  for (const auto& item : object.items()) {
    const std::string& k = item.key();
    if (k != "action" && k != "every" && k != "settle" && k != "timeout") {
      throw GcCheckpointSpecError(k + ": unknown field (known: action, every, settle, timeout)");
    }
  }
  const auto action = object.find("action");
  if (action == object.end() || !action->is_string()) {
    throw GcCheckpointSpecError(std::string("action: expected a string (") + kActionForms + ")");
  }
  if (!object.contains("every")) {
    throw GcCheckpointSpecError("every: expected a duration such as \"5m\", but it is missing");
  }
  std::string text = action->get<std::string>();
  for (const char* key : {"every", "settle", "timeout"}) {
    const auto it = object.find(key);
    if (it == object.end()) continue;
    std::string value;
    if (it->is_number() && it->get<double>() >= 0) {
      char seconds[48];
      std::snprintf(seconds, sizeof seconds, "%.9g", it->get<double>());
      value = seconds;
    } else if (it->is_string()) {
      value = it->get<std::string>();
    }
    if (value.empty() || value.find_first_of(" \t'\"") != std::string::npos) {
      throw GcCheckpointSpecError(std::string(key) +
                                  ": expected a duration such as \"30s\" or \"5m\" (or seconds), "
                                  "got " +
                                  it->dump());
    }
    text += " " + std::string(key) + "=" + value;
  }
  return text;
}

const char* to_string(GcFailure failure) {
  switch (failure) {
    case GcFailure::none:
      return "none";
    case GcFailure::refused:
      return "refused";
    case GcFailure::http_error:
      return "http_error";
    case GcFailure::timeout:
      return "timeout";
    case GcFailure::exit_code:
      return "exit_code";
    case GcFailure::cannot_start:
      return "cannot_start";
    case GcFailure::no_process:
      return "no_process";
    case GcFailure::denied:
      return "denied";
    case GcFailure::stopped:
      return "stopped";
  }
  return "unknown";
}

GcActionResult run_gc_action(const GcCheckpointSpec& spec, sampler::Pid pid,
                             const std::filesystem::path& output_file,
                             const std::atomic<bool>& stopping) {
  const auto start = Clock::now();
  GcActionResult result;
  switch (spec.kind) {
    case GcActionKind::http:
      result = run_http(spec);
      break;
    case GcActionKind::jcmd:
      result =
          run_program({"jcmd", std::to_string(pid), "GC.run"}, spec.timeout, output_file, stopping);
      break;
    case GcActionKind::signal:
      result = send_signal(spec, pid);
      break;
    case GcActionKind::command: {
      std::vector<std::string> argv;
      for (const auto& w : spec.argv) argv.push_back(with_pid(w, pid));
      result = run_program(argv, spec.timeout, output_file, stopping);
      break;
    }
  }
  result.duration_s = seconds_since(start);
  return result;
}

GcCheckpoint::GcCheckpoint(GcCheckpointSpec spec, sampler::Pid pid,
                           std::filesystem::path output_file, GcCheckpointHooks hooks)
    : spec_(std::move(spec)),
      pid_(pid),
      output_file_(std::move(output_file)),
      hooks_(std::move(hooks)),
      reader_(sampler::ProcessReader::open(pid).reader),
      thread_([this] { loop(); }) {}

GcCheckpoint::~GcCheckpoint() {
  stop();
}

void GcCheckpoint::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool GcCheckpoint::wait_for(std::chrono::nanoseconds d) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, d, [this] { return stopping_.load(); });
}

void GcCheckpoint::loop() {
  auto next = Clock::now() + spec_.every;
  while (wait_for(next - Clock::now())) {
    checkpoint();
    next += spec_.every;
    // An action and its settle that outlast `every` are followed at once by the next one,
    // never by a burst of the ones missed.
    if (next < Clock::now()) next = Clock::now();
  }
}

void GcCheckpoint::checkpoint() {
  const GcActionResult result = run_gc_action(spec_, pid_, output_file_, stopping_);
  const std::string action = spec_.action_text();
  if (result.failure == GcFailure::stopped) return;
  nlohmann::json extra = {{"action", action}, {"duration_s", result.duration_s}};
  if (!result.ok()) {
    extra["reason"] = to_string(result.failure);
    if (hooks_.record) hooks_.record(log::event::gc_checkpoint_failed, result.message, extra);
    return;
  }
  char took[48];
  std::snprintf(took, sizeof took, " took %.3f s", result.duration_s);
  if (hooks_.record) hooks_.record(log::event::gc_checkpoint, action + took, extra);
  if (!wait_for(spec_.settle)) return;
  std::map<std::string, double> readings = read_after_gc();
  std::lock_guard lock(mutex_);
  for (auto& [name, value] : readings) pending_[name] = value;
}

std::map<std::string, double> GcCheckpoint::read_after_gc() {
  std::map<std::string, double> readings;
  if (reader_) {
    const sampler::ReadResult r = reader_->read(sampler::ReadDetail{false, false});
    if (r.ok()) {
      readings[std::string(log::metric::rss_bytes_after_gc)] =
          static_cast<double>(r.snapshot.rss_bytes);
    }
  }
  if (hooks_.read_heap) {
    for (const auto& [name, value] : hooks_.read_heap()) {
      readings[name + std::string(log::metric::after_gc_suffix)] = value;
    }
  }
  return readings;
}

void GcCheckpoint::contribute(sampler::TickSink& sink) {
  std::map<std::string, double> readings;
  {
    std::lock_guard lock(mutex_);
    readings.swap(pending_);
  }
  for (const auto& [name, value] : readings) sink.metric(name, value);
}

}  // namespace soak::scenarios
