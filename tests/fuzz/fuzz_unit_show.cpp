// libFuzzer target: `systemctl show` text and unit D-Bus paths (sense/systemd_units).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sense/systemd_units.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto unit = guardian::parse_unit_show(text);
  if (unit.ok()) (void)guardian::classify_container(*unit);
  // Escaping a unit name and reading it back is the identity.
  const std::string name(text.substr(0, 256));
  auto back = guardian::unit_name_from_object_path(guardian::unit_object_path(name));
  if (!back || (*back != name && !name.empty())) std::abort();
  (void)guardian::unit_name_from_object_path(text);
  (void)guardian::podman_scope_id(text);
  return 0;
}
