// libFuzzer target: GET /Sessions and GET /ScheduledTasks parsing.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "jellyfin/models.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto sessions = guardian::jellyfin::parse_sessions(text, "GET /Sessions");
  if (sessions.ok()) {
    for (const auto& s : *sessions) {
      if (s.transcoding && s.transcoding->transcode_reasons.size() > size) std::abort();
    }
  }
  auto tasks = guardian::jellyfin::parse_scheduled_tasks(text, "GET /ScheduledTasks");
  if (tasks.ok()) {
    for (const auto& t : *tasks) {
      if (t.id.empty()) std::abort();  // the parser promises an Id
    }
  }
  return 0;
}
