#include "act/jellyfin_encoding_plan.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

#include "act/basic_actions.h"
#include "act/jellyfin_vocabulary.h"

namespace guardian {
namespace {

using nlohmann::json;

json value_of(const json& object, const std::string& field) {
  auto it = object.find(field);
  return it == object.end() ? json() : *it;
}

bool contains(const std::vector<json>& values, const json& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool integer_in(const json& value, int64_t low, int64_t high) {
  if (!value.is_number_integer()) return false;
  if (value.is_number_unsigned()) return value.get<uint64_t>() <= static_cast<uint64_t>(high) && low <= 0;
  auto v = value.get<int64_t>();
  return v >= low && v <= high;
}

std::string show(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "(unset)";
  return value.dump();
}

bool is_jellyfin_id(const std::string& id) {
  return id.size() >= 32 && id.size() <= 36 && std::all_of(id.begin(), id.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) || c == '-';
         });
}

// The instance of a saved entry: a name by the policy's rule, matching the key it is saved under.
Result<std::string> saved_instance(const std::string& key, const json& saved, std::string_view kind_folder) {
  if (!saved.is_object()) return make_error("not a JSON object");
  auto it = saved.find("instance");
  if (it == saved.end() || !it->is_string()) return make_error("no instance name");
  std::string name = it->get<std::string>();
  if (!valid_jellyfin_instance_name(name))
    return make_error("instance name is not one a policy accepts (letters, digits, '-', '_')");
  const std::string prefix = "jellyfin/" + name + "/" + std::string(kind_folder);
  if (!(key == prefix || key.starts_with(prefix + "/")))
    return make_error("saved under a key that names another instance");
  return name;
}

std::string saved_text(const json& saved, const char* field) {
  auto it = saved.find(field);
  return it != saved.end() && it->is_string() ? it->get<std::string>() : std::string();
}

size_t saved_index(const json& saved, const char* field) {
  auto it = saved.find(field);
  return it != saved.end() && integer_in(*it, 0, 1'000'000) ? it->get<size_t>() : 0;
}

bool valid_saved_level(const std::string& level) {
  return level.size() <= 64 && std::all_of(level.begin(), level.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
         });
}

}  // namespace

std::string jellyfin_encoding_key(const std::string& instance, const std::string& level,
                                  const std::string& action) {
  return "jellyfin/" + instance + "/encoding-options/" + level + "/" + action;
}

std::string jellyfin_tasks_key(const std::string& instance, const std::string& level,
                               const std::string& action) {
  return "jellyfin/" + instance + "/scheduled-tasks/" + level + "/" + action;
}

std::string jellyfin_bitrates_key(const std::string& instance, const std::string& level,
                                  const std::string& action) {
  return "jellyfin/" + instance + "/session-bitrates/" + level + "/" + action;
}

bool valid_jellyfin_encoding_value(std::string_view field, const json& value) {
  const auto& allowed = jellyfin::kGuardianEncodingFields;
  if (std::find(std::begin(allowed), std::end(allowed), field) == std::end(allowed)) return false;
  if (value.is_null()) return true;
  if (field == "EnableHardwareEncoding" || field == "EnableThrottling" || field == "EnableSegmentDeletion")
    return value.is_boolean();
  if (field == "HardwareDecodingCodecs") {
    if (!value.is_array() || value.size() > 16) return false;
    return std::all_of(value.begin(), value.end(), [](const json& codec) {
      if (!codec.is_string()) return false;
      const auto& text = codec.get_ref<const std::string&>();
      return !text.empty() && text.size() <= 16 && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
      });
    });
  }
  if (field == "HardwareAccelerationType") {
    if (!value.is_string()) return false;
    const auto& text = value.get_ref<const std::string&>();
    return std::any_of(kHardwareAccelerationTypes.begin(), kHardwareAccelerationTypes.end(),
                       [&](std::string_view type) { return iequals(type, text); });
  }
  if (field == "EncoderPreset") {
    if (!value.is_string()) return false;
    const auto& text = value.get_ref<const std::string&>();
    return text.empty() || iequals(text, "auto") ||
           std::any_of(kPresets.begin(), kPresets.end(),
                       [&](std::string_view p) { return iequals(p, text); });
  }
  if (field == "EncodingThreadCount") return integer_in(value, -1, 256);
  if (field == "H264Crf" || field == "H265Crf") return integer_in(value, 0, 51);
  if (field == "MaxMuxingQueueSize") return integer_in(value, 0, 1 << 20);
  if (field == "SegmentKeepSeconds") return integer_in(value, 0, 7 * 86400);
  return false;
}

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
                          "\" and transcodes are running (or Jellyfin could not say): not switching now");
      changes["HardwareAccelerationType"] = "vaapi";
    }
    set_if_different("EnableHardwareEncoding", true);
    std::vector<std::string> codecs = param_strings(spec, "codecs");
    if (codecs.empty()) codecs = probed_decoding_codecs;
    if (codecs.empty()) codecs = {"h264", "hevc"};
    // The codecs the user enabled stay, in the user's order; missing wanted ones are added after
    // them in Jellyfin's order. A list that already has them all is not touched (a reordered list
    // would be a write, and a state entry, for nothing).
    std::vector<std::string> have = current.hardware_decoding_codecs();
    json list = json::array();
    for (const auto& codec : have) list.push_back(codec);
    bool added = false;
    for (std::string_view codec : kCodecs) {
      bool wanted = std::find(codecs.begin(), codecs.end(), codec) != codecs.end();
      bool had = std::find(have.begin(), have.end(), codec) != have.end();
      if (wanted && !had) {
        list.push_back(std::string(codec));
        added = true;
      }
    }
    if (added) changes["HardwareDecodingCodecs"] = list;
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

json encoding_layer_json(const EncodingLayer& layer) {
  json out = {{"instance", layer.instance},
              {"level", layer.level},
              {"action", layer.action},
              {"level_number", layer.level_number},
              {"action_index", layer.action_index},
              {"fields", layer.original},
              {"applied", layer.applied}};
  if (layer.write_may_land_until_ms > 0) out["write_may_land_until_ms"] = layer.write_may_land_until_ms;
  return out;
}

Result<EncodingLayer> parse_encoding_layer(const std::string& key, const json& saved,
                                           std::vector<std::string>& dropped) {
  auto instance = saved_instance(key, saved, "encoding-options");
  if (!instance.ok()) return instance.error();
  EncodingLayer layer;
  layer.key = key;
  layer.instance = *instance;
  layer.action = saved_text(saved, "action");
  if (layer.action != "jellyfin.prefer-vaapi" && layer.action != "jellyfin.cheaper-software")
    return make_error("action \"" + layer.action.substr(0, 64) + "\" does not change EncodingOptions");
  layer.level = saved_text(saved, "level");
  if (!valid_saved_level(layer.level)) return make_error("level name is not one a policy accepts");
  layer.level_number = saved_index(saved, "level_number");
  layer.action_index = saved_index(saved, "action_index");
  if (auto until = saved.find("write_may_land_until_ms"); until != saved.end() && until->is_number_integer())
    layer.write_may_land_until_ms = until->get<int64_t>();
  static const json kEmpty = json::object();
  auto object_at = [&](const char* name) -> const json& {
    auto it = saved.find(name);
    return it != saved.end() && it->is_object() ? *it : kEmpty;
  };
  const json& originals = object_at("fields");
  const json& applied = object_at("applied");
  std::set<std::string> names;
  for (const auto& [field, value] : originals.items()) names.insert(field);
  for (const auto& [field, value] : applied.items()) names.insert(field);
  for (const auto& field : names) {
    std::string shown = field.substr(0, 64);
    const auto& allowed = jellyfin::kGuardianEncodingFields;
    if (std::find(std::begin(allowed), std::end(allowed), field) == std::end(allowed)) {
      dropped.push_back(shown + " (not a field guardian changes)");
      continue;
    }
    if (!originals.contains(field) || !applied.contains(field) || applied[field].is_null()) {
      dropped.push_back(shown + " (no record of both its original and guardian's value)");
      continue;
    }
    if (!valid_jellyfin_encoding_value(field, originals[field]) ||
        !valid_jellyfin_encoding_value(field, applied[field])) {
      dropped.push_back(shown + " (not a value Jellyfin takes for it)");
      continue;
    }
    layer.original[field] = originals[field];
    layer.applied[field] = applied[field];
  }
  return layer;
}

EncodingPlan plan_encoding(const EncodingPlanInput& input) {
  EncodingPlan plan;
  plan.next = input.current.is_object() ? input.current : json::object();
  std::vector<EncodingLayer> layers = input.saved;
  std::set<std::string> changed_keys;
  auto in_force = [&](const EncodingLayer& layer) { return input.in_force.contains(layer.key); };

  // 1. Each field's original and every value guardian may have left in it.
  std::map<std::string, json> original;
  std::map<std::string, std::vector<json>> ours;
  for (const auto& layer : layers) {
    for (const auto& [field, value] : layer.applied.items()) {
      if (!original.contains(field)) original[field] = value_of(layer.original, field);
      ours[field].push_back(value);
    }
  }
  for (const auto& [field, value] : original) ours[field].push_back(value);

  // 2. A value that is neither someone else's: left as they set it — unless a write of unknown
  // outcome may still land, which may be what put it there or may yet overwrite it.
  std::set<std::string> retired, waiting;
  for (const auto& [field, values] : ours) {
    json now = value_of(input.current, field);
    if (contains(values, now)) continue;
    (input.write_may_land ? waiting : retired).insert(field);
  }
  for (auto& layer : layers) {
    for (const auto& field : retired) {
      if (!layer.applied.contains(field)) continue;
      plan.reports[layer.key].kept.push_back(
          {field, layer.applied[field], value_of(input.current, field), std::string()});
      layer.applied.erase(field);
      layer.original.erase(field);
      changed_keys.insert(layer.key);
    }
    for (const auto& field : waiting) {
      if (layer.applied.contains(field)) plan.reports[layer.key].waiting.push_back(field);
    }
  }

  // 3. The options as the user has them: what a new layer is worked out against.
  json user_view = plan.next;
  for (const auto& [field, value] : original) {
    if (retired.contains(field) || waiting.contains(field)) continue;
    if (value.is_null())
      user_view.erase(field);
    else
      user_view[field] = value;
  }

  // 4. New layers, saved before anything is written for them.
  for (const auto& fresh : input.new_layers) {
    if (std::any_of(layers.begin(), layers.end(), [&](const auto& l) { return l.key == fresh.key; }))
      continue;
    auto changes = jellyfin_encoding_changes(fresh.action, fresh.spec, jellyfin::EncodingOptions{user_view},
                                             input.probed_decoding_codecs, input.transcodes_active);
    if (!changes.ok()) {
      plan.reports[fresh.key].error = changes.error().message;
      continue;
    }
    EncodingLayer layer{fresh.key,      fresh.instance,     fresh.level,
                        fresh.action,   fresh.level_number, fresh.action_index,
                        json::object(), json::object(),     0};
    for (const auto& [field, value] : changes->items()) {
      if (waiting.contains(field)) {
        plan.reports[fresh.key].waiting.push_back(field);  // someone may have set it: not fought over
        continue;
      }
      layer.applied[field] = value;
      layer.original[field] = value_of(user_view, field);
      if (!original.contains(field)) original[field] = value_of(user_view, field);
    }
    plan.reports[fresh.key];  // resolved, even when it has nothing to hold
    if (layer.applied.empty()) continue;
    changed_keys.insert(layer.key);
    layers.push_back(std::move(layer));
  }

  // 5. Each field's target: the highest layer in force that holds it, else its original.
  struct Target {
    json value;
    const EncodingLayer* by = nullptr;
  };
  std::map<std::string, Target> targets;
  for (const auto& layer : layers) {
    if (!in_force(layer)) continue;
    auto rank = input.in_force.at(layer.key);
    for (const auto& [field, value] : layer.applied.items()) {
      auto& target = targets[field];
      if (target.by == nullptr || input.in_force.at(target.by->key) < rank) target = {value, &layer};
    }
  }
  for (const auto& layer : layers) {
    for (const auto& [field, value] : layer.applied.items()) {
      if (!targets.contains(field)) targets[field] = {original[field], nullptr};
    }
  }
  for (const auto& [field, target] : targets) {
    if (waiting.contains(field)) continue;
    json now = value_of(input.current, field);
    if (now == target.value) continue;
    if (target.value.is_null())
      plan.next.erase(field);
    else
      plan.next[field] = target.value;
    plan.write = true;
  }

  // Reports: a change is told once, by the layer whose value the field holds now (the layer
  // being left, or restored after a crash), else by the layer that sets it.
  for (const auto& [field, target] : targets) {
    if (waiting.contains(field)) continue;
    json now = value_of(input.current, field);
    std::string held_by = target.by ? target.by->level : std::string();
    if (now == target.value) {
      for (const auto& layer : layers) {
        if (layer.applied.contains(field))
          plan.reports[layer.key].in_force.push_back({field, now, target.value, held_by});
      }
      continue;
    }
    const EncodingLayer* teller = nullptr;
    for (const auto& layer : layers) {
      if (layer.applied.contains(field) && layer.applied[field] == now && !in_force(layer)) teller = &layer;
    }
    if (teller == nullptr) teller = target.by;
    if (teller == nullptr) {
      for (const auto& layer : layers) {
        if (layer.applied.contains(field)) {
          teller = &layer;
          break;
        }
      }
    }
    if (teller != nullptr) plan.reports[teller->key].changed.push_back({field, now, target.value, held_by});
  }

  // 6. What to save before the write, and what to forget once it is in force.
  for (const auto& layer : layers) {
    if (layer.applied.empty()) {
      plan.forget.push_back(layer.key);  // everything it held was changed by someone else
      continue;
    }
    plan.layers.push_back(layer);
    bool done = !in_force(layer) && !input.write_may_land;  // nothing of it stays once `next` is in force
    if (done)
      plan.forget.push_back(layer.key);
    else if (changed_keys.contains(layer.key))
      plan.save.push_back(layer);
  }
  return plan;
}

std::string describe_layer_report(const LayerReport& report, std::string_view verb) {
  auto list = [](const std::vector<FieldChange>& changes, bool arrow) {
    std::string out;
    for (const auto& change : changes) {
      out += (out.empty() ? "" : ", ") + change.field + " ";
      out += arrow ? show(change.from) + " -> " + show(change.to) : show(change.to);
      if (!change.held_by.empty()) out += " (" + change.held_by + "'s)";
    }
    return out;
  };
  std::string detail;
  auto part = [&](const std::string& text) { detail += (detail.empty() ? "" : "; ") + text; };
  if (!report.changed.empty()) part(std::string(verb) + " " + list(report.changed, true));
  if (!report.in_force.empty()) part("already so: " + list(report.in_force, false));
  if (!report.kept.empty()) {
    std::string kept;
    for (const auto& change : report.kept)
      kept += (kept.empty() ? "" : ", ") + change.field + " (changed since to " + show(change.to) + ")";
    part("left as the user set them: " + kept);
  }
  if (!report.waiting.empty()) {
    std::string waiting;
    for (const auto& field : report.waiting) waiting += (waiting.empty() ? "" : ", ") + field;
    part("not guardian's value while a write of unknown outcome may still land, left for now: " + waiting);
  }
  return detail.empty() ? "nothing to change" : detail;
}

json task_layer_json(const TaskLayer& layer) {
  json tasks = json::array();
  for (const auto& [id, name] : layer.tasks) tasks.push_back({{"id", id}, {"name", name}});
  return {{"instance", layer.instance}, {"level", layer.level}, {"action", layer.action}, {"tasks", tasks}};
}

Result<TaskLayer> parse_task_layer(const std::string& key, const json& saved,
                                   std::vector<std::string>& dropped) {
  auto instance = saved_instance(key, saved, "scheduled-tasks");
  if (!instance.ok()) return instance.error();
  TaskLayer layer;
  layer.key = key;
  layer.instance = *instance;
  layer.level = saved_text(saved, "level");
  layer.action = saved_text(saved, "action");
  if (!valid_saved_level(layer.level)) return make_error("level name is not one a policy accepts");
  auto add = [&](const json& id, const json& name) {
    if (!id.is_string() || !is_jellyfin_id(id.get<std::string>())) {
      dropped.push_back((id.is_string() ? id.get<std::string>().substr(0, 40) : id.dump().substr(0, 40)) +
                        " (not a Jellyfin task id)");
      return;
    }
    std::string shown = name.is_string() ? name.get<std::string>().substr(0, 120) : id.get<std::string>();
    std::replace_if(
        shown.begin(), shown.end(), [](char c) { return std::iscntrl(static_cast<unsigned char>(c)); }, ' ');
    layer.tasks.emplace_back(id.get<std::string>(), shown);
  };
  if (auto tasks = saved.find("tasks"); tasks != saved.end() && tasks->is_array()) {
    for (const auto& task : *tasks) {
      if (task.is_object()) add(value_of(task, "id"), value_of(task, "name"));
    }
  }
  // Written before keys had levels: ids only.
  if (auto ids = saved.find("task_ids"); ids != saved.end() && ids->is_array()) {
    for (const auto& id : *ids) add(id, json());
  }
  return layer;
}

namespace {

// A name shown in the journal, from a file: at most 120 characters, no control characters.
std::string shown_text(const json& value) {
  std::string shown = value.is_string() ? value.get<std::string>().substr(0, 120) : std::string();
  std::replace_if(
      shown.begin(), shown.end(), [](char c) { return std::iscntrl(static_cast<unsigned char>(c)); }, ' ');
  return shown;
}

// A bitrate cap-bitrate may send: an integer within its range (nlohmann reads a positive number
// as unsigned).
std::optional<int64_t> streaming_bitrate(const json& value) {
  int64_t bits = 0;
  if (value.is_number_unsigned()) {
    if (value.get<uint64_t>() > static_cast<uint64_t>(kMaxStreamingBitrate)) return std::nullopt;
    bits = static_cast<int64_t>(value.get<uint64_t>());
  } else if (value.is_number_integer()) {
    bits = value.get<int64_t>();
  } else {
    return std::nullopt;
  }
  if (bits < kMinStreamingBitrate || bits > kMaxStreamingBitrate) return std::nullopt;
  return bits;
}

}  // namespace

json bitrate_layer_json(const BitrateLayer& layer) {
  json sessions = json::array();
  for (const auto& session : layer.sessions) {
    json entry = {{"id", session.id}, {"user", session.user}, {"client", session.client}};
    if (session.bitrate) entry["bitrate"] = *session.bitrate;
    sessions.push_back(std::move(entry));
  }
  json out = {
      {"instance", layer.instance}, {"level", layer.level}, {"action", layer.action}, {"sessions", sessions}};
  if (layer.restore_bitrate) out["restore_bitrate"] = *layer.restore_bitrate;
  return out;
}

Result<BitrateLayer> parse_bitrate_layer(const std::string& key, const json& saved,
                                         std::vector<std::string>& dropped) {
  auto instance = saved_instance(key, saved, "session-bitrates");
  if (!instance.ok()) return instance.error();
  BitrateLayer layer;
  layer.key = key;
  layer.instance = *instance;
  layer.level = saved_text(saved, "level");
  layer.action = saved_text(saved, "action");
  if (!valid_saved_level(layer.level)) return make_error("level name is not one a policy accepts");
  auto out_of_range = [](const json& value) {
    return "bitrate " + value.dump().substr(0, 40) + " is not an integer from " +
           std::to_string(kMinStreamingBitrate) + " to " + std::to_string(kMaxStreamingBitrate);
  };
  if (auto restore = saved.find("restore_bitrate"); restore != saved.end()) {
    layer.restore_bitrate = streaming_bitrate(*restore);
    if (!layer.restore_bitrate) dropped.push_back("restore_bitrate (" + out_of_range(*restore) + ")");
  }
  auto sessions = saved.find("sessions");
  if (sessions == saved.end() || !sessions->is_array()) return make_error("no sessions list");
  for (const auto& session : *sessions) {
    if (!session.is_object()) {
      dropped.push_back(session.dump().substr(0, 40) + " (not a session)");
      continue;
    }
    json id = value_of(session, "id");
    // Jellyfin's session ids are Guids in "N" format: 32 hex digits.
    if (!id.is_string() || id.get<std::string>().size() != 32 ||
        id.get<std::string>().find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
      dropped.push_back((id.is_string() ? id.get<std::string>().substr(0, 40) : id.dump().substr(0, 40)) +
                        " (not a Jellyfin session id)");
      continue;
    }
    CappedSession capped{id.get<std::string>(), shown_text(value_of(session, "user")),
                         shown_text(value_of(session, "client")), std::nullopt};
    if (json bitrate = value_of(session, "bitrate"); !bitrate.is_null()) {
      capped.bitrate = streaming_bitrate(bitrate);
      if (!capped.bitrate) {
        dropped.push_back("session " + capped.id + " (" + out_of_range(bitrate) + ")");
        continue;
      }
    }
    layer.sessions.push_back(std::move(capped));
  }
  return layer;
}

}  // namespace guardian
