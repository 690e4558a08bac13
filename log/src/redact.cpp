#include "soak/log/redact.hpp"

#include <algorithm>
#include <cctype>

namespace soak::log {

namespace {

/// Names that mark a secret, as words inside an argument's name (case-insensitive).
/// ("pass" and "auth" alone are left out: --passes, --auth-mode are not secrets.)
constexpr std::string_view kSecretWords[] = {"password",   "passwd",      "pwd",       "secret",
                                             "token",      "apikey",      "api_key",   "api-key",
                                             "credential", "private_key", "access_key"};

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool names_a_secret(std::string_view name) {
  const std::string n = lower(name);
  return std::any_of(std::begin(kSecretWords), std::end(kSecretWords),
                     [&](std::string_view w) { return n.find(w) != std::string::npos; });
}

/// A flag whose value is the next argument: "--password", "-password", "--api-token".
bool is_secret_flag(std::string_view arg) {
  if (!arg.starts_with('-') || arg.find('=') != std::string_view::npos) return false;
  const std::string_view name = arg.substr(arg.find_first_not_of('-'));
  return !name.empty() && names_a_secret(name);
}

/// "scheme://user:pass@host" -> "scheme://***@host".
std::string redact_url_credentials(std::string arg) {
  for (std::size_t at = arg.find("://"); at != std::string::npos; at = arg.find("://", at)) {
    const std::size_t start = at + 3;
    const std::size_t end = arg.find_first_of("/?# ", start);
    const std::size_t userinfo_end = arg.rfind('@', end == std::string::npos ? arg.size() : end);
    if (userinfo_end != std::string::npos && userinfo_end >= start) {
      arg.replace(start, userinfo_end - start, kRedacted);
      at = start + kRedacted.size();
    } else {
      at = start;
    }
  }
  return arg;
}

}  // namespace

std::vector<std::regex> compile_redactions(const std::vector<std::string>& patterns) {
  std::vector<std::regex> out;
  for (const auto& p : patterns) {
    try {
      out.emplace_back(p, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw RedactError("--redact '" + p + "' is not a regular expression (" + e.what() + ")");
    }
  }
  return out;
}

std::vector<std::string> redact_command_line(const std::vector<std::string>& argv,
                                             const std::vector<std::regex>& extra) {
  std::vector<std::string> out;
  out.reserve(argv.size());
  bool next_is_secret = false;
  for (const auto& original : argv) {
    std::string arg = original;
    if (next_is_secret) {
      arg = kRedacted;
      next_is_secret = false;
    } else if (const std::size_t eq = arg.find('=');
               eq != std::string::npos && eq > 0 && names_a_secret(arg.substr(0, eq))) {
      arg = arg.substr(0, eq + 1) + std::string(kRedacted);
    } else {
      next_is_secret = is_secret_flag(arg);
      arg = redact_url_credentials(std::move(arg));
    }
    for (const auto& re : extra) arg = std::regex_replace(arg, re, std::string(kRedacted));
    out.push_back(std::move(arg));
  }
  return out;
}

}  // namespace soak::log
