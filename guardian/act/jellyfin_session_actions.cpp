// The Jellyfin actions that talk to viewers' sessions: cap-bitrate and stop-lowest-priority. They
// change nothing the user owns in the server's settings, so nothing goes to the state file; what
// cap-bitrate capped is remembered for its revert.
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

// cap-bitrate: ask transcoding clients to lower their bitrate (most clients ignore the command
// today, so a message goes with it). Revert sends `restore_bitrate`, when given, to the sessions
// this action capped — and only to those.
class CapBitrateAction final : public JellyfinAction {
 public:
  using JellyfinAction::JellyfinAction;
  [[nodiscard]] std::string describe() const override {
    return "Jellyfin: ask transcoding clients for at most " + std::to_string(bitrate()) + " bit/s";
  }
  ActionResult apply(Deadline deadline) override {
    auto found = instance();
    if (!found.ok()) return not_found(found.error());
    auto sessions = found->client->get_sessions(deadline);
    if (!sessions.ok()) return jellyfin_failed(sessions.error().message, true);
    auto targets = transcoding_sessions(*sessions);
    if (targets.empty()) return {Outcome::Unchanged, "no transcoding session"};
    if (env_.dry_run)
      return {Outcome::Unchanged, "dry run: would cap " + std::to_string(targets.size()) + " session(s)"};
    std::string message = param_string(
        spec_, "message", "The server is short of memory: video quality is lowered for a while.");
    std::string detail;
    size_t capped = 0;
    for (const auto& s : targets) {
      auto sent = send(*found->client, s.id, bitrate(), message, deadline);
      if (sent.ok()) {
        ++capped;
        capped_.insert(s.id);
      }
      detail +=
          (detail.empty() ? "" : ", ") + (sent.ok() ? s.user_name + "@" + s.client : sent.error().message);
    }
    std::string text = "SetMaxStreamingBitrate " + std::to_string(bitrate()) + " to " + detail;
    if (capped == 0) return jellyfin_failed(text, true);
    return {Outcome::Applied, text};
  }
  ActionResult revert(Deadline deadline) override {
    auto restore = static_cast<int64_t>(param_number(spec_, "restore_bitrate", 0));
    if (capped_.empty()) return {Outcome::Unchanged, "no session was capped"};
    if (restore <= 0) {
      capped_.clear();
      return {Outcome::Unchanged,
              "no restore_bitrate set: clients keep their cap until they restart playback"};
    }
    auto found = instance();
    if (!found.ok()) return jellyfin_failed(found.error().message);
    auto sessions = found->client->get_sessions(deadline);
    if (!sessions.ok()) return jellyfin_failed(sessions.error().message);
    std::string detail;
    for (const auto& s : *sessions) {
      if (!capped_.contains(s.id)) continue;  // never capped by this action: not ours to restore
      auto sent = send(*found->client, s.id, restore, param_string(spec_, "restore_message"), deadline);
      detail +=
          (detail.empty() ? "" : ", ") + (sent.ok() ? s.user_name + "@" + s.client : sent.error().message);
    }
    capped_.clear();
    if (detail.empty()) return {Outcome::Unchanged, "the sessions it capped have ended"};
    return {Outcome::Reverted, "SetMaxStreamingBitrate " + std::to_string(restore) + " to " + detail};
  }

 private:
  [[nodiscard]] int64_t bitrate() const {
    return static_cast<int64_t>(param_number(spec_, "bitrate", 3'000'000));
  }
  static Result<void> send(jellyfin::Client& client, const std::string& session, int64_t bits,
                           const std::string& message, Deadline deadline) {
    auto sent =
        client.send_command(session, "SetMaxStreamingBitrate", {{"Bitrate", std::to_string(bits)}}, deadline);
    if (sent.ok() && !message.empty())
      sent = client.send_message(session, "guardian", message, 10'000, deadline);
    return sent;
  }
  std::set<std::string> capped_;  // session ids; apply and revert run on the one worker thread
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
