#pragma once
// soak's reference pages, generated from the command line's own definition (the CLI::App that
// parses it), so the man page and the shell completion cannot drift from --help.

#include <CLI/CLI.hpp>
#include <string>

namespace soak::cli {

/// The man page (roff, man(7) macros) of `app` and its subcommands, section 1.
std::string man_page(const CLI::App& app, const std::string& version);

/// A bash completion script for `app`: subcommands, each one's options, and file names where an
/// option or positional takes a path.
std::string bash_completion(const CLI::App& app);

}  // namespace soak::cli
