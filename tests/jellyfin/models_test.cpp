#include "jellyfin/models.h"

#include <gtest/gtest.h>

#include "support/fake_jellyfin.h"

namespace guardian::jellyfin {
namespace {

using guardian::testing::FakeJellyfin;

// Fixtures: tests/support/fake_jellyfin/fixtures (shaped from @jellyfin/sdk 0.11/0.12 models).
TEST(Models, EncodingOptionsFromBothVersions) {
  auto v11 = parse_encoding_options(FakeJellyfin::fixture("encoding-10.11.json").dump(),
                                    "GET /System/Configuration/encoding");
  ASSERT_TRUE(v11.ok()) << v11.error().message;
  EXPECT_EQ(v11->hardware_acceleration_type(), "vaapi");
  EXPECT_FALSE(v11->enable_hardware_encoding());
  EXPECT_EQ(v11->hardware_decoding_codecs(), std::vector<std::string>{"h264"});
  EXPECT_EQ(v11->raw.size(), 47u);  // every field of the SDK model
  auto v10 = parse_encoding_options(FakeJellyfin::fixture("encoding-10.10.json").dump(),
                                    "GET /System/Configuration/encoding");
  ASSERT_TRUE(v10.ok());
  EXPECT_EQ(v10->hardware_acceleration_type(), "none");
}

TEST(Models, EncodingOptionsWrongTypeNamesTheField) {
  auto bad = parse_encoding_options(R"({"HardwareDecodingCodecs":["h264",7]})",
                                    "GET /System/Configuration/encoding");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "GET /System/Configuration/encoding: HardwareDecodingCodecs[1]: expected a string, got a number");
  auto not_json = parse_encoding_options("<html>", "GET /x");
  ASSERT_FALSE(not_json.ok());
  EXPECT_NE(not_json.error().message.find("not JSON"), std::string::npos);
  EXPECT_FALSE(parse_encoding_options("[]", "GET /x").ok());
}

TEST(Models, SessionsFromFixture) {
  auto sessions = parse_sessions(FakeJellyfin::fixture("sessions-10.11.json").dump(), "GET /Sessions");
  ASSERT_TRUE(sessions.ok()) << sessions.error().message;
  ASSERT_EQ(sessions->size(), 4u);
  const auto& alice = (*sessions)[0];
  EXPECT_EQ(alice.user_name, "alice");
  EXPECT_EQ(alice.client, "Jellyfin Web");
  EXPECT_EQ(alice.now_playing_path, "/media/movies/Big Buck Bunny (2008)/Big Buck Bunny.mkv");
  ASSERT_TRUE(alice.transcoding);
  EXPECT_EQ(alice.transcoding->bitrate, 8000000);
  EXPECT_EQ(alice.transcoding->hardware_acceleration_type, "vaapi");
  EXPECT_EQ(alice.transcoding->transcode_reasons.size(), 2u);
  EXPECT_FALSE((*sessions)[2].transcoding);  // bob direct-plays
  EXPECT_FALSE((*sessions)[3].playing());    // idle app
}

TEST(Models, SessionsErrorsNameThePath) {
  auto bad = parse_sessions(R"([{"Id":"a"},{"Id":"b","TranscodingInfo":{"Width":"1920"}}])", "GET /Sessions");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "GET /Sessions: [1].TranscodingInfo.Width: expected a number, got a string");
  // 10.9 wrote TranscodeReasons as one comma-separated string.
  auto old = parse_sessions(
      R"([{"Id":"a","TranscodingInfo":{"TranscodeReasons":"VideoCodecNotSupported, AudioCodecNotSupported"}}])",
      "GET /Sessions");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->front().transcoding->transcode_reasons.size(), 2u);
}

TEST(Models, ScheduledTasks) {
  auto tasks =
      parse_scheduled_tasks(FakeJellyfin::fixture("scheduled-tasks.json").dump(), "GET /ScheduledTasks");
  ASSERT_TRUE(tasks.ok()) << tasks.error().message;
  ASSERT_EQ(tasks->size(), 4u);
  EXPECT_EQ((*tasks)[0].key, "RefreshTrickplayImages");
  EXPECT_EQ((*tasks)[0].state, "Running");
  EXPECT_FALSE(parse_scheduled_tasks(R"([{"Name":"x"}])", "GET /ScheduledTasks").ok());  // no Id
}

}  // namespace
}  // namespace guardian::jellyfin
