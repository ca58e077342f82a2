#include "model/workloads.h"

#include <gtest/gtest.h>

namespace guardian {
namespace {

const std::string kUm = "/user.slice/user-1000.slice/user@1000.service";
constexpr uint64_t kMiB = 1ULL << 20;

void add(Snapshot& s, const std::string& path, uint64_t mib) {
  CgroupSample c;
  c.path = path;
  c.unit = path.substr(path.rfind('/') + 1);
  c.memory.current_bytes = mib * kMiB;
  s.cgroups.push_back(c);
}

TEST(Workloads, SeedArithmeticLibpodScopesConmonAndDesktop) {
  // The incident's snapshot (2025-11-22 17:45): user slices ~16.2 GB, containers as podman stats
  // listed them, the rest GNOME and applications. Rootless podman puts containers in the user
  // manager's user.slice as libpod-<id>.scope, conmon beside them as libpod-conmon-<id>.scope.
  Snapshot s;
  add(s, kUm, 16'600);
  add(s, kUm + "/app.slice", 9'000);
  add(s, kUm + "/app.slice/app-gnome-firefox-4242.scope", 6'000);
  add(s, kUm + "/session.slice", 2'500);
  add(s, kUm + "/session.slice/org.gnome.Shell@wayland.service", 2'200);
  add(s, kUm + "/background.slice", 300);
  add(s, kUm + "/init.scope", 10);
  add(s, kUm + "/user.slice", 4'790);
  const struct {
    const char* id;
    uint64_t mib;
  } containers[] = {
      {"aaaaaaaaaaaa1111", 1'100},  // jellyfin
      {"bbbbbbbbbbbb2222", 534},    // immich-ml
      {"cccccccccccc3333", 517},    // immich-server
      {"dddddddddddd4444", 357},    // prometheus
      {"eeeeeeeeeeee5555", 213},    // loki
      {"ffffffffffff6666", 206},    // postgresql
      {"000000000000777a", 167},    // promtail
      {"111111111111888b", 147},    // traefik
  };
  uint64_t expected_containers = 0;
  for (const auto& c : containers) {
    add(s, kUm + "/user.slice/libpod-" + c.id + ".scope", c.mib);
    add(s, kUm + "/user.slice/libpod-conmon-" + c.id + ".scope", 1);  // conmon ~1 MiB each
    expected_containers += c.mib + 1;
  }
  const auto split = classify_workloads(s, kUm, {});
  ASSERT_EQ(split.containers.size(), 8u);  // conmon scopes merged, not extra containers
  EXPECT_EQ(split.containers_bytes, expected_containers * kMiB);  // 3241 + 8 = 3249 MiB
  EXPECT_EQ(split.user_total_bytes, 16'600 * kMiB);
  EXPECT_EQ(split.desktop_bytes, (16'600 - 3'249) * kMiB);  // 13351 MiB ~ the seed's "~13 GB"
  EXPECT_EQ(split.containers[0].name, "aaaaaaaaaaaa");
  EXPECT_EQ(split.containers[0].memory_bytes, 1'101 * kMiB);
  ASSERT_EQ(split.containers[0].merged_paths.size(), 1u);
  EXPECT_EQ(split.containers[0].merged_paths[0], kUm + "/user.slice/libpod-conmon-aaaaaaaaaaaa1111.scope");
  // Desktop: app.slice 9000, session 2500, inner user.slice 4790 - 3249 = 1541, background 300, init 10.
  ASSERT_EQ(split.desktop.size(), 5u);
  EXPECT_EQ(split.desktop[0].path, kUm + "/app.slice");
  EXPECT_EQ(split.desktop[2].path, kUm + "/user.slice");
  EXPECT_EQ(split.desktop[2].memory_bytes, 1'541 * kMiB);
}

TEST(Workloads, ContainerSliceAndQuadletServicesOutermostWins) {
  Snapshot s;
  add(s, kUm, 12'000);
  add(s, kUm + "/app.slice", 5'000);
  // A quadlet service outside container.slice, with podman's split cgroups inside it.
  add(s, kUm + "/app.slice/immich.service", 1'000);
  add(s, kUm + "/app.slice/immich.service/libpod-payload-0123456789ab", 990);
  add(s, kUm + "/app.slice/gnome-terminal-server.service", 400);
  // The incident's option 4: containers moved into container.slice.
  add(s, kUm + "/container.slice", 3'000);
  add(s, kUm + "/container.slice/jellyfin.service", 2'500);
  add(s, kUm + "/container.slice/jellyfin.service/libpod-payload-abcdefabcdef", 2'490);
  add(s, kUm + "/container.slice/traefik.service", 500);
  add(s, kUm + "/container.slice/libpod-conmon-99999999999999.scope", 2);  // conmon without its payload
  const auto split = classify_workloads(s, kUm, {"immich.service"});
  ASSERT_EQ(split.containers.size(), 4u);
  EXPECT_EQ(split.containers[0].name, "jellyfin.service");
  EXPECT_EQ(split.containers[0].memory_bytes, 2'500 * kMiB);  // not + the payload inside it
  EXPECT_EQ(split.containers[1].name, "immich.service");
  EXPECT_EQ(split.containers[2].name, "traefik.service");
  EXPECT_EQ(split.containers[3].name, "999999999999");
  EXPECT_EQ(split.containers_bytes, (2'500 + 1'000 + 500 + 2) * kMiB);
  EXPECT_EQ(split.desktop_bytes, (12'000 - 4'002) * kMiB);
  // container.slice holds 3000 of which 3002 are containers: nothing left for the desktop list.
  ASSERT_EQ(split.desktop.size(), 1u);
  EXPECT_EQ(split.desktop[0].path, kUm + "/app.slice");
  EXPECT_EQ(split.desktop[0].memory_bytes, 4'000 * kMiB);
}

TEST(Workloads, NoUserManagerMeansNothing) {
  Snapshot s;
  add(s, "/system.slice", 100);
  add(s, "/system.slice/libpod-aaaaaaaaaaaa.scope", 50);  // root podman: not the user's
  const auto split = classify_workloads(s, kUm, {});
  EXPECT_EQ(split.user_total_bytes, 0u);
  EXPECT_TRUE(split.containers.empty());
  EXPECT_EQ(split.desktop_bytes, 0u);
}

}  // namespace
}  // namespace guardian
