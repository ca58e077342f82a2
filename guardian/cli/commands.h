// The subcommand table. Exit codes (DESIGN.md): 0 success, 1 a finding or a validation error,
// 2 usage or environment error.
#pragma once

#include <string_view>
#include <vector>

namespace guardian::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFinding = 1;
inline constexpr int kExitUsage = 2;

struct Command {
  std::string_view name;
  std::string_view summary;
  int (*run)(int argc, char** argv);  // argv[0] is the command name
};

const std::vector<Command>& commands();

// One function per subcommand (cli/cmd_<name>.cpp).
int run_daemon(int argc, char** argv);
int run_sample(int argc, char** argv);
int run_check_policy(int argc, char** argv);
int run_init_policy(int argc, char** argv);
int run_doctor(int argc, char** argv);
int run_status(int argc, char** argv);
int run_adopt(int argc, char** argv);
int run_probe(int argc, char** argv);
int run_events(int argc, char** argv);

}  // namespace guardian::cli
