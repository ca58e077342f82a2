// libFuzzer target: journalctl's --since/--until syntax (review/journal_time). Whatever parses
// gives a time; nothing crashes, loops or overflows (UBSan).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "review/journal_time.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  constexpr int64_t kNow = 1764149400LL * 1'000'000;
  (void)guardian::review::parse_journal_time(text, kNow);
  auto span = guardian::review::parse_timespan_us(text);
  if (span.ok() && *span < 0) std::abort();
  return 0;
}
