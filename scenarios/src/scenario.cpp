#include "soak/scenarios/scenario.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "soak/sampler/duration.hpp"
#include "soak/scenarios/gc_checkpoint.hpp"

namespace soak::scenarios {

namespace fs = std::filesystem;

namespace {

// Bounds and defaults the parser applies beyond the member initialisers of scenario.hpp (which
// are the defaults of every field a file leaves out), each with its reason.

/// A wrong value quoted in an error stays short enough for one line of stderr.
constexpr std::size_t kShownValueChars = 60;
/// SPEC.md: sampling intervals down to 1ms are accepted (fast leaks, benchmarks).
constexpr double kMinSamplingIntervalSeconds = 0.001;
/// Connections (open model) and concurrent job workflows: far above what one client machine
/// sustains against one target, low enough that a typo (1e9) is caught before sockets run out.
constexpr double kMaxConnections = 10000;
constexpr double kMaxJobConcurrency = 10000;
/// A request body ("body_file", or "body_bytes" generated) is held in memory once per request
/// spec: 1 GiB at most each, and 1 GiB at most for all of a scenario's requests together.
constexpr double kMaxBodyBytes = 1 << 30;
/// PID_MAX_LIMIT (include/linux/threads.h): no Linux process has a higher pid.
constexpr double kMaxPid = 4194304;
/// A duration given as a number of seconds is bounded as parse_duration bounds the string form
/// (1e9 s, about 31 years), so every duration fits in int64 nanoseconds with room to add.
constexpr double kMaxDurationSeconds = 1e9;
/// The open model's lowest arrival rate above 0: one request per 1e6 s (11.6 days) already
/// means no traffic in any real run; below it, the gap between two sends overflows a timer.
constexpr double kMinOpenRate = 1e-6;
/// port_from_output is a regular expression compiled before the target starts; longer than this
/// is not a port pattern (and a deeply nested one exhausts the compiler's stack).
constexpr std::size_t kMaxPatternChars = 1000;
/// A ramp expands to one stage per step; more steps than this is a typo, not a shape.
constexpr double kMaxRampSteps = 10000;
/// A "load" without a shape holds a level that any target serves: 10 requests/s (open) or one
/// user (closed).
constexpr double kDefaultOpenRate = 10;
/// The open model's highest arrival rate: soak's driver is a light load that keeps traffic
/// going while it samples; past ~1e6/s its timers cannot keep the schedule and the sampler
/// stalls (a heavier load is wrk's or Locust's job: load.wrk, load.locust).
constexpr double kMaxOpenRate = 1e6;
constexpr double kDefaultClosedUsers = 1;
/// A spike without "at" / "hold" rises after a third of the run and holds for a third.
constexpr double kSpikeDefaultFraction = 1.0 / 3;
/// The port put in place of "${port}" to check the rest of a base URL before the port is known.
constexpr std::string_view kPortPlaceholder = "80";

constexpr std::string_view kHttpScheme = "http://";
constexpr std::string_view kPortVariable = "${port}";

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : "; ") + l;
  return out;
}

std::string shown(const nlohmann::json& v) {
  std::string text = v.dump();
  if (text.size() > kShownValueChars) text = text.substr(0, kShownValueChars - 3) + "...";
  return text;
}

std::string indexed(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

/// The file's bytes, or nullopt when it cannot be read or holds more than `max_bytes` (then
/// `*too_big` is set): a body file of /dev/zero must not fill memory.
std::optional<std::string> read_whole_file(const std::filesystem::path& file, std::size_t max_bytes,
                                           bool* too_big) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string out;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    const auto got = static_cast<std::size_t>(in.gcount());
    if (got > max_bytes - out.size()) {  // checked before the string grows past max_bytes
      *too_big = true;
      return std::nullopt;
    }
    out.append(buf, got);
  }
  return out;
}

/// Collects every problem instead of stopping at the first.
class Checker {
 public:
  std::vector<std::string> errors;
  /// The bytes of the request bodies read or generated so far (kMaxBodyBytes in all).
  std::size_t body_bytes = 0;

  void fail(const std::string& path, const std::string& expected, const nlohmann::json* got) {
    errors.push_back(path + ": expected " + expected +
                     (got ? ", got " + shown(*got) : std::string(", but it is missing")));
  }

  /// Unknown keys are errors: a typo must not be silently ignored.
  void only(const nlohmann::json& obj, const std::string& path,
            std::initializer_list<const char*> keys) {
    if (!obj.is_object()) return;
    for (const auto& item : obj.items()) {
      const std::string& key = item.key();
      if (std::none_of(keys.begin(), keys.end(), [&](const char* k) { return key == k; })) {
        std::string known;
        for (const char* k : keys) known += std::string(known.empty() ? "" : ", ") + k;
        errors.push_back(path + "." + key + ": unknown field (known: " + known + ")");
      }
    }
  }

  const nlohmann::json* field(const nlohmann::json& obj, const char* key) {
    if (!obj.is_object()) return nullptr;
    const auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
  }

  std::optional<std::string> string(const nlohmann::json& obj, const std::string& path,
                                    const char* key, bool required) {
    const nlohmann::json* v = field(obj, key);
    if (!v) {
      if (required) fail(path + "." + key, "a string", nullptr);
      return std::nullopt;
    }
    if (!v->is_string()) {
      fail(path + "." + key, "a string", v);
      return std::nullopt;
    }
    return v->get<std::string>();
  }

  std::optional<double> number(const nlohmann::json& obj, const std::string& path, const char* key,
                               bool required, double min, double max = INFINITY) {
    const nlohmann::json* v = field(obj, key);
    char expected[96];
    if (std::isinf(max)) {
      std::snprintf(expected, sizeof expected, "a number >= %.12g", min);
    } else {
      std::snprintf(expected, sizeof expected, "a number from %.12g to %.12g", min, max);
    }
    if (!v) {
      if (required) fail(path + "." + key, expected, nullptr);
      return std::nullopt;
    }
    if (!v->is_number() || v->get<double>() < min || v->get<double>() > max) {
      fail(path + "." + key, expected, v);
      return std::nullopt;
    }
    return v->get<double>();
  }

  std::optional<double> duration(const nlohmann::json& obj, const std::string& path,
                                 const char* key, bool required) {
    const nlohmann::json* v = field(obj, key);
    const char* expected =
        "a duration such as \"30s\", \"10m\" or \"8h\" (or seconds, from 0 to 1e9)";
    if (!v) {
      if (required) fail(path + "." + key, expected, nullptr);
      return std::nullopt;
    }
    if (v->is_number() && v->get<double>() >= 0 && v->get<double>() <= kMaxDurationSeconds) {
      return v->get<double>();
    }
    if (v->is_string()) {
      try {
        const auto parsed = sampler::parse_duration(v->get<std::string>());
        return std::chrono::duration<double>(parsed).count();
      } catch (const sampler::DurationError&) {
      }
    }
    fail(path + "." + key, expected, v);
    return std::nullopt;
  }

  std::optional<double> fraction(const nlohmann::json& obj, const std::string& path,
                                 const char* key) {
    const nlohmann::json* v = field(obj, key);
    if (!v) return std::nullopt;
    if (v->is_string()) {
      const std::string s = v->get<std::string>();
      char* end = nullptr;
      const double value = std::strtod(s.c_str(), &end);
      if (end != s.c_str() && std::string(end) == "%" && value >= 0) return value / 100;
    }
    fail(path + "." + key, "a percentage such as \"5%\"", v);
    return std::nullopt;
  }

  /// The strings of the list at obj[key], appended to `out`; `what_list` and `what_one` say
  /// what the list and one element should be.
  void strings(const nlohmann::json& obj, const std::string& path, const char* key,
               const std::string& what_list, const std::string& what_one,
               std::vector<std::string>& out) {
    const nlohmann::json* list = field(obj, key);
    if (!list) return;
    if (!list->is_array()) return fail(path + "." + key, what_list, list);
    for (std::size_t i = 0; i < list->size(); ++i) {
      const auto& item = (*list)[i];
      if (item.is_string()) {
        out.push_back(item.get<std::string>());
      } else {
        fail(indexed(path + "." + key, i), what_one, &item);
      }
    }
  }
};

// ---- requests ---------------------------------------------------------------------------------

void parse_headers(Checker& c, const nlohmann::json& j, const std::string& path, RequestSpec& r) {
  const auto* h = c.field(j, "headers");
  if (!h) return;
  if (!h->is_object()) return c.fail(path + ".headers", "an object of header names to strings", h);
  for (const auto& [k, v] : h->items()) {
    if (!v.is_string()) {
      c.fail(path + ".headers." + k, "a string", &v);
    } else {
      r.headers.emplace_back(k, v.get<std::string>());
    }
  }
}

/// "body", then "body_file" (relative to the scenario), then "body_bytes": the last one given
/// wins.
void parse_body(Checker& c, const nlohmann::json& j, const std::string& path,
                const std::filesystem::path& base_dir, RequestSpec& r) {
  // What the bodies before this one left of kMaxBodyBytes.
  const auto limit = static_cast<std::size_t>(kMaxBodyBytes);
  const std::size_t room = limit - std::min(c.body_bytes, limit);
  r.body = c.string(j, path, "body", false).value_or("");
  if (const auto file = c.string(j, path, "body_file", false)) {
    bool too_big = false;
    if (auto text = read_whole_file(base_dir / *file, room, &too_big)) {
      r.body = std::move(*text);
    } else if (too_big) {
      c.errors.push_back(path + ".body_file: " + (base_dir / *file).string() + " holds more than " +
                         std::to_string(room) +
                         " bytes (the request bodies of a scenario hold 1073741824 bytes at most "
                         "in all)");
    } else {
      c.errors.push_back(path + ".body_file: cannot read " + (base_dir / *file).string());
    }
  }
  if (const auto size = c.number(j, path, "body_bytes", false, 0, kMaxBodyBytes)) {
    if (*size > static_cast<double>(room)) {
      c.errors.push_back(path + ".body_bytes: expected a number from 0 to " + std::to_string(room) +
                         " (the request bodies of a scenario hold 1073741824 bytes at most in "
                         "all), got " +
                         shown(j["body_bytes"]));
    } else {
      r.body.assign(static_cast<std::size_t>(*size), 'x');  // a generated upload of that size
    }
  }
  c.body_bytes += r.body.size();
}

RequestSpec parse_request(Checker& c, const nlohmann::json& j, const std::string& path,
                          const std::filesystem::path& base_dir, bool need_weight) {
  RequestSpec r;
  if (!j.is_object()) {
    c.fail(path, "an object with \"path\" (and \"method\", \"headers\", \"body\")", &j);
    return r;
  }
  c.only(j, path,
         {"name", "method", "path", "headers", "body", "body_file", "body_bytes", "weight"});
  r.path = c.string(j, path, "path", true).value_or(r.path);
  if (!r.path.empty() && r.path.front() != '/') {
    c.fail(path + ".path", "a path starting with /", &j["path"]);
  }
  r.method = c.string(j, path, "method", false).value_or(r.method);
  static const std::set<std::string> methods = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
  if (!methods.count(r.method)) {
    c.fail(path + ".method", "one of GET, POST, PUT, PATCH, DELETE, HEAD", &j["method"]);
  }
  r.name = c.string(j, path, "name", false).value_or(r.method + " " + r.path);
  parse_headers(c, j, path, r);
  parse_body(c, j, path, base_dir, r);
  if (need_weight) r.weight = c.number(j, path, "weight", false, 0).value_or(r.weight);
  return r;
}

// ---- load shapes ------------------------------------------------------------------------------

std::vector<Stage> parse_stages(Checker& c, const nlohmann::json& list, const std::string& path) {
  std::vector<Stage> stages;
  if (!list.is_array() || list.empty()) {
    c.fail(path, "a non-empty list of {\"duration\", \"rate\" or \"users\"}", &list);
    return stages;
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string p = indexed(path, i);
    const auto& s = list[i];
    if (!s.is_object()) {
      c.fail(p, "an object", &s);
      continue;
    }
    c.only(s, p, {"duration", "rate", "users"});
    const auto d = c.duration(s, p, "duration", true);
    auto l = c.number(s, p, "rate", false, 0);
    if (!l) l = c.number(s, p, "users", false, 0);
    if (!l && !c.field(s, "rate") && !c.field(s, "users")) {
      c.fail(p + ".rate", "a number >= 0", nullptr);
    }
    if (d && l) stages.push_back({*d, *l});
  }
  return stages;
}

/// "ramp": `steps` stages of `hold` seconds, from `start` up by `step`.
std::vector<Stage> ramp_stages(Checker& c, const nlohmann::json& j, const std::string& path) {
  std::vector<Stage> stages;
  const double start = c.number(j, path, "start", false, 0).value_or(1);
  const double step = c.number(j, path, "step", false, 0).value_or(1);
  const auto steps = c.number(j, path, "steps", true, 1, kMaxRampSteps);
  const auto hold = c.duration(j, path, "hold", true);
  if (steps && hold) {
    for (int i = 0; i < static_cast<int>(*steps); ++i) stages.push_back({*hold, start + step * i});
  }
  return stages;
}

/// "spike": `base`, then `peak` from `at` for `hold` seconds, then `base` to the end.
std::vector<Stage> spike_stages(Checker& c, const nlohmann::json& j, const std::string& path,
                                double duration_s) {
  std::vector<Stage> stages;
  const double base = c.number(j, path, "base", false, 0).value_or(1);
  const auto peak = c.number(j, path, "peak", true, 0);
  const double default_s = duration_s * kSpikeDefaultFraction;
  const double at = c.duration(j, path, "at", false).value_or(default_s);
  const double hold = c.duration(j, path, "hold", false).value_or(default_s);
  if (peak) {
    stages.push_back({at, base});
    stages.push_back({hold, *peak});
    stages.push_back({std::max(0.0, duration_s - at - hold), base});
  }
  return stages;
}

std::vector<Stage> parse_shape(Checker& c, const nlohmann::json& j, const std::string& path,
                               double duration_s) {
  if (!j.is_object()) {
    c.fail(path, "an object (\"preset\", \"constant\", \"ramp\", \"spike\" or \"stages\")", &j);
    return {};
  }
  c.only(j, path,
         {"preset", "level", "type", "rate", "users", "start", "step", "steps", "hold", "base",
          "peak", "at", "stages"});
  // "level", "rate" and "users" name the same thing; each given one is validated, the first wins.
  const auto level_given = c.number(j, path, "level", false, 0);
  const auto rate = c.number(j, path, "rate", false, 0);
  const auto users = c.number(j, path, "users", false, 0);
  const double level = level_given.value_or(rate.value_or(users.value_or(1)));
  if (const auto preset = c.string(j, path, "preset", false)) {
    if (auto s = preset_shape(*preset, level, duration_s)) return *s;
    c.fail(path + ".preset", "one of smoke, baseline, load, stress, spike, endurance, soak, ramp",
           &j["preset"]);
    return {};
  }
  if (const auto* list = c.field(j, "stages")) return parse_stages(c, *list, path + ".stages");
  const std::string type = c.string(j, path, "type", false).value_or("constant");
  if (type == "constant") return {{duration_s, level}};
  if (type == "ramp") return ramp_stages(c, j, path);
  if (type == "spike") return spike_stages(c, j, path, duration_s);
  c.fail(path + ".type", "one of constant, ramp, spike (or give \"preset\" or \"stages\")",
         &j["type"]);
  return {};
}

// ---- the whole document -----------------------------------------------------------------------

/// One pass over a scenario document; each part of the document has its function, called in
/// the document's order so the errors come in that order.
class ScenarioParser {
 public:
  ScenarioParser(const nlohmann::json& doc, const std::filesystem::path& file)
      : doc_(doc), base_dir_(file.has_parent_path() ? file.parent_path() : ".") {
    sc_.file = file;
  }

  Scenario parse() {
    c_.only(doc_, "$",
            {"name", "description", "target", "sampling", "duration", "load", "limits", "targets",
             "targets_file", "checks", "gc_checkpoint"});
    sc_.name = c_.string(doc_, "$", "name", false).value_or(sc_.file.stem().string());
    sc_.duration_s = c_.duration(doc_, "$", "duration", false).value_or(sc_.duration_s);
    if (doc_.contains("duration") && sc_.duration_s <= 0) {
      c_.errors.push_back(
          "$.duration: expected a duration above zero (\"30s\", \"10m\", \"8h\"); "
          "a run of 0 s records nothing");
    }
    parse_target();
    if (const auto* s = c_.field(doc_, "sampling")) parse_sampling(*s);
    if (const auto* load = c_.field(doc_, "load")) parse_load(*load);
    if (const auto* limits = c_.field(doc_, "limits")) parse_limits(*limits);
    if (const auto* gc = c_.field(doc_, "gc_checkpoint")) parse_gc_checkpoint_field(*gc);
    parse_targets();
    if (const auto* checks = c_.field(doc_, "checks")) parse_checks(*checks);
    if (!c_.errors.empty()) throw ScenarioError(sc_.file.string(), c_.errors);
    if (!c_.field(doc_, "load") && !doc_.contains("duration")) sc_.stages.clear();
    return std::move(sc_);
  }

 private:
  void parse_target() {
    const auto* t = c_.field(doc_, "target");
    if (!t || !t->is_object()) {
      return c_.fail("$.target", "an object with \"command\" (a list) or \"pid\"", t);
    }
    c_.only(*t, "$.target",
            {"command", "cwd", "env", "pid", "port_from_output", "base_url", "ready"});
    if (const auto* cmd = c_.field(*t, "command")) parse_command(*cmd);
    if (const auto pid = c_.number(*t, "$.target", "pid", false, 1, kMaxPid)) {
      if (*pid == std::floor(*pid)) {
        sc_.attach_pid = static_cast<sampler::Pid>(*pid);
      } else {
        c_.fail("$.target.pid", "a whole number from 1 to 4194304", &(*t)["pid"]);
      }
    }
    if (sc_.command.empty() == !sc_.attach_pid.has_value()) {
      c_.errors.push_back(
          "$.target: give exactly one of \"command\" (to launch) or \"pid\" (to attach)");
    }
    if (const auto cwd = c_.string(*t, "$.target", "cwd", false)) {
      sc_.working_directory = base_dir_ / *cwd;
    }
    if (const auto* env = c_.field(*t, "env")) parse_environment(*env);
    sc_.port_from_output = c_.string(*t, "$.target", "port_from_output", false).value_or("");
    if (!sc_.port_from_output.empty()) check_port_pattern(*t);
    sc_.base_url = c_.string(*t, "$.target", "base_url", false).value_or(sc_.base_url);
    check_base_url(*t);
    check_port_source(*t);
    if (const auto* ready = c_.field(*t, "ready")) parse_ready(*ready);
  }

  void parse_command(const nlohmann::json& cmd) {
    if (!cmd.is_array() || cmd.empty() ||
        !std::all_of(cmd.begin(), cmd.end(), [](const auto& a) { return a.is_string(); })) {
      return c_.fail("$.target.command", "a non-empty list of strings", &cmd);
    }
    for (const auto& a : cmd) sc_.command.push_back(a.get<std::string>());
    // A relative program path is relative to the scenario file, as the other paths are.
    std::string& program = sc_.command[0];
    if (program.find('/') != std::string::npos && program.front() != '/') {
      program = (base_dir_ / program).lexically_normal().string();
    }
  }

  void parse_environment(const nlohmann::json& env) {
    if (!env.is_object()) return c_.fail("$.target.env", "an object of names to strings", &env);
    for (const auto& [k, v] : env.items()) {
      if (v.is_string()) {
        sc_.environment[k] = v.get<std::string>();
      } else {
        c_.fail("$.target.env." + k, "a string", &v);
      }
    }
  }

  /// The URL must be usable once its port is known: soak talks to it after the target started,
  /// when a typo would cost the run.
  void check_base_url(const nlohmann::json& target) {
    std::string url = sc_.base_url;
    for (auto pos = url.find(kPortVariable); pos != std::string::npos;
         pos = url.find(kPortVariable, pos)) {
      url.replace(pos, kPortVariable.size(), kPortPlaceholder);
    }
    const nlohmann::json* given = c_.field(target, "base_url");
    const char* path = "$.target.base_url";
    switch (split_base_url(url).problem) {
      case BaseUrlProblem::none:
        break;
      case BaseUrlProblem::not_http:
        c_.fail(path, "an http:// URL", given);
        break;
      case BaseUrlProblem::bad_ipv6:
        c_.fail(path, "an http:// URL with an IPv6 address in brackets (\"http://[::1]:8080\")",
                given);
        break;
      case BaseUrlProblem::bad_port:
        c_.fail(path, "an http:// URL whose port is a number from 1 to 65535", given);
        break;
      case BaseUrlProblem::not_an_ip_address:
        c_.fail(path, "an http:// URL whose host is an IP address (127.0.0.1, [::1]) or localhost",
                given);
        break;
    }
  }

  /// port_from_output is compiled here, before the target starts: a pattern std::regex refuses
  /// (or one without a group to capture the port) would otherwise end the run after the launch.
  void check_port_pattern(const nlohmann::json& target) {
    const char* path = "$.target.port_from_output";
    const char* expected = "a regular expression with a group for the port, e.g. \"port (\\\\d+)\"";
    if (sc_.port_from_output.size() > kMaxPatternChars) {
      return c_.errors.push_back(std::string(path) + ": expected a regular expression of at most " +
                                 std::to_string(kMaxPatternChars) + " characters");
    }
    try {
      const std::regex re(sc_.port_from_output);
      if (re.mark_count() < 1) c_.fail(path, expected, &target["port_from_output"]);
    } catch (const std::regex_error& e) {
      c_.fail(path, std::string(expected) + " (" + e.what() + ")", &target["port_from_output"]);
    }
  }

  /// "${port}" needs port_from_output to be filled in. Without it the target's URL is never
  /// known, and the run would wait for a port the target is not asked to print.
  void check_port_source(const nlohmann::json& target) {
    if (sc_.base_url.find(kPortVariable) == std::string::npos || !sc_.port_from_output.empty()) {
      return;
    }
    const bool needs_url = doc_.contains("load") || target.contains("ready");
    if (target.contains("base_url")) {
      c_.errors.push_back(
          "$.target.base_url: uses ${port} but $.target.port_from_output is not given");
      return;
    }
    std::string error =
        "$.target.base_url: expected the target's URL (e.g. \"http://127.0.0.1:8080\"), "
        "or $.target.port_from_output to read the port it prints";
    if (!needs_url) {
      error +=
          " (to sample a target without a URL, use `soak run -- COMMAND` or `soak attach PID`)";
    }
    c_.errors.push_back(std::move(error));
  }

  void parse_ready(const nlohmann::json& ready) {
    const std::string path = "$.target.ready";
    c_.only(ready, path, {"http", "timeout"});
    sc_.ready_path = c_.string(ready, path, "http", true).value_or("");
    sc_.ready_timeout_s = c_.duration(ready, path, "timeout", false).value_or(sc_.ready_timeout_s);
  }

  /// {"action": ..., "every": ..., "settle": ..., "timeout": ...}, checked as the flag is.
  void parse_gc_checkpoint_field(const nlohmann::json& gc) {
    if (!gc.is_object()) {
      return c_.fail("$.gc_checkpoint", "an object {\"action\": ..., \"every\": \"5m\"}", &gc);
    }
    std::string text;
    try {
      text = gc_checkpoint_text(gc);
    } catch (const GcCheckpointSpecError& e) {  // names its field
      c_.errors.push_back("$.gc_checkpoint." + std::string(e.what()));
      return;
    }
    try {
      parse_gc_checkpoint(text);
    } catch (const GcCheckpointSpecError& e) {
      c_.errors.push_back("$.gc_checkpoint: " + std::string(e.what()));
      return;
    }
    sc_.gc_checkpoint = text;
  }

  void parse_sampling(const nlohmann::json& s) {
    const std::string path = "$.sampling";
    c_.only(s, path, {"interval", "detail_interval", "probes"});
    c_.strings(s, path, "probes", "a list of probe specs (strings)", "a probe spec string",
               sc_.probes);
    sc_.interval_s = c_.duration(s, path, "interval", false).value_or(sc_.interval_s);
    sc_.detail_interval_s =
        c_.duration(s, path, "detail_interval", false).value_or(sc_.detail_interval_s);
    if (sc_.interval_s < kMinSamplingIntervalSeconds) {
      c_.fail(path + ".interval", "at least 1ms", &s["interval"]);
    }
  }

  void parse_load(const nlohmann::json& load) {
    const std::string path = "$.load";
    if (load.is_object() &&
        (load.contains("command") || load.contains("locust") || load.contains("wrk"))) {
      return parse_external_load(load);
    }
    c_.only(load, path,
            {"model", "connections", "timeout", "think_time", "shape", "requests", "jobs"});
    sc_.model = c_.string(load, path, "model", false).value_or(sc_.model);
    if (sc_.model != "open" && sc_.model != "closed") {
      c_.fail(path + ".model", "\"open\" (arrival rate) or \"closed\" (users)", &load["model"]);
    }
    sc_.connections = static_cast<int>(
        c_.number(load, path, "connections", false, 1, kMaxConnections).value_or(sc_.connections));
    sc_.request_timeout_s =
        c_.duration(load, path, "timeout", false).value_or(sc_.request_timeout_s);
    sc_.think_time_s = c_.duration(load, path, "think_time", false).value_or(sc_.think_time_s);
    if (const auto* shape = c_.field(load, "shape")) {
      sc_.stages = parse_shape(c_, *shape, path + ".shape", sc_.duration_s);
    } else {
      sc_.stages = {{sc_.duration_s, sc_.model == "open" ? kDefaultOpenRate : kDefaultClosedUsers}};
    }
    if (const auto* reqs = c_.field(load, "requests")) parse_requests(*reqs);
    if (const auto* jobs = c_.field(load, "jobs")) sc_.jobs = parse_jobs(*jobs);
    if (sc_.requests.empty() && !sc_.jobs) {
      c_.errors.push_back(
          "$.load: give \"requests\" or \"jobs\" (or leave out \"load\" for no traffic)");
    }
    check_closed_levels();
    check_open_rates();
    check_weights();
  }

  /// "command", "locust" or "wrk": exactly one, and the program it needs is installed now,
  /// before the target starts.
  void parse_external_load(const nlohmann::json& load) {
    const std::string path = "$.load";
    const int given = static_cast<int>(load.contains("command")) +
                      static_cast<int>(load.contains("locust")) +
                      static_cast<int>(load.contains("wrk"));
    if (given > 1) {
      c_.errors.push_back(path + ": give one of \"command\", \"locust\" or \"wrk\", not several");
      return;
    }
    ExternalLoad x;
    if (load.contains("command")) {
      c_.only(load, path, {"command", "stop_grace"});
      parse_load_command(load["command"], x);
    } else if (load.contains("locust")) {
      c_.only(load, path, {"locust", "users", "spawn_rate", "shape", "tags", "stop_grace"});
      parse_locust(load, x);
    } else {
      c_.only(load, path, {"wrk", "stop_grace"});
      parse_wrk(load["wrk"], x);
    }
    x.stop_grace_s = c_.duration(load, path, "stop_grace", false).value_or(x.stop_grace_s);
    sc_.external_load = std::move(x);
    sc_.stages.clear();
  }

  void parse_load_command(const nlohmann::json& cmd, ExternalLoad& x) {
    x.kind = ExternalLoad::Kind::command;
    if (!cmd.is_array() || cmd.empty() ||
        !std::all_of(cmd.begin(), cmd.end(), [](const auto& a) { return a.is_string(); })) {
      return c_.fail("$.load.command", "a non-empty list of strings", &cmd);
    }
    for (const auto& a : cmd) x.command.push_back(a.get<std::string>());
    std::string& program = x.command[0];
    if (program.find('/') != std::string::npos && program.front() != '/') {
      program = (base_dir_ / program).lexically_normal().string();
    }
    if (!find_program(program)) {
      c_.errors.push_back("$.load.command: no program " + shown(program) +
                          " (not in PATH, or not executable)");
    }
  }

  void parse_locust(const nlohmann::json& load, ExternalLoad& x) {
    const std::string path = "$.load";
    x.kind = ExternalLoad::Kind::locust;
    const auto file = c_.string(load, path, "locust", true);
    std::optional<int> users;
    if (const auto u = c_.number(load, path, "users", false, 1, kMaxConnections)) {
      users = static_cast<int>(*u);
    }
    const auto rate = c_.number(load, path, "spawn_rate", false, 0.001, kMaxConnections);
    const auto shape = c_.string(load, path, "shape", false);
    std::vector<std::string> tags;
    c_.strings(load, path, "tags", "a list of Locust tags (strings)", "a string", tags);
    if (!file) return;
    try {
      x = locust_load(base_dir_ / *file, users, rate, shape.value_or(""), sc_.file.string());
    } catch (const ScenarioError& e) {
      for (const auto& line : e.errors()) c_.errors.push_back("$.load.locust: " + line);
    }
    x.tags = std::move(tags);
  }

  void parse_wrk(const nlohmann::json& wrk, ExternalLoad& x) {
    const std::string p = "$.load.wrk";
    x.kind = ExternalLoad::Kind::wrk;
    if (!wrk.is_object()) {
      return c_.fail(p, "an object (\"threads\", \"connections\", \"duration\", \"script\")", &wrk);
    }
    c_.only(wrk, p, {"threads", "connections", "duration", "script", "path"});
    x.threads = static_cast<int>(c_.number(wrk, p, "threads", false, 1, 1024).value_or(x.threads));
    x.connections = static_cast<int>(
        c_.number(wrk, p, "connections", false, 1, kMaxConnections).value_or(x.connections));
    x.duration_s = c_.duration(wrk, p, "duration", false);
    x.path = c_.string(wrk, p, "path", false).value_or(x.path);
    if (x.path.empty() || x.path.front() != '/')
      c_.fail(p + ".path", "a path starting with /", &wrk["path"]);
    if (const auto script = c_.string(wrk, p, "script", false)) {
      x.script = fs::absolute(base_dir_ / *script).lexically_normal();
      if (!fs::is_regular_file(*x.script)) {
        c_.errors.push_back(p + ".script: cannot read " + x.script->string());
      }
    }
    if (!find_program("wrk")) {
      c_.errors.push_back(p +
                          ": the wrk program is not installed; install Debian's package wrk "
                          "(apt-get install wrk)");
    }
  }

  void check_open_rates() {
    if (sc_.model != "open") return;
    for (const auto& st : sc_.stages) {
      if (st.level > 0 && st.level < kMinOpenRate) {
        c_.errors.push_back("$.load.shape: a rate of " + shown(st.level) +
                            " requests/s is below soak's driver's lowest rate of 1e-06/s (one "
                            "request per 11.6 days); use 0 for no traffic");
        return;
      }
      if (st.level > kMaxOpenRate) {
        c_.errors.push_back("$.load.shape: a rate of " + shown(st.level) +
                            " requests/s is above soak's driver's limit of 1000000/s; use "
                            "load.wrk or load.locust for more");
        return;
      }
    }
  }

  void check_weights() {
    if (sc_.requests.empty()) return;
    const bool any = std::any_of(sc_.requests.begin(), sc_.requests.end(),
                                 [](const auto& r) { return r.weight > 0; });
    if (!any) {
      c_.errors.push_back(
          "$.load.requests: every weight is 0; give at least one request a "
          "weight above 0");
    }
  }

  void parse_requests(const nlohmann::json& reqs) {
    if (!reqs.is_array()) return c_.fail("$.load.requests", "a list of requests", &reqs);
    for (std::size_t i = 0; i < reqs.size(); ++i) {
      sc_.requests.push_back(
          parse_request(c_, reqs[i], indexed("$.load.requests", i), base_dir_, true));
    }
  }

  JobSpec parse_jobs(const nlohmann::json& jobs) {
    const std::string p = "$.load.jobs";
    c_.only(jobs, p,
            {"submit", "id_pointer", "poll", "until", "fail_values", "interval", "timeout", "then",
             "concurrency"});
    JobSpec js;
    js.concurrency = static_cast<int>(
        c_.number(jobs, p, "concurrency", false, 1, kMaxJobConcurrency).value_or(js.concurrency));
    if (const auto* sub = c_.field(jobs, "submit")) {
      js.submit = parse_request(c_, *sub, p + ".submit", base_dir_, false);
    } else {
      c_.fail(p + ".submit", "a request that starts a job", nullptr);
    }
    js.id_pointer = c_.string(jobs, p, "id_pointer", false).value_or(js.id_pointer);
    parse_poll(jobs, js);
    js.until = c_.string(jobs, p, "until", false).value_or(js.until);
    if (c_.field(jobs, "fail_values")) {
      js.fail_values.clear();
      c_.strings(jobs, p, "fail_values", "a list of states (strings) that end a job as failed",
                 "a string", js.fail_values);
    }
    js.poll_interval_s = c_.duration(jobs, p, "interval", false).value_or(js.poll_interval_s);
    js.timeout_s = c_.duration(jobs, p, "timeout", false).value_or(js.timeout_s);
    if (const auto* then = c_.field(jobs, "then")) {
      js.then = parse_request(c_, *then, p + ".then", base_dir_, false);
    }
    for (const auto& ptr : {js.id_pointer, js.field_pointer}) {
      if (ptr.empty()) continue;
      if (ptr.front() != '/') {
        c_.errors.push_back(p + ": JSON pointer \"" + ptr + "\" must start with /");
        continue;
      }
      try {
        (void)nlohmann::json::json_pointer(ptr);
      } catch (const nlohmann::json::exception&) {
        c_.errors.push_back(p + ": JSON pointer \"" + ptr +
                            "\": '~' must be followed by 0 (for ~) or 1 (for /)");
      }
    }
    return js;
  }

  /// "poll" is a request plus "field", the JSON pointer to the job's state in its answer.
  void parse_poll(const nlohmann::json& jobs, JobSpec& js) {
    const std::string p = "$.load.jobs.poll";
    const auto* poll = c_.field(jobs, "poll");
    if (!poll) return c_.fail(p, "a request that reads the job's state", nullptr);
    if (!poll->is_object()) {
      return c_.fail(p, "a request with \"path\" (and \"field\", a JSON pointer)", poll);
    }
    js.field_pointer = c_.string(*poll, p, "field", false).value_or(js.field_pointer);
    nlohmann::json req = *poll;
    req.erase("field");
    js.poll = parse_request(c_, req, p, base_dir_, false);
  }

  /// Users and concurrent jobs come in whole numbers, at most kMaxConnections of them.
  void check_closed_levels() {
    if (sc_.model != "closed") return;
    for (const auto& st : sc_.stages) {
      if (st.level > kMaxConnections) {
        c_.errors.push_back("$.load.shape: a closed model runs at most 10000 users, got " +
                            shown(st.level));
        return;
      }
      if (st.level != std::floor(st.level)) {
        c_.errors.push_back("$.load.shape: a closed model needs whole numbers of users, got " +
                            shown(st.level));
        return;
      }
    }
  }

  void parse_limits(const nlohmann::json& limits) {
    c_.only(limits, "$.limits", {"error_rate", "p95"});
    sc_.limits.error_rate = c_.fraction(limits, "$.limits", "error_rate");
    sc_.limits.p95_s = c_.duration(limits, "$.limits", "p95", false);
  }

  /// "targets" inline, then "targets_file" (relative to the scenario) merged over it.
  void parse_targets() {
    if (const auto* targets = c_.field(doc_, "targets")) {
      if (!targets->is_object()) {
        c_.fail("$.targets", "an object (a targets document)", targets);
      } else {
        sc_.targets = *targets;
      }
    }
    const auto file_name = c_.string(doc_, "$", "targets_file", false);
    if (!file_name) return;
    const std::filesystem::path file = base_dir_ / *file_name;
    std::ifstream in(file);
    const nlohmann::json t = nlohmann::json::parse(in, nullptr, false);
    if (!in || t.is_discarded()) {
      c_.errors.push_back("$.targets_file: cannot read JSON from " + file.string());
    } else {
      sc_.targets.update(t);
    }
  }

  void parse_checks(const nlohmann::json& checks) {
    c_.only(checks, "$.checks", {"job_growth", "return_to_baseline"});
    c_.fraction(checks, "$.checks", "job_growth");  // validated here, judged with the targets
    c_.fraction(checks, "$.checks", "return_to_baseline");
    // The per-iteration checks travel with the targets, so a re-analysis of the log finds them.
    for (const char* key : {"job_growth", "return_to_baseline"}) {
      if (checks.contains(key) && checks[key].is_string()) sc_.targets[key] = checks[key];
    }
  }

  const nlohmann::json& doc_;
  const std::filesystem::path base_dir_;
  Checker c_;
  Scenario sc_;
};

// ---- base URLs --------------------------------------------------------------------------------

/// A whole decimal number from 1 to 65535, nothing else.
std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

ScenarioError::ScenarioError(std::string file, std::vector<std::string> errors)
    : std::runtime_error(file + ": " + join(errors)),
      file_(std::move(file)),
      errors_(std::move(errors)) {}

std::optional<std::vector<Stage>> preset_shape(const std::string& name, double level, double d) {
  // Fractions of the run follow the seed documents' shapes: a short smoke check, a steady
  // baseline, stress at twice the level, a spike to 4x in the middle third, endurance and soak
  // holding the level for the whole run, a ramp of five equal steps.
  if (name == "smoke") return std::vector<Stage>{{std::min(d, 60.0), std::max(1.0, level / 5)}};
  if (name == "baseline" || name == "load" || name == "endurance" || name == "soak") {
    return std::vector<Stage>{{d, level}};
  }
  if (name == "stress") return std::vector<Stage>{{d * 0.2, level}, {d * 0.8, level * 2}};
  if (name == "spike") {
    return std::vector<Stage>{{d / 3, level}, {d / 3, level * 4}, {d / 3, level}};
  }
  if (name == "ramp") {
    std::vector<Stage> s;
    for (int i = 1; i <= 5; ++i) s.push_back({d / 5, level * i});
    return s;
  }
  return std::nullopt;
}

const char* to_string(ExternalLoad::Kind kind) {
  switch (kind) {
    case ExternalLoad::Kind::command:
      return "command";
    case ExternalLoad::Kind::locust:
      return "locust";
    case ExternalLoad::Kind::wrk:
      return "wrk";
  }
  return "command";
}

std::optional<fs::path> find_program(const std::string& program) {
  if (program.empty()) return std::nullopt;
  auto usable = [](const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
  };
  if (program.find('/') != std::string::npos) {
    return usable(program) ? std::optional<fs::path>(program) : std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    const auto colon = dirs.find(':');
    const std::string dir(dirs.substr(0, colon));
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / program;
    if (usable(candidate)) return candidate;
    if (colon == std::string_view::npos) return std::nullopt;
    dirs.remove_prefix(colon + 1);
  }
}

ExternalLoad locust_load(const fs::path& locustfile, std::optional<int> users,
                         std::optional<double> spawn_rate, const std::string& shape,
                         const std::string& origin) {
  ExternalLoad x;
  x.kind = ExternalLoad::Kind::locust;
  x.locustfile = fs::absolute(locustfile).lexically_normal();
  x.users = users;
  x.spawn_rate = spawn_rate;
  x.shape = shape;
  std::vector<std::string> errors;
  std::error_code ec;
  if (!fs::is_regular_file(x.locustfile, ec)) {
    errors.push_back("no Locust file " + x.locustfile.string());
  }
  const bool identifier =
      std::all_of(
          shape.begin(), shape.end(),
          [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; }) &&
      (shape.empty() || !std::isdigit(static_cast<unsigned char>(shape.front())));
  if (!identifier) errors.push_back("shape " + shape + " is not a Python class name");
  if (!find_program("locust")) {
    errors.push_back(
        "the locust program is not installed; install Debian's package python3-locust "
        "(apt-get install python3-locust)");
  }
  if (!errors.empty()) throw ScenarioError(origin, errors);
  return x;
}

double Scenario::total_duration() const {
  double total = 0;
  for (const auto& s : stages) total += s.duration_s;
  return total;
}

double Scenario::level_at(double t) const {
  double start = 0;
  for (const auto& s : stages) {
    if (t < start + s.duration_s) return s.level;
    start += s.duration_s;
  }
  return stages.empty() || t >= start ? 0.0 : stages.back().level;
}

Scenario parse_scenario(const nlohmann::json& doc, const std::filesystem::path& file) {
  if (!doc.is_object()) {
    throw ScenarioError(file.string(), {"$: expected a JSON object at the top"});
  }
  return ScenarioParser(doc, file).parse();
}

Scenario load_scenario(const std::filesystem::path& file,
                       std::optional<std::chrono::nanoseconds> duration) {
  std::ifstream in(file);
  if (!in) throw ScenarioError(file.string(), {"cannot open the file: check the path"});
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
  if (doc.is_discarded()) throw ScenarioError(file.string(), {"not valid JSON: fix its syntax"});
  if (duration && doc.is_object()) {
    doc["duration"] = std::chrono::duration<double>(*duration).count();
  }
  return parse_scenario(doc, file);
}

BaseUrl split_base_url(std::string_view url) {
  BaseUrl out;
  if (!url.starts_with(kHttpScheme)) {
    out.problem = BaseUrlProblem::not_http;
    return out;
  }
  std::string_view rest = url.substr(kHttpScheme.size());
  rest = rest.substr(0, rest.find('/'));
  out.host_header = std::string(rest);
  std::string_view host = rest;
  std::optional<std::string_view> port;
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    const std::string_view after = close == std::string_view::npos ? "" : rest.substr(close + 1);
    if (close == std::string_view::npos || !(after.empty() || after.starts_with(':'))) {
      out.problem = BaseUrlProblem::bad_ipv6;
      return out;
    }
    host = rest.substr(1, close - 1);
    if (!after.empty()) port = after.substr(1);
  } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (port) {
    const auto number = parse_port(*port);
    if (!number) {
      out.problem = BaseUrlProblem::bad_port;
      return out;
    }
    out.port = *number;
  }
  out.host = host == "localhost" ? std::string("127.0.0.1") : std::string(host);
  boost::system::error_code ec;
  boost::asio::ip::make_address(out.host, ec);
  if (ec) out.problem = BaseUrlProblem::not_an_ip_address;
  return out;
}

}  // namespace soak::scenarios
