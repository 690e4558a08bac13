#pragma once
// Scenario files: what to run (launch a command or attach to a pid), how to know it is ready,
// how to sample it, and the load to drive: a weighted mix of requests and job workflows under a
// load shape. Validation reports every problem with the JSON path of the field at fault.

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "soak/sampler/process.hpp"

namespace soak::scenarios {

/// An invalid scenario. errors() lists every problem as "path: expected ..., got ...".
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
  std::string name;
  std::string method = "GET";
  std::string path = "/";  ///< may contain {id} inside job workflows
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  double weight = 1;
};

/// submit -> read the id at id_pointer -> poll until the field at field_pointer equals `until`
/// (or timeout) -> optional follow-up request. Each finished job is an event in the log.
struct JobSpec {
  RequestSpec submit;
  std::string id_pointer = "/id";
  RequestSpec poll;
  std::string field_pointer = "/status";
  std::string until = "done";
  std::vector<std::string> fail_values = {"failed", "error"};
  double poll_interval_s = 0.2;
  double timeout_s = 60;
  std::optional<RequestSpec> then;
  /// Jobs kept running side by side when the scenario also has "requests" (with jobs alone,
  /// the shape's level is the number of concurrent jobs).
  int concurrency = 1;
};

struct Stage {
  double duration_s = 0;
  double level = 0;  ///< requests/s (open model) or concurrent users / jobs (closed model)
};

struct Limits {
  std::optional<double> error_rate;  ///< fraction, e.g. 0.05
  std::optional<double> p95_s;
};

struct Scenario {
  std::string name;
  std::filesystem::path file;
  // target
  std::vector<std::string> command;
  std::optional<std::filesystem::path> working_directory;
  std::map<std::string, std::string> environment;
  std::optional<sampler::Pid> attach_pid;
  std::string port_from_output;  ///< regex with one group; the port the target printed
  std::string base_url = "http://127.0.0.1:${port}";
  std::string ready_path;        ///< GET that must answer 2xx before load starts
  double ready_timeout_s = 15;
  // sampling
  double interval_s = 1;
  double detail_interval_s = 10;  ///< PSS/USS and descendants are read this often
  std::vector<std::string> probes;  ///< --probe specs; ${base_url} is the target's URL
  double duration_s = 60;
  // load
  std::string model = "open";  ///< open (arrival rate) | closed (users)
  int connections = 16;
  double request_timeout_s = 10;
  double think_time_s = 0;
  std::vector<Stage> stages;   ///< the load shape, expanded
  std::vector<RequestSpec> requests;
  std::optional<JobSpec> jobs;
  Limits limits;
  // judgement
  nlohmann::json targets = nlohmann::json::object();
  double total_duration() const;
  double level_at(double t) const;  ///< the shape's level at t seconds (0 after the end)
};

/// Parses and validates; `file` names the document in errors and anchors relative paths
/// (body_file, cwd). Throws ScenarioError listing every problem.
Scenario parse_scenario(const nlohmann::json& document, const std::filesystem::path& file);

/// Reads and parses a scenario file; `duration` (from --duration) replaces the file's, and
/// shapes are laid out over it. Throws ScenarioError (bad JSON is one error).
Scenario load_scenario(const std::filesystem::path& file,
                       std::optional<std::chrono::nanoseconds> duration = std::nullopt);

/// The named load shapes of the seed documents, as stages scaled to `level` (rate or users)
/// and `duration_s`: smoke, baseline, load, stress, spike, endurance, soak, ramp.
std::optional<std::vector<Stage>> preset_shape(const std::string& name, double level,
                                               double duration_s);

}  // namespace soak::scenarios
