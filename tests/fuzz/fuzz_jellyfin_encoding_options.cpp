// libFuzzer target: GET /System/Configuration/encoding parsing, and the EncodingOptions changes the
// actions compute from whatever parsed (they must never throw on a strange but typed object).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "act/jellyfin_actions.h"
#include "jellyfin/models.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto options = guardian::jellyfin::parse_encoding_options(text, "GET /System/Configuration/encoding");
  if (!options.ok()) {
    if (options.error().message.empty()) std::abort();
    return 0;
  }
  if (!options->raw.is_object()) std::abort();
  (void)options->hardware_acceleration_type();
  (void)options->hardware_decoding_codecs();
  guardian::ActionSpec spec;
  for (const char* type : {"jellyfin.prefer-vaapi", "jellyfin.cheaper-software"}) {
    spec.type = type;
    auto changes = guardian::jellyfin_encoding_changes(type, spec, *options, {"h264", "hevc"}, false);
    if (changes.ok() && !changes->is_object()) std::abort();
  }
  return 0;
}
