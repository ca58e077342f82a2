// The daemon: one thread, one epoll loop. Each tick: sense -> model -> decide -> act -> tell.
// It wakes on the sampling timer, on PSI triggers, on signals (SIGTERM/SIGINT stop, SIGHUP
// reloads the policy), on action results from the worker thread, and on the fds of its
// components (D-Bus, …).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "act/action.h"
#include "common/event.h"
#include "component/component.h"
#include "model/oomd_config.h"

namespace guardian {

struct DaemonOptions {
  std::string host_root;                 // "" = "/"
  std::optional<std::string> policy_path;  // nullopt = embedded default
  std::optional<uint32_t> uid;
  bool dry_run = false;                  // decide and tell, never act
  std::string state_path;                // "" = StateStore::default_path(); ":memory:" = none
  bool status_lines = true;              // print level + pressure to stderr every few seconds
  enum class LogTarget { Auto, Journal, Stderr } log_target = LogTarget::Auto;  // Auto: journal if its socket exists
  std::optional<uint64_t> max_ticks;     // stop after N ticks (tests, benchmarks)
};

// What the loop offers its components. All calls on the loop thread.
class DaemonLoop {
 public:
  virtual ~DaemonLoop() = default;
  virtual void request_reload() = 0;                // as SIGHUP: reload the policy file
  virtual void request_rescan() = 0;                // re-walk cgroups on the next tick
  virtual void request_tick() = 0;                  // sample again now (e.g. an oomd kill seen)
  virtual void tell(const Event& event) = 0;        // journal + every component
  virtual void note_oomd_kill(MonoTime when) = 0;   // feeds the model's 15 s post-kill pause
  [[nodiscard]] virtual std::string explain() const = 0;  // why the current level
  virtual ActionEnv& action_env() = 0;
  [[nodiscard]] virtual const DaemonOptions& options() const = 0;
  // systemd-oomd's live watch list (its D-Bus dump) replaces the drop-in reading in the model:
  // oomd does not always watch what the drop-ins say (systemd #43174). Default: ignored.
  virtual void use_live_oomd_rules(std::vector<WatchedCgroup> /*rules*/) {}
};

// Runs the daemon until SIGTERM/SIGINT. Returns the process exit code.
int run_daemon(const DaemonOptions& options);

// The components guardian runs beside the loop (daemon/components.cpp: one line per component).
std::vector<std::unique_ptr<DaemonComponent>> make_components(const DaemonOptions& options);

}  // namespace guardian
