#include "sense/systemd_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sense/fixture_support.h"

namespace guardian {
namespace {

using guardian::testing::fixture;

std::vector<std::string> paths_of(const std::vector<ConfigFile>& files) {
  std::vector<std::string> out;
  for (const auto& file : files) out.push_back(file.path);
  return out;
}

// A scratch host root to lay out competing drop-ins.
class ScratchHost {
 public:
  void put(const std::string& host_path, const std::string& text) const { dir_.write(host_path, text); }
  void mask(const std::string& host_path) const {
    const std::string path = dir_.path() + host_path;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::filesystem::create_symlink("/dev/null", path);
  }
  [[nodiscard]] HostRoot host() const { return HostRoot(dir_.path()); }

 private:
  test::ScratchDir dir_{"sdconf"};
};

TEST(ReadOomdConf, Fedora) {
  const auto files = read_oomd_conf(HostRoot(fixture("fedora42-podman")));
  ASSERT_EQ(paths_of(files),
            (std::vector<std::string>{"/etc/systemd/oomd.conf",
                                      "/usr/lib/systemd/oomd.conf.d/10-oomd-defaults.conf"}));
  EXPECT_EQ(files[1].content, "[OOM]\nDefaultMemoryPressureDurationSec=20s\n");
  EXPECT_NE(files[0].content.find("#DefaultMemoryPressureLimit=60%"), std::string::npos);
}

TEST(ReadOomdConf, DebianWithAnAdminDropInThatSortsLater) {
  const auto files = read_oomd_conf(HostRoot(fixture("debian12")));
  EXPECT_EQ(paths_of(files), (std::vector<std::string>{"/etc/systemd/oomd.conf",
                                                       "/usr/lib/systemd/oomd.conf.d/10-oomd-defaults.conf",
                                                       "/etc/systemd/oomd.conf.d/20-local.conf"}));
}

TEST(ReadOomdConf, SameNameEtcOverRunOverUsrLocalLibOverUsrLib) {
  ScratchHost scratch;
  scratch.put("/usr/lib/systemd/oomd.conf.d/10-oomd-defaults.conf", "usr/lib\n");
  scratch.put("/usr/local/lib/systemd/oomd.conf.d/10-oomd-defaults.conf", "usr/local/lib\n");
  scratch.put("/run/systemd/oomd.conf.d/10-oomd-defaults.conf", "run\n");
  scratch.put("/usr/lib/systemd/oomd.conf.d/05-early.conf", "early\n");
  scratch.put("/usr/local/lib/systemd/oomd.conf.d/99-late.conf", "late\n");
  scratch.put("/usr/lib/systemd/oomd.conf.d/README", "not a .conf\n");
  scratch.put("/usr/lib/systemd/oomd.conf", "main in /usr/lib\n");
  auto files = read_oomd_conf(scratch.host());
  EXPECT_EQ(paths_of(files), (std::vector<std::string>{"/usr/lib/systemd/oomd.conf",
                                                       "/usr/lib/systemd/oomd.conf.d/05-early.conf",
                                                       "/run/systemd/oomd.conf.d/10-oomd-defaults.conf",
                                                       "/usr/local/lib/systemd/oomd.conf.d/99-late.conf"}));
  EXPECT_EQ(files[2].content, "run\n");

  scratch.put("/etc/systemd/oomd.conf.d/10-oomd-defaults.conf", "etc\n");
  scratch.mask("/etc/systemd/oomd.conf.d/99-late.conf");
  scratch.put("/etc/systemd/oomd.conf", "main in /etc\n");
  files = read_oomd_conf(scratch.host());
  EXPECT_EQ(paths_of(files),
            (std::vector<std::string>{"/etc/systemd/oomd.conf", "/usr/lib/systemd/oomd.conf.d/05-early.conf",
                                      "/etc/systemd/oomd.conf.d/10-oomd-defaults.conf"}));
  EXPECT_EQ(files[0].content, "main in /etc\n");
}

TEST(ReadOomdConf, NothingInstalled) {
  ScratchHost scratch;
  EXPECT_TRUE(read_oomd_conf(scratch.host()).empty());
}

TEST(ReadUnitConfig, FedoraEveryUserSliceGetsThePerSliceDefaults) {
  const HostRoot host(fixture("fedora42-podman"));
  for (const char* slice : {"app.slice", "session.slice", "background.slice", "user.slice"}) {
    const auto files = read_unit_config(host, ManagerScope::User, slice, "/home/alice");
    ASSERT_EQ(paths_of(files),
              (std::vector<std::string>{"/usr/lib/systemd/user/slice.d/10-oomd-per-slice-defaults.conf"}))
        << slice;
    EXPECT_NE(files[0].content.find("ManagedOOMMemoryPressureLimit=80%"), std::string::npos);
  }
  // Scopes and services are not slices: nothing applies.
  EXPECT_TRUE(
      read_unit_config(host, ManagerScope::User, "app-gnome-firefox-2871.scope", "/home/alice").empty());
  EXPECT_EQ(
      paths_of(read_unit_config(host, ManagerScope::System, "system.slice")),
      (std::vector<std::string>{"/usr/lib/systemd/system/system.slice.d/10-oomd-per-slice-defaults.conf"}));
  // The user manager itself: the template unit file, no oomd drop-in on Fedora 42.
  EXPECT_EQ(paths_of(read_unit_config(host, ManagerScope::System, "user@1000.service")),
            (std::vector<std::string>{"/usr/lib/systemd/system/user@.service"}));
}

TEST(ReadUnitConfig, DebianUserServiceTemplateDropIn) {
  const HostRoot host(fixture("debian12"));
  const auto files = read_unit_config(host, ManagerScope::System, "user@1000.service");
  ASSERT_EQ(paths_of(files),
            (std::vector<std::string>{
                "/usr/lib/systemd/system/user@.service.d/10-oomd-user-service-defaults.conf"}));
  EXPECT_EQ(files[0].content,
            "[Service]\nManagedOOMMemoryPressure=kill\nManagedOOMMemoryPressureLimit=50%\n");
  // "-.slice": Debian's root-slice drop-in is masked by a /dev/null symlink in /etc.
  EXPECT_TRUE(read_unit_config(host, ManagerScope::System, "-.slice").empty());
}

TEST(ReadUnitConfig, UserSearchPathOrder) {
  // systemd.unit(5): ~/.config/systemd/user.control, ~/.config/systemd/user, /etc/systemd/user,
  // /run/systemd/user, …, /usr/lib/systemd/user — a user's own file beats the admin's.
  ScratchHost scratch;
  scratch.put("/usr/lib/systemd/user/container.slice.d/50-memory.conf", "usr/lib\n");
  scratch.put("/run/systemd/user/container.slice.d/50-memory.conf", "run\n");
  EXPECT_EQ(read_unit_config(scratch.host(), ManagerScope::User, "container.slice", "/home/alice")[0].content,
            "run\n");
  scratch.put("/etc/systemd/user/container.slice.d/50-memory.conf", "etc\n");
  EXPECT_EQ(read_unit_config(scratch.host(), ManagerScope::User, "container.slice", "/home/alice")[0].content,
            "etc\n");
  scratch.put("/home/alice/.config/systemd/user/container.slice.d/50-memory.conf", "home\n");
  EXPECT_EQ(read_unit_config(scratch.host(), ManagerScope::User, "container.slice", "/home/alice")[0].content,
            "home\n");
  // `systemctl --user set-property` writes to user.control, which beats everything.
  scratch.put("/home/alice/.config/systemd/user.control/container.slice.d/50-memory.conf", "control\n");
  EXPECT_EQ(read_unit_config(scratch.host(), ManagerScope::User, "container.slice", "/home/alice")[0].content,
            "control\n");
  // Without a home only the system-wide dirs count.
  EXPECT_EQ(read_unit_config(scratch.host(), ManagerScope::User, "container.slice")[0].content, "etc\n");
}

TEST(ReadUnitConfig, UnitFileThenDropInsFromNameTemplatePrefixesAndTypeSortedByName) {
  ScratchHost scratch;
  scratch.put("/usr/lib/systemd/user/app-gnome-firefox-2871.scope", "[Scope]\n");  // unusual, but a unit file
  scratch.put("/etc/systemd/user/app-gnome-firefox-2871.scope", "[Scope]\n# etc\n");
  scratch.put("/usr/lib/systemd/user/scope.d/50-type.conf", "type\n");
  scratch.put("/usr/lib/systemd/user/app-.scope.d/60-app.conf", "app-\n");
  scratch.put("/usr/lib/systemd/user/app-gnome-.scope.d/40-gnome.conf", "app-gnome-\n");
  scratch.put("/usr/lib/systemd/user/app-gnome-firefox-.scope.d/70-firefox.conf", "app-gnome-firefox-\n");
  scratch.put("/usr/lib/systemd/user/app-gnome-firefox-2871.scope.d/10-own.conf", "own\n");
  // Same name in the type dir of a higher-priority path and in a prefix dir of a lower one:
  // the more specific prefix dir wins (the "<type>.d" dirs come after every other dir).
  scratch.put("/etc/systemd/user/scope.d/60-app.conf", "type in etc\n");
  const auto files =
      read_unit_config(scratch.host(), ManagerScope::User, "app-gnome-firefox-2871.scope", "/home/alice");
  EXPECT_EQ(paths_of(files), (std::vector<std::string>{
                                 "/etc/systemd/user/app-gnome-firefox-2871.scope",
                                 "/usr/lib/systemd/user/app-gnome-firefox-2871.scope.d/10-own.conf",
                                 "/usr/lib/systemd/user/app-gnome-.scope.d/40-gnome.conf",
                                 "/usr/lib/systemd/user/scope.d/50-type.conf",
                                 "/usr/lib/systemd/user/app-.scope.d/60-app.conf",
                                 "/usr/lib/systemd/user/app-gnome-firefox-.scope.d/70-firefox.conf",
                             }));
}

TEST(ReadUnitConfig, InstanceDirBeatsTemplateDirForTheSameName) {
  ScratchHost scratch;
  scratch.put("/usr/lib/systemd/system/user@.service.d/10-oomd-user-service-defaults.conf", "template\n");
  scratch.put("/usr/lib/systemd/system/user@1000.service.d/10-oomd-user-service-defaults.conf", "instance\n");
  scratch.put("/usr/lib/systemd/system/user@.service.d/20-other.conf", "other\n");
  const auto files = read_unit_config(scratch.host(), ManagerScope::System, "user@1000.service");
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].content, "instance\n");
  EXPECT_EQ(files[1].path, "/usr/lib/systemd/system/user@.service.d/20-other.conf");
  // Another instance only sees the template's.
  EXPECT_EQ(read_unit_config(scratch.host(), ManagerScope::System, "user@1001.service")[0].content,
            "template\n");
}

TEST(ReadUnitConfig, SystemControlDirFromSetPropertyWins) {
  ScratchHost scratch;
  scratch.put("/etc/systemd/system/user-.slice.d/50-MemoryHigh.conf", "etc\n");
  scratch.put("/etc/systemd/system.control/user-1000.slice.d/50-MemoryHigh.conf", "control\n");
  const auto files = read_unit_config(scratch.host(), ManagerScope::System, "user-1000.slice");
  EXPECT_EQ(paths_of(files),
            (std::vector<std::string>{"/etc/systemd/system.control/user-1000.slice.d/50-MemoryHigh.conf"}));
}

TEST(ReadUnitConfig, MaskedUnitFileAndBadNames) {
  ScratchHost scratch;
  scratch.mask("/etc/systemd/system/foo.service");
  scratch.put("/usr/lib/systemd/system/foo.service", "[Service]\n");
  scratch.put("/usr/lib/systemd/system/foo.service.d/override.conf", "x\n");
  EXPECT_EQ(paths_of(read_unit_config(scratch.host(), ManagerScope::System, "foo.service")),
            (std::vector<std::string>{"/usr/lib/systemd/system/foo.service.d/override.conf"}));
  EXPECT_TRUE(read_unit_config(scratch.host(), ManagerScope::System, "").empty());
  EXPECT_TRUE(read_unit_config(scratch.host(), ManagerScope::System, "../../etc/passwd").empty());
  EXPECT_TRUE(read_unit_config(scratch.host(), ManagerScope::System, "noextension").empty());
}

}  // namespace
}  // namespace guardian
