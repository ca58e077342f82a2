// The typed client against the fake Jellyfin (real HTTP on 127.0.0.1).
#include "jellyfin/client.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "support/fake_jellyfin.h"
#include "support/scratch_dir.h"

namespace guardian::jellyfin {
namespace {

using guardian::testing::FakeJellyfin;
using namespace std::chrono_literals;

constexpr const char* kKey = "4f1b2c3d4e5f60718293a4b5c6d7e8f9";

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fake_.running());
    auto client = make_client(fake_.settings(dir_.path()));
    ASSERT_TRUE(client.ok()) << client.error().message;
    client_ = *client;
  }
  static Deadline in(std::chrono::milliseconds ms) { return std::chrono::steady_clock::now() + ms; }
  FakeJellyfin fake_{kKey};
  test::ScratchDir dir_{"client"};
  std::shared_ptr<Client> client_;
};

TEST_F(ClientTest, SendsMediaBrowserAuthorizationAndParses) {
  auto sessions = client_->get_sessions(in(2s));
  ASSERT_TRUE(sessions.ok()) << sessions.error().message;
  EXPECT_EQ(sessions->size(), 4u);
  auto requests = fake_.requests();
  ASSERT_EQ(requests.size(), 1u);
  std::string auth = requests[0]["authorization"];
  EXPECT_TRUE(auth.starts_with("MediaBrowser Client=\"guardian\", Device=\"guardian\", DeviceId=\"guardian-"))
      << auth;
  EXPECT_NE(auth.find("Token=\"" + std::string(kKey) + "\""), std::string::npos);
}

TEST_F(ClientTest, WrongKeySaysSo) {
  std::string key_file = dir_ / "wrong.key";
  auto settings = fake_.settings(dir_.path());
  { std::ofstream(key_file) << "00000000000000000000000000000000\n"; }
  ::chmod(key_file.c_str(), 0600);
  settings.api_key_file = key_file;
  auto client = make_client(settings);
  ASSERT_TRUE(client.ok());
  auto options = (*client)->get_encoding_options(in(2s));
  ASSERT_FALSE(options.ok());
  EXPECT_NE(options.error().message.find("HTTP 401 (the API key was refused)"), std::string::npos);
}

TEST_F(ClientTest, ServerErrorGarbageAndLiesAreErrorsNamingTheEndpoint) {
  fake_.set_mode("error500", 0, 1);
  auto e500 = client_->get_sessions(in(2s));
  ASSERT_FALSE(e500.ok());
  EXPECT_NE(e500.error().message.find("GET " + fake_.url() + "/Sessions?activeWithinSeconds=960: HTTP 500"),
            std::string::npos);
  fake_.set_mode("garbage", 0, 1);
  auto garbage = client_->get_encoding_options(in(2s));
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message.find("/System/Configuration/encoding: not JSON"), std::string::npos);
  fake_.set_mode("lying", 0, 1);
  auto lie = client_->get_encoding_options(in(2s));
  ASSERT_FALSE(lie.ok());
  EXPECT_NE(lie.error().message.find("HardwareAccelerationType: expected a string, got a number"),
            std::string::npos);
}

TEST_F(ClientTest, HangingServerIsBoundedByTheTimeout) {
  fake_.set_mode("hang");
  auto start = std::chrono::steady_clock::now();
  auto sessions = client_->get_sessions(in(300ms));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(sessions.ok());
  EXPECT_NE(sessions.error().message.find("timed out"), std::string::npos);
  EXPECT_LT(took, 800ms);
  EXPECT_GE(took, 290ms);
}

TEST_F(ClientTest, SlowServerWithinTheTimeoutIsFineBeyondItIsNot) {
  fake_.set_mode("slow", 0.2, 1);
  auto slow = client_->get_sessions(in(1s));
  ASSERT_TRUE(slow.ok()) << slow.error().message;
  fake_.set_mode("slow", 1.0, 1);
  auto too_slow = client_->get_sessions(in(400ms));
  ASSERT_FALSE(too_slow.ok());
  EXPECT_NE(too_slow.error().message.find("timed out waiting for the response"), std::string::npos);
  fake_.set_mode("close", 0, 1);
  auto closed = client_->get_sessions(in(1s));
  ASSERT_FALSE(closed.ok());
  EXPECT_NE(closed.error().message.find("connection closed without a response"), std::string::npos)
      << closed.error().message;
}

TEST_F(ClientTest, BreakerStopsCallingAfterThreeFailures) {
  fake_.set_mode("error500");
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(client_->get_sessions(in(2s)).ok());
  EXPECT_EQ(client_->breaker().state(), CircuitBreaker::State::Open);
  fake_.clear_requests();
  auto start = std::chrono::steady_clock::now();
  auto refused = client_->get_sessions(in(2s));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("circuit breaker open after 3 failures"), std::string::npos);
  // Far below the 2-s deadline a call would wait; that no request reached the server says the rest.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
  EXPECT_EQ(fake_.requests().size(), 0u);
}

// The ladder's actions are the calls that matter when Jellyfin is slowest: a server throttled
// by a full memory.high stopped answering the watcher within its timeout and opened the breaker,
// and critical's cap-bitrate and stop-lowest-priority were then refused locally on every retry
// (the VM's whole-user squeeze on Fedora's rule, sqj-s23-fg1/fg2/fg5).
TEST_F(ClientTest, AnActionsCallGoesOutThroughAnOpenBreakerAndItsAnswerClosesIt) {
  fake_.set_mode("error500", 0, 3);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(client_->get_sessions(in(2s)).ok());
  ASSERT_EQ(client_->breaker().state(), CircuitBreaker::State::Open);
  fake_.clear_requests();
  EXPECT_FALSE(client_->get_sessions(in(2s)).ok());  // the watcher's poll: refused locally
  EXPECT_EQ(fake_.requests().size(), 0u);
  auto action = client_->for_actions();
  EXPECT_TRUE(action->is_for_actions());
  EXPECT_FALSE(client_->is_for_actions());
  auto sessions = action->get_sessions(in(2s));
  ASSERT_TRUE(sessions.ok()) << sessions.error().message;
  EXPECT_EQ(fake_.requests().size(), 1u);
  // One breaker for both: the answer closes it, and the watcher polls again.
  EXPECT_EQ(client_->breaker().state(), CircuitBreaker::State::Closed);
  EXPECT_TRUE(client_->get_sessions(in(2s)).ok());
}

TEST_F(ClientTest, AnActionsCallWaitsLongerThanTheWatchersTimeout) {
  // The fake's instance has a 1.5-s timeout; the answer comes after 2.5 s.
  fake_.set_mode("slow", 2.5, 1);
  auto polled = client_->get_sessions(in(10s));
  ASSERT_FALSE(polled.ok());
  EXPECT_NE(polled.error().message.find("timed out"), std::string::npos) << polled.error().message;
  fake_.set_mode("slow", 2.5, 1);
  auto action = client_->for_actions();
  auto answered = action->get_sessions(in(10s));
  EXPECT_TRUE(answered.ok()) << answered.error().message;
  // ... but never past the caller's own deadline.
  fake_.set_mode("slow", 2.5, 1);
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(action->get_sessions(in(1s)).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST_F(ClientTest, CommandsMessagesAndTasks) {
  std::string alice = "3b1f5e0c9a2d4e6f8b7c1d2e3f4a5b6c";
  ASSERT_TRUE(client_->send_command(alice, "SetMaxStreamingBitrate", {{"Bitrate", "3000000"}}, in(2s)).ok());
  ASSERT_TRUE(client_->send_message(alice, "guardian", "hello", 5000, in(2s)).ok());
  ASSERT_TRUE(client_->stop_task("7738148ffcd07979c7ceb148e06b3aed", in(2s)).applied());
  auto refused = client_->stop_task("../System/Shutdown", in(2s));
  EXPECT_EQ(refused.outcome, WriteResult::Outcome::NotApplied);
  auto requests = fake_.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0]["path"], "/Sessions/" + alice + "/Command");
  EXPECT_EQ(nlohmann::json::parse(std::string(requests[0]["body"])),
            (nlohmann::json{{"Name", "SetMaxStreamingBitrate"}, {"Arguments", {{"Bitrate", "3000000"}}}}));
  EXPECT_EQ(nlohmann::json::parse(std::string(requests[1]["body"])),
            (nlohmann::json{{"Header", "guardian"}, {"Text", "hello"}, {"TimeoutMs", 5000}}));
  EXPECT_EQ(requests[2]["method"], "DELETE");
  EXPECT_EQ(requests[2]["path"], "/ScheduledTasks/Running/7738148ffcd07979c7ceb148e06b3aed");
}

// Issue 11, defect 7: a 200 that is not JSON counted as a success for the breaker (then as one
// failure), so a server answering nonsense never opened it.
TEST_F(ClientTest, AnswersThatAreNotJsonOpenTheBreakerLikeErrorsDo) {
  fake_.set_mode("garbage");
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(client_->get_sessions(in(2s)).ok());
  EXPECT_EQ(client_->breaker().state(), CircuitBreaker::State::Open);
  EXPECT_EQ(client_->breaker().last_failure_kind(), CircuitBreaker::FailureKind::BadAnswer);
  EXPECT_NE(client_->breaker().last_error().find("/Sessions: not JSON"), std::string::npos)
      << client_->breaker().last_error();
}

TEST_F(ClientTest, TheBreakerKnowsARefusedKeyFromAServerError) {
  fake_.set_mode("error500", 0, 1);
  EXPECT_FALSE(client_->get_sessions(in(2s)).ok());
  EXPECT_EQ(client_->breaker().last_failure_kind(), CircuitBreaker::FailureKind::HttpError);
  auto settings = fake_.settings(dir_.path());
  { std::ofstream(dir_ / "wrong.key") << "00000000000000000000000000000000\n"; }
  ::chmod((dir_ / "wrong.key").c_str(), 0600);
  settings.api_key_file = dir_ / "wrong.key";
  auto wrong = *make_client(settings);
  EXPECT_FALSE(wrong->get_sessions(in(2s)).ok());
  EXPECT_EQ(wrong->breaker().last_failure_kind(), CircuitBreaker::FailureKind::KeyRefused);
  fake_.set_mode("hang", 0, 1);
  EXPECT_FALSE(client_->get_sessions(in(300ms)).ok());
  EXPECT_EQ(client_->breaker().last_failure_kind(), CircuitBreaker::FailureKind::Unreachable);
}

// A write that got no answer may have been applied; one that got an HTTP error was not.
TEST_F(ClientTest, AWriteWithoutAnAnswerIsOfUnknownOutcome) {
  auto options = client_->get_encoding_options(in(2s));
  ASSERT_TRUE(options.ok());
  options->raw["EncoderPreset"] = "veryfast";
  fake_.add_fault("POST", "/System/Configuration/encoding", "late", 0.6);
  auto late = client_->post_encoding_options(options->raw, in(300ms));
  EXPECT_EQ(late.outcome, WriteResult::Outcome::Unknown) << late.error;
  fake_.add_fault("POST", "/System/Configuration/encoding", "error500");
  auto refused = client_->post_encoding_options(options->raw, in(2s));
  EXPECT_EQ(refused.outcome, WriteResult::Outcome::NotApplied);
  EXPECT_NE(refused.error.find("HTTP 500"), std::string::npos);
  auto applied = client_->post_encoding_options(options->raw, in(2s));
  EXPECT_TRUE(applied.applied()) << applied.error;
}

// Issue 11, defect 10: GET /Sessions without activeWithinSeconds listed clients gone for an hour.
TEST_F(ClientTest, SessionsAreTheOnesActiveInTheLastSixteenMinutes) {
  auto sessions = FakeJellyfin::fixture("sessions-10.11.json");
  std::time_t hour_ago = std::time(nullptr) - 3600;
  std::tm tm{};
  gmtime_r(&hour_ago, &tm);
  char stamp[40];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S.0000000Z", &tm);
  std::time_t now = std::time(nullptr);
  gmtime_r(&now, &tm);
  char fresh[40];
  std::strftime(fresh, sizeof fresh, "%Y-%m-%dT%H:%M:%S.0000000Z", &tm);
  for (auto& s : sessions) s["LastActivityDate"] = fresh;
  sessions[1]["LastActivityDate"] = stamp;
  fake_.set_sessions(sessions);
  auto listed = client_->get_sessions(in(2s));
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  EXPECT_EQ(listed->size(), 3u);
  for (const auto& s : *listed) EXPECT_NE(s.user_name, "kids");
  EXPECT_EQ(fake_.requests().back()["path"], "/Sessions?activeWithinSeconds=960");
}

}  // namespace
}  // namespace guardian::jellyfin
