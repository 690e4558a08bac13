#include "soak/scenarios/scenario.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "soak/sampler/duration.hpp"

namespace soak::scenarios {

namespace {

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : "; ") + l;
  return out;
}

std::string shown(const nlohmann::json& v) {
  std::string text = v.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

/// Collects every problem instead of stopping at the first.
class Checker {
 public:
  std::vector<std::string> errors;

  void fail(const std::string& path, const std::string& expected, const nlohmann::json* got) {
    errors.push_back(path + ": expected " + expected +
                     (got ? ", got " + shown(*got) : std::string(", but it is missing")));
  }

  /// Unknown keys are errors: a typo must not be silently ignored.
  void only(const nlohmann::json& obj, const std::string& path, std::initializer_list<const char*> keys) {
    if (!obj.is_object()) return;
    for (const auto& [key, value] : obj.items()) {
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
      std::snprintf(expected, sizeof expected, "a number >= %g", min);
    } else {
      std::snprintf(expected, sizeof expected, "a number from %g to %g", min, max);
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
    const char* expected = "a duration such as \"30s\", \"10m\" or \"8h\" (or seconds)";
    if (!v) {
      if (required) fail(path + "." + key, expected, nullptr);
      return std::nullopt;
    }
    if (v->is_number() && v->get<double>() >= 0) return v->get<double>();
    if (v->is_string()) {
      try {
        return std::chrono::duration<double>(sampler::parse_duration(v->get<std::string>())).count();
      } catch (const sampler::DurationError&) {
      }
    }
    fail(path + "." + key, expected, v);
    return std::nullopt;
  }

  std::optional<double> fraction(const nlohmann::json& obj, const std::string& path, const char* key) {
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
};

RequestSpec parse_request(Checker& c, const nlohmann::json& j, const std::string& path,
                          const std::filesystem::path& base_dir, bool need_weight) {
  RequestSpec r;
  if (!j.is_object()) {
    c.fail(path, "an object with \"path\" (and \"method\", \"headers\", \"body\")", &j);
    return r;
  }
  c.only(j, path, {"name", "method", "path", "headers", "body", "body_file", "body_bytes", "weight"});
  r.path = c.string(j, path, "path", true).value_or("/");
  if (!r.path.empty() && r.path.front() != '/') c.fail(path + ".path", "a path starting with /", &j["path"]);
  r.method = c.string(j, path, "method", false).value_or("GET");
  static const std::set<std::string> methods = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
  if (!methods.count(r.method)) c.fail(path + ".method", "one of GET, POST, PUT, PATCH, DELETE, HEAD", &j["method"]);
  r.name = c.string(j, path, "name", false).value_or(r.method + " " + r.path);
  if (const auto* h = c.field(j, "headers")) {
    if (!h->is_object()) {
      c.fail(path + ".headers", "an object of header names to strings", h);
    } else {
      for (const auto& [k, v] : h->items()) {
        if (!v.is_string()) {
          c.fail(path + ".headers." + k, "a string", &v);
        } else {
          r.headers.emplace_back(k, v.get<std::string>());
        }
      }
    }
  }
  r.body = c.string(j, path, "body", false).value_or("");
  if (const auto file = c.string(j, path, "body_file", false)) {
    std::ifstream in(base_dir / *file, std::ios::binary);
    if (!in) {
      c.errors.push_back(path + ".body_file: cannot read " + (base_dir / *file).string());
    } else {
      std::stringstream ss;
      ss << in.rdbuf();
      r.body = ss.str();
    }
  }
  if (const auto size = c.number(j, path, "body_bytes", false, 0, 1 << 30)) {
    r.body.assign(static_cast<std::size_t>(*size), 'x');  // a generated upload of that size
  }
  if (need_weight) r.weight = c.number(j, path, "weight", false, 0).value_or(1);
  return r;
}

std::vector<Stage> parse_shape(Checker& c, const nlohmann::json& j, const std::string& path,
                               double duration_s) {
  std::vector<Stage> stages;
  if (!j.is_object()) {
    c.fail(path, "an object (\"preset\", \"constant\", \"ramp\", \"spike\" or \"stages\")", &j);
    return stages;
  }
  c.only(j, path, {"preset", "level", "type", "rate", "users", "start", "step", "steps", "hold",
                   "base", "peak", "at", "stages"});
  const double level = c.number(j, path, "level", false, 0).value_or(
      c.number(j, path, "rate", false, 0).value_or(c.number(j, path, "users", false, 0).value_or(1)));
  if (const auto preset = c.string(j, path, "preset", false)) {
    if (auto s = preset_shape(*preset, level, duration_s)) return *s;
    c.fail(path + ".preset", "one of smoke, baseline, load, stress, spike, endurance, soak, ramp",
           &j["preset"]);
    return stages;
  }
  if (const auto* list = c.field(j, "stages")) {
    if (!list->is_array() || list->empty()) {
      c.fail(path + ".stages", "a non-empty list of {\"duration\", \"rate\" or \"users\"}", list);
      return stages;
    }
    for (std::size_t i = 0; i < list->size(); ++i) {
      const std::string p = path + ".stages[" + std::to_string(i) + "]";
      const auto& s = (*list)[i];
      if (!s.is_object()) {
        c.fail(p, "an object", &s);
        continue;
      }
      c.only(s, p, {"duration", "rate", "users"});
      const auto d = c.duration(s, p, "duration", true);
      auto l = c.number(s, p, "rate", false, 0);
      if (!l) l = c.number(s, p, "users", false, 0);
      if (!l && !c.field(s, "rate") && !c.field(s, "users")) c.fail(p + ".rate", "a number >= 0", nullptr);
      if (d && l) stages.push_back({*d, *l});
    }
    return stages;
  }
  const std::string type = c.string(j, path, "type", false).value_or("constant");
  if (type == "constant") {
    stages.push_back({duration_s, level});
  } else if (type == "ramp") {
    const double start = c.number(j, path, "start", false, 0).value_or(1);
    const double step = c.number(j, path, "step", false, 0).value_or(1);
    const auto steps = c.number(j, path, "steps", true, 1, 10000);
    const auto hold = c.duration(j, path, "hold", true);
    if (steps && hold) {
      for (int i = 0; i < static_cast<int>(*steps); ++i) stages.push_back({*hold, start + step * i});
    }
  } else if (type == "spike") {
    const double base = c.number(j, path, "base", false, 0).value_or(1);
    const auto peak = c.number(j, path, "peak", true, 0);
    const double at = c.duration(j, path, "at", false).value_or(duration_s / 3);
    const double hold = c.duration(j, path, "hold", false).value_or(duration_s / 3);
    if (peak) {
      stages.push_back({at, base});
      stages.push_back({hold, *peak});
      stages.push_back({std::max(0.0, duration_s - at - hold), base});
    }
  } else {
    c.fail(path + ".type", "one of constant, ramp, spike (or give \"preset\" or \"stages\")", &j["type"]);
  }
  return stages;
}

}  // namespace

ScenarioError::ScenarioError(std::string file, std::vector<std::string> errors)
    : std::runtime_error(file + ": " + join(errors)), file_(std::move(file)), errors_(std::move(errors)) {}

std::optional<std::vector<Stage>> preset_shape(const std::string& name, double level, double d) {
  // Fractions of the run follow the seed documents' shapes: a short smoke check, a steady
  // baseline, stress at twice the level, a spike to 4x in the middle third, endurance and soak
  // holding the level for the whole run, a ramp of five equal steps.
  if (name == "smoke") return std::vector<Stage>{{std::min(d, 60.0), std::max(1.0, level / 5)}};
  if (name == "baseline" || name == "load" || name == "endurance" || name == "soak") {
    return std::vector<Stage>{{d, level}};
  }
  if (name == "stress") return std::vector<Stage>{{d * 0.2, level}, {d * 0.8, level * 2}};
  if (name == "spike") return std::vector<Stage>{{d / 3, level}, {d / 3, level * 4}, {d / 3, level}};
  if (name == "ramp") {
    std::vector<Stage> s;
    for (int i = 1; i <= 5; ++i) s.push_back({d / 5, level * i});
    return s;
  }
  return std::nullopt;
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
  Checker c;
  Scenario sc;
  sc.file = file;
  const std::filesystem::path base_dir = file.has_parent_path() ? file.parent_path() : ".";
  if (!doc.is_object()) throw ScenarioError(file.string(), {"$: expected a JSON object at the top"});
  c.only(doc, "$", {"name", "description", "target", "sampling", "duration", "load", "limits",
                    "targets", "targets_file", "checks"});
  sc.name = c.string(doc, "$", "name", false).value_or(file.stem().string());
  sc.duration_s = c.duration(doc, "$", "duration", false).value_or(60);

  if (const auto* t = c.field(doc, "target"); !t || !t->is_object()) {
    c.fail("$.target", "an object with \"command\" (a list) or \"pid\"", t);
  } else {
    c.only(*t, "$.target", {"command", "cwd", "env", "pid", "port_from_output", "base_url", "ready"});
    if (const auto* cmd = c.field(*t, "command")) {
      if (!cmd->is_array() || cmd->empty() ||
          !std::all_of(cmd->begin(), cmd->end(), [](const auto& a) { return a.is_string(); })) {
        c.fail("$.target.command", "a non-empty list of strings", cmd);
      } else {
        for (const auto& a : *cmd) sc.command.push_back(a.get<std::string>());
        // A relative program path is relative to the scenario file, as the other paths are.
        if (sc.command[0].find('/') != std::string::npos && sc.command[0].front() != '/') {
          sc.command[0] = (base_dir / sc.command[0]).lexically_normal().string();
        }
      }
    }
    if (const auto pid = c.number(*t, "$.target", "pid", false, 1)) sc.attach_pid = static_cast<sampler::Pid>(*pid);
    if (sc.command.empty() == !sc.attach_pid.has_value()) {
      c.errors.push_back("$.target: give exactly one of \"command\" (to launch) or \"pid\" (to attach)");
    }
    if (const auto cwd = c.string(*t, "$.target", "cwd", false)) sc.working_directory = base_dir / *cwd;
    if (const auto* env = c.field(*t, "env")) {
      if (!env->is_object()) c.fail("$.target.env", "an object of names to strings", env);
      else for (const auto& [k, v] : env->items()) {
        if (v.is_string()) sc.environment[k] = v.get<std::string>();
        else c.fail("$.target.env." + k, "a string", &v);
      }
    }
    sc.port_from_output = c.string(*t, "$.target", "port_from_output", false).value_or("");
    sc.base_url = c.string(*t, "$.target", "base_url", false).value_or(sc.base_url);
    if (sc.base_url.rfind("http://", 0) != 0) c.fail("$.target.base_url", "an http:// URL", &(*t)["base_url"]);
    if (sc.base_url.find("${port}") != std::string::npos && sc.port_from_output.empty() &&
        (doc.contains("load") || t->contains("ready"))) {
      c.errors.push_back(t->contains("base_url")
                             ? "$.target.base_url: uses ${port} but $.target.port_from_output is not given"
                             : "$.target.base_url: expected the target's URL (e.g. \"http://127.0.0.1:8080\"), "
                               "or $.target.port_from_output to read the port it prints");
    }
    if (const auto* ready = c.field(*t, "ready")) {
      c.only(*ready, "$.target.ready", {"http", "timeout"});
      sc.ready_path = c.string(*ready, "$.target.ready", "http", true).value_or("");
      sc.ready_timeout_s = c.duration(*ready, "$.target.ready", "timeout", false).value_or(15);
    }
  }

  if (const auto* s = c.field(doc, "sampling")) {
    c.only(*s, "$.sampling", {"interval", "detail_interval", "probes"});
    if (const auto* list = c.field(*s, "probes")) {
      if (!list->is_array()) {
        c.fail("$.sampling.probes", "a list of probe specs (strings)", list);
      } else {
        for (std::size_t i = 0; i < list->size(); ++i) {
          if ((*list)[i].is_string()) sc.probes.push_back((*list)[i].get<std::string>());
          else c.fail("$.sampling.probes[" + std::to_string(i) + "]", "a probe spec string", &(*list)[i]);
        }
      }
    }
    sc.interval_s = c.duration(*s, "$.sampling", "interval", false).value_or(1);
    sc.detail_interval_s = c.duration(*s, "$.sampling", "detail_interval", false).value_or(10);
    if (sc.interval_s < 0.001) c.fail("$.sampling.interval", "at least 1ms", &(*s)["interval"]);
  }

  if (const auto* load = c.field(doc, "load")) {
    c.only(*load, "$.load", {"model", "connections", "timeout", "think_time", "shape", "requests", "jobs"});
    sc.model = c.string(*load, "$.load", "model", false).value_or("open");
    if (sc.model != "open" && sc.model != "closed") {
      c.fail("$.load.model", "\"open\" (arrival rate) or \"closed\" (users)", &(*load)["model"]);
    }
    sc.connections = static_cast<int>(c.number(*load, "$.load", "connections", false, 1, 10000).value_or(16));
    sc.request_timeout_s = c.duration(*load, "$.load", "timeout", false).value_or(10);
    sc.think_time_s = c.duration(*load, "$.load", "think_time", false).value_or(0);
    if (const auto* shape = c.field(*load, "shape")) {
      sc.stages = parse_shape(c, *shape, "$.load.shape", sc.duration_s);
    } else {
      sc.stages = {{sc.duration_s, sc.model == "open" ? 10.0 : 1.0}};
    }
    if (const auto* reqs = c.field(*load, "requests")) {
      if (!reqs->is_array()) c.fail("$.load.requests", "a list of requests", reqs);
      else for (std::size_t i = 0; i < reqs->size(); ++i) {
        sc.requests.push_back(parse_request(c, (*reqs)[i], "$.load.requests[" + std::to_string(i) + "]", base_dir, true));
      }
    }
    if (const auto* jobs = c.field(*load, "jobs")) {
      const std::string p = "$.load.jobs";
      c.only(*jobs, p, {"submit", "id_pointer", "poll", "until", "fail_values", "interval", "timeout", "then", "concurrency"});
      JobSpec js;
      js.concurrency = static_cast<int>(c.number(*jobs, p, "concurrency", false, 1, 10000).value_or(1));
      if (const auto* sub = c.field(*jobs, "submit")) js.submit = parse_request(c, *sub, p + ".submit", base_dir, false);
      else c.fail(p + ".submit", "a request that starts a job", nullptr);
      js.id_pointer = c.string(*jobs, p, "id_pointer", false).value_or("/id");
      if (const auto* poll = c.field(*jobs, "poll")) {
        if (poll->is_object()) {
          nlohmann::json req = *poll;
          const std::string field = req.value("field", std::string("/status"));
          req.erase("field");
          js.field_pointer = field;
          js.poll = parse_request(c, req, p + ".poll", base_dir, false);
        } else {
          c.fail(p + ".poll", "a request with \"path\" (and \"field\", a JSON pointer)", poll);
        }
      } else {
        c.fail(p + ".poll", "a request that reads the job's state", nullptr);
      }
      js.until = c.string(*jobs, p, "until", false).value_or("done");
      js.poll_interval_s = c.duration(*jobs, p, "interval", false).value_or(0.2);
      js.timeout_s = c.duration(*jobs, p, "timeout", false).value_or(60);
      if (const auto* then = c.field(*jobs, "then")) js.then = parse_request(c, *then, p + ".then", base_dir, false);
      for (const auto& ptr : {js.id_pointer, js.field_pointer}) {
        if (!ptr.empty() && ptr.front() != '/') c.errors.push_back(p + ": JSON pointer \"" + ptr + "\" must start with /");
      }
      sc.jobs = js;
    }
    if (sc.requests.empty() && !sc.jobs) {
      c.errors.push_back("$.load: give \"requests\" or \"jobs\" (or leave out \"load\" for no traffic)");
    }
    for (const auto& st : sc.stages) {
      if (sc.model == "closed" && st.level != std::floor(st.level)) {
        c.errors.push_back("$.load.shape: a closed model needs whole numbers of users, got " + shown(st.level));
        break;
      }
    }
  }

  if (const auto* limits = c.field(doc, "limits")) {
    c.only(*limits, "$.limits", {"error_rate", "p95"});
    sc.limits.error_rate = c.fraction(*limits, "$.limits", "error_rate");
    sc.limits.p95_s = c.duration(*limits, "$.limits", "p95", false);
  }
  if (const auto* targets = c.field(doc, "targets")) {
    if (!targets->is_object()) c.fail("$.targets", "an object (a targets document)", targets);
    else sc.targets = *targets;
  }
  if (const auto file_name = c.string(doc, "$", "targets_file", false)) {
    std::ifstream in(base_dir / *file_name);
    nlohmann::json t = nlohmann::json::parse(in, nullptr, false);
    if (!in || t.is_discarded()) c.errors.push_back("$.targets_file: cannot read JSON from " + (base_dir / *file_name).string());
    else sc.targets.update(t);
  }
  if (const auto* checks = c.field(doc, "checks")) {
    c.only(*checks, "$.checks", {"job_growth", "return_to_baseline"});
    c.fraction(*checks, "$.checks", "job_growth");  // validated here, judged with the targets
    c.fraction(*checks, "$.checks", "return_to_baseline");
    // The per-iteration checks travel with the targets, so a re-analysis of the log finds them.
    for (const char* key : {"job_growth", "return_to_baseline"}) {
      if (checks->contains(key) && (*checks)[key].is_string()) sc.targets[key] = (*checks)[key];
    }
  }
  if (!c.errors.empty()) throw ScenarioError(file.string(), c.errors);
  if (!c.field(doc, "load") && !doc.contains("duration")) sc.stages.clear();
  return sc;
}

Scenario load_scenario(const std::filesystem::path& file,
                       std::optional<std::chrono::nanoseconds> duration) {
  std::ifstream in(file);
  if (!in) throw ScenarioError(file.string(), {"cannot open the file: check the path"});
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
  if (doc.is_discarded()) throw ScenarioError(file.string(), {"not valid JSON: fix its syntax"});
  if (duration && doc.is_object()) doc["duration"] = std::chrono::duration<double>(*duration).count();
  return parse_scenario(doc, file);
}

}  // namespace soak::scenarios
