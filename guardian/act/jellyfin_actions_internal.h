// Shared by the jellyfin_*_action(s).cpp files: the base every Jellyfin action derives from, and
// one factory per action family for the registration in jellyfin_actions.cpp.
#pragma once

#include <memory>
#include <string>

#include "act/action.h"
#include "act/jellyfin_steering.h"

namespace guardian {

class JellyfinAction : public Action {
 public:
  JellyfinAction(std::string type, ActionSpec spec, ActionEnv env)
      : type_(std::move(type)), spec_(std::move(spec)), env_(std::move(env)) {}
  [[nodiscard]] const std::string& type() const override { return type_; }

 protected:
  // Where this action sits: its instance (the `instance` parameter, "" = the only one), level and
  // index — what its saved state is keyed by.
  [[nodiscard]] JellyfinSteering::Place place() const;
  // The instance, with a client; an error says why not.
  [[nodiscard]] Result<jellyfin::Instance> instance() const;
  // A policy without [[jellyfin]] (the embedded default on a machine without Jellyfin) makes the
  // Jellyfin actions no-ops, not failures; any other miss is a failure worth retrying (a key
  // file fixed meanwhile is picked up by the watcher).
  [[nodiscard]] ActionResult not_found(const Error& error) const;

  std::string type_;
  ActionSpec spec_;
  ActionEnv env_;
};

ActionResult jellyfin_failed(std::string detail, bool retry = false);

std::unique_ptr<Action> make_jellyfin_encoding_action(std::string type, ActionSpec spec, ActionEnv env);
std::unique_ptr<Action> make_jellyfin_pause_tasks_action(std::string type, ActionSpec spec, ActionEnv env);
std::unique_ptr<Action> make_jellyfin_respawn_action(std::string type, ActionSpec spec, ActionEnv env);
std::unique_ptr<Action> make_jellyfin_cap_bitrate_action(std::string type, ActionSpec spec, ActionEnv env);
std::unique_ptr<Action> make_jellyfin_stop_lowest_action(std::string type, ActionSpec spec, ActionEnv env);

}  // namespace guardian
