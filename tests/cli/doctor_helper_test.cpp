// `guardian doctor` says which mode guardian runs in on this host: "helper" when guardian-helper's
// socket greets (a real socket, the helper's side written with the real encoder), "polling"
// when there is none; in --json as more keys of the `helper` finding (the array of findings with
// verdict/topic/summary/detail/next_step stays as DESIGN.md states it).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/fake_helper.h"
#include "support/subprocess.h"

namespace guardian {
namespace {

using namespace std::chrono_literals;

const nlohmann::json* helper_finding(const nlohmann::json& findings) {
  for (const auto& finding : findings) {
    if (finding.at("topic") == "helper") return &finding;
  }
  return nullptr;
}

TEST(DoctorHelper, SaysHelperModeWhenTheHelperGreets) {
  test::FakeHelper helper;
  helper.listen();
  test::Subprocess doctor(
      {GUARDIAN_BINARY, "doctor", "--json", "--interval", "100ms", "--helper-socket", helper.path()});
  ASSERT_TRUE(helper.accept(30s)) << doctor.stderr_text();
  helper.send(test::FakeHelper::hello_for_user_1000());
  ASSERT_GE(doctor.wait_exit(30s), 0);
  const auto findings = nlohmann::json::parse(doctor.stdout_text());
  const nlohmann::json* finding = helper_finding(findings);
  ASSERT_NE(finding, nullptr) << doctor.stdout_text();
  EXPECT_EQ(finding->at("verdict"), "ok");
  EXPECT_EQ(finding->at("mode"), "helper");
  EXPECT_EQ(finding->at("helper_socket"), helper.path());
  EXPECT_EQ(finding->at("helper_probes"), "exec,oom-kill,oomd-kill");
  EXPECT_EQ(finding->at("helper_prekill"), "true");
  // The greeting offers pressure watches: guardian run asks for them, and says so here.
  EXPECT_EQ(finding->at("wake_source"), "helper-pressure-watches");
  EXPECT_NE(finding->at("detail").get<std::string>().find(
                "wakes between ticks: guardian-helper's pressure watches"),
            std::string::npos)
      << finding->at("detail");
  EXPECT_NE(finding->at("summary").get<std::string>().find("mode: helper"), std::string::npos);
  for (const char* key : {"verdict", "topic", "summary", "detail", "next_step"})
    EXPECT_TRUE(finding->contains(key)) << key;
}

TEST(DoctorHelper, SaysPollingModeWithoutAHelperAndInText) {
  test::FakeHelper helper;  // never listens: no socket
  test::Subprocess doctor(
      {GUARDIAN_BINARY, "doctor", "--interval", "100ms", "--helper-socket", helper.path()});
  ASSERT_GE(doctor.wait_exit(30s), 0);
  const std::string& text = doctor.stdout_text();
  const auto at = text.find("mode: polling");
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_EQ(text.rfind("[INFO   ]", at), text.rfind('[', at)) << text;  // a note, not a problem
  EXPECT_NE(text.find(helper.path(), at), std::string::npos) << text;   // names the socket it tried
  EXPECT_NE(text.find("wakes between ticks: guardian's own PSI triggers", at), std::string::npos) << text;
}

TEST(DoctorHelper, AFixtureTreeSaysNothingAboutThisHostsHelper) {
  test::FakeHelper helper;
  helper.listen();
  test::Subprocess doctor({GUARDIAN_BINARY, "doctor", "--json", "--interval", "100ms", "--host-root",
                           std::string(GUARDIAN_FIXTURES_DIR) + "/fedora42-podman", "--helper-socket",
                           helper.path()});
  ASSERT_GE(doctor.wait_exit(30s), 0);
  EXPECT_FALSE(helper.accept(0ms));
  EXPECT_EQ(helper_finding(nlohmann::json::parse(doctor.stdout_text())), nullptr) << doctor.stdout_text();
}

// On this host doctor estimates, from its own process (the daemon's binary and libraries), the
// shared libraries' pages the daemon locks after warm-up and the room RLIMIT_MEMLOCK leaves them.
TEST(DoctorMemoryLock, SaysWhatOfTheSharedLibrariesPagesTheDaemonLocks) {
  test::Subprocess doctor({GUARDIAN_BINARY, "doctor", "--json", "--interval", "100ms"});
  ASSERT_GE(doctor.wait_exit(30s), 0);
  const auto findings = nlohmann::json::parse(doctor.stdout_text());
  const nlohmann::json* lock = nullptr;
  for (const auto& finding : findings)
    if (finding.at("topic") == "memory-lock") lock = &finding;
  ASSERT_NE(lock, nullptr) << doctor.stdout_text();
  const auto& facts = lock->at("memory_lock");
  ASSERT_TRUE(facts.contains("shared_present_bytes")) << facts.dump();
  // libc's code alone is more than a megabyte, and doctor runs in it.
  EXPECT_GT(facts.at("shared_present_bytes").get<uint64_t>(), 1024u * 1024);
  EXPECT_LE(facts.at("shared_locked_bytes").get<uint64_t>(),
            facts.at("shared_present_bytes").get<uint64_t>());
  if (!facts.at("shared_room_bytes").is_null()) {
    EXPECT_LE(facts.at("shared_locked_bytes").get<uint64_t>(), facts.at("shared_room_bytes").get<uint64_t>());
  }
  EXPECT_NE(lock->at("detail").get<std::string>().find("after five ticks the daemon also locks"),
            std::string::npos)
      << lock->at("detail");
}

}  // namespace
}  // namespace guardian
