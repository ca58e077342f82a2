// The Jellyfin actions that talk to viewers' sessions: cap-bitrate and stop-lowest-priority.
// cap-bitrate's caps go through JellyfinSteering (each session's bitrate saved before the cap, put
// back after); stop-lowest-priority cannot be undone and saves nothing.
#include <algorithm>
#include <set>
#include <thread>

#include "act/basic_actions.h"
#include "act/jellyfin_actions_internal.h"

namespace guardian {
namespace {

using Outcome = ActionResult::Outcome;

// The sessions worth steering: playing and transcoding video.
std::vector<jellyfin::SessionInfo> transcoding_sessions(const std::vector<jellyfin::SessionInfo>& sessions) {
  std::vector<jellyfin::SessionInfo> out;
  for (const auto& s : sessions) {
    if (s.playing() && s.transcoding && !s.transcoding->is_video_direct) out.push_back(s);
  }
  return out;
}

// cap-bitrate: ask the clients transcoding above `bitrate` to lower it (some clients ignore the
// command, so a message goes with it). Each capped session's bitrate is saved in the state file
// before the cap (JellyfinSteering); revert sends each session still there its own bitrate back,
// or `restore_bitrate` when the policy gives one.
class CapBitrateAction final : public JellyfinAction {
 public:
  using JellyfinAction::JellyfinAction;
  [[nodiscard]] std::string describe() const override {
    return "Jellyfin: ask transcoding clients for at most " +
           std::to_string(static_cast<int64_t>(param_number(spec_, "bitrate", 3'000'000))) + " bit/s";
  }
  ActionResult apply(Deadline deadline) override {
    if (env_.jellyfin == nullptr)
      return not_found(make_error("this guardian runs without its Jellyfin part"));
    if (!env_.dry_run && env_.state == nullptr)
      return jellyfin_failed("no state store: refusing to cap what could not be restored");
    return env_.jellyfin->cap_bitrates(place(), spec_, env_.dry_run, deadline);
  }
  ActionResult revert(Deadline deadline) override {
    if (env_.jellyfin == nullptr || env_.dry_run) return {Outcome::Unchanged, "nothing saved"};
    return env_.jellyfin->restore_bitrates(place(), param_string(spec_, "restore_message"), deadline);
  }
};

// stop-lowest-priority: the transcode of the lowest-priority viewer (policy: user_priority,
// client_priority) gets a message, then, `message_seconds` later, a stop. Cannot be undone.
class StopLowestAction final : public JellyfinAction {
 public:
  using JellyfinAction::JellyfinAction;
  [[nodiscard]] std::string describe() const override {
    return "Jellyfin: stop the lowest-priority transcode, after a message";
  }

  ActionResult apply(Deadline deadline) override {
    auto found = instance();
    if (!found.ok()) return not_found(found.error());
    auto sessions = found->client->get_sessions(deadline);
    if (!sessions.ok()) return jellyfin_failed(sessions.error().message, true);
    auto candidates =
        param_bool(spec_, "only_transcodes", true) ? transcoding_sessions(*sessions) : *sessions;
    std::erase_if(candidates, [](const jellyfin::SessionInfo& s) { return !s.playing(); });
    if (candidates.empty()) return {Outcome::Unchanged, "nothing playing to stop"};
    const auto& settings = found->settings;
    auto priority = [&](const jellyfin::SessionInfo& s) {
      if (auto it = settings.user_priority.find(s.user_name); it != settings.user_priority.end())
        return it->second;
      if (auto it = settings.client_priority.find(s.client); it != settings.client_priority.end())
        return it->second;
      return settings.default_priority;
    };
    // Lowest priority first; among equals the heaviest stream (highest bitrate) goes.
    auto victim = std::min_element(candidates.begin(), candidates.end(), [&](const auto& a, const auto& b) {
      if (priority(a) != priority(b)) return priority(a) < priority(b);
      int64_t ba = a.transcoding && a.transcoding->bitrate ? *a.transcoding->bitrate : 0;
      int64_t bb = b.transcoding && b.transcoding->bitrate ? *b.transcoding->bitrate : 0;
      return ba > bb;
    });
    std::string who = victim->user_name + " on " + victim->client + " (" + victim->now_playing_name +
                      ", priority " + std::to_string(priority(*victim)) + ")";
    if (env_.dry_run) return {Outcome::Unchanged, "dry run: would stop " + who};
    std::string message =
        param_string(spec_, "message", "The server is short of memory: this stream stops in a few seconds.");
    auto wait =
        std::chrono::milliseconds(static_cast<int64_t>(param_number(spec_, "message_seconds", 5) * 1000));
    auto messaged =
        found->client->send_message(victim->id, "guardian", message, wait.count() + 2000, deadline);
    if (messaged.ok() && wait.count() > 0) {
      // Leave a second of the deadline for the stop itself.
      auto until = std::min(std::chrono::steady_clock::now() + wait, deadline - std::chrono::seconds(1));
      std::this_thread::sleep_until(until);
    }
    auto stopped = found->client->stop_playback(victim->id, deadline);
    if (!stopped.ok()) return jellyfin_failed(stopped.error().message, true);
    return {Outcome::Applied,
            "stopped " + who + (messaged.ok() ? " after a message" : " (the message failed)")};
  }
  ActionResult revert(Deadline /*deadline*/) override {
    return {Outcome::Unchanged,
            "a stopped stream cannot be restarted by guardian; the viewer can press play"};
  }
};

}  // namespace

std::unique_ptr<Action> make_jellyfin_cap_bitrate_action(std::string type, ActionSpec spec, ActionEnv env) {
  return std::make_unique<CapBitrateAction>(std::move(type), std::move(spec), std::move(env));
}

std::unique_ptr<Action> make_jellyfin_stop_lowest_action(std::string type, ActionSpec spec, ActionEnv env) {
  return std::make_unique<StopLowestAction>(std::move(type), std::move(spec), std::move(env));
}

}  // namespace guardian
