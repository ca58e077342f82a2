// Reading systemd configuration files from the host the way systemd itself layers them:
// oomd.conf + oomd.conf.d drop-ins, and unit files + their drop-ins for the system and the user
// manager. This only finds and reads files in precedence order; model/oomd_config interprets them.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "common/host_root.h"
#include "sense/snapshot.h"

namespace guardian {

struct ConfigFile {
  std::string path;     // host view, e.g. "/usr/lib/systemd/user/slice.d/10-oomd-per-slice-defaults.conf"
  std::string content;
};

// oomd.conf then its drop-ins, in the order systemd applies them (later wins):
// the main file from the first of /etc, /run, /usr/local/lib, /usr/lib that has it, then every
// "*.conf" in "systemd/oomd.conf.d" of those dirs, a name in an earlier dir masking the same
// name in a later one, sorted by file name.
std::vector<ConfigFile> read_oomd_conf(const HostRoot& host);

enum class ManagerScope { System, User };

// The fragments that make up one unit's configuration, in application order: the unit file
// (first found on the search path), then drop-ins from "<type>.d/" (e.g. "slice.d/", applies to
// every unit of that type), from each dash-prefix dir ("app-.slice.d/" for "app-foo.slice"),
// and "<unit>.d/" — same-named files masked by higher-priority dirs, all sorted by file name.
// `unit` may be a template instance ("user@1000.service"), which also reads "user@.service.d/".
// For the user scope, `home` is the user's home ("/home/alice") for ~/.config/systemd/user.
std::vector<ConfigFile> read_unit_config(const HostRoot& host, ManagerScope scope,
                                         const std::string& unit, const std::string& home = {});

// The files that say what systemd-oomd watches, for model/oomd_rules to interpret: oomd.conf with
// its drop-ins, and the fragments of each unit that can be an oomd target guardian can see — in
// the system scope the user's manager (user@UID.service, when there is one) and system.slice, in
// the user scope every slice inside the user manager (`user_slices`, read with the user's home
// from the host's /etc/passwd for ~/.config/systemd/user). A unit without any file is left out.
struct OomdConfigFiles {
  std::vector<ConfigFile> oomd_conf;
  struct Unit {
    ManagerScope scope = ManagerScope::System;
    std::string name;  // "user@1000.service", "app.slice"
    std::vector<ConfigFile> fragments;
  };
  std::vector<Unit> units;  // in the order above
};
OomdConfigFiles read_oomd_config_files(const HostRoot& host, const HostLayout& layout,
                                       const std::set<std::string>& user_slices);

}  // namespace guardian
