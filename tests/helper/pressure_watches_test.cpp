#include "helper/pressure_watches.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "helper/support/as_user.h"
#include "helper/support/test_cgroups.h"

namespace guardian::helper {
namespace {

using guardian::testing::running_as_root;
using guardian::testing::TestCgroups;

bool has_cap_sys_resource() {
  // CapEff from /proc: this process's effective capabilities, bit 24 = CAP_SYS_RESOURCE.
  auto status = std::string();
  if (FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof(line), f)) {
      if (std::strncmp(line, "CapEff:", 7) == 0) status = line + 7;
    }
    std::fclose(f);
  }
  return !status.empty() && ((std::stoull(status, nullptr, 16) >> 24) & 1) != 0;
}

TEST(PsiTriggerText, FollowsPsiRst) {
  EXPECT_EQ(*psi_trigger_text({1, "/x", false, 50000, 500000}), "some 50000 500000");
  EXPECT_EQ(*psi_trigger_text({1, "/x", true, 150000, 2000000}), "full 150000 2000000");
  EXPECT_FALSE(psi_trigger_text({1, "/x", false, 50000, 400000}).ok()) << "window below 500 ms";
  EXPECT_FALSE(psi_trigger_text({1, "/x", false, 50000, 11000000}).ok()) << "window above 10 s";
  EXPECT_FALSE(psi_trigger_text({1, "/x", false, 0, 500000}).ok());
  EXPECT_FALSE(psi_trigger_text({1, "/x", false, 600000, 500000}).ok()) << "stall longer than the window";
}

class PressureWatchesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!running_as_root()) GTEST_SKIP() << "needs root to create test cgroups";
    auto cgroups = TestCgroups::create({1000, 1001});
    ASSERT_TRUE(cgroups.ok()) << cgroups.error().message;
    cgroups_.emplace(std::move(*cgroups));
    auto epoll = Epoll::create();
    epoll_.emplace(std::move(*epoll));
    watches_.emplace(cgroups_->mount(), *epoll_);
  }
  std::optional<TestCgroups> cgroups_;
  std::optional<Epoll> epoll_;
  std::optional<PressureWatches> watches_;
};

TEST_F(PressureWatchesTest, AUserWatchesItsOwnCgroupsOnly) {
  const std::string alice = cgroups_->owner(1000);
  // guardian's own trigger (policies/default.toml: some 150ms 2s), which any process may arm.
  auto watch = watches_->add(1, alice, {1, alice, false, 150000, 2000000});
  ASSERT_TRUE(watch.ok()) << watch.error().message;
  auto other = watches_->add(1, alice, {2, cgroups_->owner(1001), false, 150000, 2000000});
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().message.find("is not at or under " + alice), std::string::npos);
  auto escape = watches_->add(1, alice, {3, alice + "/../../user-1001.slice", false, 150000, 2000000});
  EXPECT_FALSE(escape.ok());
  EXPECT_EQ(watches_->size(), 1u);
  EXPECT_FALSE(watches_->remove(2, *watch).ok()) << "another client cannot remove it";
  EXPECT_TRUE(watches_->remove(1, *watch).ok());
  EXPECT_EQ(watches_->size(), 0u);
}

TEST_F(PressureWatchesTest, ASubTwoSecondWindowNeedsCapSysResourceOnNewKernels) {
  const std::string alice = cgroups_->owner(1000);
  auto watch = watches_->add(1, alice, {1, alice, false, 50000, 500000});
  if (has_cap_sys_resource()) {
    EXPECT_TRUE(watch.ok()) << watch.error().message;
  } else if (!watch.ok()) {
    // Linux >= 6.5 refuses it without the capability; the message says so.
    EXPECT_NE(watch.error().message.find("CAP_SYS_RESOURCE"), std::string::npos) << watch.error().message;
  }
}

TEST_F(PressureWatchesTest, WatchesAreCappedPerClientAndDroppedWithTheClient) {
  const std::string alice = cgroups_->owner(1000);
  for (int i = 0; i < 8; ++i)
    ASSERT_TRUE(watches_->add(7, alice, {1, alice + "/app.slice", false, 150000, 2000000}).ok());
  auto ninth = watches_->add(7, alice, {1, alice, false, 150000, 2000000});
  ASSERT_FALSE(ninth.ok());
  EXPECT_NE(ninth.error().message.find("at most 8"), std::string::npos);
  EXPECT_TRUE(watches_->add(8, alice, {1, alice, false, 150000, 2000000}).ok()) << "the cap is per client";
  watches_->remove_client(7);
  EXPECT_EQ(watches_->size(), 1u);
}

TEST_F(PressureWatchesTest, AMissingCgroupIsAnErrorNamingItsPressureFile) {
  const std::string alice = cgroups_->owner(1000);
  auto missing = watches_->add(1, alice, {1, alice + "/no-such.slice", false, 150000, 2000000});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("no-such.slice/memory.pressure"), std::string::npos);
}

}  // namespace
}  // namespace guardian::helper
