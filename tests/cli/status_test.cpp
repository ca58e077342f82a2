// `guardian status`: the real binary (GUARDIAN_BINARY) against a real private dbus-daemon —
// with a DbusService in this process standing in for the daemon, and end to end against
// `guardian run --dry-run` on that bus.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "support/child_process.h"
#include "support/dbus_daemon_fixture.h"
#include "support/tick_fixture.h"
#include "tell/dbus_client.h"
#include "tell/dbus_service.h"

namespace guardian {
namespace {

using testing::BackgroundChild;
using testing::DbusDaemonFixture;
using testing::run_child;
using testing::TickFixture;

class StatusTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(bus.ok()) << bus.error(); }
  // The session bus the way a desktop session gives it: DBUS_SESSION_BUS_ADDRESS.
  std::map<std::string, std::string> session_env() const {
    return {{"DBUS_SESSION_BUS_ADDRESS", bus.address()}};
  }
  DbusDaemonFixture bus;
};

TEST_F(StatusTest, DaemonNotRunningIsExitTwoWithAClearMessage) {
  auto result = run_child({GUARDIAN_BINARY, "status"}, session_env());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("guardian status: guardian is not running on the session bus (nobody owns "
                            "io.github.guardian.Guardian1)"),
            std::string::npos)
      << result.err;
}

TEST_F(StatusTest, NoSessionBusIsExitTwo) {
  auto result =
      run_child({GUARDIAN_BINARY, "status"}, {{"DBUS_SESSION_BUS_ADDRESS", ""}, {"XDG_RUNTIME_DIR", ""}});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("no session bus"), std::string::npos) << result.err;

  auto unreachable =
      run_child({GUARDIAN_BINARY, "status", "--bus-address", "unix:path=" + bus.directory() + "/nope"});
  EXPECT_EQ(unreachable.exit_code, 2);
  EXPECT_NE(unreachable.err.find("cannot connect to bus unix:path="), std::string::npos) << unreachable.err;
}

TEST_F(StatusTest, UsageErrors) {
  auto unknown = run_child({GUARDIAN_BINARY, "status", "--jsno"}, session_env());
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown option \"--jsno\""), std::string::npos) << unknown.err;
  auto missing = run_child({GUARDIAN_BINARY, "status", "--bus-address"}, session_env());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("--bus-address needs a value"), std::string::npos) << missing.err;
  auto help = run_child({GUARDIAN_BINARY, "status", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("usage: guardian status [--json]"), std::string::npos);
}

TEST_F(StatusTest, JsonFromTheDaemonsApi) {
  DbusService service(DbusServiceOptions{bus.address(), std::chrono::seconds(5)});
  ASSERT_TRUE(service.connect().ok());
  TickFixture fixture;
  fixture.at_level(1, "elevated", "full avg10 of user.slice 86.09 > 60", {"elevated/slice.set-memory-high"});
  service.on_tick(fixture.view());

  auto result = run_child({GUARDIAN_BINARY, "status", "--json"}, session_env(), &service);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["level"], "elevated");
  EXPECT_EQ(json["level_index"], 1);
  EXPECT_EQ(json["mode"], "full");
  EXPECT_TRUE(json["mode_reason"].is_null());
  EXPECT_EQ(json["policy"], "/home/user/.config/guardian/policy.toml");
  EXPECT_EQ(json["dry_run"], false);
  EXPECT_EQ(json["version"], GUARDIAN_VERSION);
  EXPECT_DOUBLE_EQ(json["system"]["pressure"]["some_avg10"].get<double>(), 41.52);
  EXPECT_DOUBLE_EQ(json["system"]["pressure"]["full_avg10"].get<double>(), 35.18);
  ASSERT_EQ(json["watched_cgroups"].size(), 2u);
  const auto& user_slice = json["watched_cgroups"][0];
  EXPECT_EQ(user_slice["path"], std::string(testing::kUserManager) + "/user.slice");
  EXPECT_DOUBLE_EQ(user_slice["full_avg10"].get<double>(), 86.09);
  EXPECT_DOUBLE_EQ(user_slice["limit_percent"].get<double>(), 80.0);
  EXPECT_DOUBLE_EQ(user_slice["duration_s"].get<double>(), 20.0);
  EXPECT_EQ(user_slice["over_limit"], true);
  EXPECT_DOUBLE_EQ(user_slice["seconds_over"].get<double>(), 12.0);
  EXPECT_DOUBLE_EQ(user_slice["seconds_until_kill"].get<double>(), 8.0);
  EXPECT_EQ(user_slice["likely_victim"], testing::kJellyfinScope);
  EXPECT_TRUE(json["watched_cgroups"][1]["seconds_until_kill"].is_null());
  EXPECT_TRUE(json["watched_cgroups"][1]["likely_victim"].is_null());
  EXPECT_EQ(json["active_actions"], nlohmann::json::array({"elevated/slice.set-memory-high"}));
  // No loop behind this service: Explain answers with the last tick's explanation.
  EXPECT_EQ(json["explanation"], "full avg10 of user.slice 86.09 > 60");
}

TEST_F(StatusTest, TableFromTheDaemonsApi) {
  DbusService service(DbusServiceOptions{bus.address(), std::chrono::seconds(5)});
  ASSERT_TRUE(service.connect().ok());
  TickFixture fixture;
  fixture.at_level(2, "critical", "8 s until oomd kills in user.slice < 10",
                   {"elevated/log", "critical/notify"});
  service.on_tick(fixture.view());

  auto result = run_child({GUARDIAN_BINARY, "status", "--bus-address", bus.address()}, {}, &service);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string& out = result.out;
  EXPECT_NE(out.find("level:    critical (2)\n"), std::string::npos) << out;
  EXPECT_NE(out.find("mode:     full\n"), std::string::npos) << out;
  EXPECT_NE(out.find("system:   memory pressure some 41.52%, full 35.18% (avg10)\n"), std::string::npos)
      << out;
  // The user.slice row: pressure vs limit, 12 s of oomd's 20 s, kill in 8 s, Jellyfin's scope.
  std::istringstream lines(out);
  std::string line, user_row, app_row;
  while (std::getline(lines, line)) {
    if (line.starts_with(std::string(testing::kUserManager) + "/user.slice ")) user_row = line;
    if (line.starts_with(std::string(testing::kUserManager) + "/app.slice ")) app_row = line;
  }
  ASSERT_FALSE(user_row.empty()) << out;
  EXPECT_NE(user_row.find("86.09/80%"), std::string::npos) << user_row;
  EXPECT_NE(user_row.find("12s of 20s"), std::string::npos) << user_row;
  EXPECT_NE(user_row.find(" 8s "), std::string::npos) << user_row;
  EXPECT_TRUE(user_row.ends_with(testing::kJellyfinScope)) << user_row;
  ASSERT_FALSE(app_row.empty()) << out;
  EXPECT_NE(app_row.find("3.12/80%"), std::string::npos) << app_row;
  EXPECT_TRUE(app_row.ends_with("-")) << app_row;
  EXPECT_NE(out.find("active actions: \n  elevated/log\n  critical/notify\n"), std::string::npos) << out;
  EXPECT_NE(out.find("why: 8 s until oomd kills in user.slice < 10\n"), std::string::npos) << out;
}

// END TO END: the real daemon on the private bus, read back by the real `guardian status`.
class StatusEndToEndTest : public StatusTest {
 protected:
  // Runs `guardian run --host-root ROOT --dry-run` on the bus and polls `guardian status --json`
  // until it answers. Skips while `guardian run` is not built yet.
  // while_running, when given, runs once the daemon answers, before it is stopped.
  nlohmann::json status_of_running_daemon(const std::string& host_root,
                                          std::vector<std::string> extra_args = {},
                                          const std::function<void()>& while_running = {}) {
    const std::string log = bus.directory() + "/guardian-run.log";
    auto env = session_env();
    env["XDG_STATE_HOME"] = bus.directory() + "/state";  // never the tester's own state file
    std::vector<std::string> argv = {GUARDIAN_BINARY, "run", "--host-root", host_root, "--dry-run"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    BackgroundChild daemon(argv, env, log);
    if (!daemon.started()) {
      ADD_FAILURE() << "could not start " << GUARDIAN_BINARY;
      return {};
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    testing::ChildResult last;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!daemon.running()) break;
      last = run_child({GUARDIAN_BINARY, "status", "--json", "--timeout", "2000"}, env);
      if (last.exit_code == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    std::ifstream log_file(log);
    std::stringstream daemon_err;
    daemon_err << log_file.rdbuf();
    if (daemon_err.str().find("not built yet") != std::string::npos) {
      skipped_ = true;
      return {};
    }
    if (last.exit_code != 0) {
      ADD_FAILURE() << "guardian status never answered: " << last.err << "\nguardian run said:\n"
                    << daemon_err.str();
      return {};
    }
    if (while_running) while_running();
    EXPECT_EQ(daemon.stop(), 0) << "guardian run should exit cleanly on SIGTERM:\n" << daemon_err.str();
    return nlohmann::json::parse(last.out);
  }
  bool skipped_ = false;
};

TEST_F(StatusEndToEndTest, DryRunDaemonOnThisHost) {
  // This host as it is: on the build machines (cgroup2 without the memory controller) the
  // daemon is in system-only mode; elsewhere it may be full. Either way it must answer.
  auto json = status_of_running_daemon("/");
  if (skipped_) GTEST_SKIP() << "guardian run is not built yet";
  ASSERT_FALSE(json.is_null());
  EXPECT_EQ(json["dry_run"], true);
  // The level depends on this host's pressure right now (other builds run here): only its shape.
  EXPECT_EQ(json["level"] == "normal", json["level_index"] == 0) << json.dump();
  EXPECT_EQ(json["policy"], "<embedded default>");
  EXPECT_TRUE(json["mode"] == "full" || json["mode"] == "system-only") << json.dump();
  if (json["mode"] == "system-only") {
    EXPECT_TRUE(json["mode_reason"].is_string()) << json.dump();
  }
  EXPECT_EQ(json["version"], GUARDIAN_VERSION);
  EXPECT_TRUE(json["explanation"].is_string());
}

TEST_F(StatusEndToEndTest, ReloadOverDbusReportsTheOutcome) {
  // A policy file the daemon starts with, then breaks: Reload says so and the old one stays.
  const std::string policy = bus.directory() + "/policy.toml";
  std::filesystem::copy_file(std::string(GUARDIAN_SOURCE_DIR) + "/policies/default.toml", policy);
  std::pair<bool, std::string> good{false, ""};
  std::pair<bool, std::string> broken{true, ""};
  std::string error;
  auto json = status_of_running_daemon("/", {"--policy", policy}, [&] {
    auto first = request_daemon_reload({bus.address(), std::chrono::seconds(10)});
    if (!first) error = first.error().message;
    if (first) good = *first;
    std::ofstream(policy, std::ios::app) << "\n[sampling]\nintervall = \"1s\"\n";
    auto second = request_daemon_reload({bus.address(), std::chrono::seconds(10)});
    if (!second) error = second.error().message;
    if (second) broken = *second;
  });
  if (skipped_) GTEST_SKIP() << "guardian run is not built yet";
  ASSERT_FALSE(json.is_null());
  EXPECT_EQ(json["policy"], policy);
  ASSERT_EQ(error, "");
  EXPECT_TRUE(good.first) << good.second;
  EXPECT_FALSE(broken.first) << broken.second;
  EXPECT_NE(broken.second.find(policy), std::string::npos) << broken.second;
}

TEST_F(StatusEndToEndTest, DryRunDaemonOnTheFedoraFixture) {
  const std::string root = std::string(GUARDIAN_FIXTURES_DIR) + "/fedora42-podman";
  if (!std::filesystem::exists(root)) GTEST_SKIP() << root << " not there yet (sense fixture)";
  // The fixture's desktop user is uid 1000 (user@1000.service); tests may run as anyone.
  auto json = status_of_running_daemon(root, {"--uid", "1000"});
  if (skipped_) GTEST_SKIP() << "guardian run is not built yet";
  ASSERT_FALSE(json.is_null());
  EXPECT_EQ(json["mode"], "full") << json.dump();
  EXPECT_EQ(json["dry_run"], true);
  // Fedora's drop-ins (tests/fixtures/fedora42-podman): every slice inside user@1000.service
  // plus system.slice, at 80% for 20 s.
  const std::string manager = "/user.slice/user-1000.slice/user@1000.service";
  std::set<std::string> paths;
  for (const auto& cgroup : json["watched_cgroups"]) {
    paths.insert(cgroup["path"].get<std::string>());
    EXPECT_DOUBLE_EQ(cgroup["limit_percent"].get<double>(), 80.0) << cgroup.dump();
    EXPECT_DOUBLE_EQ(cgroup["duration_s"].get<double>(), 20.0) << cgroup.dump();
    // The fixture is calm: nothing over the limit, no kill on course.
    EXPECT_EQ(cgroup["over_limit"], false) << cgroup.dump();
    EXPECT_TRUE(cgroup["seconds_until_kill"].is_null()) << cgroup.dump();
  }
  EXPECT_EQ(paths,
            (std::set<std::string>{manager + "/app.slice", manager + "/background.slice",
                                   manager + "/session.slice", manager + "/user.slice", "/system.slice"}));
  // The rootless podman slice: its pressure as the fixture's memory.pressure says, and its
  // biggest container scope as the victim oomd would pick.
  for (const auto& cgroup : json["watched_cgroups"]) {
    if (cgroup["path"] != manager + "/user.slice") continue;
    EXPECT_DOUBLE_EQ(cgroup["full_avg10"].get<double>(), 4.12);
    EXPECT_TRUE(cgroup["likely_victim"].get<std::string>().starts_with(manager + "/user.slice/libpod-"))
        << cgroup.dump();
  }
}

TEST_F(StatusEndToEndTest, DryRunDaemonOnTheHybridFixture) {
  const std::string root = std::string(GUARDIAN_FIXTURES_DIR) + "/hybrid-v1";
  if (!std::filesystem::exists(root)) GTEST_SKIP() << root << " not there yet (sense fixture)";
  auto json = status_of_running_daemon(root);
  if (skipped_) GTEST_SKIP() << "guardian run is not built yet";
  ASSERT_FALSE(json.is_null());
  EXPECT_EQ(json["mode"], "system-only") << json.dump();
  EXPECT_TRUE(json["watched_cgroups"].empty());
}

}  // namespace
}  // namespace guardian
