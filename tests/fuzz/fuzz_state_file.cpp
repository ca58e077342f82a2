// libFuzzer target: the state file parser (act/state_store). Whatever parses must serialize
// and parse again to the same entries.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "act/state_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = guardian::StateStore::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!parsed.ok()) return 0;
  auto again = guardian::StateStore::parse(guardian::StateStore::serialize(*parsed));
  if (!again.ok() || again->size() != parsed->size()) std::abort();
  return 0;
}
