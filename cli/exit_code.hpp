#pragma once
// Exit codes pinned by SPEC.md, and the two exception types main() maps onto them.

#include <array>
#include <stdexcept>
#include <utility>

namespace soak::cli {

enum class ExitCode : int {
  pass = 0,
  fail = 1,
  inconclusive = 2,
  usage_error = 3,    ///< bad flag, bad file, a PID that does not exist
  runtime_error = 4,  ///< a target that cannot be read, disk full, ...
};

/// Each exit code with what it means, for --help and the man page.
inline constexpr std::array<std::pair<int, const char*>, 5> exit_code_meanings() {
  return {{{0, "pass: no leak and every target met"},
           {1, "fail: a leak over its target, or a limit crossed"},
           {2, "inconclusive: too little data, or the target or its load failed"},
           {3, "usage error: a bad flag, file or PID"},
           {4, "runtime error: the target could not be read, the disk is full, ..."}}};
}

/// The user asked for something impossible; exit 3. what() is the whole message.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The environment failed us; exit 4. what() is the whole message.
class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace soak::cli
