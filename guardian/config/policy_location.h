// Where the user's policy lives, as the XDG Base Directory specification places configuration:
// $XDG_CONFIG_HOME/guardian/policy.toml (default ~/.config), then each $XDG_CONFIG_DIRS entry's
// guardian/policy.toml (default /etc/xdg), then the embedded default. `guardian run` without
// --policy takes the first that exists (again at every reload, so a file created after the
// start is picked up by `systemctl --user reload guardian`); `guardian check-policy` with no file
// checks that one; `guardian init-policy` writes the embedded default to the first place.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/host_root.h"
#include "common/result.h"

namespace guardian {

// The XDG directories as the environment gives them, read once (at start) and passed on.
struct ConfigDirs {
  std::string config_home;               // absolute; "" when neither XDG_CONFIG_HOME nor HOME is usable
  std::vector<std::string> config_dirs;  // absolute, in order of preference

  // From the values of XDG_CONFIG_HOME, HOME and XDG_CONFIG_DIRS (nullptr = unset). The spec's
  // rules: a relative path is ignored, an unset or empty XDG_CONFIG_HOME is $HOME/.config and
  // an unset or empty XDG_CONFIG_DIRS is /etc/xdg.
  static ConfigDirs from(const char* xdg_config_home, const char* home, const char* xdg_config_dirs);
  static ConfigDirs from_environment();
};

// Where the policy came from, for the policy-loaded event and `guardian status`.
enum class PolicyOrigin {
  Option,    // --policy FILE
  User,      // $XDG_CONFIG_HOME/guardian/policy.toml
  System,    // $XDG_CONFIG_DIRS/guardian/policy.toml
  Embedded,  // none of these exists
};
const char* policy_origin_name(PolicyOrigin origin);  // "--policy", "user", "system", "embedded"

struct PolicyLocation {
  PolicyOrigin origin = PolicyOrigin::Embedded;
  std::string host_path;  // as the user knows it ("/home/u/.config/guardian/policy.toml"); "" = embedded
  std::string open_path;  // the same through --host-root (what is opened)
};

// The places looked at, in order (host paths).
std::vector<std::pair<PolicyOrigin, std::string>> policy_candidates(const ConfigDirs& dirs);

// The first candidate that exists under `host` (a broken file there is still the one chosen: it
// is reported, never silently passed over), or Embedded.
PolicyLocation locate_policy(const HostRoot& host, const ConfigDirs& dirs);

// Where `guardian init-policy` writes: $XDG_CONFIG_HOME/guardian/policy.toml. An error when no
// config home is known (no HOME).
Result<std::string> user_policy_path(const ConfigDirs& dirs);

}  // namespace guardian
