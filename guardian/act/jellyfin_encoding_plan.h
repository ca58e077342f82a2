// The pure half of guardian's Jellyfin steering (docs/jellyfin.md, "What is restored, and
// when"): what an EncodingOptions action wants, what a state file entry may say, and — given what
// Jellyfin holds now and every change guardian saved — which value each field must have. No I/O:
// act/jellyfin_steering does the HTTP and the state file around it.
//
// The model. Every change an action makes is one *layer*, saved under its level and action
// (jellyfin/<instance>/encoding-options/<level>/<action>) before it is written: for each field it
// changes, the value before guardian (the *original*, the same in every layer that holds the field)
// and guardian's value. A field's target is the value of the highest layer in force that holds it,
// else its original. So stepping down from critical to elevated returns each field to elevated's
// value, stepping to normal (or restoring after a crash, when no layer is in force) to the
// original — never further. A field whose value is neither its original nor any layer's value
// was changed by someone else: it is left as they set it, becomes its new original, and no layer
// holds it any more. While a write of unknown outcome may still land, that judgement waits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "act/action.h"
#include "jellyfin/models.h"

namespace guardian {

inline constexpr const char* kJellyfinEncodingKind = "jellyfin.encoding-options";
inline constexpr const char* kJellyfinTasksKind = "jellyfin.scheduled-tasks";
inline constexpr const char* kJellyfinBitratesKind = "jellyfin.session-bitrates";

// State keys, one per level and action:
//   jellyfin/<instance>/encoding-options/<level>/<action>
//   jellyfin/<instance>/scheduled-tasks/<level>/<action>
//   jellyfin/<instance>/session-bitrates/<level>/<action>
// (Entries written before keys had a level — jellyfin/<instance>/encoding-options/<action>,
// jellyfin/<instance>/scheduled-tasks — are still read and restored.)
std::string jellyfin_encoding_key(const std::string& instance, const std::string& level,
                                  const std::string& action);
std::string jellyfin_tasks_key(const std::string& instance, const std::string& level,
                               const std::string& action);
std::string jellyfin_bitrates_key(const std::string& instance, const std::string& level,
                                  const std::string& action);

// Whether `value` is a value Jellyfin's EncodingOptions `field` can have and guardian may write:
// only the fields the jellyfin.* actions change (jellyfin::kGuardianEncodingFields), each with its
// JSON type and a sane range. null (the field was absent) is allowed: restoring it removes it.
bool valid_jellyfin_encoding_value(std::string_view field, const nlohmann::json& value);

// What `action_type` (jellyfin.prefer-vaapi or jellyfin.cheaper-software) would change, given the
// options as the user has them, as {field: guardian's value}; only fields whose value differs.
// Errors say why the action cannot apply (prefer-vaapi with HardwareAccelerationType "none").
// `transcodes_active`: whether anything transcodes now (prefer-vaapi switches the type only when
// nothing does).
Result<nlohmann::json> jellyfin_encoding_changes(const std::string& action_type, const ActionSpec& spec,
                                                 const jellyfin::EncodingOptions& current,
                                                 const std::vector<std::string>& probed_decoding_codecs,
                                                 bool transcodes_active);

// One saved layer.
struct EncodingLayer {
  std::string key;
  std::string instance, level, action;  // level "" for an entry written before keys had levels
  size_t level_number = 0, action_index = 0;
  nlohmann::json original = nlohmann::json::object();  // {field: value before guardian} ("fields")
  nlohmann::json applied = nlohmann::json::object();   // {field: guardian's value}
  // A write of unknown outcome (a timeout) may land until then: entries stay, and a value the
  // write does not explain waits, until it has passed. Milliseconds since the epoch.
  int64_t write_may_land_until_ms = 0;
  bool operator==(const EncodingLayer&) const = default;
};
nlohmann::json encoding_layer_json(const EncodingLayer& layer);

// Reads a saved entry as input, not as orders. The whole entry is refused when its instance name
// breaks the policy's rule or disagrees with its key, or its action is not an EncodingOptions
// action; a field outside the allowed set, with a value of the wrong type, or without both an
// original and guardian's value is dropped and named in `dropped` (nothing is ever written for it).
Result<EncodingLayer> parse_encoding_layer(const std::string& key, const nlohmann::json& saved,
                                           std::vector<std::string>& dropped);

// A layer in force that has no saved entry yet: what its action wants is worked out against the
// options as the user has them (jellyfin_encoding_changes), then saved before the write.
struct NewEncodingLayer {
  std::string key, instance, level, action;
  size_t level_number = 0, action_index = 0;
  ActionSpec spec;
};

struct EncodingPlanInput {
  nlohmann::json current = nlohmann::json::object();  // what Jellyfin holds now (the whole object)
  std::vector<EncodingLayer> saved;                   // every saved layer of this instance
  // The layers in force (the ladder holds their level), by key, with their rank (level number,
  // action index): the highest rank holding a field decides its value.
  std::map<std::string, std::pair<size_t, size_t>> in_force;
  std::vector<NewEncodingLayer> new_layers;  // in force, no entry yet (also listed in in_force)
  std::vector<std::string> probed_decoding_codecs;
  bool transcodes_active = true;
  bool write_may_land = false;  // a write of unknown outcome may still land
};

struct FieldChange {
  std::string field;
  nlohmann::json from, to;
  std::string held_by;  // the level whose layer decides `to`; "" = the original
};
struct LayerReport {
  std::vector<FieldChange> changed;   // this write moves the field (from -> to)
  std::vector<FieldChange> in_force;  // already at its target
  std::vector<FieldChange> kept;      // left as someone else set it (from = guardian's, to = theirs)
  std::vector<std::string> waiting;   // not guardian's value while a write may still land: left for now
  std::string error;                  // a new layer that cannot apply, and why
};
struct EncodingPlan {
  nlohmann::json next = nlohmann::json::object();  // the whole object to POST
  bool write = false;
  std::vector<EncodingLayer> layers;  // every layer after the plan (fields others changed removed)
  std::vector<EncodingLayer> save;    // new and changed entries: durable BEFORE the write
  // Entries not in force with nothing left to restore once `next` is in force (and no write of
  // unknown outcome can land any more).
  std::vector<std::string> forget;
  std::map<std::string, LayerReport> reports;  // by layer key
};
EncodingPlan plan_encoding(const EncodingPlanInput& input);

// "EncoderPreset ultrafast -> veryfast (critical's), H264Crf 30 -> 23; left as the user set them:
// H265Crf (changed since to 26)" — how the journal says what happened to each field of a layer.
std::string describe_layer_report(const LayerReport& report, std::string_view verb);

// A saved scheduled-tasks layer: the running tasks an action stopped, by id and name.
struct TaskLayer {
  std::string key, instance, level, action;
  std::vector<std::pair<std::string, std::string>> tasks;  // (id, name)
};
nlohmann::json task_layer_json(const TaskLayer& layer);
// Refused when the instance name breaks the policy's rule or disagrees with the key; task ids
// that are not Jellyfin ids (32 hex digits) are dropped and named in `dropped`.
Result<TaskLayer> parse_task_layer(const std::string& key, const nlohmann::json& saved,
                                   std::vector<std::string>& dropped);

// A saved session-bitrates layer (jellyfin.cap-bitrate): each session the action capped, with the
// bitrate its transcode ran at before the cap (TranscodingInfo.Bitrate: Jellyfin reports what the
// transcode runs at, not the client's own limit, so this is about what the client had), put back
// when the level is left or, after a crash, at the next start.
struct CappedSession {
  std::string id, user, client;
  std::optional<int64_t> bitrate;  // nullopt: Jellyfin reported none (only restore_bitrate restores it)
};
struct BitrateLayer {
  std::string key, instance, level, action;
  std::vector<CappedSession> sessions;
  std::optional<int64_t> restore_bitrate;  // the action's explicit override, when it had one
};
// The bitrates cap-bitrate may send (its `bitrate`/`restore_bitrate` range): a saved value outside
// them is not acted on.
inline constexpr int64_t kMinStreamingBitrate = 100'000;
inline constexpr int64_t kMaxStreamingBitrate = 1'000'000'000;
nlohmann::json bitrate_layer_json(const BitrateLayer& layer);
// Refused when the instance name breaks the policy's rule or disagrees with the key, or the level
// is not a level name; a session whose id is not a Jellyfin session id (32 hex digits) or whose
// bitrate is not an integer within kMin..kMaxStreamingBitrate is dropped and named in `dropped`.
Result<BitrateLayer> parse_bitrate_layer(const std::string& key, const nlohmann::json& saved,
                                         std::vector<std::string>& dropped);

}  // namespace guardian
