// The guardian-helper binary end to end, as root with a test cgroup tree for two users: each
// user's client (guardian's sense client, connected as that uid) sees only the events of its own
// user@UID.service, root sees both, systemd-oomd's pre-kill notice reaches the owner and waits
// for its answer, and pressure watches are confined to the user's own cgroups.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "helper/support/as_user.h"
#include "helper/support/test_cgroups.h"
#include "helper/support/varlink_client.h"
#include "sense/helper_client.h"
#include "support/scratch_dir.h"

namespace guardian {
namespace {

using guardian::testing::connect_as;
using guardian::testing::run_in;
using guardian::testing::running_as_root;
using guardian::testing::TestCgroups;
using guardian::testing::VarlinkClient;
using namespace std::chrono_literals;

constexpr uid_t kAlice = 1000;
constexpr uid_t kBob = 1001;

const std::vector<std::string> kFfmpeg = {"ffmpeg",    "-hide_banner", "-nostdin",
                                          "-loglevel", "error",        "-f",
                                          "lavfi",     "-i",           "testsrc=size=64x64:rate=5:duration=1",
                                          "-f",        "null",         "-"};

// guardian-helper as a child process, on sockets in a temporary directory.
class HelperProcess {
 public:
  HelperProcess(const TestCgroups& cgroups, std::vector<std::string> extra = {}) {
    ::chmod(dir_.path().c_str(), 0755);  // other uids connect here
    std::vector<std::string> argv = {GUARDIAN_HELPER_BINARY,
                                     "--socket",
                                     socket_,
                                     "--cgroup-root",
                                     cgroups.mount(),
                                     "--scope",
                                     cgroups.scope(),
                                     "--prekill-socket",
                                     prekill_,
                                     "--prekill-caller",
                                     "0",
                                     "--prekill-wait",
                                     "1500"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      const int log = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      ::dup2(log, 2);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    // Ready once the socket exists (the probes load first).
    for (int i = 0; i < 300 && ::access(socket_.c_str(), F_OK) != 0; ++i) std::this_thread::sleep_for(20ms);
  }
  ~HelperProcess() { stop(); }
  int stop() {
    if (pid_ <= 0) return exit_status_;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return exit_status_;
  }
  [[nodiscard]] std::string log() const {
    std::ifstream in(log_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  [[nodiscard]] bool ready() const { return ::access(socket_.c_str(), F_OK) == 0; }
  const std::string& socket() const { return socket_; }
  const std::string& prekill() const { return prekill_; }

 private:
  test::ScratchDir dir_{"helper-e2e"};  // removed after stop() (declared first)
  std::string socket_ = dir_ / "helper.sock", prekill_ = dir_ / "prekill", log_ = dir_ / "helper.log";
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

// guardian's sense client for one user, connected as that user.
HelperClient client_as(uid_t uid, const std::string& socket) {
  auto fd = connect_as(uid, socket);
  EXPECT_TRUE(fd.ok()) << (fd.ok() ? "" : fd.error().message);
  return HelperClient::adopt(std::move(*fd));
}

// Messages the client receives within `ms`.
std::vector<helper_wire::ServerMessage> receive(HelperClient& client, std::chrono::milliseconds ms) {
  std::vector<helper_wire::ServerMessage> all;
  const auto deadline = std::chrono::steady_clock::now() + ms;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd entry{client.fd(), POLLIN, 0};
    if (::poll(&entry, 1, 20) <= 0) continue;
    auto read =
        client.read_available([&](const helper_wire::ServerMessage& message) { all.push_back(message); });
    if (!read) break;
  }
  EXPECT_TRUE(client.take_problems().empty());
  return all;
}

template <class T>
std::vector<T> only(const std::vector<helper_wire::ServerMessage>& messages) {
  std::vector<T> out;
  for (const auto& m : messages) {
    if (const auto* t = std::get_if<T>(&m)) out.push_back(*t);
  }
  return out;
}

void kill_as_oomd(pid_t victim) {
  const pid_t sender = ::fork();
  if (sender == 0) {
    ::prctl(PR_SET_NAME, "systemd-oomd", 0, 0, 0);
    ::_exit(::kill(victim, SIGKILL) == 0 ? 0 : 1);
  }
  ::waitpid(sender, nullptr, 0);
}

class HelperServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!running_as_root()) GTEST_SKIP() << "guardian-helper needs root";
    if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0) GTEST_SKIP() << "no kernel BTF";
    auto cgroups = TestCgroups::create({kAlice, kBob});
    ASSERT_TRUE(cgroups.ok()) << cgroups.error().message;
    cgroups_.emplace(std::move(*cgroups));
    helper_.emplace(*cgroups_);
    ASSERT_TRUE(helper_->ready()) << helper_->log();
  }
  void TearDown() override {
    if (helper_) {
      EXPECT_EQ(helper_->stop(), 0) << helper_->log();
      EXPECT_NE(helper_->log().find("guardian-helper: stopping:"), std::string::npos) << helper_->log();
    }
  }
  std::optional<TestCgroups> cgroups_;
  std::optional<HelperProcess> helper_;
};

TEST_F(HelperServiceTest, TwoUsersEachSeeOnlyTheirOwnEventsAndRootSeesBoth) {
  HelperClient alice = client_as(kAlice, helper_->socket());
  HelperClient bob = client_as(kBob, helper_->socket());
  HelperClient root = client_as(0, helper_->socket());
  receive(alice, 200ms);
  ASSERT_TRUE(alice.hello());
  EXPECT_EQ(alice.hello()->owner, cgroups_->owner(kAlice));
  EXPECT_EQ(alice.hello()->probes, (std::vector<std::string>{"exec", "oom-kill", "oomd-kill"}));
  receive(bob, 50ms);
  receive(root, 50ms);
  ASSERT_TRUE(bob.hello() && root.hello());
  EXPECT_EQ(root.hello()->owner, "") << "root sees everything";

  // Alice transcodes; Bob probes a file and oomd kills one of his processes.
  ASSERT_EQ(run_in(*cgroups_, cgroups_->app(kAlice), kFfmpeg, kAlice), 0);
  ASSERT_EQ(run_in(*cgroups_, cgroups_->app(kBob), {"ffprobe", "-version"}, kBob), 0);
  auto sleeper = cgroups_->spawn(cgroups_->app(kBob), {"sleep", "30"}, kBob);
  ASSERT_TRUE(sleeper.ok());
  std::this_thread::sleep_for(200ms);
  kill_as_oomd(*sleeper);
  ::waitpid(*sleeper, nullptr, 0);

  const auto for_alice = receive(alice, 1000ms);
  const auto for_bob = receive(bob, 200ms);
  const auto for_root = receive(root, 200ms);

  const auto alice_execs = only<helper_wire::ProcessExec>(for_alice);
  ASSERT_EQ(alice_execs.size(), 1u);
  EXPECT_EQ(alice_execs[0].comm, "ffmpeg");
  EXPECT_EQ(alice_execs[0].cgroup, cgroups_->app(kAlice));
  EXPECT_EQ(alice_execs[0].argv, kFfmpeg);
  EXPECT_EQ(only<helper_wire::ProcessExit>(for_alice).size(), 1u);
  EXPECT_TRUE(only<helper_wire::OomdKill>(for_alice).empty()) << "Bob's kill is not Alice's business";

  const auto bob_execs = only<helper_wire::ProcessExec>(for_bob);
  ASSERT_EQ(bob_execs.size(), 1u);
  EXPECT_EQ(bob_execs[0].comm, "ffprobe");
  const auto bob_kills = only<helper_wire::OomdKill>(for_bob);
  ASSERT_EQ(bob_kills.size(), 1u);
  EXPECT_EQ(bob_kills[0].tgid, static_cast<uint32_t>(*sleeper));
  EXPECT_EQ(bob_kills[0].cgroup, cgroups_->app(kBob));

  EXPECT_EQ(only<helper_wire::ProcessExec>(for_root).size(), 2u);
  EXPECT_EQ(only<helper_wire::ProcessExit>(for_root).size(), 2u);
  EXPECT_EQ(only<helper_wire::OomdKill>(for_root).size(), 1u);
}

TEST_F(HelperServiceTest, AKillNoticeFromOomdReachesTheOwnerAndWaitsForItsAnswer) {
  HelperClient alice = client_as(kAlice, helper_->socket());
  HelperClient bob = client_as(kBob, helper_->socket());
  receive(alice, 200ms);
  receive(bob, 50ms);
  const std::string victim = cgroups_->app(kAlice) + "/jellyfin.service";

  auto oomd = VarlinkClient::connect(helper_->prekill());
  ASSERT_TRUE(oomd.ok()) << oomd.error().message;
  ASSERT_TRUE(oomd->call("io.systemd.oom.Prekill.Notify", {{"cgroup", victim}}).ok());
  const auto notices = only<helper_wire::PrekillNotice>(receive(alice, 300ms));
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].cgroup, victim);
  EXPECT_EQ(notices[0].wait_ms, 1500u);
  EXPECT_TRUE(only<helper_wire::PrekillNotice>(receive(bob, 100ms)).empty());
  EXPECT_FALSE(oomd->reply(200).ok()) << "oomd waits while Alice's guardian gets ready";

  const auto answered_at = std::chrono::steady_clock::now();
  alice.send(helper_wire::PrekillDone{notices[0].id});
  auto reply = oomd->reply(1000);
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(*reply, (nlohmann::json{{"parameters", nlohmann::json::object()}}));
  EXPECT_LT(std::chrono::steady_clock::now() - answered_at, 1000ms);

  // A user whose guardian does not answer holds oomd's kill for at most --prekill-wait.
  ASSERT_TRUE(oomd->call("io.systemd.oom.Prekill.Notify", {{"cgroup", cgroups_->app(kBob)}}).ok());
  EXPECT_EQ(only<helper_wire::PrekillNotice>(receive(bob, 300ms)).size(), 1u);
  auto late = oomd->reply(3000);
  ASSERT_TRUE(late.ok()) << late.error().message;
}

TEST_F(HelperServiceTest, PressureWatchesStayInsideTheUsersOwnCgroups) {
  HelperClient alice = client_as(kAlice, helper_->socket());
  receive(alice, 200ms);
  const uint64_t own =
      alice.send(helper_wire::WatchPressure{0, cgroups_->owner(kAlice), false, 150000, 2000000});
  const uint64_t foreign =
      alice.send(helper_wire::WatchPressure{0, cgroups_->owner(kBob), false, 150000, 2000000});
  const auto replies = only<helper_wire::Reply>(receive(alice, 500ms));
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].request, own);
  EXPECT_TRUE(replies[0].ok) << replies[0].message;
  EXPECT_TRUE(replies[0].watch.has_value());
  EXPECT_EQ(replies[1].request, foreign);
  EXPECT_FALSE(replies[1].ok);
  EXPECT_NE(replies[1].message.find("is not at or under"), std::string::npos) << replies[1].message;
}

}  // namespace
}  // namespace guardian
