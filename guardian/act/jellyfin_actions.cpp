#include "act/jellyfin_actions.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>

#include "act/basic_actions.h"
#include "act/state_store.h"
#include "common/event.h"
#include "common/fd.h"
#include "common/host_root.h"
#include "jellyfin/instances.h"
#include "jellyfin/transcodes.h"

namespace guardian {
namespace {

using jellyfin::Instance;
using nlohmann::json;
using Outcome = ActionResult::Outcome;

// Jellyfin's EncoderPreset enum, slowest (most memory and CPU per frame) to fastest.
constexpr std::array<std::string_view, 10> kPresets = {"placebo",   "veryslow", "slower", "slow",
                                                       "medium",    "fast",     "faster", "veryfast",
                                                       "superfast", "ultrafast"};
constexpr std::array<std::string_view, 7> kCodecs = {"h264", "hevc", "mpeg2video", "vc1",
                                                     "vp8",  "vp9",  "av1"};

int preset_rank(const std::string& preset) {
  auto it = std::find(kPresets.begin(), kPresets.end(), preset);
  // "auto" / "" let Jellyfin choose (it picks "veryfast" for x264 on 10.10): rank as medium.
  return it == kPresets.end() ? 4 : static_cast<int>(it - kPresets.begin());
}

std::string show(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

std::string encoding_key(const std::string& instance, const std::string& type) {
  return "jellyfin/" + instance + "/encoding-options/" + type;
}
std::string tasks_key(const std::string& instance) { return "jellyfin/" + instance + "/scheduled-tasks"; }

// What a saved entry needs to find its instance again after a restart (never the key itself).
json instance_identity(const Instance& instance) {
  return {{"instance", instance.settings.name},
          {"url", instance.settings.url},
          {"api_key_file", instance.settings.api_key_file},
          {"credential", instance.settings.credential}};
}

// The instance called `name` in the daemon's directory ("" = the only one).
Result<Instance> find_in(const ActionEnv& env, const std::string& name) {
  if (env.jellyfin == nullptr) return make_error("no [[jellyfin]] instance in the policy");
  return env.jellyfin->find(name);
}

// The client for a saved entry: the running policy's instance of that name, else one built from
// what was saved (the policy may have changed since the crash).
Result<std::shared_ptr<jellyfin::Client>> client_for_saved(const ActionEnv& env, const json& saved) {
  if (!saved.is_object() || !saved.contains("instance") || !saved["instance"].is_string()) {
    return make_error("saved Jellyfin entry has no instance name");
  }
  std::string name = saved["instance"].get<std::string>();
  if (auto instance = find_in(env, name); instance.ok() && instance->client) return instance->client;
  JellyfinInstanceSettings settings;
  settings.name = name;
  auto text = [&](const char* key) {
    return saved.contains(key) && saved[key].is_string() ? saved[key].get<std::string>() : std::string();
  };
  settings.url = text("url");
  settings.api_key_file = text("api_key_file");
  settings.credential = text("credential");
  return jellyfin::make_client(settings);
}

std::string instance_param(const ActionSpec& spec) { return param_string(spec, "instance"); }

Result<Instance> find_instance(const ActionEnv& env, const ActionSpec& spec) {
  auto instance = find_in(env, instance_param(spec));
  if (!instance.ok()) return instance.error();
  if (!instance->client) {
    return make_error("Jellyfin \"" + instance->settings.name +
                      "\" has no client: " + instance->client_error);
  }
  return instance;
}

ActionResult failed(std::string detail) { return {Outcome::Failed, std::move(detail)}; }

// A policy without [[jellyfin]] (the embedded default on a machine without Jellyfin) makes the
// Jellyfin actions no-ops, not failures.
ActionResult not_found(const ActionEnv& env, const Error& error) {
  if (env.jellyfin == nullptr || env.jellyfin->all().empty())
    return {Outcome::Unchanged, "no [[jellyfin]] instance configured"};
  return failed(error.message);
}

// The action kinds share this base: type, spec, env, and a describe() from the summary.
class JellyfinAction : public Action {
 public:
  JellyfinAction(std::string type, ActionSpec spec, ActionEnv env)
      : type_(std::move(type)), spec_(std::move(spec)), env_(env) {}
  [[nodiscard]] const std::string& type() const override { return type_; }

 protected:
  std::string type_;
  ActionSpec spec_;
  ActionEnv env_;
};

// prefer-vaapi and cheaper-software: change some EncodingOptions fields, put them back on revert.
class EncodingOptionsAction final : public JellyfinAction {
 public:
  using JellyfinAction::JellyfinAction;
  [[nodiscard]] std::string describe() const override {
    return type_ == "jellyfin.prefer-vaapi"
               ? "Jellyfin: hardware (VA-API) decode and encode for new transcodes"
               : "Jellyfin: cheaper software transcodes (preset, threads, CRF, queues)";
  }

  ActionResult apply(Deadline deadline) override {
    auto instance = find_instance(env_, spec_);
    if (!instance.ok()) return not_found(env_, instance.error());
    auto& client = *instance->client;
    auto options = client.get_encoding_options(deadline);
    if (!options.ok()) return failed(options.error().message);
    std::vector<std::string> probed;
    if (instance->probe && instance->probe->available()) probed = instance->probe->hardware_decoding_codecs;
    bool active = instance->view && (instance->view->hardware_count + instance->view->software_count > 0);
    auto changes = jellyfin_encoding_changes(type_, spec_, *options, probed, active);
    if (!changes.ok()) return failed(changes.error().message);
    if (changes->empty()) return {Outcome::Unchanged, "EncodingOptions already as wanted"};
    std::string detail;
    json originals = json::object();
    for (const auto& [field, value] : changes->items()) {
      json old = options->raw.contains(field) ? options->raw[field] : json();
      originals[field] = old;
      detail += (detail.empty() ? "" : ", ") + field + " " + show(old) + " -> " + show(value);
    }
    if (env_.dry_run) return {Outcome::Unchanged, "dry run: would set " + detail};
    if (env_.state == nullptr) return failed("no state store: refusing to change what could not be restored");
    json saved = instance_identity(*instance);
    saved["action"] = type_;
    saved["fields"] = originals;
    saved["applied"] = *changes;
    saved["original"] = options->raw;
    // Durable before the change (first original wins: a re-apply after a crash keeps the true one).
    auto stored = env_.state->save_original(encoding_key(instance->settings.name, type_),
                                            kJellyfinEncodingKind, saved.dump());
    if (!stored.ok())
      return failed("not changed, the original could not be saved: " + stored.error().message);
    json next = options->raw;
    for (const auto& [field, value] : changes->items()) next[field] = value;
    auto posted = client.post_encoding_options(next, deadline);
    if (!posted.ok()) {
      // Nothing changed on the server: the saved original would restore to itself; drop it.
      (void)env_.state->forget(encoding_key(instance->settings.name, type_));
      return failed(posted.error().message);
    }
    if (type_ == "jellyfin.prefer-vaapi" && changes->contains("HardwareAccelerationType")) {
      detail += " (Jellyfin detects the VA-API driver only at start: restart Jellyfin for the full pipeline)";
    }
    return {Outcome::Applied, detail};
  }

  ActionResult revert(Deadline deadline) override {
    if (env_.state == nullptr) return {Outcome::Unchanged, "nothing saved"};
    auto instance = find_in(env_, instance_param(spec_));
    std::string name = instance.ok() ? instance->settings.name : instance_param(spec_);
    std::string key = encoding_key(name, type_);
    auto saved = env_.state->get(key);
    if (!saved) return {Outcome::Unchanged, "nothing to restore"};
    json entry = json::parse(saved->original_json, nullptr, false);
    if (entry.is_discarded()) return failed("state entry " + key + " is not JSON");
    auto client = client_for_saved(env_, entry);
    if (!client.ok()) return failed(client.error().message);
    auto restored = restore_jellyfin_encoding(**client, entry, deadline);
    if (!restored.ok()) return failed(restored.error().message);
    auto forgotten = env_.state->forget(key);
    if (!forgotten.ok()) return failed("restored, but the state entry stays: " + forgotten.error().message);
    return {Outcome::Reverted, *restored};
  }
};

// respawn-software-transcodes: end software playback ffmpegs so Jellyfin restarts them (on the
// next segment request) with the options in force now. Nothing to revert.
class RespawnAction final : public JellyfinAction {
 public:
  using JellyfinAction::JellyfinAction;
  [[nodiscard]] std::string describe() const override {
    return "Jellyfin: end software transcodes (SIG" + param_string(spec_, "signal", "TERM") +
           ") so they restart with the new settings";
  }

  ActionResult apply(Deadline deadline) override {
    auto instance = find_instance(env_, spec_);
    if (!instance.ok()) return not_found(env_, instance.error());
    if (instance->cgroup_host_path.empty()) {
      return failed("Jellyfin \"" + instance->settings.name +
                    "\": its cgroup is not known (set cgroup = \"…\" in [[jellyfin]])");
    }
    HostRoot host = env_.host ? *env_.host : HostRoot();
    auto scan = scan_ffmpeg_processes(host, instance->cgroup_host_path);
    if (!scan.ok()) return failed(scan.error().message);
    int signal_number = param_string(spec_, "signal", "TERM") == "INT" ? SIGINT : SIGTERM;
    auto limit = static_cast<size_t>(param_number(spec_, "max", 1e9));
    std::string detail;
    size_t ended = 0;
    for (const auto& process : scan->processes) {
      if (ended >= limit || std::chrono::steady_clock::now() >= deadline) break;
      if (!process.command.software_playback()) continue;
      if (env_.dry_run) {
        detail += (detail.empty() ? "" : ", ") + std::string("would end ") + std::to_string(process.pid);
        continue;
      }
      auto sent = signal_verified(host, process, signal_number);
      if (!sent.ok()) {
        detail += (detail.empty() ? "" : ", ") + sent.error().message;
        continue;
      }
      ++ended;
      detail += (detail.empty() ? "" : ", ") + std::string("ended ffmpeg ") + std::to_string(process.pid) +
                " (" + process.command.video_encoder + ", " + process.command.input_path + ")";
    }
    if (ended == 0 && !env_.dry_run) {
      return {Outcome::Unchanged, detail.empty() ? "no software playback transcode running" : detail};
    }
    return {env_.dry_run ? Outcome::Unchanged : Outcome::Applied, detail};
  }
  ActionResult revert(Deadline /*deadline*/) override {
    return {Outcome::Unchanged, "nothing to put back: Jellyfin restarted the streams itself"};
  }

 private:
  // Signals `process` only if its PID still is the same software transcode: a pidfd pins the
  // process, then its start time and command line are read again (a PID reused in between
  // would have another start time).
  static Result<void> signal_verified(const HostRoot& host, const FfmpegProcess& process, int signal_number) {
    UniqueFd pidfd;
    if (host.is_real_host()) {
      pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, process.pid, 0)));
      if (!pidfd && errno == ESRCH)
        return make_error("ffmpeg " + std::to_string(process.pid) + " already gone");
    }
    auto again = read_ffmpeg_process(host, process.pid);
    if (!again.ok() || again->start_time_ticks != process.start_time_ticks ||
        !again->command.software_playback() || again->command.argv != process.command.argv) {
      return make_error("ffmpeg " + std::to_string(process.pid) + " changed since the scan, left alone");
    }
    int rc = pidfd
                 ? static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd.get(), signal_number, nullptr, 0))
                 : ::kill(process.pid, signal_number);
    if (rc != 0)
      return make_error("signal to ffmpeg " + std::to_string(process.pid) + ": " + std::strerror(errno));
    return {};
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
    auto instance = find_instance(env_, spec_);
    if (!instance.ok()) return not_found(env_, instance.error());
    auto tasks = instance->client->get_scheduled_tasks(deadline);
    if (!tasks.ok()) return failed(tasks.error().message);
    auto keys = param_strings(spec_, "tasks");
    auto categories = param_strings(spec_, "categories");
    std::vector<const jellyfin::ScheduledTask*> running;
    for (const auto& task : *tasks) {
      if (task.state != "Running") continue;
      if (!keys.empty() && std::find(keys.begin(), keys.end(), task.key) == keys.end()) continue;
      if (!categories.empty() &&
          std::find(categories.begin(), categories.end(), task.category) == categories.end())
        continue;
      running.push_back(&task);
    }
    if (running.empty()) return {Outcome::Unchanged, "no matching task running"};
    if (env_.dry_run)
      return {Outcome::Unchanged, "dry run: would stop " + std::to_string(running.size()) + " task(s)"};
    if (env_.state == nullptr) return failed("no state store");
    std::string key = tasks_key(instance->settings.name);
    json saved = instance_identity(*instance);
    json ids = json::array();
    if (auto existing = env_.state->get(key)) {
      json old = json::parse(existing->original_json, nullptr, false);
      if (old.is_object() && old.contains("task_ids") && old["task_ids"].is_array()) ids = old["task_ids"];
      (void)env_.state->forget(key);  // rewritten below with the union
    }
    for (const auto* task : running) {
      if (std::find(ids.begin(), ids.end(), json(task->id)) == ids.end()) ids.push_back(task->id);
    }
    saved["task_ids"] = ids;
    auto stored = env_.state->save_original(key, kJellyfinTasksKind, saved.dump());
    if (!stored.ok())
      return failed("not stopped, the task list could not be saved: " + stored.error().message);
    std::string detail;
    size_t stopped = 0;
    for (const auto* task : running) {
      auto result = instance->client->stop_task(task->id, deadline);
      detail +=
          (detail.empty() ? "" : ", ") + (result.ok() ? "stopped " + task->name : result.error().message);
      stopped += result.ok() ? 1 : 0;
    }
    return {stopped > 0 ? Outcome::Applied : Outcome::Failed, detail};
  }

  ActionResult revert(Deadline deadline) override {
    if (env_.state == nullptr) return {Outcome::Unchanged, "nothing saved"};
    auto instance = find_in(env_, instance_param(spec_));
    std::string key = tasks_key(instance.ok() ? instance->settings.name : instance_param(spec_));
    auto saved = env_.state->get(key);
    if (!saved) return {Outcome::Unchanged, "no task was stopped"};
    auto restored = restart_tasks(env_, saved->original_json, deadline);
    if (!restored.ok()) return failed(restored.error().message);
    (void)env_.state->forget(key);
    return {Outcome::Reverted, *restored};
  }

 public:
  static Result<std::string> restart_tasks(const ActionEnv& env, const std::string& saved_json,
                                           Deadline deadline) {
    json saved = json::parse(saved_json, nullptr, false);
    if (saved.is_discarded() || !saved.is_object() || !saved.contains("task_ids") ||
        !saved["task_ids"].is_array()) {
      return make_error("saved task list is not valid JSON");
    }
    auto client = client_for_saved(env, saved);
    if (!client.ok()) return client.error();
    std::string detail;
    for (const auto& id : saved["task_ids"]) {
      if (!id.is_string()) continue;
      auto started = (*client)->start_task(id.get<std::string>(), deadline);
      if (!started.ok()) return started.error();
      detail += (detail.empty() ? "restarted " : ", ") + id.get<std::string>();
    }
    return detail;
  }
};

// The sessions worth steering: playing and transcoding video.
std::vector<jellyfin::SessionInfo> transcoding_sessions(const std::vector<jellyfin::SessionInfo>& sessions) {
  std::vector<jellyfin::SessionInfo> out;
  for (const auto& s : sessions) {
    if (s.playing() && s.transcoding && !s.transcoding->is_video_direct) out.push_back(s);
  }
  return out;
}

// cap-bitrate: ask transcoding clients to lower their bitrate (most clients ignore the command
// today, so a message goes with it). Revert sends `restore_bitrate` when given.
class CapBitrateAction final : public JellyfinAction {
 public:
  using JellyfinAction::JellyfinAction;
  [[nodiscard]] std::string describe() const override {
    return "Jellyfin: ask transcoding clients for at most " + std::to_string(bitrate()) + " bit/s";
  }
  ActionResult apply(Deadline deadline) override {
    return send(deadline, bitrate(),
                param_string(spec_, "message",
                             "The server is short of memory: video quality is lowered for a while."),
                Outcome::Applied);
  }
  ActionResult revert(Deadline deadline) override {
    auto restore = static_cast<int64_t>(param_number(spec_, "restore_bitrate", 0));
    if (restore <= 0)
      return {Outcome::Unchanged,
              "no restore_bitrate set: clients keep their cap until they restart playback"};
    return send(deadline, restore, param_string(spec_, "restore_message"), Outcome::Reverted);
  }

 private:
  [[nodiscard]] int64_t bitrate() const {
    return static_cast<int64_t>(param_number(spec_, "bitrate", 3'000'000));
  }
  ActionResult send(Deadline deadline, int64_t bits, const std::string& message, Outcome done) {
    auto instance = find_instance(env_, spec_);
    if (!instance.ok()) return not_found(env_, instance.error());
    auto sessions = instance->client->get_sessions(deadline);
    if (!sessions.ok()) return failed(sessions.error().message);
    auto targets = transcoding_sessions(*sessions);
    if (targets.empty()) return {Outcome::Unchanged, "no transcoding session"};
    if (env_.dry_run)
      return {Outcome::Unchanged, "dry run: would cap " + std::to_string(targets.size()) + " session(s)"};
    std::string detail;
    for (const auto& s : targets) {
      auto sent = instance->client->send_command(s.id, "SetMaxStreamingBitrate",
                                                 {{"Bitrate", std::to_string(bits)}}, deadline);
      if (sent.ok() && !message.empty())
        sent = instance->client->send_message(s.id, "guardian", message, 10'000, deadline);
      detail +=
          (detail.empty() ? "" : ", ") + (sent.ok() ? s.user_name + "@" + s.client : sent.error().message);
    }
    return {done, "SetMaxStreamingBitrate " + std::to_string(bits) + " to " + detail};
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
    auto instance = find_instance(env_, spec_);
    if (!instance.ok()) return not_found(env_, instance.error());
    auto sessions = instance->client->get_sessions(deadline);
    if (!sessions.ok()) return failed(sessions.error().message);
    auto candidates =
        param_bool(spec_, "only_transcodes", true) ? transcoding_sessions(*sessions) : *sessions;
    std::erase_if(candidates, [](const jellyfin::SessionInfo& s) { return !s.playing(); });
    if (candidates.empty()) return {Outcome::Unchanged, "nothing playing to stop"};
    const auto& settings = instance->settings;
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
        instance->client->send_message(victim->id, "guardian", message, wait.count() + 2000, deadline);
    if (messaged.ok() && wait.count() > 0) {
      // Leave a second of the deadline for the stop itself.
      auto until = std::min(std::chrono::steady_clock::now() + wait, deadline - std::chrono::seconds(1));
      std::this_thread::sleep_until(until);
    }
    auto stopped = instance->client->stop_playback(victim->id, deadline);
    if (!stopped.ok()) return failed(stopped.error().message);
    return {Outcome::Applied,
            "stopped " + who + (messaged.ok() ? " after a message" : " (the message failed)")};
  }
  ActionResult revert(Deadline /*deadline*/) override {
    return {Outcome::Unchanged,
            "a stopped stream cannot be restarted by guardian; the viewer can press play"};
  }
};

std::vector<std::pair<std::string, SourcePos>> validate_common(const ActionSpec& spec,
                                                               std::vector<ParamRule> rules) {
  rules.push_back({"instance", ParamRule::Type::String, false});
  return check_params(spec, rules);
}

void check_positive(const ActionSpec& spec, const std::string& name, double low, double high,
                    std::vector<std::pair<std::string, SourcePos>>& problems) {
  auto it = spec.params.find(name);
  if (it == spec.params.end()) return;
  double value = param_number(spec, name, low);
  if (!(value >= low && value <= high)) {
    char range[96];
    std::snprintf(range, sizeof range, " must be between %g and %g", low, high);
    problems.emplace_back(name + range, it->second.pos);
  }
}

template <class A>
ActionRegistry::Entry entry(std::string type, std::vector<ParamRule> rules,
                            void (*extra)(const ActionSpec&, std::vector<std::pair<std::string, SourcePos>>&),
                            std::string summary) {
  ActionRegistry::Entry e;
  e.validate = [rules, extra](const ActionSpec& spec) {
    auto problems = validate_common(spec, rules);
    if (problems.empty() && extra != nullptr) extra(spec, problems);
    return problems;
  };
  e.create = [type](const ActionSpec& spec, const ActionEnv& env) -> Result<std::unique_ptr<Action>> {
    return std::unique_ptr<Action>(std::make_unique<A>(type, spec, env));
  };
  e.summary = std::move(summary);
  return e;
}

}  // namespace

Result<json> jellyfin_encoding_changes(const std::string& action_type, const ActionSpec& spec,
                                       const jellyfin::EncodingOptions& current,
                                       const std::vector<std::string>& probed_decoding_codecs,
                                       bool transcodes_active) {
  json changes = json::object();
  auto set_if_different = [&](const char* field, const json& value) {
    if (!current.raw.contains(field) || current.raw[field] != value) changes[field] = value;
  };
  if (action_type == "jellyfin.prefer-vaapi") {
    std::string type = current.hardware_acceleration_type();
    if (type != "vaapi") {
      // Jellyfin detects the VA-API driver once at start, and only when the type already is
      // vaapi; switching it live gives a degraded pipeline. Only with no stream running, and
      // only when the policy asks.
      if (!param_bool(spec, "switch_type_when_idle", false)) {
        return make_error("HardwareAccelerationType is \"" + type +
                          "\": set it to VA-API in Dashboard > Playback > Transcoding and restart Jellyfin "
                          "(or allow switch_type_when_idle)");
      }
      if (transcodes_active)
        return make_error("HardwareAccelerationType is \"" + type +
                          "\" and transcodes are running: not switching now");
      changes["HardwareAccelerationType"] = "vaapi";
    }
    set_if_different("EnableHardwareEncoding", true);
    std::vector<std::string> codecs = param_strings(spec, "codecs");
    if (codecs.empty()) codecs = probed_decoding_codecs;
    if (codecs.empty()) codecs = {"h264", "hevc"};
    // Keep the codecs the user already enabled; add the wanted ones, in Jellyfin's order.
    std::vector<std::string> have = current.hardware_decoding_codecs();
    json list = json::array();
    for (std::string_view codec : kCodecs) {
      bool wanted = std::find(codecs.begin(), codecs.end(), codec) != codecs.end();
      bool had = std::find(have.begin(), have.end(), codec) != have.end();
      if (wanted || had) list.push_back(std::string(codec));
    }
    for (const auto& codec : have) {  // unknown names the user has: keep them as they are
      if (std::find(kCodecs.begin(), kCodecs.end(), codec) == kCodecs.end()) list.push_back(codec);
    }
    set_if_different("HardwareDecodingCodecs", list);
    return changes;
  }
  if (action_type == "jellyfin.cheaper-software") {
    // Each setting only ever moves towards cheaper: a faster preset, fewer threads, a higher
    // CRF, a shorter muxing queue. A value already cheaper than the policy's is left alone.
    std::string preset = param_string(spec, "preset", "veryfast");
    if (preset_rank(current.encoder_preset()) < preset_rank(preset) || current.encoder_preset().empty() ||
        current.encoder_preset() == "auto") {
      set_if_different("EncoderPreset", preset);
    }
    auto int_field = [&](const char* field, int64_t fallback) -> int64_t {
      return current.raw.contains(field) && current.raw[field].is_number() ? current.raw[field].get<int64_t>()
                                                                           : fallback;
    };
    auto threads = static_cast<int64_t>(param_number(spec, "threads", 2));
    int64_t have_threads = int_field("EncodingThreadCount", -1);  // -1 / 0 = auto (all cores)
    if (have_threads <= 0 || have_threads > threads) set_if_different("EncodingThreadCount", threads);
    auto h264 = static_cast<int64_t>(param_number(spec, "h264_crf", 28));
    if (int_field("H264Crf", 23) < h264) set_if_different("H264Crf", h264);
    auto h265 = static_cast<int64_t>(param_number(spec, "h265_crf", 32));
    if (int_field("H265Crf", 28) < h265) set_if_different("H265Crf", h265);
    auto queue = static_cast<int64_t>(param_number(spec, "max_muxing_queue_size", 1024));
    if (int_field("MaxMuxingQueueSize", 2048) > queue) set_if_different("MaxMuxingQueueSize", queue);
    if (param_bool(spec, "throttling", true)) set_if_different("EnableThrottling", true);
    if (param_bool(spec, "segment_deletion", true)) {
      set_if_different("EnableSegmentDeletion", true);
      auto keep = static_cast<int64_t>(param_number(spec, "segment_keep_seconds", 120));
      if (int_field("SegmentKeepSeconds", 720) > keep) set_if_different("SegmentKeepSeconds", keep);
    }
    return changes;
  }
  return make_error("not an EncodingOptions action: " + action_type);
}

Result<std::string> restore_jellyfin_encoding(jellyfin::Client& client, const json& saved,
                                              Deadline deadline) {
  if (!saved.is_object() || !saved.contains("fields") || !saved["fields"].is_object() ||
      !saved.contains("applied") || !saved["applied"].is_object()) {
    return make_error("saved EncodingOptions entry lacks fields/applied");
  }
  auto current = client.get_encoding_options(deadline);
  if (!current.ok()) return current.error();
  json next = current->raw;
  std::string restored, kept;
  for (const auto& [field, original] : saved["fields"].items()) {
    const json* applied = saved["applied"].contains(field) ? &saved["applied"][field] : nullptr;
    json now = next.contains(field) ? next[field] : json();
    if (applied != nullptr && now != *applied) {
      kept += (kept.empty() ? "" : ", ") + field + " (changed since to " + show(now) + ")";
      continue;
    }
    if (original.is_null())
      next.erase(field);
    else
      next[field] = original;
    restored += (restored.empty() ? "" : ", ") + field + " " + show(now) + " -> " + show(original);
  }
  if (!restored.empty()) {
    auto posted = client.post_encoding_options(next, deadline);
    if (!posted.ok()) return posted.error();
  }
  std::string detail = restored.empty() ? "nothing to restore" : "restored " + restored;
  if (!kept.empty()) detail += "; left as the user set them: " + kept;
  return detail;
}

void register_jellyfin_actions(ActionRegistry& registry) {
  using T = ParamRule::Type;
  registry.add("jellyfin.prefer-vaapi",
               entry<EncodingOptionsAction>(
                   "jellyfin.prefer-vaapi", {{"codecs", T::StringList}, {"switch_type_when_idle", T::Bool}},
                   [](const ActionSpec& spec, std::vector<std::pair<std::string, SourcePos>>& problems) {
                     for (const auto& codec : param_strings(spec, "codecs")) {
                       if (std::find(kCodecs.begin(), kCodecs.end(), codec) == kCodecs.end()) {
                         problems.emplace_back(
                             "unknown codec \"" + codec +
                                 "\" (Jellyfin knows h264, hevc, mpeg2video, vc1, vp8, vp9, av1)",
                             spec.params.at("codecs").pos);
                       }
                     }
                   },
                   "Jellyfin: turn on VA-API encoding and the hardware decoders the GPU has "
                   "(HardwareAccelerationType must be vaapi)"));
  registry.add("jellyfin.cheaper-software",
               entry<EncodingOptionsAction>(
                   "jellyfin.cheaper-software",
                   {{"preset", T::String},
                    {"threads", T::Number},
                    {"h264_crf", T::Number},
                    {"h265_crf", T::Number},
                    {"max_muxing_queue_size", T::Number},
                    {"throttling", T::Bool},
                    {"segment_deletion", T::Bool},
                    {"segment_keep_seconds", T::Number}},
                   [](const ActionSpec& spec, std::vector<std::pair<std::string, SourcePos>>& problems) {
                     if (auto it = spec.params.find("preset"); it != spec.params.end()) {
                       std::string preset = param_string(spec, "preset");
                       if (std::find(kPresets.begin(), kPresets.end(), preset) == kPresets.end()) {
                         problems.emplace_back(
                             "preset \"" + preset + "\" is not an x264 preset (ultrafast … placebo)",
                             it->second.pos);
                       }
                     }
                     check_positive(spec, "threads", 1, 64, problems);
                     check_positive(spec, "h264_crf", 0, 51, problems);
                     check_positive(spec, "h265_crf", 0, 51, problems);
                     check_positive(spec, "max_muxing_queue_size", 128, 65536, problems);
                     check_positive(spec, "segment_keep_seconds", 30, 86400, problems);
                   },
                   "Jellyfin: cheaper software transcodes (faster preset, fewer threads, higher CRF, shorter "
                   "queues, throttling, segment deletion)"));
  registry.add("jellyfin.respawn-software-transcodes",
               entry<RespawnAction>(
                   "jellyfin.respawn-software-transcodes", {{"signal", T::String}, {"max", T::Number}},
                   [](const ActionSpec& spec, std::vector<std::pair<std::string, SourcePos>>& problems) {
                     if (auto it = spec.params.find("signal"); it != spec.params.end()) {
                       std::string sig = param_string(spec, "signal");
                       if (sig != "TERM" && sig != "INT")
                         problems.emplace_back("signal must be \"TERM\" or \"INT\"", it->second.pos);
                     }
                     check_positive(spec, "max", 1, 1000, problems);
                   },
                   "Jellyfin: end software playback ffmpegs in the instance's cgroup so they restart on the "
                   "new settings"));
  registry.add(
      "jellyfin.pause-background-tasks",
      entry<PauseTasksAction>(
          "jellyfin.pause-background-tasks", {{"tasks", T::StringList}, {"categories", T::StringList}},
          nullptr, "Jellyfin: stop running scheduled tasks (trickplay, scans); restart them afterwards"));
  registry.add("jellyfin.cap-bitrate",
               entry<CapBitrateAction>(
                   "jellyfin.cap-bitrate",
                   {{"bitrate", T::Number, true},
                    {"message", T::String},
                    {"restore_bitrate", T::Number},
                    {"restore_message", T::String}},
                   [](const ActionSpec& spec, std::vector<std::pair<std::string, SourcePos>>& problems) {
                     check_positive(spec, "bitrate", 100'000, 1e9, problems);
                     check_positive(spec, "restore_bitrate", 100'000, 1e9, problems);
                   },
                   "Jellyfin: SetMaxStreamingBitrate + a message to transcoding clients"));
  registry.add("jellyfin.stop-lowest-priority",
               entry<StopLowestAction>(
                   "jellyfin.stop-lowest-priority",
                   {{"message", T::String}, {"message_seconds", T::Number}, {"only_transcodes", T::Bool}},
                   [](const ActionSpec& spec, std::vector<std::pair<std::string, SourcePos>>& problems) {
                     check_positive(spec, "message_seconds", 0, 8, problems);
                   },
                   "Jellyfin: message, then stop, the lowest-priority stream (priorities in [[jellyfin]])"));

  registry.add_restorer(kJellyfinEncodingKind,
                        [](const ActionEnv& env, const std::string& key, const std::string& original_json,
                           Deadline deadline) -> Result<void> {
                          json saved = json::parse(original_json, nullptr, false);
                          if (saved.is_discarded()) return make_error(key + ": saved value is not JSON");
                          auto client = client_for_saved(env, saved);
                          if (!client.ok()) return make_error(key + ": " + client.error().message);
                          auto restored = restore_jellyfin_encoding(**client, saved, deadline);
                          if (!restored.ok()) return make_error(key + ": " + restored.error().message);
                          return {};
                        });
  registry.add_restorer(kJellyfinTasksKind,
                        [](const ActionEnv& env, const std::string& key, const std::string& original_json,
                           Deadline deadline) -> Result<void> {
                          auto restarted = PauseTasksAction::restart_tasks(env, original_json, deadline);
                          if (!restarted.ok()) return make_error(key + ": " + restarted.error().message);
                          return {};
                        });
}

}  // namespace guardian
