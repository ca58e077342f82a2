// Registration of the Jellyfin actions and the checks of their parameters (check-policy's
// FILE:LINE:COL messages). Which [[jellyfin]] an action names is checked by the policy loader,
// which sees the whole policy.
#include "act/jellyfin_actions.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "act/basic_actions.h"
#include "act/jellyfin_actions_internal.h"
#include "act/jellyfin_vocabulary.h"

namespace guardian {
namespace {

using Problems = std::vector<std::pair<std::string, SourcePos>>;
using Factory = std::unique_ptr<Action> (*)(std::string, ActionSpec, ActionEnv);

void check_range(const ActionSpec& spec, const std::string& name, double low, double high,
                 Problems& problems) {
  auto it = spec.params.find(name);
  if (it == spec.params.end()) return;
  double value = param_number(spec, name, low);
  if (!(value >= low && value <= high)) {
    char range[96];
    std::snprintf(range, sizeof range, " must be between %g and %g", low, high);
    problems.emplace_back(name + range, it->second.pos);
  }
}

// The cgroup of the [[jellyfin]] an action names (the only one when it names none), if the
// policy gives it one.
std::optional<ReliefTarget> instance_cgroup(const ActionSpec& spec, const Policy& policy) {
  const std::string name = param_string(spec, "instance");
  for (const auto& instance : policy.jellyfin) {
    const bool named = name.empty() ? policy.jellyfin.size() == 1 : instance.name == name;
    if (named && !instance.cgroup.empty()) return ReliefTarget{ReliefTarget::By::Path, instance.cgroup};
  }
  return std::nullopt;
}

// Whether an action's revert gives the memory it freed back to the instance's cgroup.
enum class Revert { GivesBack, GivesNothingBack };

ActionRegistry::Entry entry(std::string type, Factory factory, std::vector<ParamRule> rules,
                            void (*extra)(const ActionSpec&, Problems&), std::string summary, Revert revert) {
  rules.push_back({"instance", ParamRule::Type::String, false});
  ActionRegistry::Entry e;
  e.validate = [rules, extra](const ActionSpec& spec) {
    auto problems = check_params(spec, rules);
    if (problems.empty() && extra != nullptr) extra(spec, problems);
    return problems;
  };
  e.create = [type, factory](const ActionSpec& spec,
                             const ActionEnv& env) -> Result<std::unique_ptr<Action>> {
    return factory(type, spec, env);
  };
  e.summary = std::move(summary);
  if (revert == Revert::GivesBack) e.relief_target = &instance_cgroup;
  return e;
}

void check_codecs(const ActionSpec& spec, Problems& problems) {
  for (const auto& codec : param_strings(spec, "codecs")) {
    if (std::find(kCodecs.begin(), kCodecs.end(), codec) == kCodecs.end()) {
      problems.emplace_back(
          "unknown codec \"" + codec + "\" (Jellyfin knows h264, hevc, mpeg2video, vc1, vp8, vp9, av1)",
          spec.params.at("codecs").pos);
    }
  }
}

void check_cheaper_software(const ActionSpec& spec, Problems& problems) {
  if (auto it = spec.params.find("preset"); it != spec.params.end()) {
    std::string preset = param_string(spec, "preset");
    if (std::find(kPresets.begin(), kPresets.end(), preset) == kPresets.end())
      problems.emplace_back("preset \"" + preset + "\" is not an x264 preset (ultrafast … placebo)",
                            it->second.pos);
  }
  check_range(spec, "threads", 1, 64, problems);
  check_range(spec, "h264_crf", 0, 51, problems);
  check_range(spec, "h265_crf", 0, 51, problems);
  check_range(spec, "max_muxing_queue_size", 128, 65536, problems);
  check_range(spec, "segment_keep_seconds", 30, 86400, problems);
}

void check_respawn(const ActionSpec& spec, Problems& problems) {
  if (auto it = spec.params.find("signal"); it != spec.params.end()) {
    std::string sig = param_string(spec, "signal");
    if (sig != "TERM" && sig != "INT")
      problems.emplace_back("signal must be \"TERM\" or \"INT\"", it->second.pos);
  }
  check_range(spec, "max", 1, 1000, problems);
}

void check_cap_bitrate(const ActionSpec& spec, Problems& problems) {
  check_range(spec, "bitrate", 100'000, 1e9, problems);
  check_range(spec, "restore_bitrate", 100'000, 1e9, problems);
}

void check_stop_lowest(const ActionSpec& spec, Problems& problems) {
  check_range(spec, "message_seconds", 0, 8, problems);
}

}  // namespace

void register_jellyfin_actions(ActionRegistry& registry) {
  using T = ParamRule::Type;
  registry.add("jellyfin.prefer-vaapi",
               entry("jellyfin.prefer-vaapi", make_jellyfin_encoding_action,
                     {{"codecs", T::StringList}, {"switch_type_when_idle", T::Bool}}, check_codecs,
                     "Jellyfin: turn on VA-API encoding and the hardware decoders the GPU has "
                     "(HardwareAccelerationType must be vaapi)",
                     Revert::GivesBack));
  registry.add(
      "jellyfin.cheaper-software",
      entry("jellyfin.cheaper-software", make_jellyfin_encoding_action,
            {{"preset", T::String},
             {"threads", T::Number},
             {"h264_crf", T::Number},
             {"h265_crf", T::Number},
             {"max_muxing_queue_size", T::Number},
             {"throttling", T::Bool},
             {"segment_deletion", T::Bool},
             {"segment_keep_seconds", T::Number}},
            check_cheaper_software,
            "Jellyfin: cheaper software transcodes (faster preset, fewer threads, higher CRF, shorter "
            "queues, throttling, segment deletion)",
            Revert::GivesBack));
  registry.add(
      "jellyfin.respawn-software-transcodes",
      entry("jellyfin.respawn-software-transcodes", make_jellyfin_respawn_action,
            {{"signal", T::String}, {"max", T::Number}}, check_respawn,
            "Jellyfin: end software playback ffmpegs in the instance's cgroup so they restart on the "
            "new settings",
            Revert::GivesNothingBack));  // the restarted jobs keep the settings; those revert
  registry.add("jellyfin.pause-background-tasks",
               entry("jellyfin.pause-background-tasks", make_jellyfin_pause_tasks_action,
                     {{"tasks", T::StringList}, {"categories", T::StringList}}, nullptr,
                     "Jellyfin: stop running scheduled tasks (trickplay, scans); restart them afterwards",
                     Revert::GivesBack));
  registry.add("jellyfin.cap-bitrate",
               entry("jellyfin.cap-bitrate", make_jellyfin_cap_bitrate_action,
                     {{"bitrate", T::Number, true},
                      {"message", T::String},
                      {"restore_bitrate", T::Number},
                      {"restore_message", T::String}},
                     check_cap_bitrate, "Jellyfin: SetMaxStreamingBitrate + a message to transcoding clients",
                     Revert::GivesBack));
  registry.add("jellyfin.stop-lowest-priority",
               entry("jellyfin.stop-lowest-priority", make_jellyfin_stop_lowest_action,
                     {{"message", T::String}, {"message_seconds", T::Number}, {"only_transcodes", T::Bool}},
                     check_stop_lowest,
                     "Jellyfin: message, then stop, the lowest-priority stream (priorities in [[jellyfin]])",
                     Revert::GivesNothingBack));  // a stopped stream stays stopped
  // No restorers: the saved Jellyfin entries are restored by JellyfinSteering, after the policy
  // is in force and only through its instances (JellyfinSteering::restore_saved).
}

}  // namespace guardian
