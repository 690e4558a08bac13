#pragma once
// Secrets stay out of what support ships: a target's command line is written to the log header
// (and from there to the report and JUnit) with what looks like a secret replaced by `***`:
//   --password=hunter2, token=abc, DB_PASS=x      -> the value after '=' (the name is kept)
//   --password hunter2, --token abc               -> the argument after a secret-named flag
//   http://user:pass@host/                        -> the credentials of a URL
// plus every match of the user's own patterns (`--redact REGEX`).
//
// Thread-safety: pure functions. Failure modes: a pattern that is no valid regular expression
// throws RedactError (a bad start, exit 3) from compile_redactions.

#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace soak::log {

class RedactError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The user's --redact patterns, compiled (ECMAScript syntax). Throws RedactError.
std::vector<std::regex> compile_redactions(const std::vector<std::string>& patterns);

inline constexpr std::string_view kRedacted = "***";

/// `argv` with secrets replaced by *** (see the top of this file).
std::vector<std::string> redact_command_line(const std::vector<std::string>& argv,
                                             const std::vector<std::regex>& extra = {});

}  // namespace soak::log
