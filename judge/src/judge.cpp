#include "soak/judge/judge.hpp"

#include <unistd.h>

#include <fstream>

#include "soak/log/header.hpp"
#include "soak/log/metrics.hpp"
#include "soak/log/run_dir.hpp"
#include "soak/report/format.hpp"
#include "soak/report/html.hpp"

namespace soak::judge {

namespace fs = std::filesystem;
namespace metric = log::metric;

namespace {

report::JunitInconclusive junit_mode(const Outputs& outputs) {
  return outputs.junit_inconclusive_fails ? report::JunitInconclusive::failure
                                          : report::JunitInconclusive::skipped;
}

nlohmann::json read_targets_file(const fs::path& file) {
  std::ifstream in(file);
  if (!in)
    throw TargetsInputError("cannot read targets file " + file.string() + ": check the path");
  nlohmann::json document = nlohmann::json::parse(in, nullptr, false);
  if (document.is_discarded()) {
    throw TargetsInputError("targets file " + file.string() + " is not valid JSON; fix its syntax");
  }
  return document;
}

/// Writes `text` to `path` atomically (a temporary file beside it, then a rename), so a full
/// disk or a crash never leaves an empty or half verdict.json or report behind; on failure a
/// warning names what could not be written, and the temporary file is removed.
void write_output(const fs::path& path, const std::string& text, const char* what,
                  Judgement& judgement) {
  fs::path temporary = path;
  temporary += ".tmp-" + std::to_string(::getpid());
  bool ok = false;
  {
    std::ofstream out(temporary, std::ios::trunc | std::ios::binary);
    out << text;
    out.flush();
    ok = static_cast<bool>(out);
  }
  std::error_code ec;
  if (ok) fs::rename(temporary, path, ec);
  if (!ok || ec) {
    fs::remove(temporary, ec);
    judgement.warnings.push_back(std::string("cannot write the ") + what + " to " + path.string() +
                                 "; check the directory and free space");
    return;
  }
  judgement.written.emplace_back(what, path);
}

using SeriesMap = std::map<std::string, log::Series, std::less<>>;

report::ReportInput report_input(const log::RunLog& log, const analysis::Verdict& verdict) {
  report::ReportInput in(verdict);
  in.header = log.header;
  in.log_path = log.path.string();
  in.log_warnings = log.warnings;
  for (const auto& [name, series] : log.series) in.series.push_back({name, series.t, series.value});
  for (const auto& e : log.events) in.events.push_back({e.t, e.kind, e.detail});
  // A group's processes in the order judge_processes made them: the run's own target (when it
  // has samples), then each keyed process.
  if (!verdict.processes.empty()) {
    auto series_of = [](const SeriesMap& map) {
      std::vector<report::ReportSeries> out;
      for (const auto& [name, s] : map) out.push_back({name, s.t, s.value});
      return out;
    };
    if (log.samples > 0) in.process_series.push_back(series_of(log.series));
    for (const auto& [key, p] : log.processes) in.process_series.push_back(series_of(p.series));
  }
  return in;
}

}  // namespace

analysis::Targets load_targets(const JudgeOptions& options, const nlohmann::json& header) {
  analysis::Targets targets;
  std::optional<nlohmann::json> document = options.targets_document;
  if (!document) document = log::targets_document(header);
  if (document) {
    try {
      targets = analysis::parse_targets(*document);
    } catch (const analysis::TargetsError& e) {
      throw TargetsInputError(std::string("scenario ") + e.what());
    }
  }
  if (options.targets_file) {
    const nlohmann::json file = read_targets_file(*options.targets_file);
    try {
      targets = analysis::parse_targets(file, targets);
    } catch (const analysis::TargetsError& e) {
      throw TargetsInputError(options.targets_file->string() + ": " + e.what());
    }
  }
  if (options.warmup) targets.warmup_s = std::chrono::duration<double>(*options.warmup).count();
  return targets;
}

namespace {

/// A log's series for the analysis, with a binned series' exact extremes and ends.
analysis::SeriesView view_of(std::string name, const log::Series& s) {
  analysis::SeriesView view{std::move(name), s.t, s.value};
  if (s.binned()) {
    view.max = s.max;
    view.min = s.min;
    view.first = s.first;
    view.last = s.last;
    view.readings = s.readings;
  }
  return view;
}

std::optional<analysis::SeriesView> view_in(const SeriesMap& series, std::string_view name) {
  const auto it = series.find(name);
  if (it == series.end()) return std::nullopt;
  return view_of(std::string(name), it->second);
}

/// The analysis input of one process of a log: its series, its samples and its events (those
/// with its process key; the empty key is the run's one target).
analysis::RunInput input_of(const log::RunLog& log, const SeriesMap& series, std::size_t samples,
                            double first_t, double last_t, std::string_view process) {
  analysis::RunInput input;
  input.mem_total_bytes = log::host_memory_bytes(log.header);
  input.samples = samples;
  input.duration_s = samples > 0 ? last_t - first_t : 0.0;
  for (const auto& e : log.events) {
    if (e.process == process && e.kind == log::event::job_finished) {
      input.job_end_times.push_back(e.t);
    }
  }
  if (const auto limit = view_in(series, metric::cgroup_limit_bytes);
      limit && !limit->value.empty()) {
    input.memory_limit_bytes = limit->last_reading();  // time-to-OOM against memory.max
  }
  input.load_level = view_in(series, metric::load_level);
  input.load_errors = view_in(series, metric::load_errors);
  input.load_sent_rps = view_in(series, metric::load_sent_rps);
  input.load_p95_ms = view_in(series, metric::load_p95_ms);
  input.ramp_error_rate_limit = log::scenario_error_rate_limit(log.header);
  input.ramp_p95_limit_s = log::scenario_p95_limit_s(log.header);
  for (const auto& [name, s] : series) input.series.push_back(view_of(name, s));
  // An imported recording without rss_bytes names the series it is judged by.
  if (const auto imported = log::import_facts(log.header);
      imported && !imported->judged_series.empty() && !series.contains(metric::rss_bytes)) {
    input.judged_series = imported->judged_series;
  }
  return input;
}

/// A log of several processes (version 2): the run's own target (when it has samples) and each
/// keyed process, as the members of a group.
analysis::Verdict judge_processes(const log::RunLog& log, const analysis::Targets& targets) {
  std::vector<analysis::ProcessInput> members;
  if (log.samples > 0) {
    analysis::ProcessInput main;
    const log::TargetFacts target = log::target_facts(log.header);
    main.identity.pid = target.pid;
    main.identity.name = target.name;
    main.identity.cmdline = target.cmdline;
    main.input = input_from_log(log);
    members.push_back(std::move(main));
  }
  const auto imported = log::import_facts(log.header);
  for (const auto& [key, p] : log.processes) {
    analysis::ProcessInput member;
    member.identity.name = key;
    if (imported && imported->processes.contains(key)) {
      const log::ImportedIdentity& id = imported->processes.at(key);
      member.identity.name = id.name;
      if (id.pid > 0) member.identity.pid = id.pid;
      member.identity.cmdline = id.cmdline;
      member.identity.labels = id.labels;
    }
    member.input = input_of(log, p.series, p.samples, p.first_t, p.last_t, key);
    members.push_back(std::move(member));
  }
  return analysis::analyze_group(members, targets);
}

/// The forced collections of the run's own target, from its events; nullopt when it had none.
std::optional<analysis::GcCheckpointTotals> gc_checkpoints_of(const log::RunLog& log) {
  analysis::GcCheckpointTotals totals;
  bool any = false;
  for (const auto& e : log.events) {
    const bool made = e.kind == log::event::gc_checkpoint;
    if (!e.process.empty() || (!made && e.kind != log::event::gc_checkpoint_failed)) continue;
    any = true;
    ++(made ? totals.count : totals.failed);
    const auto d = e.fields.find("duration_s");
    if (d != e.fields.end() && d->is_number()) totals.pause_s += d->get<double>();
  }
  if (!any) return std::nullopt;
  return totals;
}

/// How the run's own target ended, from its events: a run soak recorded of a watched target
/// (attach, run, scenario) has one; an import or an older log without a mode has none.
std::optional<analysis::TargetEnd> target_end_of(const log::RunLog& log) {
  const std::string mode = log::read_header(log.header).mode;
  if (mode != "attach" && mode != "run" && mode != "scenario") return std::nullopt;
  analysis::TargetEnd end;
  for (const auto& e : log.events) {
    if (!e.process.empty()) continue;
    const bool exited = e.kind == log::event::target_exited;
    if (!exited && e.kind != "pid_reused") continue;
    end.ended = true;
    end.at_s = e.t;
    if (exited && e.fields.is_object()) {
      // Codes and signals are small numbers; anything else is not a status that was seen
      // (a wrapped 2^32 must not read as a clean exit 0).
      auto small_int = [&](const char* key) -> std::optional<int> {
        const auto it = e.fields.find(key);
        if (it == e.fields.end() || !it->is_number_integer()) return std::nullopt;
        const auto v = it->get<std::int64_t>();
        if (v < -1024 || v > 1024) return std::nullopt;
        return static_cast<int>(v);
      };
      end.exit_code = small_int("exit_code");
      end.signal = small_int("signal");
      if (const auto oom = e.fields.find("oom_kill"); oom != e.fields.end() && oom->is_boolean()) {
        end.oom_killed = oom->get<bool>();
      }
    }
    break;
  }
  return end;
}

/// How the run's external load ended, from its events; nullopt when it had none.
std::optional<analysis::LoadEnd> load_end_of(const log::RunLog& log) {
  std::optional<analysis::LoadEnd> end;
  for (const auto& e : log.events) {
    if (!e.process.empty()) continue;
    if (e.kind == log::event::load_started) end.emplace();
    const bool failed = e.kind == log::event::load_failed;
    if (end && !end->ended && (failed || e.kind == log::event::load_ended)) {
      end->ended = true;
      end->failed = failed;
      end->at_s = e.t;
    }
  }
  return end;
}

/// verdict.json's `load`: the figures the run's last load_summary event recorded (the driver's
/// cumulative histograms); null for a run without load or a log from before they were recorded.
nlohmann::ordered_json load_of(const log::RunLog& log) {
  for (auto e = log.events.rbegin(); e != log.events.rend(); ++e) {
    if (!e->process.empty() || e->kind != log::event::load_summary) continue;
    if (!e->fields.is_object()) return nullptr;
    return report::load_to_json(e->fields.value("load", nlohmann::json()));
  }
  return nullptr;
}

}  // namespace

analysis::RunInput input_from_log(const log::RunLog& log) {
  analysis::RunInput input = input_of(log, log.series, log.samples, log.first_t, log.last_t, {});
  const log::HeaderFields header = log::read_header(log.header);
  input.target_end = target_end_of(log);
  input.load_end = load_end_of(log);
  input.planned_duration_s = header.planned_duration_s;
  if (header.interval_s > 0) input.interval_s = header.interval_s;
  return input;
}

Judgement judge_log(const fs::path& run, const JudgeOptions& options, const Outputs& outputs) {
  const log::RunLog log = log::read_run_log(run);
  const analysis::Targets targets = load_targets(options, log.header);
  Judgement judgement;
  for (const auto& w : log.warnings) judgement.warnings.push_back(log.path.string() + ": " + w);
  judgement.verdict = log.processes.empty() ? analysis::analyze(input_from_log(log), targets)
                                            : judge_processes(log, targets);
  judgement.verdict.gc_checkpoints = gc_checkpoints_of(log);
  judgement.document = report::verdict_to_json(judgement.verdict);
  for (const auto& w : log.warnings) judgement.document["warnings"].push_back("log: " + w);
  if (auto load = load_of(log); !load.is_null()) judgement.document["load"] = std::move(load);
  if (outputs.verdict_json) {
    write_output(*outputs.verdict_json, judgement.document.dump(2) + "\n", "verdict", judgement);
  }
  if (outputs.report_html) {
    report::ReportInput in = report_input(log, judgement.verdict);
    in.load = judgement.document.value("load", nlohmann::ordered_json());
    write_output(*outputs.report_html, report::render_html(in), "report", judgement);
  }
  if (outputs.junit) {
    write_output(*outputs.junit,
                 report::render_junit(judgement.verdict, log.header, junit_mode(outputs)), "junit",
                 judgement);
  }
  return judgement;
}

std::string metric_of(const LabelledSeries& series, const std::optional<std::string>& as_metric) {
  if (as_metric) return *as_metric;
  for (const char* label : {"metric", "__name__"}) {
    if (const auto it = series.labels.find(label);
        it != series.labels.end() && !it->second.empty()) {
      return it->second;
    }
  }
  return "value";
}

namespace {

analysis::ProcessInput input_from_series(const LabelledSeries& series, const std::string& metric) {
  analysis::ProcessInput member;
  member.identity.name = metric;
  member.identity.labels = series.labels;
  member.input.series.push_back(analysis::SeriesView{metric, series.t, series.value});
  member.input.samples = series.t.size();
  member.input.duration_s = series.t.empty() ? 0.0 : series.t.back() - series.t.front();
  if (metric != metric::rss_bytes) member.input.judged_series = metric;
  return member;
}

}  // namespace

Judgement judge_series(const std::vector<LabelledSeries>& series,
                       const std::optional<std::string>& as_metric, const SeriesSource& source,
                       const JudgeOptions& options, const Outputs& outputs) {
  const analysis::Targets targets = load_targets(options);
  std::vector<analysis::ProcessInput> members;
  members.reserve(series.size());
  for (const auto& s : series) members.push_back(input_from_series(s, metric_of(s, as_metric)));
  Judgement judgement;
  judgement.verdict = analysis::analyze_group(members, targets);
  judgement.document = report::verdict_to_json(judgement.verdict);
  if (outputs.verdict_json) {
    write_output(*outputs.verdict_json, judgement.document.dump(2) + "\n", "verdict", judgement);
  }
  if (outputs.junit) {
    const nlohmann::json header = {{"target", {{"name", source.name}}},
                                   {"started_at", source.started_at}};
    write_output(*outputs.junit,
                 report::render_junit(judgement.verdict, header, junit_mode(outputs)), "junit",
                 judgement);
  }
  return judgement;
}

analysis::Verdict interim(const log::RunLog& log, const analysis::Targets& targets) {
  analysis::Verdict verdict = analysis::analyze(input_from_log(log), targets);
  verdict.gc_checkpoints = gc_checkpoints_of(log);
  return verdict;
}

}  // namespace soak::judge
