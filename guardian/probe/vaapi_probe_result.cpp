// What the probe found, in the form both sides share: the codecs Jellyfin's settings name, the
// verdict, and the JSON the child prints and the parent parses. Pure.
#include <algorithm>
#include <array>

#include "probe/vaapi_probe.h"

namespace guardian {
namespace {

// Jellyfin's codec names, in the order its dashboard lists them, with the VA profile prefix.
constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kCodecProfiles = {{
    {"h264", "VAProfileH264"},
    {"hevc", "VAProfileHEVC"},
    {"mpeg2video", "VAProfileMPEG2"},
    {"vc1", "VAProfileVC1"},
    {"vp8", "VAProfileVP8"},
    {"vp9", "VAProfileVP9"},
    {"av1", "VAProfileAV1"},
}};

std::vector<std::string> codecs_with(const std::vector<VaapiProfile>& profiles,
                                     bool (*has)(const VaapiProfile&), bool only_video_encoders) {
  std::vector<std::string> codecs;
  for (const auto& [codec, prefix] : kCodecProfiles) {
    if (only_video_encoders && codec != "h264" && codec != "hevc" && codec != "av1") continue;
    for (const auto& profile : profiles) {
      if (profile.name.starts_with(prefix) && has(profile)) {
        codecs.emplace_back(codec);
        break;
      }
    }
  }
  return codecs;
}

}  // namespace

bool VaapiProbeResult::available() const {
  bool can_encode = std::find(hardware_encoding_codecs.begin(), hardware_encoding_codecs.end(), "h264") !=
                        hardware_encoding_codecs.end() ||
                    std::find(hardware_encoding_codecs.begin(), hardware_encoding_codecs.end(), "hevc") !=
                        hardware_encoding_codecs.end();
  return node_openable && va_initialized && ffmpeg_hwdevice && !hardware_decoding_codecs.empty() &&
         can_encode;
}

std::vector<std::string> decoding_codecs_from_profiles(const std::vector<VaapiProfile>& profiles) {
  return codecs_with(
      profiles, [](const VaapiProfile& p) { return p.decode; }, false);
}

std::vector<std::string> encoding_codecs_from_profiles(const std::vector<VaapiProfile>& profiles) {
  return codecs_with(
      profiles, [](const VaapiProfile& p) { return p.encode || p.encode_low_power; }, true);
}

nlohmann::json probe_result_to_json(const VaapiProbeResult& r) {
  nlohmann::json profiles = nlohmann::json::array();
  for (const auto& p : r.profiles) {
    nlohmann::json entrypoints = nlohmann::json::array();
    if (p.decode) entrypoints.push_back("VLD");
    if (p.encode) entrypoints.push_back("EncSlice");
    if (p.encode_low_power) entrypoints.push_back("EncSliceLP");
    profiles.push_back({{"profile", p.name}, {"entrypoints", entrypoints}});
  }
  return {
      {"available", r.available()},
      {"render_node",
       {{"path", r.render_node},
        {"exists", r.node_exists},
        {"openable", r.node_openable},
        {"group", r.node_group},
        {"mode", r.node_mode},
        {"user_in_group", r.user_in_node_group}}},
      {"libva",
       {{"loaded", r.libva_loaded},
        {"initialized", r.va_initialized},
        {"version", r.va_version},
        {"vendor", r.vendor},
        {"profiles", profiles}}},
      {"ffmpeg",
       {{"loaded", r.ffmpeg_loaded},
        {"hwdevice", r.ffmpeg_hwdevice},
        {"vaapi_encoders", r.ffmpeg_vaapi_encoders}}},
      {"HardwareDecodingCodecs", r.hardware_decoding_codecs},
      {"hardware_encoding_codecs", r.hardware_encoding_codecs},
      {"errors", r.errors},
  };
}

Result<VaapiProbeResult> parse_probe_result(std::string_view json_text) {
  using nlohmann::json;
  json j = json::parse(json_text.begin(), json_text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("probe output: not a JSON object");
  VaapiProbeResult r;
  // Every field is checked with its path; json::value() would throw on a type mismatch.
  std::optional<Error> error;
  auto object = [&](const json& parent, const char* key) -> const json* {
    auto it = parent.find(key);
    if (it == parent.end() || !it->is_object()) {
      if (!error) error = make_error(std::string("probe output: ") + key + ": expected an object");
      return nullptr;
    }
    return &*it;
  };
  auto boolean = [&](const json* parent, const char* key, bool& into) {
    if (parent == nullptr) return;
    auto it = parent->find(key);
    if (it != parent->end() && it->is_boolean())
      into = it->get<bool>();
    else if (!error)
      error = make_error(std::string("probe output: ") + key + ": expected a boolean");
  };
  auto string = [&](const json* parent, const char* key, std::string& into) {
    if (parent == nullptr) return;
    auto it = parent->find(key);
    if (it != parent->end() && it->is_string())
      into = it->get<std::string>();
    else if (!error)
      error = make_error(std::string("probe output: ") + key + ": expected a string");
  };
  auto strings = [&](const json* parent, const char* key, std::vector<std::string>& into) {
    if (parent == nullptr) return;
    auto it = parent->find(key);
    if (it == parent->end() || !it->is_array()) {
      if (!error) error = make_error(std::string("probe output: ") + key + ": expected an array");
      return;
    }
    for (const auto& s : *it) {
      if (!s.is_string()) {
        if (!error) error = make_error(std::string("probe output: ") + key + ": expected strings");
        return;
      }
      into.push_back(s.get<std::string>());
    }
  };
  const json* node = object(j, "render_node");
  string(node, "path", r.render_node);
  boolean(node, "exists", r.node_exists);
  boolean(node, "openable", r.node_openable);
  string(node, "group", r.node_group);
  boolean(node, "user_in_group", r.user_in_node_group);
  if (node != nullptr) {
    auto mode = node->find("mode");
    if (mode != node->end() && mode->is_number_unsigned() && mode->get<uint64_t>() <= 07777) {
      r.node_mode = static_cast<uint32_t>(mode->get<uint64_t>());
    } else if (!error) {
      error = make_error("probe output: mode: expected 0..4095");
    }
  }
  const json* va = object(j, "libva");
  boolean(va, "loaded", r.libva_loaded);
  boolean(va, "initialized", r.va_initialized);
  string(va, "version", r.va_version);
  string(va, "vendor", r.vendor);
  if (va != nullptr) {
    auto profiles = va->find("profiles");
    if (profiles == va->end() || !profiles->is_array()) {
      if (!error) error = make_error("probe output: profiles: expected an array");
    } else {
      for (const auto& p : *profiles) {
        VaapiProfile profile;
        std::vector<std::string> entrypoints;
        if (!p.is_object()) {
          if (!error) error = make_error("probe output: profiles: expected objects");
          break;
        }
        string(&p, "profile", profile.name);
        strings(&p, "entrypoints", entrypoints);
        for (const auto& e : entrypoints) {
          if (e == "VLD")
            profile.decode = true;
          else if (e == "EncSlice")
            profile.encode = true;
          else if (e == "EncSliceLP")
            profile.encode_low_power = true;
        }
        r.profiles.push_back(std::move(profile));
      }
    }
  }
  const json* ff = object(j, "ffmpeg");
  boolean(ff, "loaded", r.ffmpeg_loaded);
  boolean(ff, "hwdevice", r.ffmpeg_hwdevice);
  strings(ff, "vaapi_encoders", r.ffmpeg_vaapi_encoders);
  strings(&j, "errors", r.errors);
  if (error) return *error;
  // Derived again from the profiles rather than trusted from the text.
  r.hardware_decoding_codecs = decoding_codecs_from_profiles(r.profiles);
  r.hardware_encoding_codecs = encoding_codecs_from_profiles(r.profiles);
  return r;
}

}  // namespace guardian
