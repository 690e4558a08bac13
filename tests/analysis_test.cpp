// soak::analysis: estimators against hand-computed values and scipy, targets parsing, and
// recorded real traces. The labelled corpus has its own test (corpus_test.cpp).

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>

#include "reference/reference.hpp"
#include "soak/analysis/classify.hpp"
#include "soak/analysis/stats.hpp"
#include "soak/analysis/stop_rule.hpp"
#include "soak/analysis/targets.hpp"
#include "soak/analysis/theil_sen.hpp"
#include "soak/analysis/verdict.hpp"
#include "soak/log/log.hpp"
#include "support.hpp"

using namespace soak::analysis;
using namespace soak::test;

TEST_CASE("Theil-Sen and OLS match hand-computed values") {
  // Points (0,0) (1,1) (2,4) (3,9): pairwise slopes 1,2,3,3,4,5 -> median (3+3)/2 = 3.
  const std::vector<double> t{0, 1, 2, 3}, y{0, 1, 4, 9};
  CHECK(theil_sen_slope(t, y) == 3.0);
  CHECK(kth_pairwise_slope(t, y, 0) == 1.0);
  CHECK(kth_pairwise_slope(t, y, 5) == 5.0);
  CHECK(count_slopes_below(t, y, 3.0) == 2);
  CHECK(count_slopes_at_most(t, y, 3.0) == 4);
  // OLS: slope = cov/var = 3, intercept = 3.5 - 3*1.5 = -1.
  const detail::LinearFit fit = detail::linregress(t, y);
  CHECK(fit.slope == Approx(3.0));
  CHECK(fit.intercept == Approx(-1.0));
  // Mann-Kendall S for a strictly rising series of n points is n(n-1)/2.
  const MannKendall mk = mann_kendall_hamed_rao(t, y, 0);
  CHECK(mk.s == 6);
  CHECK(mk.var_s == Approx(4.0 * 3 * 13 / 18));
}

TEST_CASE("exact Theil-Sen equals the naive all-pairs median on random and tied data") {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> gauss(0, 1);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 2 + trial % 300;
    std::vector<double> t(n), y(n);
    double time = 0;
    for (int i = 0; i < n; ++i) {
      time += 0.5 + std::fabs(gauss(rng));  // irregular sampling
      t[i] = time;
      y[i] = trial % 4 == 0 ? std::floor(2 * gauss(rng))  // integer data: many tied slopes
                            : 0.3 * time + 10 * gauss(rng);
    }
    INFO("trial " << trial << " n " << n);
    CHECK(theil_sen_slope(t, y) == detail::theil_sen_slope_naive(t, y));
  }
}

TEST_CASE("exact Theil-Sen at n = 8,000 equals the naive median") {
  // 3.2e7 slopes for the naive form, past the enumeration cap, so the bracketing rounds run
  // (the naive form would need 28 GiB at n = 86,400: the point of the
  // exact selection). Strongly autocorrelated noise on a trend.
  std::mt19937_64 rng(11);
  std::normal_distribution<double> gauss(0, 1);
  const int n = 8000;
  std::vector<double> t(n), y(n);
  double ar = 0;
  for (int i = 0; i < n; ++i) {
    ar = 0.95 * ar + gauss(rng);
    t[i] = i;
    y[i] = 5e8 + 1200.0 * i + 2e5 * ar;
  }
  CHECK(theil_sen_slope(t, y) == detail::theil_sen_slope_naive(t, y));
}

namespace {

/// Runs python3 + scipy (a test-only reference) on a data file and returns its JSON answer.
nlohmann::json scipy_reference(const std::vector<double>& t, const std::vector<double>& y) {
  TempDir dir;
  {
    std::ofstream data(dir / "data.txt");
    data.precision(17);
    for (std::size_t i = 0; i < t.size(); ++i) data << t[i] << ' ' << y[i] << '\n';
  }
  std::ofstream(dir / "ref.py")
      << "import json,sys\nfrom scipy import stats\nimport numpy as np\n"
         "d=np.loadtxt(sys.argv[1]); t=d[:,0]; y=d[:,1]\n"
         "lr=stats.linregress(t,y); ts=stats.theilslopes(y,t)\n"
         "kt=stats.kendalltau(t,y,method='asymptotic')\n"
         "print(json.dumps({'slope':lr.slope,'intercept':lr.intercept,'r':lr.rvalue,"
         "'p':lr.pvalue,'stderr':lr.stderr,'ts':ts[0],'tau':kt.correlation,"
         "'tau_p':kt.pvalue}))\n";
  Child py({"/usr/bin/python3", (dir / "ref.py").string(), (dir / "data.txt").string()});
  const auto code = py.wait_for(60s);
  if (!code || *code != 0) throw std::runtime_error("scipy reference failed: " + py.err());
  return nlohmann::json::parse(py.out());
}

}  // namespace

TEST_CASE("estimators agree with scipy's linregress, theilslopes and kendalltau") {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> gauss(0, 1);
  for (int trial = 0; trial < 3; ++trial) {
    const int n = 400 + 300 * trial;
    std::vector<double> t(n), y(n);
    for (int i = 0; i < n; ++i) {
      t[i] = i * 1.5;
      y[i] = trial == 2 ? std::round(3 * gauss(rng)) : 1e6 + 500.0 * i * trial + 2e4 * gauss(rng);
    }
    const nlohmann::json ref = scipy_reference(t, y);
    INFO("trial " << trial << " scipy " << ref.dump());
    const detail::LinearFit fit = detail::linregress(t, y);
    // Same formulas in double precision: agreement to ~1e-9 relative.
    CHECK(fit.slope == Approx(ref["slope"].get<double>()).epsilon(1e-9).margin(1e-9));
    CHECK(fit.intercept == Approx(ref["intercept"].get<double>()).epsilon(1e-9));
    CHECK(fit.r_value == Approx(ref["r"].get<double>()).epsilon(1e-9).margin(1e-12));
    CHECK(fit.stderr_slope == Approx(ref["stderr"].get<double>()).epsilon(1e-9));
    // p-values through different special-function code: 1e-6 relative.
    CHECK(fit.p_value == Approx(ref["p"].get<double>()).epsilon(1e-6).margin(1e-12));
    CHECK(theil_sen_slope(t, y) == Approx(ref["ts"].get<double>()).epsilon(1e-12).margin(1e-12));
    const detail::KendallTau kt = detail::kendall_tau(t, y);
    CHECK(kt.tau == Approx(ref["tau"].get<double>()).epsilon(1e-12).margin(1e-12));
    CHECK(kt.p_value == Approx(ref["tau_p"].get<double>()).epsilon(1e-9).margin(1e-12));
  }
}

TEST_CASE("Hamed-Rao widens the trend test on autocorrelated noise, not on white noise") {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> gauss(0, 1);
  std::vector<double> t(400), white(400), red(400);
  double ar = 0;
  for (int i = 0; i < 400; ++i) {
    t[i] = i;
    white[i] = gauss(rng);
    ar = 0.95 * ar + gauss(rng);
    red[i] = ar;
  }
  const MannKendall w = mann_kendall_hamed_rao(t, white, 0);
  const MannKendall r = mann_kendall_hamed_rao(t, red, 0);
  CHECK(w.correction < 1.5);  // white noise: little or no inflation
  CHECK(r.correction > 5);    // AR(1) 0.95: (1+phi)/(1-phi) = 39 in theory, fewer lags significant
}

TEST_CASE("a series whose span overflows a double is too short to judge, never binned") {
  // t from -1e308 to 1e308: the span is inf, the bin width inf, the last point's bin NaN, which
  // was cast to size_t (UB) in bin_median and in sets_robust_high.
  std::vector<double> t, y;
  const int n = 600;
  for (int i = 0; i < n; ++i) {
    t.push_back(i == 0 ? -1e308 : i == n - 1 ? 1e308 : (i - n / 2) * 1e300);
    y.push_back(1e6 + i * 1000.0);
  }
  const SeriesAnalysis a = classify_series(t, y, ClassifyOptions{});
  CHECK(a.reason.code == ReasonCode::too_short);
  CHECK(a.classification == Classification::insufficient);
}

TEST_CASE("integer series: a staircase of new fds is a leak, a pool that filled once is not") {
  std::vector<double> t, leak, pool;
  for (int i = 0; i <= 1800; ++i) {
    t.push_back(i * 2.0);
    leak.push_back(10 + std::floor(i / 150.0));                // +1 fd every 5 minutes
    pool.push_back(10 + std::min(8.0, std::floor(i / 20.0)));  // grows to 18 in 5 min, stays
  }
  ClassifyOptions options;
  options.integer_valued = true;
  CHECK(classify_series(t, leak, options).classification == Classification::leak);
  const auto p = classify_series(t, pool, options).classification;
  CHECK(p != Classification::leak);
}

TEST_CASE("targets parse strictly, with the field named in every error") {
  const Targets t = parse_targets(nlohmann::json::parse(R"({
      "rss_growth": {"target": "2 MiB/min", "acceptable": "300 MB/h"},
      "initial_rss": "256 MiB", "memory_growth": "10%", "fail_on_any_leak": true,
      "warmup": "5m"})"));
  CHECK(t.rss_growth_bytes_per_min.target == 2.0 * 1048576);
  CHECK(*t.rss_growth_bytes_per_min.acceptable == Approx(5e6));
  CHECK(t.initial_rss_bytes.target == 256.0 * 1048576);
  CHECK(t.memory_growth_fraction == Approx(0.10));
  CHECK(t.fail_on_any_leak);
  CHECK(*t.warmup_s == 300);
  CHECK(t.max_rss_1h_bytes.target == 1e9);  // untouched defaults stay
  CHECK_THROWS_WITH(parse_targets(nlohmann::json::parse(R"({"rss_growht": "5 MB/min"})")),
                    Catch::Contains("unknown key \"rss_growht\""));
  CHECK_THROWS_WITH(parse_targets(nlohmann::json::parse(R"({"initial_rss": "500"})")),
                    Catch::Contains("initial_rss: expected a size with a unit"));
  CHECK_THROWS_WITH(parse_targets(nlohmann::json::parse(R"({"rss_growth": "5 MB"})")),
                    Catch::Contains("rss_growth: expected a rate"));
  CHECK_THROWS_WITH(parse_targets(nlohmann::json::parse(R"({"memory_growth": "0.2"})")),
                    Catch::Contains("memory_growth: expected a percentage"));
  CHECK_THROWS_WITH(
      parse_targets(nlohmann::json::parse(R"({"rss_growth": {"target": "5 mb/min"}})")),
      Catch::Contains("rss_growth.target"));
}

TEST_CASE("a fast leak fails the growth check, a slow one warns, or fails when asked") {
  std::vector<double> t, fast, slow;
  for (int i = 0; i <= 1800; ++i) {
    t.push_back(i * 2.0);
    fast.push_back(200e6 + 8e6 / 60 * t.back() + 1e5 * std::sin(i));    // 8 MB/min
    slow.push_back(200e6 + 0.5e6 / 60 * t.back() + 1e5 * std::sin(i));  // 0.5 MB/min
  }
  RunInput in;
  in.samples = t.size();
  in.duration_s = t.back();
  in.series = {{"rss_bytes", t, fast}};
  Verdict v = analyze(in);
  CHECK(v.verdict == VerdictKind::fail);
  REQUIRE(v.checks.front().name == "rss_growth");
  CHECK(v.checks.front().status == CheckStatus::fail);
  CHECK(v.checks.front().tier == Tier::acceptable);
  // 8 MB/min is 7.63 MiB/min; the check carries it in bytes per minute with its interval.
  CHECK(v.checks.front().quantity == Quantity::bytes_per_min);
  CHECK(v.checks.front().code == CheckCode::grows_over_target);
  REQUIRE(v.checks.front().measured);
  CHECK(*v.checks.front().measured / 1048576 == Approx(7.63).margin(0.005));
  CHECK(*v.checks.front().measured_low <= *v.checks.front().measured);
  CHECK(*v.checks.front().measured <= *v.checks.front().measured_high);
  CHECK(*v.checks.front().target == 5e6);

  in.series = {{"rss_bytes", t, slow}};
  Targets lenient;
  lenient.memory_growth_fraction = 1.0;
  v = analyze(in, lenient);
  CHECK(v.verdict == VerdictKind::pass);
  REQUIRE(v.warnings.size() == 1);
  CHECK(v.warnings[0].code == FindingCode::slow_leak);
  CHECK(v.warnings[0].metric == "rss_bytes");
  CHECK(v.warnings[0].growth_per_min == Approx(0.5e6).epsilon(0.05));
  lenient.fail_on_any_leak = true;
  CHECK(analyze(in, lenient).verdict == VerdictKind::fail);
}

TEST_CASE("a run too short to decide is inconclusive, never a guessed pass") {
  std::vector<double> t, y;
  for (int i = 0; i < 20; ++i) {
    t.push_back(i);
    y.push_back(100e6);
  }
  RunInput in;
  in.samples = 20;
  in.duration_s = 19;
  in.series = {{"rss_bytes", t, y}};
  const Verdict v = analyze(in);
  CHECK(v.verdict == VerdictKind::inconclusive);
  CHECK(v.find("rss_bytes")->analysis->classification == Classification::insufficient);
  CHECK(v.checks.front().code == CheckCode::insufficient_data);
  // 20 points over 19 s: enough points, too short a span; the reason carries both figures.
  const ClassifyReason& why = v.find("rss_bytes")->analysis->reason;
  CHECK(why.code == ReasonCode::too_short);
  CHECK(why.span_s == 19);
  CHECK(why.required_span_s == 30);
}

namespace {

Verdict analyze_trace(const std::string& file) {
  const auto log = soak::log::read_run_log(data_dir() / file);
  RunInput in;
  in.samples = log.samples;
  in.duration_s = log.last_t - log.first_t;
  for (const auto& [name, s] : log.series) in.series.push_back({name, s.t, s.value});
  return analyze(in);
}

}  // namespace

TEST_CASE("recorded trace: the leaky example (2 MiB/min, an fd every 50 s) is a leak") {
  // Captured with `soak attach` for 6 minutes at 1 s from
  // soak-example-leaky --leak-mib-per-min 2 --fd-leak-per-s 0.02.
  const Verdict v = analyze_trace("trace_leaky.ndjson");
  const auto* rss = v.find("rss_bytes");
  REQUIRE(rss);
  CHECK(to_string(rss->analysis->classification) == std::string("leak"));
  CHECK(rss->growth_per_min() / 1048576 == Approx(2.0).epsilon(0.05));
  CHECK(to_string(v.find("fds")->analysis->classification) == std::string("leak"));
  CHECK(to_string(v.find("threads")->analysis->classification) == std::string("steady"));
  CHECK(v.verdict == VerdictKind::fail);
}

TEST_CASE("recorded trace: a cache that fills to its cap is a plateau, an idle process is steady") {
  // soak-example-leaky --hold-mib 10 --leak-mib-per-min 10 --leak-cap-mib 12 for 4 minutes,
  // and --hold-mib 20 --threads 2 for 2 minutes, both captured with `soak attach` at 1 s.
  const Verdict plateau = analyze_trace("trace_plateau.ndjson");
  CHECK(to_string(plateau.find("rss_bytes")->analysis->classification) == std::string("plateau"));
  const Verdict flat = analyze_trace("trace_flat.ndjson");
  CHECK(to_string(flat.find("rss_bytes")->analysis->classification) == std::string("steady"));
  CHECK(flat.verdict == VerdictKind::pass);
}

TEST_CASE("recorded trace: the healthy example with allocator churn is a sawtooth, not a leak") {
  // Captured with `soak attach` for 6 minutes at 1 s from
  // soak-example-leaky --hold-mib 30 --threads 3 --churn-mib 40 --churn-period 40.
  const Verdict v = analyze_trace("trace_healthy_churn.ndjson");
  const auto* rss = v.find("rss_bytes");
  REQUIRE(rss);
  CHECK(to_string(rss->analysis->classification) == std::string("sawtooth"));
  CHECK(to_string(v.find("fds")->analysis->classification) == std::string("steady"));
  CHECK(to_string(v.find("threads")->analysis->classification) == std::string("steady"));
  CHECK(v.verdict == VerdictKind::pass);
}

namespace {

/// 1 h at 2 s of a series growing `per_min` units per minute, with a little noise.
struct Ramp {
  std::vector<double> t, y;
  Ramp(double start, double per_min, bool integer = false) {
    for (int i = 0; i <= 1800; ++i) {
      t.push_back(i * 2.0);
      const double v = start + per_min / 60 * t.back();
      y.push_back(integer ? std::floor(v) : v + 1e-3 * start * std::sin(i));
    }
  }
};

RunInput judged_input(const std::string& name, const Ramp& ramp) {
  RunInput in;
  in.samples = ramp.t.size();
  in.duration_s = ramp.t.back();
  in.series = {{name, ramp.t, ramp.y}};
  in.judged_series = name;
  return in;
}

}  // namespace

TEST_CASE("a judged series is checked in its own unit, RSS-level checks only for rss_bytes") {
  // Bytes: against the rss_growth tiers, and none of the RSS size checks.
  const Ramp bytes(200e6, 8e6);
  Verdict v = analyze(judged_input("heap_used_bytes", bytes));
  CHECK(v.judged_metric == "heap_used_bytes");
  REQUIRE(v.checks.size() == 1);
  CHECK(v.checks[0].name == "heap_used_bytes_growth");
  CHECK(v.checks[0].quantity == Quantity::bytes_per_min);
  CHECK(v.checks[0].status == CheckStatus::fail);
  CHECK(*v.checks[0].measured == Approx(8e6).epsilon(0.02));
  CHECK(v.verdict == VerdictKind::fail);
  CHECK(v.find_check("initial_rss") == nullptr);
  CHECK(v.find_check("memory_growth") == nullptr);

  // A count: no sustained growth.
  const Ramp count(10, 0.2, true);
  v = analyze(judged_input("handles", count));
  REQUIRE(v.checks.size() == 1);
  CHECK(v.checks[0].name == "handles_growth");
  CHECK(v.checks[0].quantity == Quantity::count_per_min);
  CHECK(v.checks[0].code == CheckCode::sustained_growth);
  CHECK(v.verdict == VerdictKind::fail);

  // Neither: not classified as a leak; a flat one passes, where a log without RSS stays
  // inconclusive.
  const Ramp flat(0.5, 0);
  v = analyze(judged_input("queue_depth_ratio", flat));
  REQUIRE(v.checks.size() == 1);
  CHECK(v.checks[0].quantity == Quantity::value_per_min);
  CHECK(v.checks[0].code == CheckCode::no_sustained_growth);
  CHECK(v.verdict == VerdictKind::pass);
  RunInput unjudged = judged_input("queue_depth_ratio", flat);
  unjudged.judged_series.reset();
  v = analyze(unjudged);
  CHECK(v.verdict == VerdictKind::inconclusive);
  REQUIRE_FALSE(v.notes.empty());
  CHECK(v.notes.front().code == FindingCode::no_rss_series);

  // A judged series that is not there: inconclusive, with a note naming it.
  RunInput missing = judged_input("queue_depth_ratio", flat);
  missing.judged_series = "absent_bytes";
  v = analyze(missing);
  CHECK(v.verdict == VerdictKind::inconclusive);
  CHECK(v.notes.front().code == FindingCode::judged_series_missing);
  CHECK(v.notes.front().metric == "absent_bytes");
}

TEST_CASE("a group judges each member as analyze() does, and any failure fails the group") {
  const Ramp leaking(200e6, 8e6), flat(200e6, 0);
  RunInput leak_in;
  leak_in.samples = leaking.t.size();
  leak_in.duration_s = leaking.t.back();
  leak_in.series = {{"rss_bytes", leaking.t, leaking.y}};
  RunInput flat_in = leak_in;
  flat_in.series = {{"rss_bytes", flat.t, flat.y}};

  // A group of one is its member's verdict, check for check.
  const Verdict alone = analyze(leak_in);
  const Verdict one =
      analyze_group({{{.pid = 42, .name = "srv", .cmdline = {"./srv"}, .labels = {}}, leak_in}});
  REQUIRE(one.processes.size() == 1);
  const Verdict& member = one.processes[0].verdict;
  CHECK(one.verdict == alone.verdict);
  CHECK(member.verdict == alone.verdict);
  REQUIRE(member.checks.size() == alone.checks.size());
  for (std::size_t i = 0; i < alone.checks.size(); ++i) {
    INFO(alone.checks[i].name);
    CHECK(member.checks[i].name == alone.checks[i].name);
    CHECK(member.checks[i].status == alone.checks[i].status);
    CHECK(member.checks[i].code == alone.checks[i].code);
    CHECK(member.checks[i].measured == alone.checks[i].measured);
  }
  REQUIRE(member.metrics.size() == alone.metrics.size());
  CHECK(member.metrics[0].growth_per_min() == alone.metrics[0].growth_per_min());
  CHECK(one.processes[0].identity.pid == 42);

  ProcessInput a{{.pid = 1, .name = "a", .cmdline = {}, .labels = {{"job", "api"}}}, flat_in};
  ProcessInput b{{.pid = 2, .name = "b", .cmdline = {}, .labels = {}}, leak_in};
  CHECK(analyze_group({a}).verdict == VerdictKind::pass);
  CHECK(analyze_group({a, b}).verdict == VerdictKind::fail);
  RunInput empty;
  ProcessInput c{{.pid = 3, .name = "c", .cmdline = {}, .labels = {}}, empty};
  CHECK(analyze_group({a, c}).verdict == VerdictKind::inconclusive);
  const Verdict none = analyze_group({});
  CHECK(none.verdict == VerdictKind::inconclusive);
  CHECK(none.notes.front().code == FindingCode::no_processes);
}

namespace {

/// One hour at 1 s: `memory(t, load)` under a load that `load(t)` gives, with 0.3 MB of noise.
struct LoadRun {
  std::vector<double> t, rss, rps;
  RunInput input() const {
    RunInput in;
    in.samples = t.size();
    in.duration_s = t.back();
    in.series = {{"rss_bytes", t, rss}};
    in.load_sent_rps = SeriesView{"load.sent_rps", t, rps};
    return in;
  }
};

template <typename Load, typename Memory>
LoadRun load_run(Load load, Memory memory, std::uint64_t seed) {
  LoadRun run;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 0.3e6);
  for (int i = 0; i <= 3600; ++i) {
    const double t = i;
    run.t.push_back(t);
    run.rps.push_back(load(t));
    run.rss.push_back(memory(t, load(t)) + noise(rng));
  }
  return run;
}

}  // namespace

TEST_CASE("growth that follows the offered load is load_driven, a leak that outgrows it is not") {
  // A stress ramp: 10, 20, ... 60 requests per second in ten-minute steps, each in-flight
  // request holding 1 MB of buffers. Memory rises for the whole hour, in step with the load.
  const auto ramp = [](double t) { return 10.0 * (1 + std::floor(t / 600)); };
  const auto buffers = [](double, double rps) { return 150e6 + 1e6 * rps; };
  for (const std::uint64_t seed : {1u, 2u, 3u}) {  // 3: held out
    const LoadRun driven = load_run(ramp, buffers, seed);
    const Verdict v = analyze(driven.input());
    const SeriesAnalysis& a = *v.find("rss_bytes")->analysis;
    CHECK(to_string(a.classification) == std::string("load_driven"));
    CHECK(a.reason.code == ReasonCode::follows_load);
    // Without the load figures the same series is a leak: the load is what explains it.
    RunInput blind = driven.input();
    blind.load_sent_rps.reset();
    CHECK(analyze(blind).find("rss_bytes")->analysis->classification == Classification::leak);
  }
  // The load goes up and back down, and memory keeps 2 MB/min on top of it: a leak.
  const auto up_down = [](double t) { return t < 1800 ? 10 + t / 60 : 70 - t / 60; };
  const auto leaking = [](double t, double rps) { return 150e6 + 1e6 * rps + 2e6 / 60 * t; };
  const Verdict v = analyze(load_run(up_down, leaking, 4).input());
  CHECK(v.find("rss_bytes")->analysis->classification == Classification::leak);
  // Under a constant load, a leak is a leak whatever the load series says.
  const auto constant = [](double) { return 25.0; };
  const Verdict c = analyze(load_run(constant, leaking, 5).input());
  CHECK(c.find("rss_bytes")->analysis->classification == Classification::leak);
}

TEST_CASE("significant growth under the effect-size floor is slow_growth, stated with its floor") {
  // 200 MB growing 0.125 MiB over an hour, with almost no noise: significant, but under both
  // the quarter MiB over the window and 0.5 % of the level per day.
  std::vector<double> t, y;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0, 2e3);
  for (int i = 0; i <= 3600; ++i) {
    t.push_back(i);
    y.push_back(200e6 + 0.125 * 1048576 / 3600 * i + noise(rng));
  }
  RunInput in;
  in.samples = t.size();
  in.duration_s = t.back();
  in.series = {{"rss_bytes", t, y}};
  const Verdict v = analyze(in);
  const SeriesAnalysis& a = *v.find("rss_bytes")->analysis;
  CHECK(to_string(a.classification) == std::string("slow_growth"));
  CHECK(a.trend_p_value < 1e-6);
  // The floor here is the amount (a quarter MiB over the hour), over 0.5 %/day of 200 MB.
  CHECK(a.effect_floor_per_s == Approx(262144.0 / 3600).epsilon(0.02));
  CHECK(a.detectable_growth_per_s >= a.effect_floor_per_s);
  CHECK(v.verdict == VerdictKind::pass);
  CHECK(v.warnings.empty());  // not a leak: no leak warning
  REQUIRE(v.notes.size() == 1);
  CHECK(v.notes[0].code == FindingCode::slow_growth);
  // Eight times faster (1 MiB over the hour) it is a leak.
  for (std::size_t i = 0; i < y.size(); ++i) y[i] += 0.875 * 1048576 / 3600 * t[i];
  CHECK(analyze(in).find("rss_bytes")->analysis->classification == Classification::leak);
}

TEST_CASE("a run that could not have seen growth at the target's rate is inconclusive") {
  // Two minutes of memory wandering by 20 MB: no trend, but nothing under 5 MB/min could have
  // shown. The detectable rate says so and the growth check does not pass.
  std::vector<double> t, y;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> noise(0, 20e6);
  for (int i = 0; i <= 120; ++i) {
    t.push_back(i);
    y.push_back(300e6 + noise(rng));
  }
  RunInput in;
  in.samples = t.size();
  in.duration_s = t.back();
  in.series = {{"rss_bytes", t, y}};
  const Verdict v = analyze(in);
  const Check* growth = v.find_check("rss_growth");
  REQUIRE(growth != nullptr);
  CHECK(growth->status == CheckStatus::inconclusive);
  CHECK(v.find("rss_bytes")->analysis->detectable_growth_per_s * 60 > 5e6);
  CHECK(v.verdict == VerdictKind::inconclusive);
}

TEST_CASE("growth is judged on the readings after forced collections when there are enough") {
  // A GC sawtooth between 100 and 300 MB, a collection a minute, for an hour at 1 s: its
  // floor rises 1 MB/min. The checkpoints every 3 min read the floor (20 points).
  std::vector<double> t, rss, gc_t, gc_rss;
  std::mt19937 rng(11);
  std::normal_distribution<double> noise(0, 2e5);
  for (int i = 0; i <= 3600; ++i) {
    const double floor = 100e6 + 1e6 * i / 60.0;
    t.push_back(i);
    rss.push_back(floor + 200e6 * std::fmod(i, 60.0) / 60.0 + noise(rng));
    if (i > 0 && i % 180 == 0) {
      gc_t.push_back(i + 0.5);
      gc_rss.push_back(floor + noise(rng));
    }
  }
  RunInput input;
  input.samples = t.size();
  input.duration_s = 3600;
  input.series = {{"rss_bytes", t, rss}, {"rss_bytes_after_gc", gc_t, gc_rss}};
  const Verdict with = analyze(input);
  const MetricResult* m = with.find("rss_bytes");
  REQUIRE(m != nullptr);
  REQUIRE(m->analysis);
  CHECK(m->judged_on == "rss_bytes_after_gc");
  CHECK(with.find("rss_bytes_after_gc") == nullptr);  // folded into rss_bytes
  CHECK(m->analysis->classification == Classification::leak);
  CHECK(m->growth_per_min() == Approx(1e6).epsilon(0.05));
  // The levels stay the raw series': the maximum is the sawtooth's top, not the floor's.
  CHECK(m->max == Approx(*std::max_element(rss.begin(), rss.end())));
  const Check* max_rss = with.find_check("max_rss_1h");
  REQUIRE(max_rss != nullptr);
  REQUIRE(max_rss->measured);
  CHECK(*max_rss->measured > 300e6);

  // Too few readings (five) leave the growth to the raw series.
  input.series[1] = {"rss_bytes_after_gc", std::span(gc_t).first(5), std::span(gc_rss).first(5)};
  const Verdict few = analyze(input);
  REQUIRE(few.find("rss_bytes") != nullptr);
  CHECK(few.find("rss_bytes")->judged_on.empty());
  CHECK(few.find("rss_bytes_after_gc") != nullptr);
}

TEST_CASE(
    "a leak sampled with long pauses is judged across them, with a warning of what was seen") {
  // 2 MB/min, sampled at 1 s for 5 minutes of every 15 (the recorder paused for ten): about a
  // third of the run seen. The target was not restarted, so its level carries across each pause.
  std::vector<double> t, y;
  std::mt19937_64 rng(21);
  std::normal_distribution<double> noise(0, 0.5e6);
  for (int block = 0; block < 8; ++block) {
    for (int i = 0; i < 300; ++i) {
      const double at = block * 900.0 + i;
      t.push_back(at);
      y.push_back(300e6 + 2e6 / 60 * at + noise(rng));
    }
  }
  RunInput in;
  in.samples = t.size();
  in.duration_s = t.back();
  in.series = {{"rss_bytes", t, y}};
  const Verdict v = analyze(in);
  const SeriesAnalysis& a = *v.find("rss_bytes")->analysis;
  CHECK(a.classification == Classification::leak);
  CHECK(a.growth_per_s * 60 == Approx(2e6).epsilon(0.05));
  CHECK(a.gaps == 7);
  CHECK(a.judged_share == Approx(8 * 299.0 / (7 * 900 + 299)).epsilon(1e-9));  // 36 % seen
  REQUIRE(!v.warnings.empty());
  const auto gap = std::find_if(v.warnings.begin(), v.warnings.end(), [](const Finding& f) {
    return f.code == FindingCode::small_judged_share;
  });
  REQUIRE(gap != v.warnings.end());
  CHECK(gap->metric == "rss_bytes");
  // Sampled without pauses, the same leak raises no such warning.
  std::vector<double> t2, y2;
  for (int i = 0; i < 2400; ++i) {
    t2.push_back(i * 3.0);
    y2.push_back(300e6 + 2e6 / 60 * t2.back() + noise(rng));
  }
  in.series = {{"rss_bytes", t2, y2}};
  const Verdict whole = analyze(in);
  CHECK(std::none_of(whole.warnings.begin(), whole.warnings.end(),
                     [](const Finding& f) { return f.code == FindingCode::small_judged_share; }));
}

namespace {

/// The first stop decision of a StopRule fed the verdict of every minute of `value(t, noise)`
/// sampled each second for `minutes`; nullopt when the run would have gone to its end.
std::optional<soak::analysis::StopDecision> first_stop(
    const std::function<double(double)>& value, int minutes, std::uint64_t seed,
    soak::analysis::StopRuleOptions options = {}) {
  using namespace soak::analysis;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 200e3);  // 200 kB of allocator jitter
  std::vector<double> t, rss;
  if (!options.planned_duration_s) options.planned_duration_s = minutes * 60.0;
  StopRule rule(options);
  for (int s = 0; s < minutes * 60; ++s) {
    t.push_back(s);
    rss.push_back(value(s) + noise(rng));
    if ((s + 1) % 60 != 0) continue;
    RunInput input;
    input.series.push_back({"rss_bytes", t, rss});
    input.samples = t.size();
    input.duration_s = s;
    input.mem_total_bytes = 8e9;
    if (auto stop = rule.decide(analyze(input))) return stop;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("the stop rule stops a leak over its target once measured long enough, twice") {
  using soak::analysis::StopDecision;
  // 20 MB/min against the default 5 MB/min target: over it from the first minutes.
  for (const std::uint64_t seed : {1u, 2u, 977u, 65537u}) {
    CAPTURE(seed);
    const auto stop = first_stop([](double s) { return 100e6 + 20e6 / 60 * s; }, 30, seed);
    REQUIRE(stop.has_value());
    CHECK(stop->why == StopDecision::Why::grows_over_target);
    CHECK(stop->check == "rss_growth");
    // Not before the judged span and its confirmation; well before the planned 30 minutes.
    CHECK(stop->at_s >= soak::analysis::kStopMinJudgedSpanS + 60 - 1);
    CHECK(stop->at_s <= 8 * 60);
  }
  // Planned for 8 hours, the same leak is not stopped on its first half hour (a tenth of the
  // plan is 48 minutes).
  soak::analysis::StopRuleOptions overnight;
  overnight.planned_duration_s = 8 * 3600.0;
  CHECK_FALSE(first_stop([](double s) { return 100e6 + 20e6 / 60 * s; }, 30, 1, overnight));
}

TEST_CASE("the stop rule never stops a run that warms up and holds, nor one under target") {
  for (const std::uint64_t seed : {1u, 2u, 977u, 65537u}) {
    CAPTURE(seed);
    // Warm-ups fast enough to look like a leak at first (24 and 20 MB/min), then flat.
    CHECK_FALSE(
        first_stop([](double s) { return 100e6 + 60e6 * (1 - std::exp(-s / 150)); }, 30, seed));
    CHECK_FALSE(
        first_stop([](double s) { return 100e6 + 200e6 * (1 - std::exp(-s / 600)); }, 30, seed));
    // A slow leak under the target (1 MB/min against 5 MB/min) is not a stop either.
    CHECK_FALSE(first_stop([](double s) { return 100e6 + 1e6 / 60 * s; }, 20, seed));
  }
}

TEST_CASE("the stop rule stops when a hard limit is crossed, and on a near OOM when asked") {
  using soak::analysis::StopDecision;
  // 600 MB/min: past the max RSS target (the documented profile's) within minutes.
  const auto crossed = first_stop([](double s) { return 100e6 + 600e6 / 60 * s; }, 20, 5);
  REQUIRE(crossed.has_value());
  CHECK((crossed->why == StopDecision::Why::limit_crossed ||
         crossed->why == StopDecision::Why::grows_over_target));
  soak::analysis::StopRuleOptions near_oom;
  near_oom.oom_within_s = 4 * 3600.0;  // 8 GB host, 30 MB/min: the host is full in ~4.4 h
  const auto oom = first_stop([](double s) { return 100e6 + 30e6 / 60 * s; }, 20, 5, near_oom);
  REQUIRE(oom.has_value());
}
