#pragma once
// Scenario files: what to run (launch a command or attach to a pid), how to know it is ready,
// how to sample it, and the load to drive: a weighted mix of requests and job workflows under a
// load shape. Validation reports every problem with the JSON path of the field at fault.
//
// Units: every `*_s` field is in seconds (a double, so "500ms" is 0.5); levels are requests per
// second (open model) or concurrent users / jobs (closed model); fractions are 0..1.
//
// Thread-safety: parsing has no shared state, so any number of scenarios may be parsed at once;
// a Scenario is a plain value, safe to read from many threads while nobody writes it.
//
// Failure modes: a document that cannot describe a working run throws ScenarioError before any
// work starts (soak maps it to exit code 3). Nothing here starts processes or opens sockets.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "soak/sampler/process.hpp"

namespace soak::scenarios {

/// An invalid scenario. errors() lists every problem as "path: expected ..., got ...", in the
/// order of the document; what() is "FILE: " and the problems joined by "; ".
class ScenarioError : public std::runtime_error {
 public:
  ScenarioError(std::string file, std::vector<std::string> errors);
  const std::vector<std::string>& errors() const { return errors_; }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

struct RequestSpec {
  std::string name;  ///< defaults to "METHOD path"
  std::string method = "GET";
  std::string path = "/";  ///< may contain {id} inside job workflows
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;   ///< from "body", "body_file" (read at parse time) or "body_bytes"
  double weight = 1;  ///< relative share of the request mix (any scale, >= 0)
};

/// submit -> read the id at id_pointer -> poll until the field at field_pointer equals `until`
/// (or timeout) -> optional follow-up request. Each finished job is an event in the log.
struct JobSpec {
  RequestSpec submit;
  std::string id_pointer = "/id";  ///< JSON pointer into the submit answer
  RequestSpec poll;
  std::string field_pointer = "/status";  ///< JSON pointer into each poll answer
  std::string until = "done";
  std::vector<std::string> fail_values = {"failed", "error"};
  double poll_interval_s = 0.2;
  double timeout_s = 60;  ///< from submit to the state `until`
  std::optional<RequestSpec> then;
  /// Jobs kept running side by side when the scenario also has "requests" (with jobs alone,
  /// the shape's level is the number of concurrent jobs).
  int concurrency = 1;
};

struct Stage {
  double duration_s = 0;
  double level = 0;  ///< requests/s (open model) or concurrent users / jobs (closed model)
};

/// A load soak does not drive itself ("load": {"command" | "locust" | "wrk": ...}): started once
/// the target is ready, with SOAK_BASE_URL in its environment and ${base_url} replaced in its
/// arguments; stopped at the end (SIGINT, then SIGTERM, then SIGKILL, each after stop_grace_s).
struct ExternalLoad {
  enum class Kind { command, locust, wrk };
  Kind kind = Kind::command;
  std::vector<std::string> command;  ///< command: the argv (argv[0] looked up in PATH)
  // locust
  std::filesystem::path locustfile;  ///< made relative to the scenario's folder
  std::optional<int> users;          ///< -u; Locust ignores it when the file has a shape
  std::optional<double> spawn_rate;  ///< -r, users started per second
  std::string shape;                 ///< the LoadTestShape class to run; empty: Locust's pick
  std::vector<std::string> tags;     ///< --tags
  // wrk
  int threads = 2;
  int connections = 10;
  std::optional<double> duration_s;             ///< wrk's -d; absent: the run's length and a margin
  std::optional<std::filesystem::path> script;  ///< a wrk Lua script (-s)
  std::string path = "/";                       ///< appended to the base URL
  double stop_grace_s = 10;  ///< between SIGINT, SIGTERM and SIGKILL at the end of the run
};
const char* to_string(ExternalLoad::Kind kind);

struct Limits {
  std::optional<double> error_rate;  ///< fraction, e.g. 0.05
  std::optional<double> p95_s;
};

/// A parsed, validated scenario. The member initialisers are the defaults of fields a file
/// leaves out.
struct Scenario {
  std::string name;  ///< defaults to the file's stem
  std::filesystem::path file;
  // target
  std::vector<std::string> command;  ///< a relative program path is made relative to `file`
  std::optional<std::filesystem::path> working_directory;
  std::map<std::string, std::string> environment;
  std::optional<sampler::Pid> attach_pid;  ///< exactly one of command and attach_pid is set
  std::string port_from_output;            ///< regex with one group; the port the target printed
  /// The target's URL; "${port}" in it is replaced by the port read with port_from_output.
  /// Always valid for split_base_url once ${port} is substituted.
  std::string base_url = "http://127.0.0.1:${port}";
  std::string ready_path;       ///< GET that must answer 2xx before load starts; empty: no check
  double ready_timeout_s = 15;  ///< for the port to be printed and for ready_path to answer
  // sampling
  double interval_s = 1;
  double detail_interval_s = 10;    ///< PSS/USS and descendants are read this often
  std::vector<std::string> probes;  ///< --probe specs; ${base_url} is the target's URL
  /// A --gc-checkpoint spec from the "gc_checkpoint" object (validated); empty: none.
  std::string gc_checkpoint;
  double duration_s = 60;
  // load
  std::string model = "open";  ///< open (arrival rate) | closed (users)
  int connections = 16;        ///< the open model's connection pool
  double request_timeout_s = 10;
  double think_time_s = 0;    ///< closed model: pause between a user's answer and next send
  std::vector<Stage> stages;  ///< the load shape, expanded; empty when there is no load
  std::vector<RequestSpec> requests;
  std::optional<JobSpec> jobs;
  /// load.command, load.locust or load.wrk: then requests and jobs are empty.
  std::optional<ExternalLoad> external_load;
  Limits limits;
  // judgement
  /// A targets document (as for --targets), merged from "targets", "targets_file" and
  /// "checks"; passed on unvalidated, the analysis validates it.
  nlohmann::json targets = nlohmann::json::object();
  double total_duration() const;    ///< seconds: the sum of the stages
  double level_at(double t) const;  ///< the shape's level at t seconds (0 after the end)
};

/// Parses and validates; `file` names the document in errors and anchors relative paths
/// (command, body_file, cwd, targets_file; those files are read here). Throws ScenarioError
/// listing every problem.
Scenario parse_scenario(const nlohmann::json& document, const std::filesystem::path& file);

/// Reads and parses a scenario file; `duration` (from --duration) replaces the file's, and
/// shapes are laid out over it. Throws ScenarioError (an unreadable file or bad JSON is one
/// error).
Scenario load_scenario(const std::filesystem::path& file,
                       std::optional<std::chrono::nanoseconds> duration = std::nullopt);

/// `soak run --locust FILE`: a Locust load for a scenario or a command line, validated as
/// load.locust is (the file exists, Debian's python3-locust is installed). Throws ScenarioError
/// naming `origin` (the scenario file or "--locust").
ExternalLoad locust_load(const std::filesystem::path& locustfile, std::optional<int> users,
                         std::optional<double> spawn_rate, const std::string& shape,
                         const std::string& origin);

/// The full path of `program` (looked up in PATH unless it has a '/'); nullopt when there is
/// no such executable.
std::optional<std::filesystem::path> find_program(const std::string& program);

/// The named load shapes of the seed documents, as stages scaled to `level` (rate or users)
/// and `duration_s`: smoke, baseline, load, stress, spike, endurance, soak, ramp. nullopt for
/// any other name.
std::optional<std::vector<Stage>> preset_shape(const std::string& name, double level,
                                               double duration_s);

/// Why a base URL cannot be used.
enum class BaseUrlProblem {
  none,
  not_http,           ///< does not start with "http://" (https is not supported)
  bad_ipv6,           ///< "[" without "]", or something other than ":port" after "]"
  bad_port,           ///< the port is not a whole number from 1 to 65535
  not_an_ip_address,  ///< the host is neither an IP literal nor "localhost"
};

/// The parts of "http://host[:port][/path]"; nothing is resolved (soak talks to literal
/// addresses only).
struct BaseUrl {
  BaseUrlProblem problem = BaseUrlProblem::none;
  std::string host;         ///< an IP literal without brackets; "localhost" becomes 127.0.0.1
  std::uint16_t port = 80;  ///< 80 when the URL names none
  std::string host_header;  ///< the authority as written ("127.0.0.1:8080"), for Host:
  bool ok() const { return problem == BaseUrlProblem::none; }
};

/// Splits a base URL without throwing; `problem` says what is wrong. Pure, thread-safe.
BaseUrl split_base_url(std::string_view url);

}  // namespace soak::scenarios
