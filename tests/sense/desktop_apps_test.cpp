// Desktop applications by name: the unit naming convention of systemd's desktop environment
// integration, the desktop files' Name=, and the fixture desktop (fedora42-podman's app.slice
// and its /usr/share/applications, trimmed from Fedora 42's packages).
#include "sense/desktop_apps.h"

#include <gtest/gtest.h>

namespace guardian {
namespace {

const std::string kFedora = std::string(GUARDIAN_FIXTURES_DIR) + "/fedora42-podman";

TEST(DesktopEntryName, TheUnlocalizedNameOfTheDesktopEntryGroup) {
  EXPECT_EQ(desktop_entry_name("[Desktop Entry]\nName=Firefox\n"), "Firefox");
  // Localized keys, other keys that end in Name, comments and blanks are passed over; the
  // unlocalized key may come after a localized one (Nautilus' file has Name[de] first).
  EXPECT_EQ(desktop_entry_name("# c\n\n[Desktop Entry]\nName[de]=Dateien\nGenericName=File manager\n"
                               "Name = Files \r\n"),
            "Files");
  // A [Desktop Action] group's Name= is the action's, not the application's.
  EXPECT_EQ(
      desktop_entry_name("[Desktop Action new-window]\nName=New Window\n[Desktop Entry]\nType=Application\n"),
      std::nullopt);
  EXPECT_EQ(desktop_entry_name("[Desktop Entry]\nName=Tom\\sand\\sJerry\\\\\n"), "Tom and Jerry\\");
  // No group, no name, an empty name, a control byte: never a broken line in a notification.
  EXPECT_EQ(desktop_entry_name("Name=Loose\n"), std::nullopt);
  EXPECT_EQ(desktop_entry_name("[Desktop Entry]\nName=\n"), std::nullopt);
  EXPECT_EQ(desktop_entry_name(std::string("[Desktop Entry]\nName=a\x01") + "b\n"), "a b");
  EXPECT_EQ(desktop_entry_name("[Desktop Entry]\nName=" + std::string(500, 'x') + "\n")->size(), 80U);
  EXPECT_EQ(desktop_entry_name(""), std::nullopt);
}

TEST(DesktopIdsOfUnit, FollowSystemdsApplicationUnitNaming) {
  // app[-<launcher>]-<ApplicationID>-<RANDOM>.scope, the id's own dashes escaped as \x2d.
  EXPECT_EQ(desktop_ids_of_unit("app-gnome-firefox-2871.scope"),
            (std::vector<std::string>{"firefox", "gnome-firefox"}));
  EXPECT_EQ(desktop_ids_of_unit("app-gnome-org.gnome.Evolution-3412.scope").front(), "org.gnome.Evolution");
  EXPECT_EQ(desktop_ids_of_unit("app-org.gnome.Nautilus-4120.scope"),
            std::vector<std::string>{"org.gnome.Nautilus"});
  EXPECT_EQ(desktop_ids_of_unit("app-gnome-firefox\\x2desr-2201.scope").front(), "firefox-esr");
  // KDE's random part is hex; a service's comes after '@'.
  EXPECT_EQ(desktop_ids_of_unit("app-org.kde.konsole-5f3a9c.scope").front(), "org.kde.konsole");
  EXPECT_EQ(desktop_ids_of_unit("app-flatpak-org.mozilla.firefox@12345.service").front(),
            "org.mozilla.firefox");
  EXPECT_EQ(desktop_ids_of_unit("app-gnome-org.gnome.Ptyxis.service").front(), "org.gnome.Ptyxis");
  // Not an application's unit, or an id that would be a path.
  EXPECT_TRUE(desktop_ids_of_unit("guardian.service").empty());
  EXPECT_TRUE(desktop_ids_of_unit("app.slice").empty());
  EXPECT_TRUE(desktop_ids_of_unit("app-gnome-..\\x2f..\\x2fetc\\x2fpasswd-1.scope").size() <= 1);
  for (const auto& id : desktop_ids_of_unit("app-gnome-..\\x2f..\\x2fetc\\x2fpasswd-1.scope"))
    EXPECT_EQ(id.find('/'), std::string::npos) << id;
}

TEST(CleanedAppName, TheLastDottedPartCapitalized) {
  EXPECT_EQ(cleaned_app_name("app-gnome-firefox-2871.scope"), "Firefox");
  EXPECT_EQ(cleaned_app_name("app-org.gnome.Nautilus-4120.scope"), "Nautilus");
  EXPECT_EQ(cleaned_app_name("app-gnome-firefox\\x2desr-2201.scope"), "Firefox-esr");
  EXPECT_EQ(cleaned_app_name("gnome-shell.service"), "Gnome-shell");
}

TEST(DataDirs, FollowTheXdgBaseDirectoryRules) {
  auto dirs = DataDirs::from(nullptr, "/home/alice", nullptr);
  EXPECT_EQ(dirs.data_home, "/home/alice/.local/share");
  EXPECT_EQ(dirs.data_dirs, (std::vector<std::string>{"/usr/local/share", "/usr/share"}));
  dirs = DataDirs::from("/home/alice/data", "/home/alice", "/var/lib/flatpak/exports/share:rel:/usr/share");
  EXPECT_EQ(dirs.data_home, "/home/alice/data");
  EXPECT_EQ(dirs.data_dirs, (std::vector<std::string>{"/var/lib/flatpak/exports/share", "/usr/share"}));
}

TEST(DesktopNames, TheDesktopFilesNameWhereTheFixtureHasOneElseACleanedUnitName) {
  DesktopNames names(HostRoot(kFedora), DataDirs::from(nullptr, "/home/alice", nullptr));
  EXPECT_EQ(names.name_of("app-gnome-firefox-2871.scope"), "Firefox");
  EXPECT_EQ(names.name_of("app-gnome-org.gnome.Evolution-3412.scope"), "Evolution");
  EXPECT_EQ(names.name_of("app-org.gnome.Nautilus-4120.scope"), "Files");  // Name=Files, not "Nautilus"
  EXPECT_EQ(names.name_of("app-org.gnome.Ptyxis-5012.scope"), "Ptyxis");
  // No desktop file for it in the fixture: the cleaned unit name.
  EXPECT_EQ(names.name_of("app-gnome-org.gnome.TextEditor-6001.scope"), "TextEditor");
  // Without the fixture's data dirs, nothing is found and every name is a cleaned one.
  DesktopNames elsewhere(HostRoot(kFedora), DataDirs::from(nullptr, "/home/alice", "/opt/nothing"));
  EXPECT_EQ(elsewhere.name_of("app-org.gnome.Nautilus-4120.scope"), "Nautilus");
}

}  // namespace
}  // namespace guardian
