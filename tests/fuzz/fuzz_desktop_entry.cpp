// libFuzzer target for the desktop file reader (sense/desktop_apps.h): any bytes as a .desktop
// file, and the same bytes as an app.slice unit name. Checks invariants, not just "no crash":
// a name fits one line of a notification, and a unit never yields a desktop id that is a path.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "act/desktop_notice.h"
#include "sense/desktop_apps.h"

namespace {

bool one_short_line(const std::string& text) {
  if (text.size() > 80) return false;
  for (char c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto name = guardian::desktop_entry_name(text)) {
    if (name->empty() || !one_short_line(*name)) std::abort();
    if (name->front() == ' ' || name->back() == ' ') std::abort();
  }
  // The same bytes as a unit name ("app-gnome-<fuzz>-1.scope" and as they are).
  for (const std::string& unit : {std::string(text), "app-gnome-" + std::string(text) + "-1.scope"}) {
    for (const auto& id : guardian::desktop_ids_of_unit(unit)) {
      if (id.empty() || id.find('/') != std::string::npos || id.front() == '.') std::abort();
    }
    // A cleaned name may carry any printable bytes, but never a control byte or more than 80.
    if (!one_short_line(guardian::cleaned_app_name(unit))) std::abort();
  }
  // The notification body never grows without bound from one name.
  const auto body =
      guardian::compose_notice_body("b", {{guardian::cleaned_app_name(std::string(text)), 1}}, {});
  if (body.size() > 200) std::abort();
  return 0;
}
