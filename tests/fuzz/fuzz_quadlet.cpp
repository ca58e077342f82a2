// libFuzzer target: quadlet .container files and their drop-ins (sense/systemd_units parse_quadlet).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sense/systemd_units.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto info = guardian::parse_quadlet(text);
  if (info.ok()) {
    // A parsed file layered on itself must parse the same way.
    auto twice = guardian::parse_quadlet(text, *info);
    if (!twice.ok()) std::abort();
    if (twice->service_slice != info->service_slice || twice->container_name != info->container_name)
      std::abort();
  }
  return 0;
}
