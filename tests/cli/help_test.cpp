// Every subcommand's --help: printed from the one help table, with examples, and every option it
// documents is one the command's parser accepts. Colour: only on a terminal, never with NO_COLOR.
#include "cli/help.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "support/subprocess.h"

namespace guardian::cli {
namespace {

using namespace std::chrono_literals;

// The commands the binary dispatches, as `guardian --help` lists them (cli/commands.cpp's table).
std::vector<std::string> dispatched_commands() {
  auto overview = test::run({GUARDIAN_BINARY, "--help"});
  EXPECT_EQ(overview.status, 0);
  std::vector<std::string> names;
  const size_t start = overview.out.find("commands:\n");
  const size_t end = overview.out.find("\n\n", start);
  std::string block = overview.out.substr(start + 10, end - start - 10);
  size_t at = 0;
  while (at < block.size()) {
    const size_t eol = block.find('\n', at);
    const std::string line = block.substr(at, eol == std::string::npos ? std::string::npos : eol - at);
    if (line.size() > 2) names.push_back(line.substr(2, line.find(' ', 2) - 2));
    if (eol == std::string::npos) break;
    at = eol + 1;
  }
  return names;
}

TEST(Help, EveryCommandHasHelpWithExamples) {
  const auto names = dispatched_commands();
  ASSERT_GE(names.size(), 8u);
  EXPECT_EQ(names.size(), command_help().size())
      << "help for a command the binary does not have, or none for one";
  for (const auto& name : names) {
    const CommandHelp* help = find_command_help(name);
    ASSERT_NE(help, nullptr) << name << " has no entry in cli/help.cpp";
    EXPECT_FALSE(help->examples.empty()) << name;
    auto result = test::run({GUARDIAN_BINARY, name, "--help"});
    EXPECT_EQ(result.status, 0) << name << ": " << result.err;
    EXPECT_EQ(result.out, render_command_help(*help)) << name;
    EXPECT_NE(result.out.find("\nexamples:\n  guardian "), std::string::npos) << result.out;
  }
  // A command that does not exist is a usage error, with the overview.
  auto unknown = test::run({GUARDIAN_BINARY, "event"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.err.find("unknown command \"event\""), std::string::npos);
}

TEST(Help, EveryDocumentedOptionParses) {
  // `guardian CMD [OPERAND] --OPTION [SAMPLE] --help` exits 0 only when the parser knew the option.
  for (const auto& help : command_help()) {
    for (const auto& option : help.options) {
      std::vector<std::string> argv = {GUARDIAN_BINARY, std::string(help.name)};
      if (help.name == "probe") argv.emplace_back("vaapi");
      argv.push_back("--" + std::string(option.name));
      if (!option.value.empty()) {
        ASSERT_FALSE(option.sample.empty()) << help.name << " --" << option.name << " has no sample value";
        argv.emplace_back(option.sample);
      }
      argv.emplace_back("--help");
      auto result = test::run(argv);
      EXPECT_EQ(result.status, 0) << help.name << " --" << option.name << ": " << result.err;
    }
  }
  // And an option nobody documented is refused.
  auto unknown = test::run({GUARDIAN_BINARY, "events", "--sinse", "today"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.err.find("--sinse"), std::string::npos) << unknown.err;
}

// Runs the binary on a pseudo-terminal; returns what it wrote there.
std::string run_on_a_terminal(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  int controller = -1;
  const pid_t pid = ::forkpty(&controller, nullptr, nullptr, nullptr);
  if (pid == 0) {
    for (const auto& entry : env) ::putenv(const_cast<char*>(entry.c_str()));
    std::vector<char*> argv;
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  std::string out;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(controller, buffer, sizeof buffer);
    if (n <= 0) break;  // EIO once the child has closed the terminal
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(controller);
  ::waitpid(pid, nullptr, 0);
  return out;
}

TEST(Color, OnlyOnATerminalAndNeverWithNoColor) {
  const std::string fixture = std::string(GUARDIAN_FIXTURES_DIR) + "/journal/incident.export";
  const std::vector<std::string> args = {GUARDIAN_BINARY, "events",  "--from-export",
                                         fixture,         "--event", "oom-kill"};
  const std::string red = "\033[1;31moomd-kill\033[0m";
  auto terminal = run_on_a_terminal(args, {"TZ=UTC", "TERM=xterm"});
  EXPECT_NE(terminal.find(red), std::string::npos) << terminal;
  auto no_color = run_on_a_terminal(args, {"TZ=UTC", "TERM=xterm", "NO_COLOR=1"});
  EXPECT_NE(no_color.find("oomd-kill"), std::string::npos) << no_color;
  EXPECT_EQ(no_color.find('\033'), std::string::npos) << no_color;
  auto dumb = run_on_a_terminal(args, {"TZ=UTC", "TERM=dumb"});
  EXPECT_EQ(dumb.find('\033'), std::string::npos) << dumb;
  // NO_COLOR set but empty does not count (no-color.org).
  auto empty = run_on_a_terminal(args, {"TZ=UTC", "TERM=xterm", "NO_COLOR="});
  EXPECT_NE(empty.find(red), std::string::npos) << empty;
  auto pipe = test::run(args, 30s, {"TZ=UTC", "TERM=xterm"});
  EXPECT_NE(pipe.out.find("oomd-kill"), std::string::npos);
  EXPECT_EQ(pipe.out.find('\033'), std::string::npos) << pipe.out;
}

}  // namespace
}  // namespace guardian::cli
