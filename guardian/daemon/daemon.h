// The daemon: one thread, one epoll loop. Each tick: sense -> model -> decide -> act -> tell.
// It wakes on the sampling timer, on PSI triggers, on signals (SIGTERM/SIGINT stop, SIGHUP
// reloads the policy), on action results from the worker thread, on guardian-helper's events
// when it runs, and on the fds of its components (D-Bus, …).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "act/action_runner.h"
#include "component/component.h"
#include "config/policy_location.h"
#include "sense/desktop_apps.h"
#include "sense/helper_client.h"
#include "sense/self_watch.h"

namespace guardian {

struct DaemonOptions {
  std::string host_root;                   // "" = "/"
  std::optional<std::string> policy_path;  // nullopt = the first of config_dirs' policies, else embedded
  ConfigDirs config_dirs;                  // where to look without policy_path (through host_root)
  DataDirs data_dirs;                      // where the desktop files of the apps `notify` names are
  std::optional<uint32_t> uid;
  bool dry_run = false;      // decide and tell, never act
  std::string state_path;    // "" = StateStore::default_path(); ":memory:" = none
  bool status_lines = true;  // print level + pressure to stderr every few seconds
  enum class LogTarget {
    Auto,
    Journal,
    Stderr
  } log_target = LogTarget::Auto;     // Auto: journal if its socket exists
  std::optional<uint64_t> max_ticks;  // stop after N ticks (tests, benchmarks)
  // guardian-helper's socket (daemon/helper_link.h): used while it exists, "" = never.
  std::string helper_socket = kHelperSocketPath;
  // How the working set is locked in memory (README "Benchmarks" has the measurement that chose
  // the default): a loop that faults or allocates under the user's exhausted budget stalls.
  MemoryLockMode lock_memory = MemoryLockMode::LoopOnly;
  // Called on the loop thread after every tick with the tick's number (1 = the first); tests use
  // it to measure a stretch of steady-state ticks. Empty in the daemon proper.
  std::function<void(uint64_t ticks)> after_tick;
  // Whether the metrics exporter component runs (tests measure the loop with and without it).
  bool metrics_exporter = true;
  // How often systemd-oomd's live list is read (tests measure the loop with dumps arriving).
  std::chrono::seconds oomd_dump_interval{60};
};

// Runs the daemon until SIGTERM/SIGINT. Returns the process exit code.
int run_daemon(const DaemonOptions& options);

// The components guardian runs beside the loop (daemon/components.cpp: one line per component).
// `actions` is the daemon's one action path: a component that changes the system submits its
// changes there, and one that keeps a part of act's world current (the user-manager slot, the
// Jellyfin instances) finds it through actions.env().
std::vector<std::unique_ptr<DaemonComponent>> make_components(const DaemonOptions& options,
                                                              ActionRunner& actions);

}  // namespace guardian
