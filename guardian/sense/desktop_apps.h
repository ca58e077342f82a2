// Desktop applications as the user knows them: the name a unit in app.slice stands for.
//
// Desktop environments start each application in its own unit, named after the XDG
// "Desktop Environment integration" convention of systemd (systemd.io/DESKTOP_ENVIRONMENTS):
//   app[-<launcher>]-<ApplicationID>-<RANDOM>.scope    app[-<launcher>]-<ApplicationID>[@<RANDOM>].service
// where ApplicationID is the desktop file id with '-' escaped as \x2d
// ("app-gnome-org.gnome.Nautilus-4120.scope", "app-gnome-firefox\x2desr-2201.scope"). The
// application's own name is the Name= of that desktop file (Desktop Entry Specification), found
// in $XDG_DATA_HOME/applications or $XDG_DATA_DIRS/*/applications; without one, a cleaned unit
// name ("Nautilus" for org.gnome.Nautilus) stands in.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/host_root.h"

namespace guardian {

// The Name= of the [Desktop Entry] group of a .desktop file (the unlocalized key, its escapes
// \s \n \t \r \\ undone), or nullopt when there is none. Other groups ([Desktop Action …]) and
// localized keys (Name[de]) are not it. Never throws; any bytes are input.
std::optional<std::string> desktop_entry_name(std::string_view text);

// The desktop file ids a unit may stand for, most likely first ("app-gnome-firefox-2871.scope"
// -> {"firefox", "gnome-firefox"}); empty for a unit that is not an application's ("guardian.service").
std::vector<std::string> desktop_ids_of_unit(std::string_view unit);

// A readable name from a desktop id or unit name alone: the last dotted part of the id, first
// letter upper-case ("org.gnome.Nautilus" -> "Nautilus", "firefox" -> "Firefox").
std::string cleaned_app_name(std::string_view unit);

// The XDG data directories, read once at start.
struct DataDirs {
  std::string data_home;               // absolute; "" when neither XDG_DATA_HOME nor HOME is usable
  std::vector<std::string> data_dirs;  // default /usr/local/share:/usr/share
  static DataDirs from(const char* xdg_data_home, const char* home, const char* xdg_data_dirs);
  static DataDirs from_environment();
};

// Unit name -> the application's name, reading desktop files through the host root. Keeps what
// it found (a desktop file is read once per id). Not thread-safe: one owner thread.
class DesktopNames {
 public:
  DesktopNames(HostRoot host, DataDirs dirs) : host_(std::move(host)), dirs_(std::move(dirs)) {}
  std::string name_of(std::string_view unit);

 private:
  std::optional<std::string> name_from_file(const std::string& id);
  HostRoot host_;
  DataDirs dirs_;
  std::map<std::string, std::optional<std::string>, std::less<>> by_id_;
};

}  // namespace guardian
