// Generates, from the one help table of the CLI (guardian/cli/help.cpp):
//   docgen man TEMPLATE   guardian(1) in scdoc syntax: TEMPLATE with @COMMANDS@ replaced
//   docgen bash           the bash completion
//   docgen zsh            the zsh completion
// Run by the build (tools/docgen/CMakeLists.txt); nothing here is installed.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "act/action.h"
#include "cli/help.h"
#include "review/timeline.h"

namespace {

using guardian::cli::CommandHelp;
using guardian::cli::OptionHelp;

// scdoc treats * _ \ as markup: escape them in running text.
std::string scd(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string words(std::string_view complete) {
  if (complete == "events") {
    std::string list;
    for (const auto& name : guardian::review::timeline_event_names())
      list += (list.empty() ? "" : " ") + name;
    return list;
  }
  if (complete == "actions") {
    std::string list;
    for (const auto& type : guardian::builtin_actions().types()) list += (list.empty() ? "" : " ") + type;
    return list;
  }
  return std::string(complete);
}

std::string man_commands() {
  std::string out;
  for (const CommandHelp& help : guardian::cli::command_help()) {
    out += "## " + scd(help.name) + "\n\n";
    for (size_t i = 0; i < help.synopsis.size(); ++i) {
      out += scd(help.synopsis[i]) + (i + 1 < help.synopsis.size() ? "++\n" : "\n");  // "++": a line break
    }
    out += "\n";
    std::string description(help.description);
    size_t start = 0;
    while (start < description.size()) {
      const size_t end = description.find("\n\n", start);
      out += scd(std::string_view(description)
                     .substr(start, end == std::string::npos ? std::string::npos : end - start)) +
             "\n\n";
      if (end == std::string::npos) break;
      start = end + 2;
    }
    for (const OptionHelp& option : help.options) {
      out += "*--" + scd(option.name) + "*" + (option.value.empty() ? "" : " _" + scd(option.value) + "_") +
             "\n";
      out += "\t" + scd(option.text) + "\n\n";
    }
    out += "Examples:\n\n";
    for (const auto& example : help.examples) {
      out += "\t*" + scd(example.command) + "*\n\n\t\t" + scd(example.what) + "\n\n";
    }
    out += "Exit status: " + scd(help.exit_status) + "\n\n";
  }
  return out;
}

std::string bash() {
  std::string out =
      "# bash completion for guardian(1). Generated from guardian's help table (tools/docgen); do not edit.\n"
      "_guardian() {\n"
      "  local cur prev\n"
      "  cur=${COMP_WORDS[COMP_CWORD]}\n"
      "  prev=${COMP_WORDS[COMP_CWORD-1]}\n"
      "  if (( COMP_CWORD == 1 )); then\n"
      "    COMPREPLY=($(compgen -W '";
  std::string commands;
  for (const auto& help : guardian::cli::command_help()) commands += std::string(help.name) + " ";
  out += commands + "--help --version' -- \"$cur\"))\n    return\n  fi\n  case ${COMP_WORDS[1]} in\n";
  for (const auto& help : guardian::cli::command_help()) {
    out += "    " + std::string(help.name) + ")\n      case $prev in\n";
    std::string flags;
    for (const auto& option : help.options) {
      flags += "--" + std::string(option.name) + " ";
      if (option.value.empty()) continue;
      out += "        --" + std::string(option.name) + ")\n";
      if (option.complete == "file")
        out += "          compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\"))\n";
      else if (option.complete == "dir")
        out += "          compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- \"$cur\"))\n";
      else if (!option.complete.empty())
        out += "          COMPREPLY=($(compgen -W '" + words(option.complete) + "' -- \"${cur##*,}\"))\n";
      else
        out += "          COMPREPLY=()\n";
      out += "          return ;;\n";
    }
    out += "      esac\n";
    out += "      if [[ $cur == -* ]]; then\n        COMPREPLY=($(compgen -W '" + flags +
           "--help' -- \"$cur\"))\n";
    if (help.operands == "file")
      out += "      else\n        compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\"))\n";
    else if (!help.operands.empty())
      out +=
          "      else\n        COMPREPLY=($(compgen -W '" + std::string(help.operands) + "' -- \"$cur\"))\n";
    out += "      fi ;;\n";
  }
  out += "  esac\n}\ncomplete -F _guardian guardian\n";
  return out;
}

// zsh's _arguments spec text: ':' '[' ']' '\' are special inside descriptions.
std::string zsh_text(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '[' || c == ']' || c == ':' || c == '\\') out += '\\';
    if (c == '\'') {
      out += "'\\''";
      continue;
    }
    out += c;
  }
  return out;
}

std::string zsh() {
  std::string out =
      "#compdef guardian\n"
      "# zsh completion for guardian(1). Generated from guardian's help table (tools/docgen); do not edit.\n"
      "_guardian() {\n"
      "  local -a commands\n"
      "  commands=(\n";
  for (const auto& help : guardian::cli::command_help())
    out += "    '" + std::string(help.name) + ":" + zsh_text(help.summary) + "'\n";
  out +=
      "  )\n  if (( CURRENT == 2 )); then\n    _describe -t commands 'guardian command' commands\n    "
      "return\n  fi\n";
  out += "  local command=$words[2]\n  shift words\n  (( CURRENT-- ))\n  case $command in\n";
  for (const auto& help : guardian::cli::command_help()) {
    out += "    " + std::string(help.name) + ")\n      _arguments -s \\\n";
    for (const auto& option : help.options) {
      out += "        '--" + std::string(option.name) + "[" + zsh_text(option.text) + "]";
      if (!option.value.empty()) {
        out += ":" + zsh_text(option.value) + ":";
        if (option.complete == "file")
          out += "_files";
        else if (option.complete == "dir")
          out += "_files -/";
        else if (!option.complete.empty())
          out += "(" + words(option.complete) + ")";
        else
          out += " ";
      }
      out += "' \\\n";
    }
    out += "        '--help[show help]'";
    if (help.operands == "file")
      out += " \\\n        '*:file:_files'";
    else if (!help.operands.empty())
      out += " \\\n        '1:what:(" + std::string(help.operands) + ")'";
    out += " ;;\n";
  }
  out += "  esac\n}\n_guardian \"$@\"\n";
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "man" && argc == 3) {
    std::ifstream in(argv[2]);
    if (!in) {
      std::fprintf(stderr, "docgen: cannot read %s\n", argv[2]);
      return 2;
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string text = buffer.str();
    const std::string marker = "@COMMANDS@\n";
    const size_t at = text.find(marker);
    if (at == std::string::npos) {
      std::fprintf(stderr, "docgen: %s has no @COMMANDS@ line\n", argv[2]);
      return 2;
    }
    text.replace(at, marker.size(), man_commands());
    std::cout << text;
    return 0;
  }
  if (mode == "bash") {
    std::cout << bash();
    return 0;
  }
  if (mode == "zsh") {
    std::cout << zsh();
    return 0;
  }
  std::fprintf(stderr, "usage: docgen man TEMPLATE | docgen bash | docgen zsh\n");
  return 2;
}
