// oomd's live list against the drop-in reading (model/oomd_live), on the dump of Fedora 42's
// systemd 257 in the fuzz corpus.
#include "model/oomd_live.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace guardian {
namespace {

std::string corpus(const std::string& name) {
  std::ifstream in(std::string(GUARDIAN_SOURCE_DIR) + "/tests/fuzz/corpus/oomd_dump/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

constexpr const char* kUserManager = "/user.slice/user-1000.slice/user@1000.service";

// systemd #43174, reproduced on 252: after `systemctl --user daemon-reload`, user@1000.service is
// gone from oomd's list while Debian's user@.service.d/10-oomd-user-service-defaults.conf
// (ManagedOOMMemoryPressure=kill, limit 50%) still says it is watched.
TEST(OomdLive, ReconcileFindsTheDroppedUserManagerAndTrustsTheLiveView) {
  WatchedCgroup user_manager{kUserManager, "user@1000.service", 50.0, std::chrono::seconds(20),
                             "/usr/lib/systemd/system/user@.service.d/10-oomd-user-service-defaults.conf"};
  WatchedCgroup app_slice{std::string(kUserManager) + "/app.slice", "app.slice", 80.0,
                          std::chrono::seconds(20),
                          "/usr/lib/systemd/user/slice.d/10-oomd-per-slice-defaults.conf"};
  auto live = parse_oomd_dump(corpus("fedora42_257.txt"));
  ASSERT_TRUE(live.ok());
  auto result = reconcile_watched({user_manager, app_slice}, *live, kUserManager);
  ASSERT_EQ(result.effective.size(), 2u);  // the live view: app.slice and container.slice
  ASSERT_EQ(result.disagreements.size(), 2u);
  EXPECT_EQ(result.disagreements[0].kind, WatchDisagreement::Kind::MissingFromLive);
  EXPECT_EQ(result.disagreements[0].path, kUserManager);
  EXPECT_NE(result.disagreements[0].next_step.find("#43174"), std::string::npos);
  EXPECT_NE(result.disagreements[0].next_step.find("sudo systemctl daemon-reload"), std::string::npos);
  EXPECT_EQ(result.disagreements[1].kind, WatchDisagreement::Kind::OnlyInLive);
  EXPECT_EQ(result.disagreements[1].path, std::string(kUserManager) + "/container.slice");

  // Same rule with a different limit: the live value is used and the difference reported.
  app_slice.limit_percent = 60.0;
  WatchedCgroup container_slice{std::string(kUserManager) + "/container.slice", "container.slice", 80.0,
                                std::chrono::seconds(20), "slice.d"};
  result = reconcile_watched({app_slice, container_slice}, *live, kUserManager);
  ASSERT_EQ(result.disagreements.size(), 1u);
  EXPECT_EQ(result.disagreements[0].kind, WatchDisagreement::Kind::LimitDiffers);
  EXPECT_NE(result.disagreements[0].detail.find("live: 80.00%"), std::string::npos)
      << result.disagreements[0].detail;
  EXPECT_DOUBLE_EQ(result.effective[0].limit_percent, 80.0);
}

}  // namespace
}  // namespace guardian
