// The Jellyfin actions that change a setting the user owns, through JellyfinSteering:
// prefer-vaapi and cheaper-software (EncodingOptions layers) and pause-background-tasks (stopped
// scheduled tasks, started again when the level is left). The shared base's helpers live here too.
#include "act/basic_actions.h"
#include "act/jellyfin_actions_internal.h"

namespace guardian {

using Outcome = ActionResult::Outcome;

ActionResult jellyfin_failed(std::string detail, bool retry) {
  ActionResult result{Outcome::Failed, std::move(detail)};
  result.retry = retry;
  return result;
}

JellyfinSteering::Place JellyfinAction::place() const {
  JellyfinSteering::Place place;
  place.instance = param_string(spec_, "instance");
  place.level = env_.level;
  place.level_number = env_.level_number;
  place.action_index = env_.action_index;
  place.action = type_;
  return place;
}

Result<jellyfin::Instance> JellyfinAction::instance() const {
  if (env_.jellyfin == nullptr) return make_error("this guardian runs without its Jellyfin part");
  return env_.jellyfin->find_instance(param_string(spec_, "instance"));
}

ActionResult JellyfinAction::not_found(const Error& error) const {
  if (env_.jellyfin != nullptr && env_.jellyfin->instances().all().empty())
    return {Outcome::Unchanged, "no [[jellyfin]] instance configured"};
  return jellyfin_failed(error.message, env_.jellyfin != nullptr);
}

namespace {

// prefer-vaapi and cheaper-software: one EncodingOptions layer each, in force while the level holds.
class EncodingOptionsAction final : public JellyfinAction {
 public:
  using JellyfinAction::JellyfinAction;
  [[nodiscard]] std::string describe() const override {
    return type_ == "jellyfin.prefer-vaapi"
               ? "Jellyfin: hardware (VA-API) decode and encode for new transcodes"
               : "Jellyfin: cheaper software transcodes (preset, threads, CRF, queues)";
  }
  ActionResult apply(Deadline deadline) override {
    if (env_.jellyfin == nullptr)
      return not_found(make_error("this guardian runs without its Jellyfin part"));
    if (!env_.dry_run && env_.state == nullptr)
      return jellyfin_failed("no state store: refusing to change what could not be restored");
    return env_.jellyfin->apply_encoding(place(), spec_, env_.dry_run, deadline);
  }
  ActionResult revert(Deadline deadline) override {
    if (env_.jellyfin == nullptr || env_.dry_run) return {Outcome::Unchanged, "nothing saved"};
    return env_.jellyfin->revert_encoding(place(), deadline);
  }
};

// pause-background-tasks: stop running scheduled tasks (trickplay, chapter images and library
// scans spawn ffmpeg too); start them again when the level is left.
class PauseTasksAction final : public JellyfinAction {
 public:
  using JellyfinAction::JellyfinAction;
  [[nodiscard]] std::string describe() const override {
    return "Jellyfin: stop running background tasks until pressure falls";
  }
  ActionResult apply(Deadline deadline) override {
    if (env_.jellyfin == nullptr)
      return not_found(make_error("this guardian runs without its Jellyfin part"));
    if (!env_.dry_run && env_.state == nullptr) return jellyfin_failed("no state store");
    return env_.jellyfin->pause_tasks(place(), spec_, env_.dry_run, deadline);
  }
  ActionResult revert(Deadline deadline) override {
    if (env_.jellyfin == nullptr || env_.dry_run) return {Outcome::Unchanged, "nothing saved"};
    return env_.jellyfin->restart_tasks(place(), deadline);
  }
};

}  // namespace

std::unique_ptr<Action> make_jellyfin_encoding_action(std::string type, ActionSpec spec, ActionEnv env) {
  return std::make_unique<EncodingOptionsAction>(std::move(type), std::move(spec), std::move(env));
}

std::unique_ptr<Action> make_jellyfin_pause_tasks_action(std::string type, ActionSpec spec, ActionEnv env) {
  return std::make_unique<PauseTasksAction>(std::move(type), std::move(spec), std::move(env));
}

}  // namespace guardian
