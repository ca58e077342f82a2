#include "helper/cgroup_tree.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helper/support/as_user.h"
#include "helper/support/test_cgroups.h"

namespace guardian::helper {
namespace {

using guardian::testing::running_as_root;
using guardian::testing::TestCgroups;

TEST(CgroupPaths, ClientsMayNameOnlyPlainPathsUnderTheirOwn) {
  const std::string alice = "/user.slice/user-1000.slice/user@1000.service";
  EXPECT_TRUE(CgroupTree::is_within(alice, alice));
  EXPECT_TRUE(CgroupTree::is_within(alice + "/container.slice/jellyfin.service", alice));
  EXPECT_TRUE(CgroupTree::is_within("/system.slice", "/"));
  EXPECT_FALSE(CgroupTree::is_within("/user.slice/user-1000.slice/user@1000.service0", alice))
      << "a sibling sharing the prefix is not below";
  EXPECT_FALSE(CgroupTree::is_within(alice + "/../../user-1001.slice", alice));
  EXPECT_FALSE(CgroupTree::is_within(alice + "/./app.slice", alice));
  EXPECT_FALSE(CgroupTree::is_within(alice + "//app.slice", alice));
  EXPECT_FALSE(CgroupTree::is_within(alice + "/app.slice/", alice));
  EXPECT_FALSE(CgroupTree::is_within("user.slice", "/"));
  EXPECT_FALSE(CgroupTree::is_within(alice + "/a\nb", alice));
}

TEST(CgroupTree, FindsOwnersAndPathsOfRealCgroups) {
  if (!running_as_root()) GTEST_SKIP() << "needs root to create test cgroups";
  auto cgroups = TestCgroups::create({1000, 1001});
  ASSERT_TRUE(cgroups.ok()) << cgroups.error().message;
  auto tree = CgroupTree::open(cgroups->mount(), cgroups->scope());
  ASSERT_TRUE(tree.ok()) << tree.error().message;
  EXPECT_EQ(tree->scope_id(), cgroups->id_of(cgroups->scope()));
  EXPECT_EQ(tree->scope_level(), 2u);
  EXPECT_EQ(tree->owner_path(1000), cgroups->owner(1000));

  const uint64_t alice_owner = cgroups->id_of(cgroups->owner(1000));
  EXPECT_EQ(tree->owner_uid(alice_owner), 1000u);
  EXPECT_EQ(tree->owner_uid(cgroups->id_of(cgroups->owner(1001))), 1001u);
  EXPECT_FALSE(tree->owner_uid(cgroups->id_of(cgroups->outside())));
  EXPECT_EQ(tree->path_of(cgroups->id_of(cgroups->app(1000)), 1000u), cgroups->app(1000));
  EXPECT_EQ(tree->path_of(cgroups->id_of(cgroups->app(1001)), std::nullopt), cgroups->app(1001));

  // A user manager that starts after the helper is found on the next miss.
  const std::string late = cgroups->scope() + "/user-1002.slice";
  ASSERT_EQ(::mkdir((cgroups->mount() + late).c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((cgroups->mount() + late + "/user@1002.service").c_str(), 0755), 0);
  EXPECT_EQ(tree->owner_uid(cgroups->id_of(late + "/user@1002.service")), 1002u);
  // A cgroup created after the first walk is found by walking again.
  const std::string scope_unit = cgroups->app(1000) + "/run-r1.scope";
  ASSERT_EQ(::mkdir((cgroups->mount() + scope_unit).c_str(), 0755), 0);
  EXPECT_EQ(tree->path_of(cgroups->id_of(scope_unit), 1000u), scope_unit);
  ::rmdir((cgroups->mount() + scope_unit).c_str());
  ::rmdir((cgroups->mount() + late + "/user@1002.service").c_str());
  ::rmdir((cgroups->mount() + late).c_str());
}

TEST(CgroupTree, OwnerOfAPathComesFromSystemdsLayout) {
  if (!running_as_root()) GTEST_SKIP() << "needs root to create test cgroups";
  auto cgroups = TestCgroups::create({1000});
  ASSERT_TRUE(cgroups.ok()) << cgroups.error().message;
  auto tree = CgroupTree::open(cgroups->mount(), cgroups->scope());
  ASSERT_TRUE(tree.ok());
  const std::string scope = cgroups->scope();
  EXPECT_EQ(tree->owner_uid_of_path(scope + "/user-1000.slice/user@1000.service"), 1000u);
  EXPECT_EQ(
      tree->owner_uid_of_path(scope + "/user-1000.slice/user@1000.service/container.slice/jellyfin.service"),
      1000u);
  EXPECT_FALSE(tree->owner_uid_of_path(scope + "/user-1000.slice/user@1001.service/app.slice"));
  EXPECT_FALSE(tree->owner_uid_of_path(scope + "/user-1000.slice/session-3.scope"));
  EXPECT_FALSE(tree->owner_uid_of_path("/system.slice/jellyfin.service"));
}

TEST(CgroupTree, AMissingScopeIsAnErrorNamingIt) {
  auto mount = CgroupTree::find_cgroup2_mount();
  if (!mount) GTEST_SKIP() << mount.error().message;
  auto tree = CgroupTree::open(*mount, "/guardian-no-such-scope.slice");
  ASSERT_FALSE(tree.ok());
  EXPECT_NE(tree.error().message.find("guardian-no-such-scope.slice does not exist"), std::string::npos);
}

}  // namespace
}  // namespace guardian::helper
