// libFuzzer target: /proc/PID/cmdline of an ffmpeg -> classification.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sense/ffmpeg_cmdline.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  auto command = guardian::parse_ffmpeg_cmdline(raw);
  if (!command.ok()) return 0;
  // Invariants: a software playback job has a software encoder; copy is never "software".
  if (command->software_playback() &&
      (command->video_encoder.empty() || command->encode != guardian::VideoEncode::Software)) {
    std::abort();
  }
  if (command->encode == guardian::VideoEncode::Hardware && command->hardware_api.empty()) std::abort();
  if (command->argv.empty()) std::abort();
  return 0;
}
