// guardian check-policy [FILE...]: validates policy files with the actions this build ships;
// without a file, the one `guardian run` would take ($XDG_CONFIG_HOME, $XDG_CONFIG_DIRS, embedded).
// Exit 0 when every file is valid ("FILE: ok (N levels)"), 1 with one FILE:LINE:COL line per
// problem on stdout, 2 for a usage error or a file that cannot be read.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "act/action.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "config/policy_loader.h"
#include "config/policy_location.h"

namespace guardian::cli {
namespace {

void print_help(FILE* out) {
  (void)std::fprintf(out,
                     "usage: guardian check-policy [--host-root DIR] [FILE...]\n"
                     "       guardian check-policy --print-default\n"
                     "       guardian check-policy --list-actions\n\n"
                     "Validates policy files. Prints \"FILE: ok (N levels)\" per valid file, or one\n"
                     "\"FILE:LINE:COL: message\" line per problem. Without a file, checks the one\n"
                     "`guardian run` would take: $XDG_CONFIG_HOME/guardian/policy.toml, then\n"
                     "$XDG_CONFIG_DIRS/guardian/policy.toml, then the embedded default.\n\n"
                     "  --print-default  print the policy compiled into guardian (used without --policy)\n"
                     "  --list-actions   list the action types this build can run\n\n"
                     "exit status: 0 all valid, 1 a file has errors, 2 usage error or unreadable file\n");
}

// One file's verdict: "FILE: ok (N levels)", or its diagnostics. Returns its exit status.
int print_result(const std::string& file, const PolicyLoadResult& result) {
  if (result.read_failed) {
    for (const auto& diagnostic : result.diagnostics) {
      (void)std::fprintf(stderr, "guardian check-policy: %s\n", diagnostic.to_string().c_str());
    }
    return kExitUsage;
  }
  if (result.policy) {
    const size_t levels = result.policy->levels.size();
    (void)std::printf("%s: ok (%zu level%s)\n", file.c_str(), levels, levels == 1 ? "" : "s");
    return kExitOk;
  }
  for (const auto& diagnostic : result.diagnostics) std::printf("%s\n", diagnostic.to_string().c_str());
  return kExitFinding;
}

}  // namespace

int run_check_policy(int argc, char** argv) {
  std::vector<std::string> files;
  bool print_default = false;
  bool list_actions = false;
  bool options_done = false;
  std::string host_root;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (!options_done && arg == "--host-root") {
      if (i + 1 >= argc) {
        (void)std::fprintf(stderr, "guardian check-policy: --host-root needs a directory\n");
        return kExitUsage;
      }
      host_root = argv[++i];
    } else if (!options_done && arg.starts_with("--host-root=")) {
      host_root = std::string(arg.substr(std::strlen("--host-root=")));
    } else if (!options_done && arg == "--") {
      options_done = true;
    } else if (!options_done && (arg == "--help" || arg == "-h")) {
      print_command_help(stdout, "check-policy");
      return kExitOk;
    } else if (!options_done && arg == "--print-default") {
      print_default = true;
    } else if (!options_done && arg == "--list-actions") {
      list_actions = true;
    } else if (!options_done && arg.size() > 1 && arg.front() == '-') {
      (void)std::fprintf(stderr, "guardian check-policy: unknown option \"%s\"\n\n", argv[i]);
      print_help(stderr);
      return kExitUsage;
    } else {
      files.emplace_back(arg);
    }
  }
  if (print_default || list_actions) {
    if (!files.empty() || (print_default && list_actions)) {
      (void)std::fprintf(stderr, "guardian check-policy: --print-default and --list-actions take no files\n");
      return kExitUsage;
    }
    if (print_default) {
      const auto text = embedded_default_policy();
      (void)std::fwrite(text.data(), 1, text.size(), stdout);
    } else {
      const ActionRegistry& registry = builtin_actions();
      for (const auto& type : registry.types()) {
        (void)std::printf("%-28s %s\n", type.c_str(), registry.find(type)->summary.c_str());
      }
    }
    return kExitOk;
  }
  if (files.empty()) {
    const PolicyLocation location = locate_policy(HostRoot(host_root), ConfigDirs::from_environment());
    if (location.origin == PolicyOrigin::Embedded) {
      // Nothing of the user's to check: say where guardian looked, and check what it would run.
      std::string looked;
      for (const auto& [origin, path] : policy_candidates(ConfigDirs::from_environment()))
        looked += (looked.empty() ? "" : ", ") + path;
      (void)std::fprintf(stderr, "guardian check-policy: no %s; checking the embedded default\n",
                         looked.empty() ? "policy file" : looked.c_str());
      const PolicyLoadResult result =
          parse_policy(embedded_default_policy(), kEmbeddedPolicyName, &builtin_actions());
      return print_result(kEmbeddedPolicyName, result);
    }
    (void)std::fprintf(stderr, "guardian check-policy: checking %s (the %s policy `guardian run` takes)\n",
                       location.host_path.c_str(), policy_origin_name(location.origin));
    files.push_back(location.open_path);
  }

  int status = kExitOk;
  const ActionRegistry& registry = builtin_actions();
  for (const auto& file : files) {
    const int file_status = print_result(file, load_policy_file(file, &registry));
    if (file_status == kExitUsage || status == kExitOk) status = std::max(status, file_status);
  }
  (void)std::fflush(stdout);
  return status;
}

}  // namespace guardian::cli
