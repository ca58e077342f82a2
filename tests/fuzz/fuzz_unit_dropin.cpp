// libFuzzer target for the systemd ini dialect and the two readers built on it (oomd.conf and
// the ManagedOOM* unit settings). The input is one file; it is also fed as the second of two
// fragments so that the override / reset paths run. Checks invariants, not just "no crash".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "model/oomd_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto doc = guardian::parse_systemd_ini(text, "fuzz.conf");
  for (const auto& a : doc.assignments) {
    // Every assignment has a section and a key, and names a line of the input.
    if (a.section.empty() || a.key.empty() || a.line == 0 || a.line > size + 1) std::abort();
  }
  for (const auto& w : doc.warnings) {
    if (!std::string_view(w).starts_with("fuzz.conf:")) std::abort();
  }

  std::vector<std::string> warnings;
  const std::vector<guardian::ConfigFile> files{
      {"/usr/lib/systemd/oomd.conf.d/10-oomd-defaults.conf", "[OOM]\nDefaultMemoryPressureDurationSec=20s\n"},
      {"fuzz.conf", text}};
  const auto defaults = guardian::parse_oomd_conf(files, &warnings);
  if (defaults.memory_pressure_limit_percent < 0 || defaults.memory_pressure_limit_percent > 100)
    std::abort();
  if (defaults.swap_used_limit_percent < 0 || defaults.swap_used_limit_percent > 100) std::abort();
  if (defaults.memory_pressure_duration.count() <= 0) std::abort();

  const std::vector<guardian::ConfigFile> fragments{
      {"/usr/lib/systemd/user/slice.d/10-oomd-per-slice-defaults.conf",
       "[Slice]\nManagedOOMMemoryPressure=kill\nManagedOOMMemoryPressureLimit=80%\n"},
      {"fuzz.conf", text}};
  const auto unit = guardian::parse_managed_oom(fragments, &warnings);
  if (unit.memory_pressure_limit_percent &&
      (*unit.memory_pressure_limit_percent < 0 || *unit.memory_pressure_limit_percent > 100)) {
    std::abort();
  }
  if (unit.memory_pressure_duration && unit.memory_pressure_duration->count() < 1'000'000) std::abort();
  if (unit.preference != "none" && unit.preference != "avoid" && unit.preference != "omit") std::abort();
  if (unit.memory_pressure_kill == unit.source.empty()) std::abort();
  return 0;
}
