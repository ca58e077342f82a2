// The typed client against the fake Jellyfin (real HTTP on 127.0.0.1).
#include "jellyfin/client.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "support/fake_jellyfin.h"

namespace guardian::jellyfin {
namespace {

using guardian::testing::FakeJellyfin;
using namespace std::chrono_literals;

constexpr const char* kKey = "4f1b2c3d4e5f60718293a4b5c6d7e8f9";

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/guardian-client-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    ASSERT_TRUE(fake_.running());
    auto client = make_client(fake_.settings(dir_));
    ASSERT_TRUE(client.ok()) << client.error().message;
    client_ = *client;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static Deadline in(std::chrono::milliseconds ms) { return std::chrono::steady_clock::now() + ms; }
  FakeJellyfin fake_{kKey};
  std::string dir_;
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
  std::string key_file = dir_ + "/wrong.key";
  auto settings = fake_.settings(dir_);
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
  EXPECT_NE(e500.error().message.find("GET " + fake_.url() + "/Sessions: HTTP 500"), std::string::npos);
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
  EXPECT_LT(std::chrono::steady_clock::now() - start, 50ms);
  EXPECT_EQ(fake_.requests().size(), 0u);  // no request reached the server
}

TEST_F(ClientTest, CommandsMessagesAndTasks) {
  std::string alice = "3b1f5e0c9a2d4e6f8b7c1d2e3f4a5b6c";
  ASSERT_TRUE(client_->send_command(alice, "SetMaxStreamingBitrate", {{"Bitrate", "3000000"}}, in(2s)).ok());
  ASSERT_TRUE(client_->send_message(alice, "guardian", "hello", 5000, in(2s)).ok());
  ASSERT_TRUE(client_->stop_task("7738148ffcd07979c7ceb148e06b3aed", in(2s)).ok());
  EXPECT_FALSE(client_->stop_task("../System/Shutdown", in(2s)).ok());
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

}  // namespace
}  // namespace guardian::jellyfin
