// JellyfinSteering: everything guardian changes in Jellyfin's settings and scheduled tasks goes
// through here, one instance at a time (a mutex per instance: one read-modify-write of
// EncodingOptions at a time, so no POST is built from a GET another POST has made stale).
//
// * EncodingOptions: the jellyfin.prefer-vaapi / cheaper-software actions put their layer in
//   force (apply) or take it out (revert); each time, the options are read, planned
//   (act/jellyfin_encoding_plan.h), the layers saved to the StateStore, and the whole object
//   written back. A write that times out "maybe applied": its entries stay, and guardian reads
//   again until it knows (and for `settle` after it, in case Jellyfin applies it late).
// * Scheduled tasks: jellyfin.pause-background-tasks saves the running tasks it stops (per level
//   and action) before stopping them, and starts them again when its level is left — unless a
//   lower level still in force pauses them too.
// * Session bitrates: jellyfin.cap-bitrate saves each session it caps with the bitrate its
//   transcode ran at (per level and action) before sending the cap, and sends each session still
//   there its own bitrate back when the level is left.
// * Saved entries: read as input, not orders. After the policy loads, entries left by an earlier
//   guardian are restored through the policy's instance of that name (its URL and key, never the
//   state file's); an entry naming no configured instance is reported and kept. A restore that
//   fails is kept and retried while guardian runs — when the instance answers again (service(),
//   from the Jellyfin watcher) with backoff, and once more before exit (finish()).
//
// Thread-safe: actions call it on the action worker, the watcher on its own thread, the daemon
// on the loop at start and stop. No process-wide state: the daemon owns it and hands it to
// actions through ActionEnv.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "act/action.h"
#include "act/jellyfin_encoding_plan.h"
#include "act/state_store.h"
#include "common/event.h"
#include "common/host_root.h"
#include "jellyfin/instances.h"
#include "jellyfin/kept_changes.h"

namespace guardian {

class JellyfinSteering final : public jellyfin::KeptChanges {
 public:
  struct Settings {
    // How long after a write of unknown outcome Jellyfin may still apply it (a request Kestrel
    // received is finished even when guardian gave up; slow answers come when memory is short).
    std::chrono::milliseconds settle{60'000};
    // Retries of failed restores and unapplied layers: first after `retry_first`, doubling to
    // `retry_max`; an instance that answers again is tried at once.
    std::chrono::milliseconds retry_first{1'000};
    std::chrono::milliseconds retry_max{60'000};
    // Clocks (tests move them): steady for backoff, wall for what the state file remembers.
    std::function<std::chrono::steady_clock::time_point()> steady_now;
    std::function<std::chrono::system_clock::time_point()> wall_now;
  };

  JellyfinSteering(StateStore& state, jellyfin::InstanceDirectory& instances, const HostRoot* host);
  JellyfinSteering(StateStore& state, jellyfin::InstanceDirectory& instances, const HostRoot* host,
                   Settings settings);
  ~JellyfinSteering() override;
  JellyfinSteering(const JellyfinSteering&) = delete;
  JellyfinSteering& operator=(const JellyfinSteering&) = delete;

  [[nodiscard]] jellyfin::InstanceDirectory& instances() { return instances_; }

  // Where an action sits: its instance ("" = the only one), level and index in the level.
  struct Place {
    std::string instance;
    std::string level;
    size_t level_number = 0;
    size_t action_index = 0;
    std::string action;  // "jellyfin.cheaper-software", …
  };

  // EncodingOptions layers (prefer-vaapi, cheaper-software).
  ActionResult apply_encoding(const Place& place, const ActionSpec& spec, bool dry_run, Deadline deadline);
  ActionResult revert_encoding(const Place& place, Deadline deadline);

  // Scheduled-task layers (pause-background-tasks).
  ActionResult pause_tasks(const Place& place, const ActionSpec& spec, bool dry_run, Deadline deadline);
  ActionResult restart_tasks(const Place& place, Deadline deadline);

  // Session-bitrate layers (cap-bitrate): each capped session's bitrate saved before the cap, sent
  // back to the sessions still there when the level is left (`restore_bitrate` in the spec
  // overrides the saved values).
  ActionResult cap_bitrates(const Place& place, const ActionSpec& spec, bool dry_run, Deadline deadline);
  // `message`: sent with each restore by the action's revert ("" = none; a retry sends none).
  ActionResult restore_bitrates(const Place& place, const std::string& message, Deadline deadline);

  // After the policy is in force (the instances are known): restores what an earlier guardian
  // left in the state file, through the policy's instances. One event per entry.
  std::vector<Event> restore_saved(Deadline deadline);
  // The watcher's round for `instance` after Jellyfin answered it: retries kept restores, layers
  // not yet written and reads after writes of unknown outcome, when their backoff is due (at once
  // when `answers_again`). Events for what was finally restored.
  std::vector<Event> service(const std::string& instance, bool answers_again, Deadline deadline);
  std::vector<Event> retry_kept(const std::string& instance, bool answers_again, Deadline deadline) override {
    return service(instance, answers_again, deadline);
  }
  // Before exit (after the ladder unwound): one more try for everything still kept, and an event
  // for each entry that stays in the state file for the next start.
  std::vector<Event> finish(Deadline deadline);
  // Whether `instance` has anything to retry or confirm.
  [[nodiscard]] bool pending(const std::string& instance);

  // Whether the kind is restored here rather than by a registry restorer.
  static bool handles_kind(const std::string& kind);
  // The instance called `name` ("" = the only one) with a client for an action's calls
  // (jellyfin::Client::for_actions); an error says why not. Every Jellyfin action looks its
  // instance up here.
  Result<jellyfin::Instance> find_instance(const std::string& name);

 private:
  struct InstanceState;
  struct Reconciled;
  InstanceState& state_for(const std::string& name);
  Reconciled reconcile_encoding(InstanceState& state, const jellyfin::Instance& instance, Deadline deadline);
  // What a round of restoring saved layers did (session bitrates or stopped tasks alike).
  struct LayersRestored;
  LayersRestored restore_saved_bitrates(InstanceState& state, const jellyfin::Instance& instance,
                                        const std::string& only_key, const std::string& message,
                                        Deadline deadline);
  LayersRestored restart_saved_tasks(InstanceState& state, const jellyfin::Instance& instance,
                                     const std::string& only_key, Deadline deadline);
  // The level's revert of one saved layer (bitrates or tasks), its state key made by `key_of`:
  // without a client the entry is kept for later; else `forget` drops it from the layers in force
  // and `restore` puts it back.
  using LayerKey = std::string (*)(const std::string& instance, const std::string& level,
                                   const std::string& action);
  template <class Forget, class Restore>
  ActionResult revert_saved_layer(const Place& place, LayerKey key_of, const std::string& nothing,
                                  const std::string& failed_what, Forget forget, Restore restore);
  std::vector<Event> retry(InstanceState& state, const jellyfin::Instance& instance, const char* when,
                           Deadline deadline);
  void note_outcome(InstanceState& state, bool settled);
  bool pending_locked(InstanceState& state, const std::string& instance);
  std::vector<EncodingLayer> saved_encoding_layers(InstanceState& state, const std::string& instance);
  std::vector<TaskLayer> saved_task_layers(InstanceState& state, const std::string& instance);
  [[nodiscard]] std::chrono::steady_clock::time_point steady_now() const;
  [[nodiscard]] int64_t wall_ms() const;

  StateStore& store_;
  jellyfin::InstanceDirectory& instances_;
  const HostRoot* host_;
  Settings settings_;
  std::mutex map_mutex_;  // guards states_ only; never held across I/O
  std::map<std::string, std::unique_ptr<InstanceState>> states_;
};

}  // namespace guardian
