#include "model/oomd_config.h"

#include <gtest/gtest.h>

#include "model/oomd_model.h"

namespace guardian {
namespace {

using std::chrono::microseconds;
using std::chrono::seconds;

// ---- the ini dialect ----

TEST(SystemdIni, SectionsCommentsAndWhitespace) {
  const auto doc = parse_systemd_ini(
      "# comment\n"
      "; also a comment\n"
      "\n"
      "[Slice]\n"
      "  ManagedOOMMemoryPressure = kill  \n"
      "ManagedOOMMemoryPressureLimit=80%\n",
      "/etc/systemd/user/slice.d/x.conf");
  EXPECT_TRUE(doc.warnings.empty());
  ASSERT_EQ(doc.assignments.size(), 2u);
  EXPECT_EQ(doc.assignments[0], (IniAssignment{"Slice", "ManagedOOMMemoryPressure", "kill", 5}));
  EXPECT_EQ(doc.assignments[1], (IniAssignment{"Slice", "ManagedOOMMemoryPressureLimit", "80%", 6}));
}

TEST(SystemdIni, ContinuationJoinsLinesAndSkipsCommentsInside) {
  // systemd's config_parse(): the backslash becomes a space, comment lines inside are dropped.
  const auto doc = parse_systemd_ini(
      "[Service]\n"
      "Environment=A=1 \\\n"
      "# a comment inside the continuation\n"
      "  B=2\n"
      "Description=last\\\n",
      "f.conf");
  EXPECT_TRUE(doc.warnings.empty());
  ASSERT_EQ(doc.assignments.size(), 2u);
  EXPECT_EQ(doc.assignments[0].value, "A=1  B=2");
  EXPECT_EQ(doc.assignments[0].line, 2u);
  EXPECT_EQ(doc.assignments[1].value, "last");  // a trailing backslash at EOF takes what it has
}

TEST(SystemdIni, EmptyAssignmentIsKept) {
  const auto doc = parse_systemd_ini("[OOM]\nDefaultMemoryPressureLimit=\n", "f.conf");
  ASSERT_EQ(doc.assignments.size(), 1u);
  EXPECT_EQ(doc.assignments[0].value, "");
}

TEST(SystemdIni, MalformedLinesAreWarningsNamingTheLine) {
  const auto doc = parse_systemd_ini(
      "Orphan=1\n"
      "[Slice\n"
      "[Slice]\n"
      "no equals sign here\n"
      "=value\n"
      "Good=yes\r\n",
      "/etc/systemd/oomd.conf.d/bad.conf");
  ASSERT_EQ(doc.warnings.size(), 4u);
  EXPECT_EQ(doc.warnings[0],
            "/etc/systemd/oomd.conf.d/bad.conf:1: assignment outside of a section, ignoring line");
  EXPECT_EQ(doc.warnings[1].rfind("/etc/systemd/oomd.conf.d/bad.conf:2: invalid section header", 0), 0u);
  EXPECT_EQ(doc.warnings[2].rfind("/etc/systemd/oomd.conf.d/bad.conf:4: missing '='", 0), 0u);
  EXPECT_EQ(doc.warnings[3].rfind("/etc/systemd/oomd.conf.d/bad.conf:5: assignment without a key", 0), 0u);
  ASSERT_EQ(doc.assignments.size(), 1u);
  EXPECT_EQ(doc.assignments[0], (IniAssignment{"Slice", "Good", "yes", 6}));
}

// ---- oomd.conf ----

// systemd's shipped /etc/systemd/oomd.conf (v252..v257): everything commented out.
constexpr const char* kStockOomdConf =
    "#  This file is part of systemd.\n"
    "[OOM]\n"
    "#SwapUsedLimit=90%\n"
    "#DefaultMemoryPressureLimit=60%\n"
    "#DefaultMemoryPressureDurationSec=30s\n";

TEST(OomdConf, UpstreamDefaultsWithoutAnything) {
  std::vector<std::string> warnings;
  const auto d = parse_oomd_conf({{"/etc/systemd/oomd.conf", kStockOomdConf}}, &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_DOUBLE_EQ(d.memory_pressure_limit_percent, 60.0);
  EXPECT_EQ(d.memory_pressure_duration, seconds(30));
  EXPECT_DOUBLE_EQ(d.swap_used_limit_percent, 90.0);
  EXPECT_TRUE(d.sources.empty());
}

TEST(OomdConf, FedoraDropInOverridesDurationTo20s) {
  // Fedora's systemd-oomd-defaults: /usr/lib/systemd/oomd.conf.d/10-oomd-defaults.conf.
  std::vector<std::string> warnings;
  const auto d = parse_oomd_conf({{"/etc/systemd/oomd.conf", kStockOomdConf},
                                  {"/usr/lib/systemd/oomd.conf.d/10-oomd-defaults.conf",
                                   "[OOM]\nDefaultMemoryPressureDurationSec=20s\n"}},
                                 &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(d.memory_pressure_duration, seconds(20));
  EXPECT_DOUBLE_EQ(d.memory_pressure_limit_percent, 60.0);
  EXPECT_EQ(d.sources, std::vector<std::string>{"/usr/lib/systemd/oomd.conf.d/10-oomd-defaults.conf"});
}

TEST(OomdConf, LaterFragmentWinsAndEmptyResets) {
  std::vector<std::string> warnings;
  const auto d = parse_oomd_conf({{"/usr/lib/systemd/oomd.conf.d/10-oomd-defaults.conf",
                                   "[OOM]\nDefaultMemoryPressureDurationSec=20s\n"},
                                  {"/etc/systemd/oomd.conf.d/50-local.conf",
                                   "[OOM]\nDefaultMemoryPressureLimit=70%\nDefaultMemoryPressureDurationSec="
                                   "\nSwapUsedLimit=800\u2030\n"}},
                                 &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_DOUBLE_EQ(d.memory_pressure_limit_percent, 70.0);
  EXPECT_EQ(d.memory_pressure_duration, seconds(30));  // "=" reset to upstream
  EXPECT_DOUBLE_EQ(d.swap_used_limit_percent, 80.0);
  EXPECT_EQ(d.sources.size(), 2u);
}

TEST(OomdConf, BadValueWarnsAndKeepsThePreviousOne) {
  std::vector<std::string> warnings;
  const auto d = parse_oomd_conf(
      {{"/etc/systemd/oomd.conf.d/10-a.conf", "[OOM]\nDefaultMemoryPressureLimit=70%\n"},
       {"/etc/systemd/oomd.conf.d/50-bad.conf",
        "[OOM]\nDefaultMemoryPressureLimit=seventy\nDefaultMemoryPressureDurationSec=20 fortnights\n"
        "DefaultMemoryPresureLimit=10%\n[Manager]\nX=1\n"}},
      &warnings);
  EXPECT_DOUBLE_EQ(d.memory_pressure_limit_percent, 70.0);
  EXPECT_EQ(d.memory_pressure_duration, seconds(30));
  ASSERT_EQ(warnings.size(), 4u);
  EXPECT_EQ(warnings[0].rfind(
                "/etc/systemd/oomd.conf.d/50-bad.conf:2: DefaultMemoryPressureLimit=: invalid percentage", 0),
            0u)
      << warnings[0];
  EXPECT_EQ(warnings[1].rfind("/etc/systemd/oomd.conf.d/50-bad.conf:3: DefaultMemoryPressureDurationSec=", 0),
            0u);
  EXPECT_EQ(
      warnings[2],
      "/etc/systemd/oomd.conf.d/50-bad.conf:4: unknown key DefaultMemoryPresureLimit= in [OOM], ignoring");
  EXPECT_EQ(warnings[3].rfind("/etc/systemd/oomd.conf.d/50-bad.conf:6: unknown section [Manager]", 0), 0u);
  // Only the file that set something valid is a source.
  EXPECT_EQ(d.sources, std::vector<std::string>{"/etc/systemd/oomd.conf.d/10-a.conf"});
}

TEST(OomdConf, ZeroDurationMeansTheDefault) {
  // v252 manager_start(): a duration of 0 keeps DEFAULT_MEM_PRESSURE_DURATION_USEC.
  const auto d =
      parse_oomd_conf({{"/etc/systemd/oomd.conf", "[OOM]\nDefaultMemoryPressureDurationSec=0\n"}}, nullptr);
  EXPECT_EQ(d.memory_pressure_duration, seconds(30));
}

// ---- unit settings ----

// Fedora's systemd-oomd-defaults package ships this as
// /usr/lib/systemd/user/slice.d/10-oomd-per-slice-defaults.conf.
constexpr const char* kFedoraPerSlice =
    "[Slice]\n"
    "ManagedOOMMemoryPressure=kill\n"
    "ManagedOOMMemoryPressureLimit=80%\n";

TEST(ManagedOom, FedoraPerSliceDropIn) {
  std::vector<std::string> warnings;
  const auto s = parse_managed_oom(
      {{"/usr/lib/systemd/user/slice.d/10-oomd-per-slice-defaults.conf", kFedoraPerSlice}}, &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_TRUE(s.memory_pressure_kill);
  ASSERT_TRUE(s.memory_pressure_limit_percent);
  EXPECT_DOUBLE_EQ(*s.memory_pressure_limit_percent, 80.0);
  EXPECT_FALSE(s.memory_pressure_duration);
  EXPECT_EQ(s.preference, "none");
  EXPECT_EQ(s.source, "/usr/lib/systemd/user/slice.d/10-oomd-per-slice-defaults.conf");
}

TEST(ManagedOom, DebianUserServiceAt50PercentWithPermilleAndPermyriad) {
  // Debian 12 / older Fedora: /usr/lib/systemd/system/user@.service.d/10-oomd-user-service-defaults.conf
  const ConfigFile debian{"/usr/lib/systemd/system/user@.service.d/10-oomd-user-service-defaults.conf",
                          "[Service]\nManagedOOMMemoryPressure=kill\nManagedOOMMemoryPressureLimit=50%\n"};
  auto s = parse_managed_oom({debian}, nullptr);
  EXPECT_TRUE(s.memory_pressure_kill);
  EXPECT_DOUBLE_EQ(*s.memory_pressure_limit_percent, 50.0);
  s = parse_managed_oom({debian,
                         {"/etc/systemd/system/user@.service.d/90.conf",
                          "[Service]\nManagedOOMMemoryPressureLimit=655\u2030\n"}},
                        nullptr);
  EXPECT_DOUBLE_EQ(*s.memory_pressure_limit_percent, 65.5);
  s = parse_managed_oom({debian,
                         {"/etc/systemd/system/user@.service.d/90.conf",
                          "[Service]\nManagedOOMMemoryPressureLimit=6550\u2031\n"}},
                        nullptr);
  EXPECT_DOUBLE_EQ(*s.memory_pressure_limit_percent, 65.5);
  // Finer than a permyriad: systemd's parse_permyriad() refuses it, the previous value stays.
  std::vector<std::string> warnings;
  s = parse_managed_oom(
      {debian,
       {"/etc/systemd/system/user@.service.d/90.conf", "[Service]\nManagedOOMMemoryPressureLimit=80.555%\n"}},
      &warnings);
  EXPECT_DOUBLE_EQ(*s.memory_pressure_limit_percent, 50.0);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("90.conf:2: ManagedOOMMemoryPressureLimit=: invalid percentage \"80.555%\""),
            std::string::npos)
      << warnings[0];
}

TEST(ManagedOom, LaterFragmentsResetAndOverride) {
  std::vector<std::string> warnings;
  const auto s = parse_managed_oom(
      {{"/usr/lib/systemd/user/slice.d/10-oomd-per-slice-defaults.conf", kFedoraPerSlice},
       {"/home/alice/.config/systemd/user/container.slice.d/50-oomd.conf",
        "[Unit]\nDescription=containers\n"
        "[Slice]\nManagedOOMMemoryPressure=\nManagedOOMMemoryPressureLimit=\n"
        "ManagedOOMMemoryPressureDurationSec=45s\nManagedOOMPreference=avoid\nMemoryHigh=8G\n"}},
      &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_FALSE(s.memory_pressure_kill);  // empty = auto
  EXPECT_FALSE(s.memory_pressure_limit_percent);
  EXPECT_EQ(s.memory_pressure_duration, seconds(45));
  EXPECT_EQ(s.preference, "avoid");
  EXPECT_EQ(s.source, "");
}

TEST(ManagedOom, BadValuesKeepThePreviousAndNameTheLine) {
  std::vector<std::string> warnings;
  const auto s =
      parse_managed_oom({{"/usr/lib/systemd/user/slice.d/10-oomd-per-slice-defaults.conf", kFedoraPerSlice},
                         {"/etc/systemd/user/slice.d/99-bad.conf",
                          "[Slice]\nManagedOOMMemoryPressure=yes\nManagedOOMMemoryPressureLimit=180%\n"
                          "ManagedOOMMemoryPressureDurationSec=500ms\nManagedOOMPreference=never\n"}},
                        &warnings);
  EXPECT_TRUE(s.memory_pressure_kill);
  EXPECT_DOUBLE_EQ(*s.memory_pressure_limit_percent, 80.0);
  EXPECT_FALSE(s.memory_pressure_duration);
  EXPECT_EQ(s.preference, "none");
  ASSERT_EQ(warnings.size(), 4u);
  EXPECT_EQ(warnings[0].rfind("/etc/systemd/user/slice.d/99-bad.conf:2: ManagedOOMMemoryPressure=", 0), 0u);
  EXPECT_EQ(warnings[1].rfind("/etc/systemd/user/slice.d/99-bad.conf:3: ManagedOOMMemoryPressureLimit=", 0),
            0u);
  EXPECT_EQ(warnings[2],
            "/etc/systemd/user/slice.d/99-bad.conf:4: ManagedOOMMemoryPressureDurationSec=500ms: must be at "
            "least 1s, ignoring");
  EXPECT_EQ(warnings[3].rfind("/etc/systemd/user/slice.d/99-bad.conf:5: ManagedOOMPreference=", 0), 0u);
}

// ---- resolve_watched ----

CgroupSample cg(std::string path) {
  CgroupSample c;
  c.unit = path.substr(path.rfind('/') + 1);
  c.path = std::move(path);
  c.pressure = Psi{};
  return c;
}

// Fedora 42 with GNOME and rootless podman, as `systemd-cgls --user-unit` shows it.
Snapshot fedora_tree() {
  Snapshot s;
  const std::string um = "/user.slice/user-1000.slice/user@1000.service";
  for (const char* p : {"/system.slice", "/system.slice/sshd.service", "/user.slice",
                        "/user.slice/user-1000.slice", "/user.slice/user-1000.slice/session-2.scope"}) {
    s.cgroups.push_back(cg(p));
  }
  s.cgroups.push_back(cg(um));
  for (const char* p :
       {"/app.slice", "/app.slice/app-gnome.slice", "/app.slice/app-gnome.slice/app-gnome-firefox-4242.scope",
        "/app.slice/dbus-broker.service", "/background.slice", "/container.slice",
        "/container.slice/jellyfin.service", "/init.scope", "/session.slice",
        "/session.slice/org.gnome.Shell@wayland.service", "/user.slice",
        "/user.slice/libpod-3f2a8c1b9d0e.scope"}) {
    s.cgroups.push_back(cg(um + p));
  }
  return s;
}

TEST(ResolveWatched, FedoraEverySliceInsideTheUserManagerPlusSystemSlice) {
  OomdDefaults defaults;
  defaults.memory_pressure_duration = seconds(20);
  const auto per_slice = parse_managed_oom(
      {{"/usr/lib/systemd/user/slice.d/10-oomd-per-slice-defaults.conf", kFedoraPerSlice}}, nullptr);
  const auto system_slice = parse_managed_oom(
      {{"/usr/lib/systemd/system/system.slice.d/10-oomd-per-slice-defaults.conf", kFedoraPerSlice}}, nullptr);
  const auto watched = resolve_watched(
      defaults, {{"user/slice", per_slice}, {"system/system.slice", system_slice}}, fedora_tree());
  const std::string um = "/user.slice/user-1000.slice/user@1000.service";
  std::vector<std::string> paths;
  for (const auto& w : watched) {
    paths.push_back(w.path);
    EXPECT_DOUBLE_EQ(w.limit_percent, 80.0) << w.path;
    EXPECT_EQ(w.duration, seconds(20)) << w.path;
  }
  EXPECT_EQ(paths,
            (std::vector<std::string>{"/system.slice", um + "/app.slice", um + "/app.slice/app-gnome.slice",
                                      um + "/background.slice", um + "/container.slice",
                                      um + "/session.slice", um + "/user.slice"}));
  EXPECT_EQ(watched[1].unit, "app.slice");
  EXPECT_EQ(watched[1].source, "/usr/lib/systemd/user/slice.d/10-oomd-per-slice-defaults.conf");
}

TEST(ResolveWatched, NamedUnitOverridesItsTypeDropIn) {
  const auto per_slice =
      parse_managed_oom({{"/usr/lib/systemd/user/slice.d/10.conf", kFedoraPerSlice}}, nullptr);
  // container.slice's own config = the type drop-in + its own drop-in switching oomd off.
  const auto container = parse_managed_oom({{"/usr/lib/systemd/user/slice.d/10.conf", kFedoraPerSlice},
                                            {"/home/alice/.config/systemd/user/container.slice.d/oomd.conf",
                                             "[Slice]\nManagedOOMMemoryPressure=auto\n"}},
                                           nullptr);
  // app.slice: 0% means the default; v257 duration per unit.
  const auto app = parse_managed_oom(
      {{"/usr/lib/systemd/user/slice.d/10.conf", kFedoraPerSlice},
       {"/home/alice/.config/systemd/user/app.slice.d/oomd.conf",
        "[Slice]\nManagedOOMMemoryPressureLimit=0%\nManagedOOMMemoryPressureDurationSec=1min\n"}},
      nullptr);
  OomdDefaults defaults;  // 60% / 30 s
  const auto watched = resolve_watched(
      defaults, {{"user/container.slice", container}, {"user/slice", per_slice}, {"user/app.slice", app}},
      fedora_tree());
  bool saw_app = false;
  for (const auto& w : watched) {
    EXPECT_EQ(w.path.find("container.slice"), std::string::npos) << w.path;
    if (w.unit == "app.slice") {
      saw_app = true;
      EXPECT_DOUBLE_EQ(w.limit_percent, 60.0);
      EXPECT_EQ(w.duration, seconds(60));
    } else {
      EXPECT_DOUBLE_EQ(w.limit_percent, 80.0);
      EXPECT_EQ(w.duration, seconds(30));
    }
  }
  EXPECT_TRUE(saw_app);
  EXPECT_EQ(watched.size(), 5u);  // app, app-gnome, background, session, user
}

TEST(ResolveWatched, DebianUserServiceTemplateForEveryUserManager) {
  auto tree = fedora_tree();
  tree.cgroups.push_back(cg("/user.slice/user-1001.slice"));
  tree.cgroups.push_back(cg("/user.slice/user-1001.slice/user@1001.service"));
  const auto debian =
      parse_managed_oom({{"/usr/lib/systemd/system/user@.service.d/10-oomd-user-service-defaults.conf",
                          "[Service]\nManagedOOMMemoryPressure=kill\nManagedOOMMemoryPressureLimit=50%\n"}},
                        nullptr);
  OomdDefaults defaults;
  defaults.memory_pressure_duration = seconds(20);
  auto watched = resolve_watched(defaults, {{"system/user@.service", debian}}, tree);
  ASSERT_EQ(watched.size(), 2u);
  EXPECT_EQ(watched[0].path, "/user.slice/user-1000.slice/user@1000.service");
  EXPECT_EQ(watched[0].unit, "user@1000.service");
  EXPECT_DOUBLE_EQ(watched[0].limit_percent, 50.0);
  EXPECT_EQ(watched[0].duration, seconds(20));
  EXPECT_EQ(watched[1].path, "/user.slice/user-1001.slice/user@1001.service");

  watched = resolve_watched(defaults,
                            {{"system/user@1001.service", debian}, {"system/user-1000.slice", debian}}, tree);
  ASSERT_EQ(watched.size(), 2u);
  EXPECT_EQ(watched[0].path, "/user.slice/user-1000.slice");
  EXPECT_EQ(watched[1].path, "/user.slice/user-1001.slice/user@1001.service");
}

TEST(ResolveWatched, UnitsWithoutKillOrAbsentCgroupsAreNotWatched) {
  ManagedOomSettings off;
  ManagedOomSettings on;
  on.memory_pressure_kill = true;
  const auto watched = resolve_watched(
      OomdDefaults{}, {{"system/system.slice", off}, {"user/missing.slice", on}, {"nonsense", on}},
      fedora_tree());
  EXPECT_TRUE(watched.empty());
}

}  // namespace
}  // namespace guardian
