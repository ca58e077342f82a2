// libFuzzer target for the unit's LimitMEMLOCK= reader of model/memory_lock_finding (doctor).
#include <cstddef>
#include <cstdint>
#include <string>

#include "model/memory_lock_finding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string where;
  auto limit = guardian::unit_memlock_limit({{"/fuzz/guardian.service", text}}, &where);
  // A limit that came out is ordered and says where it came from.
  if (limit.ok() && limit->has_value() && ((*limit)->soft > (*limit)->hard || where.empty()))
    __builtin_trap();
  return 0;
}
