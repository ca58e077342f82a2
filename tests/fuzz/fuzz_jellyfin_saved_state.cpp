// libFuzzer target: whole state files through the Jellyfin restore (issue 16: the state file is
// input, not orders). Every Jellyfin entry is read with parse_encoding_layer, parse_task_layer or
// parse_bitrate_layer, and the EncodingOptions entries are planned, as a restore after a crash
// does, against the options Jellyfin holds. Whatever the file says, the write guardian would send
// must change no field outside the ones the jellyfin.* actions change, only to a value of that
// field's type and range, and only a field some entry records guardian's value for; task ids must be
// Jellyfin ids; a session-bitrates entry yields only session ids and bitrates within cap-bitrate's
// range. (Where the write goes is not the file's to say: JellyfinSteering takes the client from the
// policy's instance of that name.)
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string_view>

#include "act/jellyfin_encoding_plan.h"
#include "act/state_store.h"

namespace {

using nlohmann::json;

// EncodingOptions as Jellyfin 10.11 answers them (the fields that matter here; the rest of the
// object is echoed the same way).
const json& current() {
  static const json kCurrent = json::parse(R"({
    "EncodingThreadCount": 2, "MaxMuxingQueueSize": 1024, "EnableThrottling": true,
    "EnableSegmentDeletion": true, "SegmentKeepSeconds": 120, "HardwareAccelerationType": "vaapi",
    "EncoderAppPath": "/usr/lib/jellyfin-ffmpeg/ffmpeg", "VaapiDevice": "/dev/dri/renderD128",
    "H264Crf": 28, "H265Crf": 32, "EncoderPreset": "veryfast", "EnableHardwareEncoding": true,
    "HardwareDecodingCodecs": ["h264", "hevc"], "TranscodingTempPath": "/cache/transcodes"})");
  return kCurrent;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto entries = guardian::StateStore::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!entries.ok()) return 0;
  guardian::EncodingPlanInput input;
  input.current = current();
  input.write_may_land = size % 2 == 1;
  std::set<std::string> recorded;  // fields some entry records guardian's value for
  for (const auto& [key, saved] : entries->entries) {
    json doc = json::parse(saved.original_json, nullptr, false);
    std::vector<std::string> dropped;
    if (saved.kind == guardian::kJellyfinEncodingKind) {
      auto layer = guardian::parse_encoding_layer(key, doc, dropped);
      if (!layer.ok()) continue;
      for (const auto& [field, value] : layer->applied.items()) {
        if (!guardian::valid_jellyfin_encoding_value(field, value) || value.is_null()) std::abort();
        if (!layer->original.contains(field) ||
            !guardian::valid_jellyfin_encoding_value(field, layer->original[field]))
          std::abort();
        recorded.insert(field);
      }
      input.saved.push_back(std::move(*layer));
    } else if (saved.kind == guardian::kJellyfinBitratesKind) {
      auto layer = guardian::parse_bitrate_layer(key, doc, dropped);
      if (!layer.ok()) continue;
      // Only Jellyfin session ids, and only bitrates cap-bitrate itself may send.
      auto in_range = [](int64_t bits) {
        return bits >= guardian::kMinStreamingBitrate && bits <= guardian::kMaxStreamingBitrate;
      };
      if (layer->restore_bitrate && !in_range(*layer->restore_bitrate)) std::abort();
      for (const auto& session : layer->sessions) {
        if (session.id.size() != 32 ||
            session.id.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
          std::abort();
        if (session.bitrate && !in_range(*session.bitrate)) std::abort();
        for (char c : session.user + session.client) {
          if (std::iscntrl(static_cast<unsigned char>(c))) std::abort();
        }
      }
    } else if (saved.kind == guardian::kJellyfinTasksKind) {
      auto layer = guardian::parse_task_layer(key, doc, dropped);
      if (!layer.ok()) continue;
      for (const auto& [id, name] : layer->tasks) {
        if (id.size() < 32 || id.size() > 36 ||
            id.find_first_not_of("0123456789abcdefABCDEF-") != std::string::npos)
          std::abort();
      }
    }
  }
  auto plan = guardian::plan_encoding(input);
  const json& before = current();
  std::set<std::string> names;
  for (const auto& [field, value] : before.items()) names.insert(field);
  for (const auto& [field, value] : plan.next.items()) names.insert(field);
  for (const auto& field : names) {
    json was = before.contains(field) ? before[field] : json();
    json now = plan.next.contains(field) ? plan.next[field] : json();
    if (was == now) continue;
    if (!plan.write) std::abort();                                           // a change with no write
    if (!recorded.contains(field)) std::abort();                             // not guardian's to restore
    if (!guardian::valid_jellyfin_encoding_value(field, now)) std::abort();  // outside the allowed set
  }
  return 0;
}
