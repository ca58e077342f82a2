#include "cli/help.h"

#include <algorithm>

namespace guardian::cli {
namespace {

constexpr std::string_view kHostRoot =
    "prefix for every host path: /proc, /sys/fs/cgroup, /etc/systemd (default /)";
constexpr std::string_view kUid = "the user whose systemd manager to read (default: your own uid)";

std::vector<CommandHelp> build() {
  return {
      {"run",
       "the daemon: sense, model, decide, act, tell (systemd Type=notify)",
       {"guardian run [--policy FILE] [--host-root DIR] [--dry-run] [--log auto|journal|stderr]"},
       "Watches memory pressure of the user's slices and containers, predicts how many seconds are left "
       "before "
       "systemd-oomd would kill, and climbs the policy's ladder of reversible actions before that; steps "
       "down and "
       "reverts them when the pressure is gone. Every decision is a journal event (see guardian events).\n\n"
       "Under systemd it is Type=notify with a watchdog; SIGHUP (systemctl --user reload guardian) reloads "
       "the "
       "policy, SIGTERM reverts every action and exits. Without a user manager or without the cgroup v2 "
       "memory "
       "controller it runs in system-only mode on /proc/pressure/memory and /proc/meminfo.",
       {
           {"policy", "FILE",
            "the policy (default: $XDG_CONFIG_HOME/guardian/policy.toml, else $XDG_CONFIG_DIRS/guardian/"
            "policy.toml, else the embedded policies/default.toml)",
            "file", "policies/default.toml"},
           {"host-root", "DIR", kHostRoot, "dir", "/"},
           {"uid", "N", kUid, "", "1000"},
           {"dry-run", "", "decide and tell, but never change anything", "", ""},
           {"state-file", "FILE",
            "where originals are saved before a change (default $XDG_STATE_HOME/guardian/state.json)", "file",
            "/tmp/state.json"},
           {"quiet", "", "no status line on stderr every 5 s", "", ""},
           {"log", "WHERE", "where events go: auto (the journal when it runs, else stderr), journal, stderr",
            "auto journal stderr", "stderr"},
           {"ticks", "N", "stop after N ticks (tests, benchmarks)", "", "1"},
       },
       "",
       {
           {"guardian run --dry-run", "see what the default policy would do here, changing nothing"},
           {"guardian run --policy ~/.config/guardian/policy.toml", "run with your own ladder"},
           {"systemctl --user enable --now guardian", "run it as the user service instead"},
       },
       "0 after SIGTERM, 1 when the policy is invalid, 2 on a usage or environment error."},

      {"events",
       "the timeline of guardian's decisions and of every OOM kill, from the journal",
       {"guardian events [--since TIME] [--until TIME] [--event NAME,…] [--unit UNIT,…] [--json] [--follow]",
        "guardian events --from-export FILE [--since TIME] …"},
       "Reads the journal (your user journal, and the system journal where you may read it) for guardian's "
       "own "
       "events and for the OOM kills of systemd-oomd and of the kernel, and prints them as one timeline: "
       "time, event, "
       "cgroup or unit, the cgroup's full avg10 against oomd's limit and guardian's predicted seconds until "
       "the kill "
       "at that moment, the action, and its result. One kill is one row however many parties logged it "
       "(systemd-oomd's line, the unit's manager, the kernel, guardian itself); its ACTION column says what "
       "guardian "
       "was doing then, or \"guardian not running\", which is what explains a kill nobody acted against.\n\n"
       "TIME is what journalctl --since takes: \"2025-11-26 21:04:10\", \"21:04\", \"today\", \"yesterday\", "
       "\"-1h\", \"2 days ago\", \"@1764191050\". The TIME column prints in the same form, so a row's time "
       "can be "
       "pasted into --since. Without membership in the systemd-journal group, systemd-oomd's and the "
       "kernel's own "
       "lines are not readable; oomd's kills in your units still show, from your manager's entries.\n\n"
       "With --json each row is an object with time (UTC, ISO 8601), time_us, event, cgroup, unit, "
       "full_avg10, "
       "oomd_limit_percent, seconds_until_kill, level, action, result, message, and kill: null, or for a "
       "kill "
       "killer, reason, watched_cgroup, processes, pid, task, anon_rss_bytes, guardian_running, "
       "guardian_level, "
       "active_actions and seen_by.",
       {
           {"since", "TIME", "show entries from TIME on", "today yesterday -1h -24h", "yesterday"},
           {"until", "TIME", "show entries up to TIME", "now today -1h", "now"},
           {"event", "NAME,…",
            "only these events: guardian's (started, level-changed, action-applied, …), oomd-kill, "
            "kernel-oom-kill, or oom-kill for both kinds of kill",
            "events", "oom-kill"},
           {"unit", "UNIT,…",
            "only rows whose unit or cgroup has a component matching UNIT (a glob; \"jellyfin\" means "
            "jellyfin.service)",
            "", "container.slice"},
           {"json", "", "one JSON object per line instead of the table", "", ""},
           {"follow", "",
            "keep printing new events as they are logged (a kill is printed once its sightings are in, "
            "up to 10 s later)",
            "", ""},
           {"namespace", "NS", "read the journal namespace NS (journalctl --namespace)", "", "guardian"},
           {"directory", "DIR",
            "read the journal files in DIR (journalctl --directory), e.g. a VM's /var/log/journal", "dir",
            "/var/log/journal"},
           {"from-export", "FILE",
            "read a file in journal export format (journalctl -o export; - for standard input)", "file", "-"},
       },
       "",
       {
           {"guardian events --since yesterday", "what happened since yesterday midnight"},
           {"guardian events --event oom-kill --since -7d",
            "every OOM kill of the last week, and what guardian did"},
           {"guardian events --unit container.slice --follow", "watch container.slice live"},
           {"guardian events --json --since today | jq -r 'select(.kill) | .unit'", "the units killed today"},
           {"journalctl -o export > j.export; guardian events --from-export j.export",
            "review another machine's journal"},
       },
       "0 on success (also when nothing matched), 2 on a usage error or when the journal cannot be opened."},

      {"status",
       "ask the running daemon over D-Bus: level, watched cgroups, actions, why",
       {"guardian status [--json] [--bus-address ADDR] [--timeout MS]"},
       "Asks the running guardian (io.github.guardian.Guardian1 on the session bus) for its level, the "
       "cgroups "
       "systemd-oomd watches with their pressure against oomd's limit and the seconds until a kill, the "
       "active "
       "actions, and why it is at its level.",
       {
           {"json", "", "one JSON object instead of the table", "", ""},
           {"bus-address", "ADDR", "a D-Bus address instead of DBUS_SESSION_BUS_ADDRESS", "",
            "unix:path=/tmp/bus"},
           {"timeout", "MS", "per-call timeout in milliseconds (default 5000)", "", "5000"},
       },
       "",
       {
           {"guardian status", "is guardian running, and how close is a kill?"},
           {"guardian status --json | jq .level", "the level alone"},
       },
       "0 on success, 2 when guardian is not running, there is no session bus, or on a usage error."},

      {"doctor",
       "the incident investigation as one command, with verdicts and next steps",
       {"guardian doctor [--host-root DIR] [--uid N] [--interval DURATION] [--json]"},
       "Samples the host twice, models systemd-oomd, and answers the questions of an OOM-kill investigation "
       "one by "
       "one: which cgroups oomd watches and at which limit, how close each is, whether containers share a "
       "slice "
       "with the desktop, whether swap and the oomd configuration are what they seem, whether guardian's "
       "memory "
       "lock fits RLIMIT_MEMLOCK (the loop's set at start, and how much room is left for the shared "
       "libraries' "
       "pages in use that it locks page by page after five ticks), and what to do next.",
       {
           {"host-root", "DIR", kHostRoot, "dir", "/"},
           {"uid", "N", kUid, "", "1000"},
           {"interval", "DURATION", "time between the two samples (default 1s)", "", "1s"},
           {"json", "", "the findings as JSON", "", ""},
       },
       "",
       {
           {"guardian doctor", "the investigation on this machine"},
           {"guardian doctor --host-root tests/fixtures/fedora-desktop", "the same on a recorded host tree"},
       },
       "0 when every finding is ok or informational, 1 when one needs attention, 2 on a usage error."},

      {"sample",
       "one snapshot of everything sensed and modelled, then exit",
       {"guardian sample [--host-root DIR] [--policy FILE] [--interval DURATION] --json"},
       "Samples twice (so rates such as the stall share and the pgscan delta are real), models oomd's rule, "
       "evaluates the policy once and prints one JSON object: system memory and pressure, every cgroup with "
       "its "
       "memory, pressure and oomd figures, and the level the policy would be at.",
       {
           {"host-root", "DIR", kHostRoot, "dir", "/"},
           {"policy", "FILE", "the policy whose level to report (default: the embedded one)", "file",
            "policies/default.toml"},
           {"uid", "N", kUid, "", "1000"},
           {"interval", "DURATION", "time between the two samples (default 1s)", "", "1s"},
           {"json", "", "print JSON (the only format)", "", ""},
       },
       "",
       {
           {"guardian sample --json | jq '.cgroups[] | select(.oomd) | {unit, oomd}'",
            "oomd's view of each watched cgroup"},
       },
       "0 on success, 1 when the policy is invalid, 2 on a usage error."},

      {"check-policy",
       "validate policy files: FILE:LINE:COL: message per error",
       {"guardian check-policy [--host-root DIR] [FILE…]", "guardian check-policy --print-default",
        "guardian check-policy --list-actions"},
       "Validates policy files with the actions this build ships. Prints \"FILE: ok (N levels)\" per valid "
       "file, "
       "or one \"FILE:LINE:COL: message\" line per problem (an unknown key comes with the nearest valid "
       "one). "
       "Without a file it checks the one guardian run takes: $XDG_CONFIG_HOME/guardian/policy.toml "
       "(~/.config), else $XDG_CONFIG_DIRS/guardian/policy.toml (/etc/xdg), else the embedded default. "
       "guardian.toml(5) describes every key.",
       {
           {"host-root", "DIR", kHostRoot, "dir", "/"},
           {"print-default", "", "print the policy compiled into guardian (used when no policy file exists)",
            "", ""},
           {"list-actions", "", "list the action types this build can run", "", ""},
       },
       "file",
       {
           {"guardian check-policy", "check the policy guardian run takes, after an edit, before reloading"},
           {"guardian check-policy ./my-policy.toml", "check another file"},
       },
       "0 when every file is valid, 1 when a file has errors, 2 on a usage error or an unreadable file."},

      {"init-policy",
       "write the default policy to ~/.config/guardian/policy.toml for editing",
       {"guardian init-policy [--force] [--host-root DIR]"},
       "Writes the embedded default policy, with its comments, to $XDG_CONFIG_HOME/guardian/policy.toml "
       "(~/.config/guardian/policy.toml), where guardian run finds it without --policy. An existing file "
       "stays "
       "as it is unless --force is given; then it is kept as policy.toml.old (.old.2, …) before the default "
       "replaces it. After an edit, guardian check-policy checks the file and systemctl --user reload "
       "guardian "
       "makes the running daemon take it.",
       {
           {"force", "", "replace an existing policy (kept as policy.toml.old first)", "", ""},
           {"host-root", "DIR", kHostRoot, "dir", "/"},
       },
       "",
       {
           {"guardian init-policy && $EDITOR ~/.config/guardian/policy.toml", "start from the default"},
           {"guardian check-policy && systemctl --user reload guardian", "check the edit, then take it"},
       },
       "0 when written, 1 when a policy exists (and no --force), 2 on a usage error or a file that cannot be "
       "written."},

      {"adopt",
       "move a podman quadlet container into container.slice (writes a drop-in, restarts nothing)",
       {"guardian adopt NAME [--home DIR] [--host-root DIR] [--dry-run]"},
       "Writes ~/.config/containers/systemd/NAME.container.d/50-guardian-slice.conf with [Service] "
       "Slice=container.slice, so the container runs apart from the desktop from its next start, and prints "
       "the "
       "commands to restart it when that suits you. Restarts nothing itself.",
       {
           {"home", "DIR", "the home whose quadlets to change (default $HOME)", "dir", "/tmp"},
           {"host-root", "DIR", kHostRoot, "dir", "/"},
           {"dry-run", "", "say what would be written, write nothing", "", ""},
       },
       "",
       {
           {"guardian adopt jellyfin --dry-run", "see the drop-in for jellyfin.container"},
           {"guardian adopt jellyfin", "write it"},
       },
       "0 when written (or already adopted), 1 when there is no such quadlet, 2 on a usage error."},

      {"probe",
       "short-lived hardware probes for the daemon: `probe vaapi --json`",
       {"guardian probe vaapi [--json] [--device NODE] [--host-root DIR]"},
       "Loads libva and the FFmpeg libraries in this short-lived process only (the daemon runs it as a child "
       "and "
       "reads its JSON): checks the render node, libva's profiles and entrypoints and FFmpeg's VA-API "
       "encoders, and "
       "prints the HardwareDecodingCodecs list for Jellyfin.",
       {
           {"json", "", "print JSON", "", ""},
           {"device", "NODE", "the render node (default /dev/dri/renderD128)", "file", "/dev/dri/renderD128"},
           {"host-root", "DIR", kHostRoot, "dir", "/"},
       },
       "vaapi",
       {
           {"guardian probe vaapi", "can this machine transcode with VA-API?"},
       },
       "0 when VA-API is available, 1 when it is not (the output says why), 2 on a usage error."},
  };
}

void wrap(std::string& out, std::string_view text, size_t indent, size_t width = 80) {
  const std::string margin(indent, ' ');
  size_t column = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '\n') {
      out += '\n';
      column = 0;
      ++i;
      continue;
    }
    const size_t end = std::min(text.find_first_of(" \n", i), text.size());
    const std::string_view word = text.substr(i, end - i);
    if (column == 0) {
      out += margin;
      column = indent;
    } else if (column + 1 + word.size() > width) {
      out += '\n' + margin;
      column = indent;
    } else {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    i = end;
    if (i < text.size() && text[i] == ' ') ++i;
  }
  out += '\n';
}

}  // namespace

const std::vector<CommandHelp>& command_help() {
  static const std::vector<CommandHelp> kHelp = build();
  return kHelp;
}

const CommandHelp* find_command_help(std::string_view name) {
  for (const auto& help : command_help()) {
    if (help.name == name) return &help;
  }
  return nullptr;
}

std::string render_command_help(const CommandHelp& help) {
  std::string out;
  for (size_t i = 0; i < help.synopsis.size(); ++i) {
    out += (i == 0 ? "usage: " : "       ") + std::string(help.synopsis[i]) + "\n";
  }
  out += "\n";
  wrap(out, help.description, 0);
  out += "\noptions:\n";
  for (const auto& option : help.options) {
    std::string left =
        "  --" + std::string(option.name) + (option.value.empty() ? "" : " " + std::string(option.value));
    if (left.size() < 24) {
      left.resize(24, ' ');
      out += left;
      std::string text;
      wrap(text, option.text, 24);
      out += text.substr(24);
    } else {
      out += left + "\n";
      wrap(out, option.text, 24);
    }
  }
  out += "  --help                this text\n";
  out += "\nexamples:\n";
  for (const auto& example : help.examples) {
    out += "  " + std::string(example.command) + "\n";
    wrap(out, example.what, 6);
  }
  out += "\nexit status: ";
  std::string status;
  wrap(status, help.exit_status, 13);
  out += status.substr(13);
  return out;
}

void print_command_help(FILE* out, std::string_view name) {
  if (const CommandHelp* help = find_command_help(name)) {
    const std::string text = render_command_help(*help);
    (void)std::fwrite(text.data(), 1, text.size(), out);
  }
}

std::string render_overview() {
  std::string out = "usage: guardian COMMAND [OPTIONS]\n\ncommands:\n";
  for (const auto& help : command_help()) {
    std::string left = "  " + std::string(help.name);
    left.resize(16, ' ');
    out += left + std::string(help.summary) + "\n";
  }
  out +=
      "\nexamples:\n"
      "  guardian doctor                      why did something get killed, and what to change\n"
      "  guardian events --since yesterday    what guardian, systemd-oomd and the kernel did\n"
      "  guardian status                      the running daemon's level and seconds until a kill\n"
      "\nguardian COMMAND --help shows a command's options; man guardian has them all.\n";
  return out;
}

}  // namespace guardian::cli
