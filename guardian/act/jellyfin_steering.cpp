#include "act/jellyfin_steering.h"

#include <algorithm>
#include <ctime>

#include "act/basic_actions.h"
#include "jellyfin/transcodes.h"

namespace guardian {

using nlohmann::json;
using Outcome = ActionResult::Outcome;

namespace {

constexpr const char* kKeptHow =
    "kept in the state file; retried when Jellyfin answers again and before guardian exits";

ActionResult failed(std::string detail, bool retry) {
  ActionResult result{Outcome::Failed, std::move(detail)};
  result.retry = retry;
  return result;
}

Event state_event(const std::string& key, const std::string& kind, int priority, std::string message,
                  const std::string& result) {
  Event event{EventType::StateRestored, priority, std::move(message), {}};
  event.with("KEY", key).with("KIND", kind).with("RESULT", result);
  return event;
}

// "jellyfin/<name>/…" -> "<name>".
std::string instance_of_key(const std::string& key) {
  if (!key.starts_with("jellyfin/")) return {};
  auto end = key.find('/', 9);
  return end == std::string::npos ? std::string() : key.substr(9, end - 9);
}

std::string encoding_prefix(const std::string& instance) {
  return "jellyfin/" + instance + "/encoding-options/";
}
std::string tasks_prefix(const std::string& instance) { return "jellyfin/" + instance + "/scheduled-tasks"; }
std::string bitrates_prefix(const std::string& instance) {
  return "jellyfin/" + instance + "/session-bitrates/";
}

std::string who(const std::string& user, const std::string& client) { return user + "@" + client; }

std::string layer_level(const JellyfinSteering::Place& place) {
  return place.level.empty() ? "unnamed-level" : place.level;
}

std::string clock_time(int64_t epoch_ms) {
  std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  localtime_r(&seconds, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

bool task_matches(const jellyfin::ScheduledTask& task, const std::vector<std::string>& keys,
                  const std::vector<std::string>& categories) {
  if (!keys.empty() && std::find(keys.begin(), keys.end(), task.key) == keys.end()) return false;
  if (!categories.empty() &&
      std::find(categories.begin(), categories.end(), task.category) == categories.end())
    return false;
  return true;
}

}  // namespace

struct JellyfinSteering::InstanceState {
  std::mutex mutex;  // one read-modify-write at a time, for this instance
  struct EncodingInForce {
    Place place;
    ActionSpec spec;
    bool resolved = false;  // its changes were worked out (and saved, when it has any)
  };
  std::map<std::string, EncodingInForce> encoding;  // by state key
  struct TasksInForce {
    Place place;
    std::vector<std::string> keys, categories;
  };
  std::map<std::string, TasksInForce> tasks;  // by state key
  std::set<std::string> caps;                 // session-bitrate layers in force, by state key
  bool loaded = false;                        // write_may_land_until_ms read from earlier entries
  int64_t write_may_land_until_ms = 0;
  bool dirty = true;  // something may differ from the plan (at first: whatever the file holds)
  std::chrono::steady_clock::time_point next_try{};
  unsigned failures = 0;
  std::set<std::string> refused;        // entries not acted on (not valid input)
  std::set<std::string> told_kept;      // failed restores, said once until they succeed
  std::set<std::string> told_restored;  // restored (maybe still kept while a write may land)
};

struct JellyfinSteering::Reconciled {
  bool read = false;     // Jellyfin answered the GET
  bool settled = false;  // Jellyfin holds the plan (the write was answered, or none was needed)
  bool maybe = false;    // the write went out and got no answer
  std::string error;
  EncodingPlan plan;
};

struct JellyfinSteering::LayersRestored {
  bool read = false;
  std::string error;
  std::map<std::string, std::string> restored;  // key -> detail (entry forgotten)
  std::map<std::string, std::string> kept;      // key -> why it stays
};

JellyfinSteering::JellyfinSteering(StateStore& state, jellyfin::InstanceDirectory& instances,
                                   const HostRoot* host)
    : JellyfinSteering(state, instances, host, Settings{}) {}

JellyfinSteering::JellyfinSteering(StateStore& state, jellyfin::InstanceDirectory& instances,
                                   const HostRoot* host, Settings settings)
    : store_(state), instances_(instances), host_(host), settings_(std::move(settings)) {}

JellyfinSteering::~JellyfinSteering() = default;

bool JellyfinSteering::handles_kind(const std::string& kind) {
  return kind == kJellyfinEncodingKind || kind == kJellyfinTasksKind || kind == kJellyfinBitratesKind;
}

std::chrono::steady_clock::time_point JellyfinSteering::steady_now() const {
  return settings_.steady_now ? settings_.steady_now() : std::chrono::steady_clock::now();
}

int64_t JellyfinSteering::wall_ms() const {
  auto now = settings_.wall_now ? settings_.wall_now() : std::chrono::system_clock::now();
  return std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
}

JellyfinSteering::InstanceState& JellyfinSteering::state_for(const std::string& name) {
  std::lock_guard lock(map_mutex_);
  auto& slot = states_[name];
  if (!slot) slot = std::make_unique<InstanceState>();
  return *slot;
}

Result<jellyfin::Instance> JellyfinSteering::find_instance(const std::string& name) {
  auto instance = instances_.find(name);
  if (!instance.ok()) return instance.error();
  if (!instance->client) {
    return make_error("Jellyfin \"" + instance->settings.name +
                      "\" has no client: " + instance->client_error);
  }
  instance->client = instance->client->for_actions();  // an action's calls: see Client::for_actions
  return instance;
}

std::vector<EncodingLayer> JellyfinSteering::saved_encoding_layers(InstanceState& state,
                                                                   const std::string& name) {
  std::vector<EncodingLayer> layers;
  const std::string prefix = encoding_prefix(name);
  for (const auto& [key, saved] : store_.entries()) {
    if (!key.starts_with(prefix) || saved.kind != kJellyfinEncodingKind) continue;
    std::vector<std::string> dropped;
    json doc = json::parse(saved.original_json, nullptr, false);
    auto layer = parse_encoding_layer(key, doc, dropped);
    if (!layer.ok()) {
      state.refused.insert(key);
      continue;
    }
    layers.push_back(std::move(*layer));
  }
  return layers;
}

std::vector<TaskLayer> JellyfinSteering::saved_task_layers(InstanceState& state, const std::string& name) {
  std::vector<TaskLayer> layers;
  const std::string prefix = tasks_prefix(name);
  for (const auto& [key, saved] : store_.entries()) {
    if (!(key == prefix || key.starts_with(prefix + "/")) || saved.kind != kJellyfinTasksKind) continue;
    std::vector<std::string> dropped;
    json doc = json::parse(saved.original_json, nullptr, false);
    auto layer = parse_task_layer(key, doc, dropped);
    if (!layer.ok()) {
      state.refused.insert(key);
      continue;
    }
    layers.push_back(std::move(*layer));
  }
  return layers;
}

JellyfinSteering::Reconciled JellyfinSteering::reconcile_encoding(InstanceState& state,
                                                                  const jellyfin::Instance& instance,
                                                                  Deadline deadline) {
  Reconciled out;
  const std::string& name = instance.settings.name;
  // Entries refused or trimmed are told by whoever reads the file first (restore_saved); here
  // they are only left out.
  auto saved = saved_encoding_layers(state, name);
  if (!state.loaded) {
    state.loaded = true;
    for (const auto& layer : saved)
      state.write_may_land_until_ms = std::max(state.write_may_land_until_ms, layer.write_may_land_until_ms);
  }
  EncodingPlanInput input;
  input.saved = saved;
  bool needs_idle_check = false;
  for (auto& [key, layer] : state.encoding) {
    input.in_force[key] = {layer.place.level_number, layer.place.action_index};
    // clang 14 (the fuzz and sanitizer builds) cannot capture a structured binding: a copy.
    const std::string& layer_key = key;
    bool has_entry =
        std::any_of(saved.begin(), saved.end(), [&](const auto& l) { return l.key == layer_key; });
    if (has_entry) layer.resolved = true;  // an entry of an earlier run under the same key: adopted
    if (layer.resolved) continue;
    input.new_layers.push_back({key, name, layer_level(layer.place), layer.place.action,
                                layer.place.level_number, layer.place.action_index, layer.spec});
    needs_idle_check = needs_idle_check || (layer.place.action == "jellyfin.prefer-vaapi" &&
                                            param_bool(layer.spec, "switch_type_when_idle", false));
  }
  auto current = instance.client->get_encoding_options(deadline);
  if (!current.ok()) {
    out.error = current.error().message;
    return out;
  }
  out.read = true;
  input.current = current->raw;
  if (instance.probe && instance.probe->available())
    input.probed_decoding_codecs = instance.probe->hardware_decoding_codecs;
  if (needs_idle_check && current->hardware_acceleration_type() != "vaapi") {
    // Idle only when both the cgroup scan and Jellyfin's sessions say so; a source that cannot
    // be read counts as busy.
    bool busy = false;
    auto sessions = instance.client->get_sessions(deadline);
    busy = !sessions.ok() || std::any_of(sessions->begin(), sessions->end(), [](const auto& s) {
      return s.playing() && s.transcoding.has_value();
    });
    if (!busy && !instance.cgroup_host_path.empty()) {
      HostRoot real;
      auto scan = scan_ffmpeg_processes(host_ ? *host_ : real, instance.cgroup_host_path);
      busy = !scan.ok() || std::any_of(scan->processes.begin(), scan->processes.end(), [](const auto& p) {
        return p.command.kind == FfmpegJobKind::Playback;
      });
    }
    input.transcodes_active = busy;
  } else {
    input.transcodes_active = false;
  }
  input.write_may_land = wall_ms() < state.write_may_land_until_ms;
  out.plan = plan_encoding(input);

  for (const auto& fresh : input.new_layers) {
    if (!out.plan.reports[fresh.key].error.empty())
      state.encoding.erase(fresh.key);  // cannot apply: not in force
    else
      state.encoding[fresh.key].resolved = true;
  }
  // Durable before the write: the new layers, the changed ones, and — when a write goes out —
  // that it may land late, on every entry that stays.
  std::vector<StateStore::Change> changes;
  const int64_t until = wall_ms() + settings_.settle.count();
  for (auto layer : out.plan.layers) {
    const std::string& key = layer.key;
    bool changed =
        std::any_of(out.plan.save.begin(), out.plan.save.end(), [&](const auto& l) { return l.key == key; });
    if (out.plan.write) {
      layer.write_may_land_until_ms = until;
      changed = true;
    }
    if (changed) changes.push_back({key, kJellyfinEncodingKind, encoding_layer_json(layer).dump()});
  }
  if (!changes.empty()) {
    if (auto stored = store_.commit(changes); !stored.ok()) {
      for (const auto& fresh : input.new_layers) {
        if (state.encoding.contains(fresh.key)) state.encoding[fresh.key].resolved = false;
      }
      out.error = "nothing changed: the state file could not be written: " + stored.error().message;
      return out;
    }
  }
  std::vector<StateStore::Change> after;
  if (out.plan.write) {
    auto written = instance.client->post_encoding_options(out.plan.next, deadline);
    if (written.unknown()) {
      out.maybe = true;
      state.write_may_land_until_ms = std::max(state.write_may_land_until_ms, until);
      out.error = written.error + " (no answer: Jellyfin may have applied it, or may still)";
      return out;
    }
    // Answered (or never sent): this write cannot land later. The entries go back to remembering
    // only writes that still may, so a restart after this does not wait for it.
    for (auto layer : out.plan.layers) {
      bool forgotten =
          std::find(out.plan.forget.begin(), out.plan.forget.end(), layer.key) != out.plan.forget.end();
      if (written.applied() && forgotten) continue;
      layer.write_may_land_until_ms = state.write_may_land_until_ms;
      after.push_back({layer.key, kJellyfinEncodingKind, encoding_layer_json(layer).dump()});
    }
    if (!written.applied()) {
      (void)store_.commit(after);  // if this fails the entries only wait longer than needed
      out.error = written.error;
      return out;
    }
  }
  out.settled = true;
  for (const auto& key : out.plan.forget) after.push_back({key, "", ""});
  (void)store_.commit(after);  // if this fails the entries stay and the next round forgets them
  return out;
}

void JellyfinSteering::note_outcome(InstanceState& state, bool settled) {
  auto now = steady_now();
  if (!settled) {
    ++state.failures;
    auto backoff = settings_.retry_first * (1LL << std::min(state.failures - 1, 16u));
    state.next_try = now + std::min<std::chrono::milliseconds>(backoff, settings_.retry_max);
    state.dirty = true;
    return;
  }
  state.failures = 0;
  state.dirty = std::any_of(state.encoding.begin(), state.encoding.end(),
                            [](const auto& entry) { return !entry.second.resolved; });
  int64_t left = state.write_may_land_until_ms - wall_ms();
  if (left > 0) {
    // Read again now and then while a write may still land, and once it cannot any more.
    state.next_try =
        now + std::min<std::chrono::milliseconds>(settings_.retry_first * 2, std::chrono::milliseconds(left));
    state.dirty = true;
  } else {
    state.next_try = now;
  }
}

ActionResult JellyfinSteering::apply_encoding(const Place& place, const ActionSpec& spec, bool dry_run,
                                              Deadline deadline) {
  auto instance = find_instance(place.instance);
  if (!instance.ok()) {
    if (instances_.all().empty()) return {Outcome::Unchanged, "no [[jellyfin]] instance configured"};
    return failed(instance.error().message, true);
  }
  const std::string& name = instance->settings.name;
  const std::string key = jellyfin_encoding_key(name, layer_level(place), place.action);
  auto& state = state_for(name);
  std::lock_guard lock(state.mutex);
  if (dry_run) {
    auto current = instance->client->get_encoding_options(deadline);
    if (!current.ok()) return failed(current.error().message, false);
    EncodingPlanInput input;
    input.current = current->raw;
    input.saved = saved_encoding_layers(state, name);
    for (const auto& [other, layer] : state.encoding)
      input.in_force[other] = {layer.place.level_number, layer.place.action_index};
    input.in_force[key] = {place.level_number, place.action_index};
    input.new_layers.push_back(
        {key, name, layer_level(place), place.action, place.level_number, place.action_index, spec});
    input.transcodes_active = true;
    auto plan = plan_encoding(input);
    const auto& report = plan.reports[key];
    if (!report.error.empty()) return failed(report.error, false);
    return {Outcome::Unchanged, "dry run: would " + describe_layer_report(report, "set")};
  }
  auto [slot, inserted] = state.encoding.try_emplace(key);
  if (inserted) slot->second = {place, spec, false};
  state.dirty = true;
  auto reconciled = reconcile_encoding(state, *instance, deadline);
  note_outcome(state, reconciled.settled);
  if (!reconciled.read)
    return failed(reconciled.error + " (guardian tries again while the level holds)", true);
  const auto& report = reconciled.plan.reports[key];
  if (!report.error.empty()) {
    // Only an idle-time switch waits for a better moment; a wrong HardwareAccelerationType does not.
    bool later = report.error.find("transcodes are running") != std::string::npos;
    return failed(report.error, later);
  }
  std::string detail = describe_layer_report(report, "set");
  if (reconciled.maybe)
    return failed("maybe applied: " + detail + ": " + reconciled.error + "; " + kKeptHow, true);
  if (!reconciled.settled)
    return failed("not applied: " + reconciled.error + " (guardian tries again)", true);
  if (report.changed.empty() && report.in_force.empty())
    return {Outcome::Unchanged, "EncodingOptions already as wanted"};
  if (place.action == "jellyfin.prefer-vaapi" &&
      std::any_of(report.changed.begin(), report.changed.end(),
                  [](const auto& c) { return c.field == "HardwareAccelerationType"; })) {
    detail += " (Jellyfin detects the VA-API driver only at start: restart Jellyfin for the full pipeline)";
  }
  return {Outcome::Applied, detail};
}

ActionResult JellyfinSteering::revert_encoding(const Place& place, Deadline deadline) {
  auto found = instances_.find(place.instance);
  std::string name = found.ok() ? found->settings.name : place.instance;
  const std::string key = jellyfin_encoding_key(name, layer_level(place), place.action);
  if (!found.ok() || !found->client) {
    if (!store_.get(key)) return {Outcome::Unchanged, "nothing to restore"};
    if (found.ok()) {
      auto& state = state_for(name);
      std::lock_guard lock(state.mutex);
      state.encoding.erase(key);
      state.dirty = true;
    }
    return failed("could not restore " + key + ": " +
                      (found.ok() ? found->client_error : found.error().message) + " (" + kKeptHow + ")",
                  false);
  }
  auto& state = state_for(name);
  std::lock_guard lock(state.mutex);
  state.encoding.erase(key);
  state.dirty = true;
  if (!store_.get(key)) return {Outcome::Unchanged, "nothing to restore"};
  auto reconciled = reconcile_encoding(state, *found, deadline);
  note_outcome(state, reconciled.settled);
  if (!reconciled.read || !reconciled.settled) {
    std::string how = reconciled.maybe ? "maybe restored: " : "could not restore: ";
    state.told_kept.insert(key);
    return failed(how + reconciled.error + " (" + kKeptHow + ")", false);
  }
  auto& report = reconciled.plan.reports[key];
  if (report.waiting.empty()) state.told_restored.insert(key);
  std::string detail = describe_layer_report(report, "restored");
  if (store_.get(key) && report.waiting.empty())
    detail += "; kept in the state file until " + clock_time(state.write_may_land_until_ms) +
              " in case a write Jellyfin has not answered lands late";
  return {Outcome::Reverted, detail};
}

ActionResult JellyfinSteering::pause_tasks(const Place& place, const ActionSpec& spec, bool dry_run,
                                           Deadline deadline) {
  auto instance = find_instance(place.instance);
  if (!instance.ok()) {
    if (instances_.all().empty()) return {Outcome::Unchanged, "no [[jellyfin]] instance configured"};
    return failed(instance.error().message, true);
  }
  const std::string& name = instance->settings.name;
  const std::string key = jellyfin_tasks_key(name, layer_level(place), place.action);
  auto& state = state_for(name);
  std::lock_guard lock(state.mutex);
  auto keys = param_strings(spec, "tasks");
  auto categories = param_strings(spec, "categories");
  if (!dry_run) state.tasks[key] = {place, keys, categories};
  auto tasks = instance->client->get_scheduled_tasks(deadline);
  if (!tasks.ok()) return failed(tasks.error().message, !dry_run);
  std::vector<const jellyfin::ScheduledTask*> running;
  for (const auto& task : *tasks) {
    if (task.state == "Running" && task_matches(task, keys, categories)) running.push_back(&task);
  }
  if (running.empty()) return {Outcome::Unchanged, "no matching task running"};
  if (dry_run) {
    std::string names;
    for (const auto* task : running) names += (names.empty() ? "" : ", ") + task->name;
    return {Outcome::Unchanged, "dry run: would stop " + names};
  }
  TaskLayer layer{key, name, layer_level(place), place.action, {}};
  if (auto existing = store_.get(key)) {
    std::vector<std::string> dropped;
    auto parsed = parse_task_layer(key, json::parse(existing->original_json, nullptr, false), dropped);
    if (parsed.ok()) layer = std::move(*parsed);
  }
  for (const auto* task : running) {
    bool known = std::any_of(layer.tasks.begin(), layer.tasks.end(),
                             [&](const auto& t) { return t.first == task->id; });
    if (!known) layer.tasks.emplace_back(task->id, task->name);
  }
  if (auto stored = store_.commit({{key, kJellyfinTasksKind, task_layer_json(layer).dump()}}); !stored.ok())
    return failed("not stopped, the task list could not be saved: " + stored.error().message, true);
  std::string detail;
  size_t stopped = 0;
  for (const auto* task : running) {
    auto result = instance->client->stop_task(task->id, deadline);
    if (result.applied()) {
      ++stopped;
      detail += (detail.empty() ? "" : ", ") + ("stopped " + task->name);
    } else if (result.unknown()) {
      ++stopped;  // maybe stopped: it stays in the entry, to be started again
      detail += (detail.empty() ? "" : ", ") + ("maybe stopped " + task->name + " (" + result.error + ")");
    } else {
      std::erase_if(layer.tasks, [&](const auto& t) { return t.first == task->id; });
      detail += (detail.empty() ? "" : ", ") + result.error;
    }
  }
  std::vector<StateStore::Change> change;
  if (layer.tasks.empty())
    change.push_back({key, "", ""});
  else
    change.push_back({key, kJellyfinTasksKind, task_layer_json(layer).dump()});
  (void)store_.commit(change);
  if (stopped == 0) return failed(detail, true);
  return {Outcome::Applied, detail};
}

JellyfinSteering::LayersRestored JellyfinSteering::restart_saved_tasks(InstanceState& state,
                                                                       const jellyfin::Instance& instance,
                                                                       const std::string& only_key,
                                                                       Deadline deadline) {
  LayersRestored out;
  const std::string& name = instance.settings.name;
  std::vector<TaskLayer> layers;
  for (auto& layer : saved_task_layers(state, name)) {
    if (state.tasks.contains(layer.key)) continue;  // its level still holds
    if (!only_key.empty() && layer.key != only_key) continue;
    layers.push_back(std::move(layer));
  }
  if (layers.empty()) {
    out.read = true;
    return out;
  }
  auto tasks = instance.client->get_scheduled_tasks(deadline);
  if (!tasks.ok()) {
    out.error = tasks.error().message;
    for (const auto& layer : layers) out.kept[layer.key] = out.error;
    return out;
  }
  out.read = true;
  std::map<std::string, TaskLayer> holders;  // in-force layers that take over a task they pause too
  std::vector<StateStore::Change> changes;
  for (auto& layer : layers) {
    std::string detail, error;
    std::vector<std::pair<std::string, std::string>> remaining;
    for (const auto& [task_id, task_name] : layer.tasks) {
      const std::string& id = task_id;  // clang 14 cannot capture a structured binding
      auto info = std::find_if(tasks->begin(), tasks->end(), [&](const auto& t) { return t.id == id; });
      std::string shown = info != tasks->end() ? info->name : task_name;
      const InstanceState::TasksInForce* holder = nullptr;
      std::string holder_key;
      for (const auto& [key, held] : state.tasks) {
        if (info != tasks->end() && task_matches(*info, held.keys, held.categories)) {
          holder = &held;
          holder_key = key;
        }
      }
      if (holder != nullptr) {
        auto& taken = holders[holder_key];
        if (taken.key.empty()) {
          taken = {holder_key, name, layer_level(holder->place), holder->place.action, {}};
          if (auto existing = store_.get(holder_key)) {
            std::vector<std::string> dropped;
            auto parsed =
                parse_task_layer(holder_key, json::parse(existing->original_json, nullptr, false), dropped);
            if (parsed.ok()) taken = std::move(*parsed);
          }
        }
        if (std::none_of(taken.tasks.begin(), taken.tasks.end(),
                         [&](const auto& t) { return t.first == id; }))
          taken.tasks.emplace_back(id, shown);
        detail += (detail.empty() ? "" : ", ") + shown + " stays stopped (" + holder->place.level +
                  " pauses it too)";
        continue;
      }
      if (info == tasks->end()) {
        detail += (detail.empty() ? "" : ", ") + shown + " is gone";
        continue;
      }
      if (info->state == "Running") {
        detail += (detail.empty() ? "" : ", ") + shown + " runs already";
        continue;
      }
      auto started = instance.client->start_task(id, deadline);
      if (started.applied()) {
        detail += (detail.empty() ? "restarted " : ", restarted ") + shown;
        continue;
      }
      // Not started, or no answer: kept. The next try finds it running (and lets go) or idle.
      remaining.emplace_back(id, task_name);
      error += (error.empty() ? "" : "; ") + shown + ": " + started.error;
    }
    layer.tasks = std::move(remaining);
    if (layer.tasks.empty()) {
      changes.push_back({layer.key, "", ""});
      out.restored[layer.key] = detail.empty() ? "nothing to restart" : detail;
    } else {
      changes.push_back({layer.key, kJellyfinTasksKind, task_layer_json(layer).dump()});
      out.kept[layer.key] = error;
    }
  }
  for (const auto& [key, holder] : holders)
    changes.push_back({key, kJellyfinTasksKind, task_layer_json(holder).dump()});
  if (auto stored = store_.commit(changes); !stored.ok()) {
    // Restarted, but the file still lists them: the next try finds them running and lets go.
    for (const auto& [key, detail] : out.restored)
      out.kept[key] = "the state file could not be written: " + stored.error().message;
    out.restored.clear();
  }
  return out;
}

template <class Forget, class Restore>
ActionResult JellyfinSteering::revert_saved_layer(const Place& place, LayerKey key_of,
                                                  const std::string& nothing, const std::string& failed_what,
                                                  Forget forget, Restore restore) {
  auto found = instances_.find(place.instance);
  const std::string name = found.ok() ? found->settings.name : place.instance;
  const std::string key = key_of(name, layer_level(place), place.action);
  if (!found.ok() || !found->client) {
    if (!store_.get(key)) return {Outcome::Unchanged, nothing};
    if (found.ok()) {
      auto& state = state_for(name);
      std::lock_guard lock(state.mutex);
      forget(state, key);
      state.dirty = true;
    }
    return failed(failed_what + ": " + (found.ok() ? found->client_error : found.error().message) + " (" +
                      kKeptHow + ")",
                  false);
  }
  auto& state = state_for(name);
  std::lock_guard lock(state.mutex);
  forget(state, key);
  if (!store_.get(key)) return {Outcome::Unchanged, nothing};
  LayersRestored done = restore(state, *found, key);
  if (auto it = done.restored.find(key); it != done.restored.end()) return {Outcome::Reverted, it->second};
  state.dirty = true;
  note_outcome(state, false);
  state.told_kept.insert(key);
  std::string why = done.kept.contains(key) ? done.kept[key] : done.error;
  return failed(failed_what + ": " + why + " (" + kKeptHow + ")", false);
}

ActionResult JellyfinSteering::restart_tasks(const Place& place, Deadline deadline) {
  return revert_saved_layer(
      place, jellyfin_tasks_key, "no task was stopped", "could not restart the stopped tasks",
      [](InstanceState& state, const std::string& key) { state.tasks.erase(key); },
      [&](InstanceState& state, const jellyfin::Instance& instance, const std::string& key) {
        return restart_saved_tasks(state, instance, key, deadline);
      });
}

ActionResult JellyfinSteering::cap_bitrates(const Place& place, const ActionSpec& spec, bool dry_run,
                                            Deadline deadline) {
  auto instance = find_instance(place.instance);
  if (!instance.ok()) {
    if (instances_.all().empty()) return {Outcome::Unchanged, "no [[jellyfin]] instance configured"};
    return failed(instance.error().message, true);
  }
  const std::string& name = instance->settings.name;
  const std::string key = jellyfin_bitrates_key(name, layer_level(place), place.action);
  auto& state = state_for(name);
  std::lock_guard lock(state.mutex);
  if (!dry_run) state.caps.insert(key);
  const auto cap = static_cast<int64_t>(param_number(spec, "bitrate", 3'000'000));
  auto sessions = instance->client->get_sessions(deadline);
  if (!sessions.ok()) return failed(sessions.error().message, !dry_run);
  BitrateLayer layer{key, name, layer_level(place), place.action, {}, std::nullopt};
  if (auto existing = store_.get(key)) {
    std::vector<std::string> dropped;
    auto parsed = parse_bitrate_layer(key, json::parse(existing->original_json, nullptr, false), dropped);
    if (parsed.ok()) layer = std::move(*parsed);
  }
  if (auto restore = param_number(spec, "restore_bitrate", 0); restore > 0)
    layer.restore_bitrate = static_cast<int64_t>(restore);
  // Sessions a layer in force already capped — this one, or the same action at a lower level —
  // stay with it: its saved bitrate is the one from before guardian, and a higher level's revert
  // must not lift the cap of a level that still holds.
  std::set<std::string> capped_ids;
  for (const auto& c : layer.sessions) capped_ids.insert(c.id);
  for (const auto& held : state.caps) {
    auto saved = store_.get(held);
    if (!saved || held == key) continue;
    std::vector<std::string> dropped;
    auto parsed = parse_bitrate_layer(held, json::parse(saved->original_json, nullptr, false), dropped);
    if (!parsed.ok()) continue;
    for (const auto& c : parsed->sessions) capped_ids.insert(c.id);
  }
  // Playing and transcoding video above the cap, and not capped already.
  std::vector<const jellyfin::SessionInfo*> targets;
  std::string already;
  for (const auto& s : *sessions) {
    if (!s.playing() || !s.transcoding || s.transcoding->is_video_direct) continue;
    if (capped_ids.contains(s.id)) {
      already += (already.empty() ? "" : ", ") + who(s.user_name, s.client);
      continue;
    }
    if (s.transcoding->bitrate && *s.transcoding->bitrate <= cap) continue;
    targets.push_back(&s);
  }
  if (targets.empty()) {
    if (!already.empty()) return {Outcome::Unchanged, "capped already: " + already};
    return {Outcome::Unchanged, "no session transcodes above " + std::to_string(cap) + " bit/s"};
  }
  if (dry_run)
    return {Outcome::Unchanged, "dry run: would cap " + std::to_string(targets.size()) + " session(s)"};
  for (const auto* s : targets)
    layer.sessions.push_back({s->id, s->user_name, s->client, s->transcoding->bitrate});
  // Saved before the first command: a crash from here on still restores each session's bitrate.
  if (auto stored = store_.commit({{key, kJellyfinBitratesKind, bitrate_layer_json(layer).dump()}});
      !stored.ok())
    return failed("not capped, the sessions' bitrates could not be saved: " + stored.error().message, true);
  const std::string message =
      param_string(spec, "message", "The server is short of memory: video quality is lowered for a while.");
  std::string detail;
  size_t capped = 0;
  for (const auto* s : targets) {
    auto sent = instance->client->set_max_streaming_bitrate(s->id, cap, deadline);
    std::string shown = who(s->user_name, s->client);
    if (!sent.applied() && !sent.unknown()) {
      // Refused, or never sent: not capped, and nothing of it to restore.
      const std::string& id = s->id;
      std::erase_if(layer.sessions, [&](const auto& c) { return c.id == id; });
      detail += (detail.empty() ? "" : ", ") + shown + ": " + sent.error;
      continue;
    }
    // No answer: maybe capped. It stays in the entry; its own bitrate goes back to it either way.
    ++capped;
    shown += s->transcoding->bitrate ? " (was " + std::to_string(*s->transcoding->bitrate) + ")"
                                     : " (was unknown)";
    if (sent.unknown()) shown += " (maybe: " + sent.error + ")";
    if (!message.empty() && sent.applied()) {
      if (auto messaged = instance->client->send_message(s->id, "guardian", message, 10'000, deadline);
          !messaged.ok())
        shown += " (the message failed: " + messaged.error().message + ")";
    }
    detail += (detail.empty() ? "" : ", ") + shown;
  }
  if (layer.sessions.empty())
    (void)store_.commit({{key, "", ""}});
  else
    (void)store_.commit({{key, kJellyfinBitratesKind, bitrate_layer_json(layer).dump()}});
  std::string text = "SetMaxStreamingBitrate " + std::to_string(cap) + " to " + detail;
  if (capped == 0) return failed(text, true);
  return {Outcome::Applied, text};
}

JellyfinSteering::LayersRestored JellyfinSteering::restore_saved_bitrates(InstanceState& state,
                                                                          const jellyfin::Instance& instance,
                                                                          const std::string& only_key,
                                                                          const std::string& message,
                                                                          Deadline deadline) {
  LayersRestored out;
  const std::string& name = instance.settings.name;
  std::vector<BitrateLayer> layers;
  for (const auto& [key, saved] : store_.entries()) {
    if (!key.starts_with(bitrates_prefix(name)) || saved.kind != kJellyfinBitratesKind) continue;
    if (state.caps.contains(key)) continue;  // its level still holds
    if (!only_key.empty() && key != only_key) continue;
    std::vector<std::string> dropped;
    auto layer = parse_bitrate_layer(key, json::parse(saved.original_json, nullptr, false), dropped);
    if (!layer.ok()) {
      state.refused.insert(key);
      continue;
    }
    layers.push_back(std::move(*layer));
  }
  if (layers.empty()) {
    out.read = true;
    return out;
  }
  auto sessions = instance.client->get_sessions(deadline);
  if (!sessions.ok()) {
    out.error = sessions.error().message;
    for (const auto& layer : layers) out.kept[layer.key] = out.error;
    return out;
  }
  out.read = true;
  std::vector<StateStore::Change> changes;
  for (auto& layer : layers) {
    std::string detail, error;
    std::vector<CappedSession> remaining;
    for (const auto& capped : layer.sessions) {
      const std::string& id = capped.id;
      std::string shown = who(capped.user, capped.client);
      bool present =
          std::any_of(sessions->begin(), sessions->end(), [&](const auto& s) { return s.id == id; });
      if (!present) {
        detail += (detail.empty() ? "" : ", ") + shown + " has ended";
        continue;
      }
      std::optional<int64_t> bits = layer.restore_bitrate ? layer.restore_bitrate : capped.bitrate;
      if (!bits) {
        detail +=
            (detail.empty() ? "" : ", ") + shown + " keeps its cap (Jellyfin reported no bitrate before it)";
        continue;
      }
      auto sent = instance.client->set_max_streaming_bitrate(id, *bits, deadline);
      if (!sent.applied()) {
        // Refused or unanswered: kept, and sent again on the next try (the same value).
        remaining.push_back(capped);
        error += (error.empty() ? "" : "; ") + shown + ": " + sent.error;
        continue;
      }
      if (!message.empty()) (void)instance.client->send_message(id, "guardian", message, 10'000, deadline);
      detail += (detail.empty() ? "" : ", ") + shown + " back to " + std::to_string(*bits);
    }
    layer.sessions = std::move(remaining);
    if (layer.sessions.empty()) {
      changes.push_back({layer.key, "", ""});
      out.restored[layer.key] = detail.empty() ? "nothing to restore" : "SetMaxStreamingBitrate: " + detail;
    } else {
      changes.push_back({layer.key, kJellyfinBitratesKind, bitrate_layer_json(layer).dump()});
      out.kept[layer.key] = error;
    }
  }
  if (auto stored = store_.commit(changes); !stored.ok()) {
    // Sent, but the file still lists them: the next try sends the same bitrates again.
    for (const auto& [key, detail] : out.restored)
      out.kept[key] = "the state file could not be written: " + stored.error().message;
    out.restored.clear();
  }
  return out;
}

ActionResult JellyfinSteering::restore_bitrates(const Place& place, const std::string& message,
                                                Deadline deadline) {
  return revert_saved_layer(
      place, jellyfin_bitrates_key, "no session was capped",
      "could not restore the capped sessions' bitrates",
      [](InstanceState& state, const std::string& key) { state.caps.erase(key); },
      [&](InstanceState& state, const jellyfin::Instance& instance, const std::string& key) {
        return restore_saved_bitrates(state, instance, key, message, deadline);
      });
}

std::vector<Event> JellyfinSteering::retry(InstanceState& state, const jellyfin::Instance& instance,
                                           const char* when, Deadline deadline) {
  std::vector<Event> events;
  const std::string& name = instance.settings.name;
  auto is_saved_encoding = [&](const std::string& key) {
    return key.starts_with(encoding_prefix(name)) && !state.encoding.contains(key);
  };
  std::set<std::string> before;
  for (const auto& [key, saved] : store_.entries()) {
    if (saved.kind == kJellyfinEncodingKind && is_saved_encoding(key) && !state.refused.contains(key))
      before.insert(key);
  }
  bool settled = true;
  if (!before.empty() || state.dirty || !state.encoding.empty()) {
    auto reconciled = reconcile_encoding(state, instance, deadline);
    settled = reconciled.settled;
    for (const auto& key : before) {
      if (!reconciled.settled) {
        if (!state.told_kept.insert(key).second) continue;
        Event event = state_event(
            key, kJellyfinEncodingKind, 3,
            "could not restore " + key + std::string(when) + ": " + reconciled.error + " (" + kKeptHow + ")",
            reconciled.maybe ? "maybe-restored" : "failed");
        event.with("JELLYFIN_INSTANCE", name);
        events.push_back(std::move(event));
        continue;
      }
      auto found = reconciled.plan.reports.find(key);
      if (found == reconciled.plan.reports.end()) continue;
      const LayerReport& report = found->second;
      // Told when something happened to a field, and once when the entry is fully restored.
      bool complete = report.waiting.empty();
      if (report.changed.empty() && report.kept.empty() && (!complete || state.told_restored.contains(key)))
        continue;
      if (complete) state.told_restored.insert(key);
      state.told_kept.erase(key);
      std::string detail = describe_layer_report(report, "restored");
      if (complete && store_.get(key))
        detail += "; kept in the state file until " + clock_time(state.write_may_land_until_ms) +
                  " in case a write Jellyfin has not answered lands late";
      Event event =
          state_event(key, kJellyfinEncodingKind, 5, "restored " + key + std::string(when) + ": " + detail,
                      complete ? "restored" : "partly-restored");
      event.with("JELLYFIN_INSTANCE", name);
      events.push_back(std::move(event));
    }
  }
  auto restarted = restart_saved_tasks(state, instance, "", deadline);
  for (const auto& [key, detail] : restarted.restored) {
    state.told_kept.erase(key);
    Event event = state_event(key, kJellyfinTasksKind, 5,
                              "restored " + key + std::string(when) + ": " + detail, "restored");
    event.with("JELLYFIN_INSTANCE", name);
    events.push_back(std::move(event));
  }
  for (const auto& [key, why] : restarted.kept) {
    settled = false;
    if (!state.told_kept.insert(key).second) continue;
    Event event = state_event(
        key, kJellyfinTasksKind, 3,
        "could not restart the tasks of " + key + std::string(when) + ": " + why + " (" + kKeptHow + ")",
        "failed");
    event.with("JELLYFIN_INSTANCE", name);
    events.push_back(std::move(event));
  }
  auto bitrates = restore_saved_bitrates(state, instance, "", "", deadline);
  for (const auto& [key, detail] : bitrates.restored) {
    state.told_kept.erase(key);
    Event event = state_event(key, kJellyfinBitratesKind, 5,
                              "restored " + key + std::string(when) + ": " + detail, "restored");
    event.with("JELLYFIN_INSTANCE", name);
    events.push_back(std::move(event));
  }
  for (const auto& [key, why] : bitrates.kept) {
    settled = false;
    if (!state.told_kept.insert(key).second) continue;
    Event event = state_event(key, kJellyfinBitratesKind, 3,
                              "could not restore the session bitrates of " + key + std::string(when) + ": " +
                                  why + " (" + kKeptHow + ")",
                              "failed");
    event.with("JELLYFIN_INSTANCE", name);
    events.push_back(std::move(event));
  }
  note_outcome(state, settled);
  // Keys that left the file start afresh if they come back.
  for (auto it = state.told_restored.begin(); it != state.told_restored.end();) {
    it = store_.get(*it) ? std::next(it) : state.told_restored.erase(it);
  }
  return events;
}

std::vector<Event> JellyfinSteering::restore_saved(Deadline deadline) {
  std::vector<Event> events;
  std::set<std::string> names;
  for (const auto& [key, saved] : store_.entries()) {
    if (!handles_kind(saved.kind)) continue;
    std::string name = instance_of_key(key);
    json doc = json::parse(saved.original_json, nullptr, false);
    std::vector<std::string> dropped;
    std::string refused;
    if (saved.kind == kJellyfinEncodingKind) {
      if (!key.starts_with("jellyfin/" + name + "/encoding-options/")) {
        refused = "its key is not jellyfin/<instance>/encoding-options/…";
      } else if (auto layer = parse_encoding_layer(key, doc, dropped); !layer.ok()) {
        refused = layer.error().message;
      }
    } else if (saved.kind == kJellyfinBitratesKind) {
      if (!key.starts_with(bitrates_prefix(name))) {
        refused = "its key is not jellyfin/<instance>/session-bitrates/…";
      } else if (auto layer = parse_bitrate_layer(key, doc, dropped); !layer.ok()) {
        refused = layer.error().message;
      }
    } else if (auto layer = parse_task_layer(key, doc, dropped); !layer.ok()) {
      refused = layer.error().message;
    }
    if (!refused.empty()) {
      events.push_back(state_event(
          key, saved.kind, 4,
          "saved entry " + key + " not acted on: " + refused + "; kept in " + store_.path(), "refused"));
      continue;
    }
    if (!dropped.empty()) {
      std::string list;
      for (const auto& item : dropped) list += (list.empty() ? "" : ", ") + item;
      events.push_back(
          state_event(key, saved.kind, 4, "saved entry " + key + ": ignored " + list, "trimmed"));
    }
    auto instance = instances_.find(name);
    if (!instance.ok() || instance->settings.name != name) {
      events.push_back(state_event(key, saved.kind, 4,
                                   "saved entry " + key + " names no [[jellyfin]] \"" + name +
                                       "\" of the policy in force: not acted on (guardian only ever talks to "
                                       "the policy's instances); kept in " +
                                       store_.path(),
                                   "unknown-instance"));
      continue;
    }
    names.insert(name);
  }
  for (const auto& name : names) {
    auto instance = instances_.find(name);
    auto& state = state_for(name);
    std::lock_guard lock(state.mutex);
    if (!instance->client) {
      for (const auto& [key, saved] : store_.entries()) {
        if (instance_of_key(key) != name || !handles_kind(saved.kind)) continue;
        state.told_kept.insert(key);
        events.push_back(state_event(
            key, saved.kind, 3,
            "could not restore " + key + ": " + instance->client_error + " (" + kKeptHow + ")", "failed"));
      }
      state.dirty = true;
      continue;
    }
    auto told = retry(state, *instance, " (left by an earlier guardian)", deadline);
    events.insert(events.end(), told.begin(), told.end());
  }
  return events;
}

bool JellyfinSteering::pending(const std::string& instance) {
  auto& state = state_for(instance);
  std::lock_guard lock(state.mutex);
  return pending_locked(state, instance);
}

bool JellyfinSteering::pending_locked(InstanceState& state, const std::string& instance) {
  if (state.dirty || wall_ms() < state.write_may_land_until_ms) return true;
  for (const auto& [key, saved] : store_.entries()) {
    if (state.refused.contains(key) || state.encoding.contains(key) || state.tasks.contains(key) ||
        state.caps.contains(key))
      continue;
    bool encoding = saved.kind == kJellyfinEncodingKind && key.starts_with(encoding_prefix(instance));
    bool tasks = saved.kind == kJellyfinTasksKind &&
                 (key == tasks_prefix(instance) || key.starts_with(tasks_prefix(instance) + "/"));
    bool bitrates = saved.kind == kJellyfinBitratesKind && key.starts_with(bitrates_prefix(instance));
    if (encoding || tasks || bitrates) return true;  // left to restore
  }
  return false;
}

std::vector<Event> JellyfinSteering::service(const std::string& name, bool answers_again, Deadline deadline) {
  auto instance = find_instance(name);
  if (!instance.ok()) return {};
  auto& state = state_for(name);
  std::unique_lock lock(state.mutex, std::try_to_lock);
  if (!lock.owns_lock()) return {};  // an action is at it right now
  if (!pending_locked(state, name)) return {};
  if (!answers_again && steady_now() < state.next_try) return {};
  return retry(state, *instance, " (retried)", deadline);
}

std::vector<Event> JellyfinSteering::finish(Deadline deadline) {
  std::vector<Event> events;
  for (const auto& instance : instances_.all()) {
    const std::string& name = instance.settings.name;
    if (!instance.client) continue;
    auto& state = state_for(name);
    std::lock_guard lock(state.mutex);
    if (!pending_locked(state, name)) continue;
    auto told = retry(state, instance, " before exit", deadline);
    events.insert(events.end(), told.begin(), told.end());
    for (const auto& [key, saved] : store_.entries()) {
      if (instance_of_key(key) != name || !handles_kind(saved.kind) || state.refused.contains(key)) continue;
      if (state.told_restored.contains(key)) continue;  // restored; kept only while a write may land
      events.push_back(state_event(
          key, saved.kind, 4, key + " stays in " + store_.path() + ": the next start restores it", "kept"));
    }
  }
  return events;
}

}  // namespace guardian
