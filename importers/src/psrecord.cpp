// psrecord's `--log FILE` text (`soak import psrecord`), as psrecord's monitor() writes it:
//   # Elapsed time   CPU (%)     Real (MB)   Virtual (MB)        (" USS (MB)" with --uss)
//       0.000        0.000       12.340      98.760
// "{:12.3f}" columns separated by a space. Elapsed seconds since psrecord started: no wall
// clock. psrecord's MB is rss / 1024**2, a MiB. CPU % is an instantaneous share, not soak's
// cumulative cpu_s, so it is not imported. With --include-children every column sums the
// children's.

#include "readers.hpp"
#include "soak/log/metrics.hpp"
#include "text.hpp"
#include "words.hpp"

namespace soak::importers::readers {

namespace {

constexpr double kBytesPerMiB = 1048576.0;

constexpr std::string_view kHeader = "# Elapsed time   CPU (%)     Real (MB)   Virtual (MB)";

struct Column {
  std::string_view metric;  ///< empty: read but not imported
  std::string_view header;
};

constexpr Column kColumns[] = {
    {"", "Elapsed time"},
    {"", "CPU (%)"},
    {log::metric::rss_bytes, "Real (MB)"},
    {log::metric::vms_bytes, "Virtual (MB)"},
    {log::metric::uss_bytes, "USS (MB)"},
};

std::string expected_header() {
  return "expected psrecord's header line " + text::shown(kHeader) + " (psrecord --log)";
}

}  // namespace

Recording psrecord(std::string_view content, const std::string& file) {
  const std::vector<text::Line> all = text::lines(content);
  std::size_t first = 0;
  while (first < all.size() && text::trim(all[first].text).empty()) ++first;
  if (first == all.size()) text::fail(file, 0, 0, "empty: " + expected_header());
  const text::Line& head = all[first];
  if (!head.text.starts_with('#') || head.text.find("Elapsed time") == std::string_view::npos ||
      head.text.find("Real (MB)") == std::string_view::npos) {
    text::fail(file, head.number, 1, expected_header() + ", found " + text::shown(head.text));
  }
  const std::size_t columns = head.text.find("USS (MB)") == std::string_view::npos ? 4 : 5;

  Recording rec;
  rec.format = Format::psrecord;
  const char* children = " (with psrecord --include-children, its children's summed in)";
  rec.measures[std::string(log::metric::rss_bytes)] =
      std::string("psrecord Real (MB): the process's resident set in MiB") + children;
  rec.measures[std::string(log::metric::vms_bytes)] =
      std::string("psrecord Virtual (MB): the process's virtual size in MiB") + children;
  if (columns == 5) {
    rec.measures[std::string(log::metric::uss_bytes)] =
        std::string("psrecord USS (MB): the process's unique set in MiB") + children;
  }
  ImportedProcess p;
  std::size_t bad = 0;
  const text::Line* first_bad = nullptr;
  std::size_t first_bad_column = 0;
  for (std::size_t li = first + 1; li < all.size(); ++li) {
    const text::Line& line = all[li];
    const std::vector<text::Word> w = text::words(line.text);
    if (w.empty() || w[0].text.starts_with('#')) continue;
    std::vector<std::optional<double>> values;
    for (const auto& word : w) values.push_back(text::number(word.text));
    // A row is its columns' numbers; a short or torn row (psrecord stopped mid-line) is bad.
    std::size_t wrong = 0;
    while (wrong < w.size() && wrong < columns && values[wrong]) ++wrong;
    if (wrong < columns) {
      if (first_bad == nullptr) {
        first_bad = &line;
        first_bad_column = wrong < w.size() ? w[wrong].column : line.text.size() + 1;
      }
      ++bad;
      continue;
    }
    const std::size_t row = p.add_row(*values[0]);
    for (std::size_t c = 2; c < columns; ++c) {
      p.set(row, kColumns[c].metric, *values[c] * kBytesPerMiB);
    }
  }
  if (p.t.empty()) {
    if (first_bad == nullptr) {
      text::fail(file, head.number, 0, "expected samples after psrecord's header line, found none");
    }
    std::string names;
    for (std::size_t c = 0; c < columns; ++c) {
      names += (c == 0 ? "" : ", ") + std::string(kColumns[c].header);
    }
    text::fail(file, first_bad->number, first_bad_column,
               "expected a row of " + std::to_string(columns) + " numbers (" + names + "), found " +
                   text::shown(first_bad->text));
  }
  text::warn_count(rec.warnings, bad, "rows that are not psrecord samples were skipped");
  rec.processes.push_back(std::move(p));
  return rec;
}

}  // namespace soak::importers::readers
