// libFuzzer target: a podman container's name from containers/storage JSON (sense/systemd_units).
#include <cstdint>
#include <string_view>

#include "sense/systemd_units.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)guardian::parse_podman_container_name(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
