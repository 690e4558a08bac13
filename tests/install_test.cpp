// `cmake --install` as a packager runs it: soak, its man page and its bash completion under a
// prefix, the example servers and scenarios under share/soak/; the man page and the completion
// are checked against what --help says, so they cannot drift from it.

#include <catch2/catch.hpp>
#include <regex>
#include <set>

#include "support.hpp"

using namespace soak::test;

namespace {

/// Runs a program to completion; its exit code and output.
SoakResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 120s) {
  Child child(argv);
  SoakResult r;
  const auto code = child.wait_for(timeout);
  r.exit_code = code ? *code : -1;
  r.out = child.out();
  r.err = child.err();
  return r;
}

/// Every long option named in a --help text ("--duration", "--out", ...).
std::set<std::string> long_options(const std::string& help) {
  std::set<std::string> out;
  const std::regex option(R"((^|[ ,])(--[a-z][a-z0-9-]*))");
  for (auto it = std::sregex_iterator(help.begin(), help.end(), option);
       it != std::sregex_iterator(); ++it) {
    out.insert((*it)[2].str());
  }
  return out;
}

/// The option as roff writes it: each hyphen a minus sign.
std::string in_roff(const std::string& option) {
  std::string out;
  for (const char c : option) out += c == '-' ? std::string("\\-") : std::string(1, c);
  return out;
}

}  // namespace

TEST_CASE("cmake --install puts soak, its man page, completion, examples and docs under a prefix") {
  TempDir dir;
  const fs::path prefix = dir / "prefix";
  const SoakResult install =
      run({"cmake", "--install", SOAK_BUILD_DIR, "--prefix", prefix.string()});
  INFO(install.err);
  REQUIRE(install.exit_code == 0);
  for (const char* file :
       {"bin/soak", "share/man/man1/soak.1", "share/bash-completion/completions/soak",
        "share/soak/examples/soak-example-server", "share/soak/examples/soak-example-leaky",
        "share/soak/scenarios/smoke.json", "share/doc/soak/verdicts.md"}) {
    INFO(file);
    CHECK(fs::is_regular_file(prefix / file));
  }
  const SoakResult version = run({(prefix / "bin/soak").string(), "--version"});
  CHECK(version.exit_code == 0);
  CHECK_THAT(version.out, Catch::StartsWith("soak "));

  // Every command and every long option --help shows is in the man page.
  const std::string man = read_file(prefix / "share/man/man1/soak.1");
  for (const char* command : {"attach", "run", "analyze", "report", "import"}) {
    INFO(command);
    CHECK_THAT(man, Catch::Contains(std::string(".SS soak ") + command));
    const SoakResult help = run({soak_binary().string(), command, "--help"});
    REQUIRE(help.exit_code == 0);
    CHECK_THAT(help.out, Catch::Contains("Exit codes:"));
    for (const std::string& option : long_options(help.out)) {
      INFO(option);
      CHECK_THAT(
          man, Catch::Contains(".B " + in_roff(option)) || Catch::Contains(", " + in_roff(option)));
    }
  }
  CHECK_THAT(man, Catch::Contains(".SH EXIT STATUS"));
  if (fs::exists("/usr/bin/groff")) {  // man(7) well formed: groff's warnings all on, none said
    const SoakResult groff =
        run({"groff", "-man", "-Tutf8", "-ww", "-z", (prefix / "share/man/man1/soak.1").string()});
    CHECK(groff.exit_code == 0);
    CHECK(groff.err.empty());
  }

  // The completion, sourced in a real bash, completes commands and each command's options.
  const std::string script = (prefix / "share/bash-completion/completions/soak").string();
  auto complete = [&](const std::string& words, int index) {
    const SoakResult r = run({"bash", "-c",
                              "source '" + script + "'; COMP_WORDS=(" + words +
                                  "); COMP_CWORD=" + std::to_string(index) +
                                  "; _soak; printf '%s\\n' \"${COMPREPLY[@]}\""});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    return lines_of(r.out);
  };
  CHECK(complete("soak at", 1) == std::vector<std::string>{"attach"});
  CHECK(complete("soak run --segment-s", 2) == std::vector<std::string>{"--segment-size"});
  CHECK(complete("soak analyze --jun", 2) ==
        std::vector<std::string>{"--junit", "--junit-inconclusive"});
  CHECK(complete("soak run -- sle", 3).empty());  // the launched command's words are its own
}
