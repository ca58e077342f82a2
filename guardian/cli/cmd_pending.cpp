// Temporary: subcommands whose implementation has not landed yet. Removed as each lands.
#include <cstdio>

#include "cli/commands.h"

namespace guardian::cli {
namespace {
int pending(const char* name) {
  std::fprintf(stderr, "guardian %s: not built yet\n", name);
  return kExitUsage;
}
}  // namespace
int run_daemon(int, char**) { return pending("run"); }
int run_sample(int, char**) { return pending("sample"); }
int run_doctor(int, char**) { return pending("doctor"); }
}  // namespace guardian::cli
