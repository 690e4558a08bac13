#pragma once
// Exit codes pinned by SPEC.md, and the two exception types main() maps onto them.

#include <stdexcept>

namespace soak::cli {

enum class ExitCode : int {
  pass = 0,
  fail = 1,
  inconclusive = 2,
  usage_error = 3,    ///< bad flag, bad file, a PID that does not exist
  runtime_error = 4,  ///< a target that cannot be read, disk full, ...
};

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
