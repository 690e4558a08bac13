// memory_profiler's `mprof run` recording, the .dat file (`soak import mprof`), as mprof.py and
// memory_profiler.py (0.61) write it:
//   CMDLINE <command line>            the program; an argument with blanks in '...'
//   MEM <MiB> <unix time>             the program's RSS ("MEM %.6f %.4f"); with `-C` its
//                                     children's summed in
//   CHLD <pid> <MiB> <unix time>      with `-M`: one line per child per sample, by pid
//   FUNC <name> <MiB> <t> <MiB> <t> <level>   @profile timings (`--python`): not samples
// Values are psutil's memory_info().rss / 2^20 (the default backend): MiB. `mprof run -o` appends,
// so a file may hold several runs, each from its CMDLINE line: the first is read.

#include <algorithm>
#include <map>

#include "readers.hpp"
#include "soak/importers/text.hpp"
#include "soak/log/metrics.hpp"
#include "words.hpp"

namespace soak::importers::readers {

namespace {

constexpr double kBytesPerMiB = 1048576.0;

constexpr std::string_view kExpected =
    "expected mprof's lines (CMDLINE <command>, MEM <MiB> <unix time>, CHLD <pid> <MiB> "
    "<unix time>)";

/// mprof's command line back into arguments: split on blanks, '...' kept whole (mprof quotes
/// an argument holding a blank so; a quote inside an argument is not escaped, so such an
/// argument splits as written).
std::vector<std::string> split_cmdline(std::string_view line) {
  std::vector<std::string> args;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size()) break;
    std::string arg;
    if (line[i] == '\'' && line.find('\'', i + 1) != std::string_view::npos) {
      const std::size_t close = line.find('\'', i + 1);
      arg.assign(line.substr(i + 1, close - i - 1));
      i = close + 1;
    } else {
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') arg.push_back(line[i++]);
    }
    args.push_back(std::move(arg));
  }
  return args;
}

std::string basename_of(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

/// The program's name: the script for a Python program (mprof runs `python3 script.py`),
/// else the executable's.
std::string program_name(const std::vector<std::string>& args) {
  if (args.empty()) return "";
  const std::string exe = basename_of(args[0]);
  if (exe.starts_with("python") && args.size() > 1 && !args[1].starts_with('-')) {
    return basename_of(args[1]);
  }
  return exe;
}

struct Reading {
  ImportedProcess parent;
  std::vector<ImportedProcess> children;            ///< in order of first appearance
  std::map<std::int64_t, std::size_t> child_index;  ///< pid -> index in children
  std::size_t bad_lines = 0, func_lines = 0, failed_children = 0, later_runs = 0;
  const text::Line* first_bad = nullptr;
  std::size_t first_bad_column = 0;
};

void bad(Reading& r, const text::Line& line, std::size_t column) {
  if (r.first_bad == nullptr) {
    r.first_bad = &line;
    r.first_bad_column = column;
  }
  ++r.bad_lines;
}

/// A MEM or CHLD line's numbers into its process's series; counted bad when they are not numbers.
void read_sample(Reading& r, const text::Line& line, const std::vector<text::Word>& w) {
  const bool child = w[0].text == "CHLD";
  const std::size_t want = child ? 4 : 3;
  if (w.size() < want) {
    bad(r, line, w.back().column + w.back().text.size());
    return;
  }
  const std::size_t at = child ? 2 : 1;
  const auto pid = child ? text::pid(w[1].text) : std::optional<std::int64_t>(0);
  const auto mib = text::number(w[at].text);
  const auto unix_s = text::number(w[at + 1].text);
  // A stamp past the year 9999 ("MEM 1 1e300") makes a bad line, as text does.
  if (!pid || !mib || !unix_s || !text::unix_time_ok(*unix_s)) {
    bad(r, line, !pid ? w[1].column : !mib ? w[at].column : w[at + 1].column);
    return;
  }
  if (child && *pid == 0) {  // psutil could not read the children: mprof writes "CHLD 0 0.0"
    ++r.failed_children;
    return;
  }
  ImportedProcess* p = &r.parent;
  if (child) {
    const std::int64_t id = *pid;
    const auto [it, added] = r.child_index.try_emplace(id, r.children.size());
    if (added) {
      ImportedProcess c;
      c.pid = id;
      c.name = "child " + std::to_string(id);
      r.children.push_back(std::move(c));
    }
    p = &r.children[it->second];
  }
  p->set(p->add_row(*unix_s), log::metric::rss_bytes, *mib * kBytesPerMiB);
}

Reading read_lines(const std::vector<text::Line>& all) {
  Reading r;
  bool seen_cmdline = false;
  for (const text::Line& line : all) {
    const std::vector<text::Word> w = text::words(line.text);
    if (w.empty()) continue;
    if (w[0].text == "CMDLINE") {
      if (seen_cmdline) {  // a later run appended to the same file
        r.later_runs = static_cast<std::size_t>(
            std::count_if(all.begin(), all.end(), [&](const text::Line& other) {
              return other.number >= line.number && other.text.starts_with("CMDLINE");
            }));
        break;
      }
      seen_cmdline = true;
      const std::string_view rest = line.text.substr(w[0].column - 1 + w[0].text.size());
      r.parent.cmdline = split_cmdline(rest);
    } else if (w[0].text == "MEM" || w[0].text == "CHLD") {
      read_sample(r, line, w);
    } else if (w[0].text == "FUNC") {
      ++r.func_lines;
    } else {
      bad(r, line, w[0].column);
    }
  }
  return r;
}

}  // namespace

Recording mprof(std::string_view content, const std::string& file) {
  const std::vector<text::Line> all = text::lines(content);
  Reading r = read_lines(all);
  std::vector<ImportedProcess*> series;
  if (!r.parent.t.empty()) series.push_back(&r.parent);
  for (auto& c : r.children) series.push_back(&c);
  if (series.empty()) {
    if (r.first_bad != nullptr) {
      text::fail(file, r.first_bad->number, r.first_bad_column,
                 std::string(kExpected) + ", found " + text::shown(r.first_bad->text));
    }
    text::fail(file, 0, 0, std::string(kExpected) + ", found no MEM or CHLD lines");
  }
  double t0 = series.front()->t.front();
  for (const ImportedProcess* p : series) {
    t0 = std::min(t0, *std::min_element(p->t.begin(), p->t.end()));
  }
  for (ImportedProcess* p : series) {
    for (double& t : p->t) t -= t0;
  }

  Recording rec;
  rec.format = Format::mprof;
  rec.start_unix_s = t0;
  r.parent.name = program_name(r.parent.cmdline);
  if (r.parent.name.empty() && !r.children.empty()) r.parent.name = "parent";
  // The file does not say which backend or flags the run used: the measure says the default's.
  std::string measures =
      "mprof MEM: the program's resident set in MiB (psutil's rss, mprof's default backend; "
      "with mprof run -C, its children's summed in)";
  if (!r.children.empty()) measures += "; mprof CHLD (mprof run -M): each child's, in MiB";
  rec.measures[std::string(log::metric::rss_bytes)] = measures;
  if (!r.parent.t.empty()) rec.processes.push_back(std::move(r.parent));
  for (auto& c : r.children) rec.processes.push_back(std::move(c));
  text::warn_count(rec.warnings, r.bad_lines, "lines that are not mprof samples were skipped");
  text::warn_count(rec.warnings, r.func_lines, "FUNC lines (@profile timings) were skipped");
  text::warn_count(rec.warnings, r.failed_children,
                   "CHLD lines where psutil could not read the children were skipped");
  text::warn_count(rec.warnings, r.later_runs,
                   "later runs appended to the file (mprof run -o appends) were left out: only "
                   "the first CMDLINE's run was read");
  return rec;
}

}  // namespace soak::importers::readers
