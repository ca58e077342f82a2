// Every subcommand's help, in one table: `guardian COMMAND --help` prints it, and the build
// generates guardian(1) and the bash and zsh completions from it (tools/docgen), so the three
// never disagree. Plain data; no dependency beyond the standard library.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace guardian::cli {

struct OptionHelp {
  std::string_view name;   // without "--"
  std::string_view value;  // "FILE", "TIME", … or empty for a flag
  std::string_view text;
  // How a shell completes the value: "file", "dir", "events" (the names `guardian events
  // --event` takes), "actions", or a space-separated list of words; empty: nothing to offer.
  std::string_view complete;
  std::string_view sample;  // a valid value, for the test that every documented option parses
};

struct ExampleHelp {
  std::string_view command;
  std::string_view what;
};

struct CommandHelp {
  std::string_view name;
  std::string_view summary;                // one line, for `guardian --help`
  std::vector<std::string_view> synopsis;  // "guardian events [--since TIME] …"
  std::string_view description;            // paragraphs separated by an empty line
  std::vector<OptionHelp> options;
  std::string_view operands;  // "FILE…" completion kind for positional words: "file", "probes", ""
  std::vector<ExampleHelp> examples;
  std::string_view exit_status;
};

const std::vector<CommandHelp>& command_help();
const CommandHelp* find_command_help(std::string_view name);

// The text `guardian COMMAND --help` prints.
std::string render_command_help(const CommandHelp& help);
void print_command_help(FILE* out, std::string_view name);

// The text `guardian --help` prints.
std::string render_overview();

}  // namespace guardian::cli
