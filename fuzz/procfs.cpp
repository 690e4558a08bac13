// The /proc and cgroup text parsers of the Linux sampler. The first byte picks the parser:
// /proc/PID/stat, a children file's PID list, a statm-like pair of numbers, a cgroup value file,
// a memory.stat field (the key is the text's first word), /proc/PID/smaps, /proc/PID/cgroup,
// memory.events' oom_kill count, /proc/PID/smaps_rollup. None throws: bad
// text is "not read" (false, nullopt, no entry); a value read is a number the sampler can
// cast (a cgroup limit) or sort (an smaps region's size).
#include "linux/procfs.hpp"

#include <cmath>
#include <cstdlib>
#include <vector>

#include "fuzz_input.hpp"
#include "linux/cgroup.hpp"
#include "linux/smaps.hpp"

namespace detail = soak::sampler::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text = soak::fuzz::text_of(data + 1, size - 1);
  switch (data[0] % 9) {
    case 0: {
      detail::StatFields stat;
      (void)detail::parse_stat(text, stat);
      break;
    }
    case 1: {
      std::vector<soak::sampler::Pid> pids;
      detail::parse_pid_list(text, pids);
      break;
    }
    case 2: {
      std::string_view rest = text;
      std::uint64_t size_pages = 0, resident_pages = 0;
      (void)(detail::parse_number(rest, size_pages) && detail::parse_number(rest, resident_pages));
      break;
    }
    case 3: {
      // CgroupSource's first event shows the limit as a whole number of bytes.
      if (const auto value = detail::parse_cgroup_value(text)) {
        (void)static_cast<long long>(*value);
      }
      break;
    }
    case 4:
      (void)detail::parse_cgroup_stat_field(text, text.substr(0, text.find(' ')));
      break;
    case 5:
      (void)detail::parse_proc_cgroup(text);
      break;
    case 6:
      (void)detail::parse_cgroup_stat_field(text, "oom_kill");
      break;
    case 7:
      (void)detail::parse_smaps_rollup(text);
      break;
    default:
      // SmapsSource sorts the regions by size: a NaN would break its order.
      for (const auto& [region, bytes] : detail::reduce_smaps(text)) {
        if (std::isnan(bytes)) std::abort();
      }
  }
  return 0;
}
