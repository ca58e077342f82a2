// The user's desktop applications by memory, from one snapshot: the application units under the
// user manager's app.slice (sense/desktop_apps.h says how they are named). Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sense/snapshot.h"

namespace guardian {

struct AppMemory {
  std::string unit;    // "app-gnome-firefox-2871.scope"
  uint64_t bytes = 0;  // memory.current
  friend bool operator==(const AppMemory&, const AppMemory&) = default;
};

// The `count` largest application units (leaf cgroups named app-* anywhere below
// <user_manager>/app.slice) by memory.current, largest first; ties by unit name.
std::vector<AppMemory> largest_desktop_apps(const Snapshot& snapshot, std::string_view user_manager_path,
                                            size_t count);

}  // namespace guardian
