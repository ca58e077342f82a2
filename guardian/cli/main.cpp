// guardian: one binary, subcommands. Each subcommand lives in its own cli/cmd_*.cpp and
// registers itself in the table below.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "cli/help.h"

namespace {

void print_usage(FILE* out) {
  const std::string text = guardian::cli::render_overview();
  std::fputs(text.c_str(), out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    print_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? guardian::cli::kExitUsage : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    std::printf("guardian %s\n", GUARDIAN_VERSION);
    return 0;
  }
  for (const auto& command : guardian::cli::commands()) {
    if (command.name == argv[1]) return command.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "guardian: unknown command \"%s\"\n\n", argv[1]);
  print_usage(stderr);
  return guardian::cli::kExitUsage;
}
