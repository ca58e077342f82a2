// guardian run: the daemon.
#include <cstdlib>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "common/units.h"
#include "config/policy_location.h"
#include "daemon/daemon.h"

namespace guardian::cli {

int run_daemon(int argc, char** argv) {
  const std::vector<OptionSpec> specs = {
      {"policy", true,
       "policy file (default: $XDG_CONFIG_HOME/guardian/policy.toml, then $XDG_CONFIG_DIRS, then the "
       "embedded one)"},
      {"host-root", true, "prefix for every host path (a fixture tree; default /)"},
      {"uid", true, "watch this user's manager (default: own uid)"},
      {"dry-run", false, "decide and tell, but never act"},
      {"state-file", true, "where originals are saved (default $XDG_STATE_HOME/guardian/state.json)"},
      {"quiet", false, "no status line on stderr every 5 s"},
      {"log", true, "where events go: auto (journal if running, else stderr), journal, stderr"},
      {"ticks", true, "stop after N ticks (tests, benchmarks)"},
      {"helper-socket", true,
       "guardian-helper's socket, used while it exists (default /run/guardian/helper.sock; none with "
       "--host-root); \"none\": never"},
      {"lock-memory", true, "lock the working set: loop (default), all-onfault, all, none"},
      {"help", false, "this text"},
  };
  Args args;
  if (!args.parse(argc, argv, specs)) return kExitUsage;
  if (args.has("help")) {
    print_command_help(stdout, "run");
    return kExitOk;
  }
  DaemonOptions options;
  options.host_root = args.get("host-root").value_or("");
  options.policy_path = args.get("policy");
  options.config_dirs = ConfigDirs::from_environment();
  options.data_dirs = DataDirs::from_environment();
  options.dry_run = args.has("dry-run");
  options.state_path = args.get("state-file").value_or("");
  // Under systemd, stderr is the journal (JOURNAL_STREAM is set) and STATUS= carries the same
  // line, so the periodic status line is for a terminal only.
  options.status_lines =
      !args.has("quiet") && std::getenv("JOURNAL_STREAM") == nullptr;  // NOLINT(concurrency-mt-unsafe)
  if (auto target = args.get("log")) {
    if (*target == "auto")
      options.log_target = DaemonOptions::LogTarget::Auto;
    else if (*target == "journal")
      options.log_target = DaemonOptions::LogTarget::Journal;
    else if (*target == "stderr")
      options.log_target = DaemonOptions::LogTarget::Stderr;
    else {
      std::fprintf(stderr, "guardian run: --log wants auto, journal or stderr, got \"%s\"\n",
                   target->c_str());
      return kExitUsage;
    }
  }
  // A fixture tree is not this host: its guardian must not hear this host's helper.
  if (!options.host_root.empty() && options.host_root != "/") options.helper_socket.clear();
  if (auto socket = args.get("helper-socket")) options.helper_socket = *socket == "none" ? "" : *socket;
  if (!read_uid_option(args, "run", options.uid)) return kExitUsage;
  if (auto mode = args.get("lock-memory")) {
    auto parsed = parse_memory_lock_mode(*mode);
    if (!parsed) {
      std::fprintf(stderr, "guardian run: --lock-memory: %s\n", parsed.error().message.c_str());
      return kExitUsage;
    }
    options.lock_memory = *parsed;
  }
  if (auto ticks = args.get("ticks")) {
    auto parsed = parse_u64(*ticks);
    if (!parsed) {
      std::fprintf(stderr, "guardian run: --ticks wants a number, got \"%s\"\n", ticks->c_str());
      return kExitUsage;
    }
    options.max_ticks = *parsed;
  }
  return guardian::run_daemon(options);
}

}  // namespace guardian::cli
