// Unit properties, unit object paths, podman containers and quadlet files (sense/systemd_units).
// Values: the incident machine (seed 002) — Jellyfin as a quadlet with MemoryHigh=3G/MemoryMax=4G,
// restarted three times by oomd kills.
#include "sense/systemd_units.h"

#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <sstream>

namespace guardian {
namespace {

std::string corpus(const std::string& dir, const std::string& name) {
  std::ifstream in(std::string(GUARDIAN_SOURCE_DIR) + "/tests/fuzz/corpus/" + dir + "/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(SystemdUnits, ObjectPathEscapingIsSystemds) {
  // systemd: busctl --user tree org.freedesktop.systemd1 shows these names.
  EXPECT_EQ(unit_object_path("container.slice"), "/org/freedesktop/systemd1/unit/container_2eslice");
  EXPECT_EQ(unit_object_path("user@1000.service"), "/org/freedesktop/systemd1/unit/user_401000_2eservice");
  EXPECT_EQ(unit_object_path("app-gnome-org.gnome.Nautilus-1234.scope"),
            "/org/freedesktop/systemd1/unit/app_2dgnome_2dorg_2egnome_2eNautilus_2d1234_2escope");
  EXPECT_EQ(unit_name_from_object_path("/org/freedesktop/systemd1/unit/user_401000_2eservice"),
            "user@1000.service");
  EXPECT_FALSE(unit_name_from_object_path("/org/freedesktop/systemd1/unit/bad_2").has_value());
  EXPECT_FALSE(unit_name_from_object_path("/org/freedesktop/systemd1").has_value());
}

TEST(SystemdUnits, OomLimitUsesSystemdsUint32Scale) {
  // ManagedOOMMemoryPressureLimit=80% is sent as 80% of UINT32_MAX (src/core/dbus-cgroup.c).
  EXPECT_EQ(oom_limit_to_u32(80.0), 3435973836u);
  EXPECT_NEAR(oom_limit_from_u32(3435973836u), 80.0, 1e-6);
  EXPECT_EQ(oom_limit_to_u32(0), 0u);
  EXPECT_EQ(oom_limit_to_u32(100), std::numeric_limits<uint32_t>::max());
}

TEST(SystemdUnits, ParsesSystemctlShowAndClassifiesTheQuadlet) {
  auto unit = parse_unit_show(corpus("unit_show", "jellyfin.txt"));
  ASSERT_TRUE(unit.ok()) << unit.error().message;
  EXPECT_EQ(unit->name, "jellyfin.service");
  EXPECT_EQ(unit->memory_high, 3ULL << 30);
  EXPECT_EQ(unit->memory_max, 4ULL << 30);
  EXPECT_EQ(unit->n_restarts, 3u);
  EXPECT_FALSE(unit->managed_oom_memory_pressure_limit_percent.has_value());  // 0 = oomd's default
  auto container = classify_container(*unit);
  ASSERT_TRUE(container.has_value());
  EXPECT_EQ(container->kind, ContainerKind::Quadlet);
  EXPECT_EQ(container->name, "jellyfin");
  EXPECT_EQ(container->quadlet_file, "/home/alice/.config/containers/systemd/jellyfin.container");
  EXPECT_FALSE(container->in_container_slice);

  auto slice = parse_unit_show(corpus("unit_show", "container_slice.txt"));
  ASSERT_TRUE(slice.ok()) << slice.error().message;
  EXPECT_EQ(slice->managed_oom_memory_pressure_limit_percent, 80.0);
  EXPECT_FALSE(classify_container(*slice).has_value());

  auto bad = parse_unit_show("Id=x.service\nMemoryHigh=lots\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("line 2 (MemoryHigh)"), std::string::npos) << bad.error().message;
  auto infinity = parse_unit_show("MemoryMax=infinity\n");
  ASSERT_TRUE(infinity.ok());
  EXPECT_FALSE(infinity->memory_max.has_value());
}

TEST(SystemdUnits, PodmanScopesAndTheirNames) {
  const std::string id = "3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a";
  EXPECT_EQ(podman_scope_id("libpod-" + id + ".scope"), id);
  EXPECT_FALSE(podman_scope_id("libpod-conmon-" + id + ".scope").has_value());
  EXPECT_FALSE(podman_scope_id("libpod-xyz.scope").has_value());
  UnitProperties scope;
  scope.name = "libpod-" + id + ".scope";
  scope.slice = "user.slice";  // rootless podman's default: user@1000.service/user.slice
  auto container = classify_container(scope);
  ASSERT_TRUE(container.has_value());
  EXPECT_EQ(container->kind, ContainerKind::PodmanScope);
  EXPECT_EQ(container->name, "3f2a9c1e5b7d");
  auto name = parse_podman_container_name(corpus("podman_name", "containers.json"), id);
  ASSERT_TRUE(name.ok()) << name.error().message;
  EXPECT_EQ(*name, "jellyfin");
  auto unknown = parse_podman_container_name(corpus("podman_name", "containers.json"), std::string(64, 'a'));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("no container with id"), std::string::npos);
  EXPECT_FALSE(parse_podman_container_name("{").ok());
}

TEST(SystemdUnits, QuadletFileAndDropInLayering) {
  auto base = parse_quadlet(corpus("quadlet", "jellyfin.container"));
  ASSERT_TRUE(base.ok()) << base.error().message;
  EXPECT_EQ(base->container_name, "jellyfin");
  EXPECT_FALSE(base->service_slice.has_value());
  auto with_dropin = parse_quadlet(corpus("quadlet", "50-guardian-slice.conf"), *base);
  ASSERT_TRUE(with_dropin.ok());
  EXPECT_EQ(with_dropin->service_slice, "container.slice");
  EXPECT_EQ(with_dropin->container_name, "jellyfin");
  auto continued = parse_quadlet("[Service]\nSlice=\\\n  container.slice\n");
  ASSERT_TRUE(continued.ok()) << continued.error().message;
  EXPECT_EQ(continued->service_slice, "container.slice");
  auto outside = parse_quadlet("Slice=container.slice\n");
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.error().message.find("line 1"), std::string::npos);
  EXPECT_FALSE(parse_quadlet("[Service\n").ok());
}

}  // namespace
}  // namespace guardian
