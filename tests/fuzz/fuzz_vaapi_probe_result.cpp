// libFuzzer target: the daemon's reader of `guardian probe vaapi --json` output. Whatever parses
// must print and parse again to the same derived codec lists.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "probe/vaapi_probe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto probe = guardian::parse_probe_result(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!probe.ok()) return 0;
  auto again = guardian::parse_probe_result(guardian::probe_result_to_json(*probe).dump());
  if (!again.ok() || again->hardware_decoding_codecs != probe->hardware_decoding_codecs ||
      again->available() != probe->available()) {
    std::abort();
  }
  return 0;
}
