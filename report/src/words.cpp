#include "soak/report/words.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "soak/log/metrics.hpp"

namespace soak::report {

namespace {

using analysis::Check;
using analysis::CheckCode;
using analysis::Quantity;

template <typename... Args>
std::string printf_string(const char* format, Args... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, format, args...);
  return buf;
}

ByteFormat make_format(ByteSystem system, std::optional<int> power, bool shortest,
                       std::string_view per) {
  ByteFormat f;
  f.system = system;
  f.power = power;
  f.shortest = shortest;
  f.per = per;
  return f;
}

/// Largest prefix the value reaches in the system (B up to T).
int power_for(double bytes, ByteSystem system) {
  const double base = system == ByteSystem::binary ? 1024.0 : 1000.0;
  int power = 0;
  for (double a = std::fabs(bytes); a >= base && power < 4; a /= base) ++power;
  return power;
}

std::string_view per_of(Quantity quantity) {
  return quantity == Quantity::bytes_per_min ? "/min" : "";
}

/// A limit as the targets file wrote it, or as the default profile writes it (decimal, %g).
std::string written(const std::string& text, double value, Quantity quantity) {
  if (!text.empty()) return text;
  return format_bytes(value, make_format(ByteSystem::decimal, power_for(value, ByteSystem::decimal),
                                         true, per_of(quantity)));
}

/// The unit a byte check prints its measured value in: its target's.
ByteFormat unit_of(const Check& c) {
  if (auto written_format = byte_format_of(c.target_text)) {
    written_format->per = per_of(c.quantity);
    return *written_format;
  }
  const double target = c.target.value_or(0);
  return make_format(ByteSystem::decimal, power_for(target, ByteSystem::decimal), false,
                     per_of(c.quantity));
}

/// "7.34 MB/min [6.90, 7.80]": the interval's ends in the value's unit, without it.
std::string with_interval(double value, double low, double high, ByteFormat unit) {
  // One prefix for all three, from the widest of them: a zero estimate or a wide interval
  // keeps its ends readable.
  if (!unit.power) {
    unit.power =
        power_for(std::max({std::fabs(value), std::fabs(low), std::fabs(high)}), unit.system);
  }
  const std::string main = format_bytes(value, unit);
  unit.per = "";
  const auto number = [&unit](double x) {
    const std::string text = format_bytes(x, unit);
    return text.substr(0, text.find(' '));
  };
  return main + " [" + number(low) + ", " + number(high) + "]";
}

std::string percent(double fraction) {
  return printf_string("%g%%", fraction * 100);
}

std::string subject_of(const Check& c) {
  return c.metric == "rss_bytes" ? "RSS" : c.metric;
}

std::string seconds_rounded(double s) {
  return std::to_string(std::lround(s)) + " s";
}

std::string horizon_text(double horizon_s) {
  return printf_string("%g h", horizon_s / 3600);
}

CheckWords growth_words(const Check& c) {
  CheckWords w;
  w.target = written(c.target_text, c.target.value_or(0), c.quantity);
  if (c.acceptable) w.acceptable = written(c.acceptable_text, *c.acceptable, c.quantity);
  w.limit = w.target + (w.acceptable.empty() ? "" : " (acceptable " + w.acceptable + ")");
  const std::string reason = c.figures.reason ? describe_reason(*c.figures.reason) : "";
  if (c.code == CheckCode::insufficient_data) {
    w.measured = "insufficient data";
    w.detail = "too little data to judge growth (" + reason + ")";
    return w;
  }
  w.measured = with_interval(c.measured.value_or(0), c.measured_low.value_or(0),
                             c.measured_high.value_or(0), unit_of(c));
  const char* classification =
      c.figures.classification ? analysis::to_string(*c.figures.classification) : "";
  if (c.code == CheckCode::no_trend || c.code == CheckCode::stopped_growing ||
      c.code == CheckCode::interval_reaches_target || c.code == CheckCode::cannot_detect_target) {
    w.detail = subject_of(c) + " is " + classification + ": " + reason;
    const std::string detectable = c.figures.detectable_per_min
                                       ? format_bytes(*c.figures.detectable_per_min, unit_of(c))
                                       : std::string();
    if (c.code == CheckCode::interval_reaches_target) {
      w.detail += "; the interval still reaches the target " + w.target + " (run longer to decide)";
    } else if (c.code == CheckCode::cannot_detect_target) {
      w.detail += "; this run could detect only growth above " + detectable +
                  ", more than the target " + w.target + " (run longer to decide)";
    } else if (c.code == CheckCode::no_trend && !detectable.empty()) {
      w.detail += "; no growth above " + detectable + ", the smallest this run could detect";
    }
    return w;
  }
  w.detail = subject_of(c) + " grows " + w.measured;
  if (c.figures.warmup_end_s)
    w.detail += " after a " + seconds_rounded(*c.figures.warmup_end_s) + " warm-up";
  if (c.figures.onset_s) w.detail += " since " + seconds_rounded(*c.figures.onset_s);
  w.detail += "; target " + w.target;
  if (c.code == CheckCode::straddles_target) {
    w.detail += " (the interval straddles the target: run longer to decide)";
  }
  return w;
}

CheckWords size_words(const Check& c) {
  CheckWords w;
  w.target = written(c.target_text, c.target.value_or(0), c.quantity);
  if (c.acceptable) w.acceptable = written(c.acceptable_text, *c.acceptable, c.quantity);
  w.limit = w.target + (w.acceptable.empty() ? "" : " (acceptable " + w.acceptable + ")");
  // Sizes in the target's system by magnitude ("15.7 MB" within "1 GB"), not in its prefix.
  const ByteFormat unit = unit_of(c);
  w.measured =
      format_bytes(c.measured.value_or(0), make_format(unit.system, std::nullopt, false, ""));
  std::string what = "initial RSS";
  if (c.figures.horizon_s) what = "max RSS within " + horizon_text(*c.figures.horizon_s);
  w.detail = what + " " + w.measured +
             (c.status == analysis::CheckStatus::pass ? " is within " : " exceeds ") + w.target;
  if (c.figures.horizon_s && c.figures.run_shorter_than_horizon) {
    w.detail += " (the run is shorter than " + horizon_text(*c.figures.horizon_s) + ")";
  }
  return w;
}

CheckWords fraction_words(const Check& c, ByteSystem levels) {
  CheckWords w;
  const auto bytes = [levels](std::optional<double> v) {
    return format_bytes(v.value_or(0), make_format(levels, std::nullopt, false, ""));
  };
  const double fraction = c.measured.value_or(0);
  w.limit = w.target = percent(c.target.value_or(0));
  if (c.name == "return_to_baseline") {
    w.limit = w.target = "within " + percent(c.target.value_or(0));
    w.measured = printf_string("%+.1f%% (", fraction * 100) + bytes(c.figures.from) + " -> " +
                 bytes(c.figures.to) + ")";
    w.detail = "RSS at the end against RSS before the first job";
  } else if (c.name == "job_growth") {
    if (c.code == CheckCode::too_few_jobs) {
      w.measured = std::to_string(c.figures.jobs) + " job(s)";
      w.detail = "fewer than 3 finished jobs: cannot judge growth per job";
      return w;
    }
    w.measured = printf_string("%.1f%% over %zu jobs (", fraction * 100, c.figures.jobs) +
                 bytes(c.figures.from) + " -> " + bytes(c.figures.to) + ")";
    w.detail = printf_string("RSS after each job grew %.1f%% over %zu jobs (", fraction * 100,
                             c.figures.jobs) +
               bytes(c.figures.growth_per_job) + " per job)";
  } else {
    w.measured = printf_string("%.1f%%", fraction * 100);
    w.detail = "RSS went from " + bytes(c.figures.from) + " to " + bytes(c.figures.to) +
               (c.figures.after_warmup ? " after warm-up" : "");
  }
  return w;
}

CheckWords no_growth_words(const Check& c) {
  CheckWords w;
  w.limit = w.target =
      c.quantity == Quantity::count_per_min ? "no sustained growth" : "not classified as a leak";
  // In the metric's unit: "6.12 MiB -> 9.80 MiB (+1.20 MiB/min)", "12 -> 40 (+2.8/min)".
  const std::string name = c.metric.empty() ? std::string("value") : c.metric;
  const double rate = c.measured.value_or(0);
  w.measured = format_metric_value(name, c.figures.from.value_or(0)) + " -> " +
               format_metric_value(name, c.figures.to.value_or(0)) + " (" +
               (rate >= 0 ? "+" : "-") + format_metric_value(name, std::fabs(rate)) + "/min)";
  if (c.code == CheckCode::insufficient_data) {
    w.detail = "too little data";
  } else {
    w.detail = c.metric + " " +
               (c.figures.classification ? analysis::to_string(*c.figures.classification) : "") +
               ": " + (c.figures.reason ? describe_reason(*c.figures.reason) : "");
  }
  return w;
}

CheckWords ramp_words(const Check& c) {
  CheckWords w;
  if (c.figures.error_rate_limit) w.limit = "errors <= " + percent(*c.figures.error_rate_limit);
  if (c.figures.p95_limit_s) {
    w.limit +=
        printf_string("%sp95 <= %g ms", w.limit.empty() ? "" : ", ", *c.figures.p95_limit_s * 1000);
  }
  w.target = w.limit;
  if (c.code == CheckCode::held_every_level) {
    w.measured = printf_string("held up to level %g", c.measured.value_or(0));
    w.detail = "no level exceeded the limits";
    return w;
  }
  w.measured =
      printf_string("broke at level %g (t=%.0f s: %.1f%% errors, p95 %.0f ms)",
                    c.measured.value_or(0), c.figures.broke_at_s.value_or(0),
                    100 * c.figures.error_fraction.value_or(0), c.figures.worst_p95_ms.value_or(0));
  w.detail = w.measured + (c.code == CheckCode::broke_recovery_unknown
                               ? "; the load never dropped, so recovery is unknown"
                           : c.code == CheckCode::broke_and_recovered
                               ? "; recovered after the load dropped"
                               : "; did not recover after the load dropped");
  return w;
}

CheckWords no_leak_words(const Check& c) {
  CheckWords w;
  w.limit = "no metric classified as a leak (fail_on_any_leak)";
  w.target = "no leak";
  for (const auto& n : c.figures.leaking_metrics)
    w.measured += (w.measured.empty() ? "" : ", ") + n;
  if (w.measured.empty()) w.measured = "none";
  return w;
}

/// "1 min 5 s", "2 h 10 min", "40 s": a run's length as people say it.
std::string run_length(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  if (s < 60) return std::to_string(s) + " s";
  if (s < 3600) {
    return std::to_string(s / 60) + " min" + (s % 60 ? " " + std::to_string(s % 60) + " s" : "");
  }
  return std::to_string(s / 3600) + " h" +
         (s % 3600 / 60 ? " " + std::to_string(s % 3600 / 60) + " min" : "");
}

/// "signal 9 (SIGKILL)": the signals a dying service meets, by name.
std::string signal_text(int signal) {
  static constexpr std::pair<int, const char*> kNames[] = {
      {1, "SIGHUP"},   {2, "SIGINT"},   {3, "SIGQUIT"}, {4, "SIGILL"},   {6, "SIGABRT"},
      {7, "SIGBUS"},   {8, "SIGFPE"},   {9, "SIGKILL"}, {11, "SIGSEGV"}, {13, "SIGPIPE"},
      {15, "SIGTERM"}, {24, "SIGXCPU"}, {25, "SIGXFSZ"}};
  for (const auto& [number, name] : kNames) {
    if (number == signal) return "signal " + std::to_string(signal) + " (" + name + ")";
  }
  return "signal " + std::to_string(signal);
}

CheckWords target_words(const Check& c) {
  using analysis::CheckCode;
  CheckWords w;
  const double ran = c.measured.value_or(0);
  const auto& f = c.figures;
  w.limit = f.planned_s ? "alive until the planned end (" + run_length(*f.planned_s) + ")"
                        : "ends with code 0";
  w.target = f.planned_s ? run_length(*f.planned_s) : "exit code 0";
  std::string how;
  if (f.oom_killed) {
    how = "was killed by the kernel's OOM killer";
  } else if (f.signal) {
    how = "was killed by " + signal_text(*f.signal) +
          (*f.signal == 9 ? ", which is what an OOM kill looks like" : "");
  } else if (f.exit_code) {
    how = "exited with code " + std::to_string(*f.exit_code);
  } else {
    how = "vanished (an attached target's exit status cannot be seen)";
  }
  const std::string of_planned =
      f.planned_s ? ": it ran " + run_length(ran) + " of the planned " + run_length(*f.planned_s)
                  : "";
  switch (c.code) {
    case CheckCode::alive_to_end:
      w.measured = "alive at the end (" + run_length(ran) + ")";
      w.detail = "the target was alive when the run ended, after " + run_length(ran);
      break;
    case CheckCode::ended_normally:
      w.measured = "ended with code 0 after " + run_length(ran);
      w.detail = "the target ended normally (code 0) after " + run_length(ran);
      break;
    case CheckCode::died:
      w.measured = "ended after " + run_length(ran);
      w.detail = "the target " + how + " after " + run_length(ran) + of_planned;
      break;
    default:  // ended_early, vanished
      w.measured = "ended after " + run_length(ran);
      w.detail = "the target " + how + " before the planned end" + of_planned +
                 ", so this run cannot pass";
      break;
  }
  return w;
}

/// load_alive: how long the run was under its external load, and what became of the load.
CheckWords load_words(const Check& c) {
  CheckWords w;
  const double under = c.measured.value_or(0);
  const double planned = c.target.value_or(0);
  const std::string share =
      planned > 0 ? printf_string(" (%.0f%% of the run)", 100 * std::min(1.0, under / planned))
                  : "";
  w.limit = "the load alive until it ends by itself or the run ends";
  w.target = "alive";
  w.measured = "under load " + run_length(under) + share;
  switch (c.code) {
    case CheckCode::load_died:
      w.detail = "the load died after " + run_length(under) + " of the planned " +
                 run_length(planned) + share +
                 " (see the load_failed event and load.log), so this run cannot pass";
      break;
    case CheckCode::load_finished:
      w.detail = "the load ended by itself (code 0) after " + run_length(under) + share +
                 "; sampling went on without load";
      break;
    default:
      w.detail = "the load ran until the run ended, " + run_length(under) + share;
      break;
  }
  return w;
}

}  // namespace

Units units_of(const analysis::Verdict& verdict) {
  Units units;
  units.rate = make_format(ByteSystem::decimal, 2, false, "/min");  // the default profile's MB/min
  for (const Check& c : verdict.checks) {
    if (c.quantity != Quantity::bytes_per_min || c.metric != verdict.judged_metric) continue;
    units.rate = unit_of(c);
    units.levels = units.rate.system;
  }
  return units;
}

CheckWords describe_check(const Check& c, const Units& units) {
  switch (c.quantity) {
    case Quantity::bytes_per_min:
      return growth_words(c);
    case Quantity::bytes:
      return size_words(c);
    case Quantity::fraction:
      return fraction_words(c, units.levels);
    case Quantity::count_per_min:
    case Quantity::value_per_min:
      return no_growth_words(c);
    case Quantity::level:
      return ramp_words(c);
    case Quantity::count:
      return no_leak_words(c);
    case Quantity::seconds:
      return c.name == "load_alive" ? load_words(c) : target_words(c);
  }
  return {};
}

std::string describe_reason(const analysis::ClassifyReason& r) {
  using analysis::ReasonCode;
  switch (r.code) {
    case ReasonCode::constant:
      return "constant";
    case ReasonCode::too_few_points:
      return "only " + std::to_string(r.points) + " points";
    case ReasonCode::too_short:
      return printf_string("only %.1f s of data (at least %.0f s are needed)", r.span_s,
                           r.required_span_s);
    case ReasonCode::too_few_after_warmup:
      return "too few points after the warm-up";
    case ReasonCode::new_highs:
      return std::to_string(r.new_highs) + " new highs, the last at " +
             std::to_string(static_cast<long>(r.last_new_high_s)) + " s";
    case ReasonCode::sustained_growth:
      return "sustained growth to the end";
    case ReasonCode::floor_rising:
      return "the sawtooth's floor keeps rising";
    case ReasonCode::levelled_off:
      return "grew, then levelled off";
    case ReasonCode::falls_steadily:
      return "falls steadily";
    case ReasonCode::returns_to_floor:
      return "returns to the same floor after each of " + std::to_string(r.drops) + " drops";
    case ReasonCode::warmup_then_steady:
      return "rose during warm-up, steady after";
    case ReasonCode::one_off_step:
      return "a one-off step, flat after";
    case ReasonCode::no_trend:
      return "no significant trend";
    case ReasonCode::wander:
      return "it wanders, but no more than noise without a trend would";
    case ReasonCode::below_effect_floor:
      return "grows steadily, but under the rate a leak must reach to matter";
    case ReasonCode::follows_load:
      return "grows with the offered load, not with time";
    case ReasonCode::heap_not_growing:
      return "rose ever slower while the managed heap did not grow: the runtime filling its heap";
  }
  return {};
}

std::string gc_checkpoints_text(const analysis::GcCheckpointTotals& totals) {
  char text[160];
  std::snprintf(text, sizeof text, "GC checkpoints: %zu made, %zu failed, %.2f s in the actions",
                totals.count, totals.failed, totals.pause_s);
  return text;
}

std::string format_rate(const analysis::Verdict& verdict, const std::string& metric, double per_min,
                        const Units& units) {
  if (!log::metric::base_of(metric).ends_with("_bytes")) {
    return format_metric_value(metric, per_min) + "/min";
  }
  if (metric == verdict.judged_metric) return format_bytes(per_min, units.rate);
  return format_bytes(per_min, make_format(units.levels, std::nullopt, false, "/min"));
}

std::string format_growth(const analysis::Verdict& verdict, const std::string& metric,
                          double per_min, double low_per_min, double high_per_min,
                          const Units& units) {
  if (!log::metric::base_of(metric).ends_with("_bytes")) {
    return format_metric_value(metric, per_min) + "/min [" +
           format_metric_value(metric, low_per_min) + ", " +
           format_metric_value(metric, high_per_min) + "]";
  }
  const ByteFormat unit = metric == verdict.judged_metric
                              ? units.rate
                              : make_format(units.levels, std::nullopt, false, "/min");
  return with_interval(per_min, low_per_min, high_per_min, unit);
}

std::string describe_finding(const analysis::Finding& f, const analysis::Verdict& verdict,
                             const Units& units) {
  using analysis::FindingCode;
  switch (f.code) {
    case FindingCode::slow_growth:
      return f.metric + " grows steadily but under the effect-size floor (not a leak): " +
             format_growth(verdict, f.metric, f.growth_per_min, f.low_per_min, f.high_per_min,
                           units);
    case FindingCode::slow_leak:
      return f.metric + " is classified as a leak: " +
             format_growth(verdict, f.metric, f.growth_per_min, f.low_per_min, f.high_per_min,
                           units);
    case FindingCode::cgroup_growth:
      return f.metric +
             " grows (the target's cgroup, which may hold other processes too; not "
             "judged as the target's leak): " +
             format_growth(verdict, f.metric, f.growth_per_min, f.low_per_min, f.high_per_min,
                           units);
    case FindingCode::no_rss_series:
      return "no RSS series: nothing to judge memory by";
    case FindingCode::judged_series_missing:
      return "no classifiable series " + f.metric + ": nothing to judge by";
    case FindingCode::not_enough_evidence:
      return "not enough evidence to pass: a longer run or more samples would decide";
    case FindingCode::no_processes:
      return "no processes to judge";
    case FindingCode::small_judged_share:
      return printf_string(
          "%s was sampled over only %.0f%% of the run (%.0f gaps, %.0f s unsampled): the growth "
          "is judged across the gaps, on what was seen",
          f.metric.c_str(), 100 * f.growth_per_min, f.low_per_min, f.high_per_min);
  }
  return {};
}

namespace {

/// The checks in the order they decide a verdict: failures, then inconclusive ones, the
/// target's fate first in each (a dead service says nothing about its memory that matters more).
std::vector<const analysis::Check*> deciding_checks(const analysis::Verdict& verdict) {
  std::vector<const analysis::Check*> ordered;
  for (const auto wanted : {analysis::CheckStatus::fail, analysis::CheckStatus::inconclusive}) {
    for (const bool alive_check : {true, false}) {
      for (const auto& c : verdict.checks) {
        if (c.status == wanted && (c.name == "target_alive") == alive_check) ordered.push_back(&c);
      }
    }
    if (!ordered.empty()) break;
  }
  return ordered;
}

std::string capitalized(std::string text) {
  if (!text.empty()) {
    text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  }
  return text;
}

/// Why a verdict without a deciding check is what it is.
std::string undecided_sentence(const analysis::Verdict& verdict, const Units& units) {
  if (verdict.verdict == analysis::VerdictKind::pass) {
    if (const auto* judged = verdict.find(verdict.judged_metric); judged && judged->analysis) {
      const std::string subject = judged->name == "rss_bytes" ? "RSS" : judged->name;
      return subject + " is " + analysis::to_string(judged->analysis->classification) + " (" +
             describe_reason(judged->analysis->reason) + "); every check is within its target.";
    }
    return "Every check is within its target.";
  }
  return verdict.notes.empty() ? std::string()
                               : describe_finding(verdict.notes.front(), verdict, units) + ".";
}

}  // namespace

std::string summary_sentence(const analysis::Verdict& verdict) {
  if (!verdict.processes.empty()) {
    std::size_t failing = 0, undecided = 0;
    const analysis::ProcessVerdict* first = nullptr;
    for (const auto& p : verdict.processes) {
      failing += p.verdict.verdict == analysis::VerdictKind::fail;
      undecided += p.verdict.verdict == analysis::VerdictKind::inconclusive;
      if (first == nullptr && p.verdict.verdict == verdict.verdict) first = &p;
    }
    const std::size_t n = verdict.processes.size();
    std::string head =
        verdict.verdict == analysis::VerdictKind::fail
            ? std::to_string(failing) + " of " + std::to_string(n) + " fail"
        : verdict.verdict == analysis::VerdictKind::inconclusive
            ? std::to_string(undecided) + " of " + std::to_string(n) + " are inconclusive"
            : "all " + std::to_string(n) + " pass";
    if (first == nullptr || verdict.verdict == analysis::VerdictKind::pass) {
      return capitalized(head) + ".";
    }
    const std::string who =
        first->identity.name.empty() ? std::string("the first") : first->identity.name;
    return capitalized(head) + "; " + who + ": " + summary_sentence(first->verdict);
  }
  const std::vector<const analysis::Check*> deciding = deciding_checks(verdict);
  const Units units = units_of(verdict);
  if (deciding.empty()) return undecided_sentence(verdict, units);
  return capitalized(describe_check(*deciding.front(), units).detail) + ".";
}

std::string verdict_sentence(const analysis::Verdict& verdict) {
  const Units units = units_of(verdict);
  std::string sentence;
  for (const analysis::Check* c : deciding_checks(verdict)) {
    if (!sentence.empty()) sentence += ". ";
    sentence += describe_check(*c, units).detail;
  }
  if (!sentence.empty()) return capitalized(sentence) + ".";
  return undecided_sentence(verdict, units);
}

std::string ramp_sentence(const analysis::Verdict& verdict) {
  for (const auto& c : verdict.checks) {
    if (c.name != "breaking_point") continue;
    const CheckWords w = ramp_words(c);
    return capitalized(c.code == CheckCode::held_every_level ? w.measured + ": " + w.detail
                                                             : w.detail) +
           ".";
  }
  return {};
}

std::string escape_terminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto byte = static_cast<unsigned char>(ch);
    if (byte < 0x20 || byte == 0x7f) {
      out += printf_string("\\x%02x", static_cast<unsigned>(byte));
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace soak::report
