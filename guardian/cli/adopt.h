// `guardian adopt NAME`: the quadlet drop-in that moves one podman container into
// container.slice. Split from the command so tests can call it with a temporary HOME.
#pragma once

#include <string>

#include "common/host_root.h"
#include "common/result.h"

namespace guardian::cli {

struct AdoptOptions {
  std::string name;         // the quadlet's base name: NAME.container
  std::string home;         // the user's home (host view)
  std::string config_home;  // $XDG_CONFIG_HOME if set, else home + "/.config"
  std::string slice = "container.slice";
  bool dry_run = false;  // say what would be written, write nothing
};

struct AdoptOutcome {
  bool already_adopted = false;
  std::string dropin_path;  // host view
  std::string report;       // the text to print: what was written and the commands to run
};

// Writes NAME.container.d/50-guardian-slice.conf next to NAME.container (atomically). Never
// restarts anything. Errors name the file or the problem.
Result<AdoptOutcome> adopt_container(const HostRoot& host, const AdoptOptions& options);

}  // namespace guardian::cli
