// psrecord's `--log FILE` (`soak import psrecord`), as psrecord 1.4's monitor() writes it, in
// either of its log formats (or its standard output kept when no --log was given: the same
// text among its messages):
//   plain (the default): "# {:12s} {:12s} {:12s} {:12s}" of the centred names, then rows of
//     "{:12.3f}" columns joined by a space; --include-io adds four "{:12d}" columns
//       # Elapsed time   CPU (%)     Real (MB)   Virtual (MB)  [ Read count  Write count ...]
//             0.000        0.000       12.340      98.760
//   csv (--log-format csv): "elapsed_time,nproc,cpu,mem_real,mem_virtual[,read_count,...]",
//     then Python's repr of each value.
// Elapsed seconds since psrecord started: no wall clock. psrecord's MB is rss / 1024**2, a MiB.
// CPU % is an instantaneous share, not soak's cumulative cpu_s, and the I/O counters have no
// soak metric: neither is imported. With --include-children every column sums the children's
// (and csv's nproc counts them).

#include <algorithm>

#include "readers.hpp"
#include "soak/importers/text.hpp"
#include "soak/log/metrics.hpp"
#include "words.hpp"

namespace soak::importers::readers {

namespace {

constexpr double kBytesPerMiB = 1048576.0;

constexpr std::string_view kPlainHeader = "# Elapsed time   CPU (%)     Real (MB)   Virtual (MB)";
constexpr std::string_view kCsvHeader = "elapsed_time,nproc,cpu,mem_real,mem_virtual";

/// A row's values in the order psrecord writes them; nullopt for a value a format lacks.
struct Row {
  std::optional<double> elapsed_s, nproc, real_mib, virtual_mib;
};

/// Where a row went wrong: its 1-based column, 0 when the row is good.
struct Parsed {
  Row row;
  std::size_t bad_column = 0;
};

/// A plain row: at least the four "{:12.3f}" numbers (the I/O columns after them unread).
Parsed plain_row(std::string_view line) {
  const std::vector<text::Word> w = text::words(line);
  std::optional<double> v[4];
  for (std::size_t c = 0; c < 4; ++c) {
    if (c >= w.size()) return {{}, line.size() + 1};
    v[c] = text::number(w[c].text);
    // An elapsed time of 1e300 s makes a bad row, as text does.
    if (!v[c] || (c == 0 && !text::elapsed_ok(*v[c]))) return {{}, w[c].column};
  }
  return {{v[0], std::nullopt, v[2], v[3]}, 0};
}

/// The columns of a csv log, by the names psrecord gives them.
struct CsvColumns {
  std::size_t elapsed = 0, nproc = 0, real = 0, virt = 0;
};

Parsed csv_row(std::string_view line, const CsvColumns& columns) {
  const std::vector<text::Field> f = text::csv_fields(line);
  const auto at = [&](std::size_t c, std::size_t& bad) -> std::optional<double> {
    if (c >= f.size()) {
      if (bad == 0) bad = line.size() + 1;
      return std::nullopt;
    }
    const auto v = text::number(f[c].value);
    if (!v && bad == 0) bad = f[c].column;
    return v;
  };
  Parsed p;
  p.row.elapsed_s = at(columns.elapsed, p.bad_column);
  if (p.bad_column == 0 && !text::elapsed_ok(p.row.elapsed_s.value_or(0))) {
    p.bad_column = f[columns.elapsed].column;  // an elapsed time of 1e300 s: a bad row
  }
  p.row.real_mib = at(columns.real, p.bad_column);
  p.row.virtual_mib = at(columns.virt, p.bad_column);
  p.row.nproc = at(columns.nproc, p.bad_column);
  return p;
}

/// A line psrecord prints beside its samples when no --log is given (`psrecord CMD > FILE`):
/// "Attaching to process PID", "Starting up command '...' and attaching to process",
/// "Process finished (12.34 seconds)".
bool psrecord_message(std::string_view line) {
  return line.starts_with("Attaching to process ") || line.starts_with("Starting up command ") ||
         line.starts_with("Process finished (");
}

std::string expected_header() {
  return "expected psrecord's header line " + text::shown(kPlainHeader) + " or " +
         text::shown(kCsvHeader) + " (psrecord --log)";
}

void describe(Recording& rec, bool children_counted) {
  const std::string children = " (with psrecord --include-children, its children's summed in)";
  rec.measures[std::string(log::metric::rss_bytes)] =
      "psrecord Real (MB): the process's resident set in MiB" + children;
  rec.measures[std::string(log::metric::vms_bytes)] =
      "psrecord Virtual (MB): the process's virtual size in MiB" + children;
  if (children_counted) {
    rec.measures[std::string(log::metric::children)] =
        "psrecord nproc less the process itself (psrecord --include-children)";
  }
}

}  // namespace

Recording psrecord(std::string_view content, const std::string& file) {
  const std::vector<text::Line> all = text::lines(content);
  std::size_t first = 0;
  // Blank lines, and psrecord's own messages when its standard output was kept as the log.
  while (first < all.size() &&
         (text::trim(all[first].text).empty() || psrecord_message(all[first].text))) {
    ++first;
  }
  if (first == all.size()) text::fail(file, 0, 0, "empty: " + expected_header());
  const text::Line& head = all[first];
  const bool csv = head.text.starts_with(kCsvHeader);
  const bool plain = head.text.starts_with('#') &&
                     head.text.find("Elapsed time") != std::string_view::npos &&
                     head.text.find("Real (MB)") != std::string_view::npos;
  if (!csv && !plain) {
    text::fail(file, head.number, 1, expected_header() + ", found " + text::shown(head.text));
  }
  const CsvColumns columns{0, 1, 3, 4};  // psrecord's csv order (kCsvHeader)

  Recording rec;
  rec.format = Format::psrecord;
  ImportedProcess p;
  std::size_t bad = 0;
  const text::Line* first_bad = nullptr;
  std::size_t first_bad_column = 0;
  bool children_counted = false;
  for (std::size_t li = first + 1; li < all.size(); ++li) {
    const text::Line& line = all[li];
    if (text::trim(line.text).empty() || line.text.starts_with('#') ||
        psrecord_message(line.text)) {
      continue;
    }
    // A short or torn row (psrecord stopped mid-line) is skipped.
    const Parsed parsed = csv ? csv_row(line.text, columns) : plain_row(line.text);
    if (parsed.bad_column != 0) {
      if (first_bad == nullptr) {
        first_bad = &line;
        first_bad_column = parsed.bad_column;
      }
      ++bad;
      continue;
    }
    const Row& r = parsed.row;
    const std::size_t row = p.add_row(*r.elapsed_s);
    p.set(row, log::metric::rss_bytes, *r.real_mib * kBytesPerMiB);
    p.set(row, log::metric::vms_bytes, *r.virtual_mib * kBytesPerMiB);
    if (r.nproc) {
      p.set(row, log::metric::children, std::max(0.0, *r.nproc - 1));
      children_counted |= *r.nproc > 1;
    }
  }
  if (p.t.empty()) {
    if (first_bad == nullptr) {
      text::fail(file, head.number, 0, "expected samples after psrecord's header line, found none");
    }
    text::fail(file, first_bad->number, first_bad_column,
               std::string("expected a row of numbers (") +
                   (csv ? "elapsed_time, nproc, cpu, mem_real, mem_virtual"
                        : "Elapsed time, CPU (%), Real (MB), Virtual (MB)") +
                   "), found " + text::shown(first_bad->text));
  }
  // nproc is 1 throughout without --include-children: not a count of children then.
  if (!children_counted) p.columns.erase(std::string(log::metric::children));
  describe(rec, children_counted);
  text::warn_count(rec.warnings, bad, "rows that are not psrecord samples were skipped");
  rec.processes.push_back(std::move(p));
  return rec;
}

}  // namespace soak::importers::readers
