// libFuzzer target: the state file parser (act/state_store). Whatever parses must serialize
// and parse again to the same entries, skipping none the second time; never more than the cap.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "act/state_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = guardian::StateStore::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!parsed.ok()) return 0;
  auto again = guardian::StateStore::parse(guardian::StateStore::serialize(parsed->entries));
  if (parsed->entries.size() > guardian::kMaxStateEntries) std::abort();
  if (!again.ok() || again->entries.size() != parsed->entries.size() || !again->skipped.empty()) std::abort();
  return 0;
}
