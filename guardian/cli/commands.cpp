#include "cli/commands.h"

namespace guardian::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> kCommands = {
      {"run", "the daemon: sense, model, decide, act, tell (systemd Type=notify)", run_daemon},
      {"sample", "one snapshot of everything sensed and modelled, then exit", run_sample},
      {"check-policy", "validate policy files: FILE:LINE:COL: message per error", run_check_policy},
      {"init-policy", "write the default policy to ~/.config/guardian/policy.toml for editing",
       run_init_policy},
      {"doctor", "the incident investigation as one command, with verdicts and next steps", run_doctor},
      {"events", "the timeline of guardian's decisions and of every OOM kill, from the journal", run_events},
      {"status", "ask the running daemon over D-Bus: level, watched cgroups, actions, why", run_status},
      {"adopt", "move a podman quadlet container into container.slice (writes a drop-in, restarts nothing)",
       run_adopt},
      {"probe", "short-lived hardware probes for the daemon: `probe vaapi --json`", run_probe},
  };
  return kCommands;
}

}  // namespace guardian::cli
