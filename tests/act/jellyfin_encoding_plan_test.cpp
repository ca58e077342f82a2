// The pure planning of Jellyfin EncodingOptions: which value each field must have, given what
// Jellyfin holds, the saved layers and which of them are in force. Values from the 10.11 fixture
// (tests/support/fake_jellyfin/fixtures/encoding-10.11.json) and the default ladder's actions.
#include "act/jellyfin_encoding_plan.h"

#include <gtest/gtest.h>

namespace guardian {
namespace {

using nlohmann::json;

const char* kElevated = "jellyfin/home/encoding-options/elevated/jellyfin.cheaper-software";
const char* kCritical = "jellyfin/home/encoding-options/critical/jellyfin.cheaper-software";

EncodingLayer layer(const std::string& key, const std::string& level, size_t number, json original,
                    json applied) {
  EncodingLayer out;
  out.key = key;
  out.instance = "home";
  out.level = level;
  out.action = "jellyfin.cheaper-software";
  out.level_number = number;
  out.original = std::move(original);
  out.applied = std::move(applied);
  return out;
}

// The fixture's values for the fields these tests use.
json user_options() {
  return {{"EncoderPreset", "medium"},
          {"EncodingThreadCount", -1},
          {"H264Crf", 23},
          {"EnableThrottling", false},
          {"EncoderAppPath", "/usr/lib/jellyfin-ffmpeg/ffmpeg"}};
}

EncodingPlanInput two_levels(json current) {
  EncodingPlanInput input;
  input.current = std::move(current);
  input.saved = {
      layer(kElevated, "elevated", 1,
            {{"EncoderPreset", "medium"}, {"EncodingThreadCount", -1}, {"EnableThrottling", false}},
            {{"EncoderPreset", "veryfast"}, {"EncodingThreadCount", 2}, {"EnableThrottling", true}}),
      layer(kCritical, "critical", 2,
            {{"EncoderPreset", "medium"}, {"EncodingThreadCount", -1}, {"H264Crf", 23}},
            {{"EncoderPreset", "ultrafast"}, {"EncodingThreadCount", 1}, {"H264Crf", 30}})};
  return input;
}

json at_critical() {
  json current = user_options();
  current["EncoderPreset"] = "ultrafast";
  current["EncodingThreadCount"] = 1;
  current["H264Crf"] = 30;
  current["EnableThrottling"] = true;
  return current;
}

TEST(JellyfinEncodingPlan, LeavingCriticalReturnsEachFieldToElevatedsValueOrItsOriginal) {
  auto input = two_levels(at_critical());
  input.in_force = {{kElevated, {1, 0}}};  // critical was left
  auto plan = plan_encoding(input);
  ASSERT_TRUE(plan.write);
  EXPECT_EQ(plan.next["EncoderPreset"], "veryfast");
  EXPECT_EQ(plan.next["EncodingThreadCount"], 2);
  EXPECT_EQ(plan.next["H264Crf"], 23) << "elevated does not hold it: its original";
  EXPECT_EQ(plan.next["EnableThrottling"], true) << "elevated still holds it";
  EXPECT_EQ(plan.forget, std::vector<std::string>{kCritical});
  EXPECT_EQ(describe_layer_report(plan.reports[kCritical], "restored"),
            "restored EncoderPreset ultrafast -> veryfast (elevated's), EncodingThreadCount 1 -> 2 "
            "(elevated's), H264Crf "
            "30 -> 23");
}

TEST(JellyfinEncodingPlan, WithNoLevelInForceEveryFieldGoesToItsOriginal) {
  auto plan = plan_encoding(two_levels(at_critical()));  // a restart after kill -9 at critical
  auto expected = user_options();
  EXPECT_EQ(plan.next, expected);
  EXPECT_EQ(plan.forget, (std::vector<std::string>{kElevated, kCritical}));
  // Each change is told once, by the entry whose value the field held.
  EXPECT_TRUE(plan.reports[kElevated].changed.size() == 1 &&
              plan.reports[kElevated].changed[0].field == "EnableThrottling");
  EXPECT_EQ(plan.reports[kCritical].changed.size(), 3u);
}

TEST(JellyfinEncodingPlan, AFieldSomeoneElseChangedIsLeftAndNoLevelHoldsItAnyMore) {
  auto current = at_critical();
  current["EncoderPreset"] = "faster";  // the user, in the dashboard
  auto input = two_levels(current);
  input.in_force = {{kElevated, {1, 0}}};
  auto plan = plan_encoding(input);
  EXPECT_EQ(plan.next["EncoderPreset"], "faster");
  ASSERT_EQ(plan.reports[kCritical].kept.size(), 1u);
  EXPECT_EQ(plan.reports[kCritical].kept[0].to, "faster");
  for (const auto& saved : plan.save) EXPECT_FALSE(saved.applied.contains("EncoderPreset")) << saved.key;
  EXPECT_EQ(plan.save.size(), 1u) << "elevated's entry, without the field (critical's is forgotten)";
}

TEST(JellyfinEncodingPlan, WhileAWriteMayStillLandAnUnexplainedValueWaitsAndNothingIsForgotten) {
  auto current = at_critical();
  current["EncoderPreset"] = "faster";
  auto input = two_levels(current);
  input.write_may_land = true;
  auto plan = plan_encoding(input);
  EXPECT_EQ(plan.next["EncoderPreset"], "faster") << "not written";
  EXPECT_EQ(plan.next["H264Crf"], 23) << "the others are restored";
  EXPECT_TRUE(plan.forget.empty());
  EXPECT_TRUE(plan.save.empty());
  EXPECT_EQ(plan.reports[kCritical].waiting, std::vector<std::string>{"EncoderPreset"});
}

TEST(JellyfinEncodingPlan, ANewLayerIsWorkedOutAgainstTheUsersValuesNotALowerLevels) {
  EncodingPlanInput input = two_levels(at_critical());
  input.saved.pop_back();  // only elevated saved; critical applies now
  input.current["EncoderPreset"] = "veryfast";
  input.current["EncodingThreadCount"] = 2;
  input.current["H264Crf"] = 23;
  input.in_force = {{kElevated, {1, 0}}, {kCritical, {2, 0}}};
  NewEncodingLayer critical{kCritical, "home", "critical", "jellyfin.cheaper-software", 2, 0, {}};
  critical.spec.params["preset"] = {std::string("ultrafast"), {}};
  critical.spec.params["threads"] = {int64_t{1}, {}};
  critical.spec.params["h264_crf"] = {int64_t{30}, {}};
  input.new_layers = {critical};
  auto plan = plan_encoding(input);
  ASSERT_EQ(plan.save.size(), 1u);
  const auto& saved = plan.save[0];
  EXPECT_EQ(saved.key, kCritical);
  // The originals are the user's, not elevated's values; throttling is wanted too (the user has
  // it off), so critical holds it as well.
  EXPECT_EQ(saved.original["EncoderPreset"], "medium");
  EXPECT_EQ(saved.original["EncodingThreadCount"], -1);
  EXPECT_EQ(saved.applied["EnableThrottling"], true);
  EXPECT_EQ(plan.next["EncoderPreset"], "ultrafast");
  EXPECT_EQ(plan.next["H264Crf"], 30);
}

TEST(JellyfinEncodingPlan, SavedEntriesAreInputNotOrders) {
  std::vector<std::string> dropped;
  json forged = {
      {"instance", "home"},
      {"url", "http://127.0.0.1:9"},
      {"action", "jellyfin.cheaper-software"},
      {"fields",
       {{"EncoderAppPath", "/tmp/evil"}, {"EncoderPreset", "medium"}, {"H264Crf", 23}, {"H265Crf", "x"}}},
      {"applied", {{"EncoderAppPath", "/usr/lib/jellyfin-ffmpeg/ffmpeg"}, {"H264Crf", 28}, {"H265Crf", 32}}}};
  auto parsed =
      parse_encoding_layer("jellyfin/home/encoding-options/jellyfin.cheaper-software", forged, dropped);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->applied, json({{"H264Crf", 28}}));
  EXPECT_EQ(dropped,
            (std::vector<std::string>{"EncoderAppPath (not a field guardian changes)",
                                      "EncoderPreset (no record of both its original and guardian's value)",
                                      "H265Crf (not a value Jellyfin takes for it)"}));
  auto other_key = parse_encoding_layer("jellyfin/nas/encoding-options/x", forged, dropped);
  EXPECT_FALSE(other_key.ok());
  json crlf = forged;
  crlf["instance"] = "x\r\nX-Injected: yes";
  EXPECT_FALSE(parse_encoding_layer("jellyfin/x\r\nX-Injected: yes/encoding-options/y", crlf, dropped).ok());
  json other_action = forged;
  other_action["action"] = "jellyfin.stop-lowest-priority";
  EXPECT_FALSE(parse_encoding_layer("jellyfin/home/encoding-options/x", other_action, dropped).ok());
}

TEST(JellyfinEncodingPlan, ValuesAreCheckedByField) {
  EXPECT_TRUE(valid_jellyfin_encoding_value("EncoderPreset", "veryfast"));
  EXPECT_TRUE(valid_jellyfin_encoding_value("EncoderPreset", "auto"));
  EXPECT_FALSE(valid_jellyfin_encoding_value("EncoderPreset", "-i /etc/passwd"));
  EXPECT_TRUE(valid_jellyfin_encoding_value("H264Crf", 28));
  EXPECT_FALSE(valid_jellyfin_encoding_value("H264Crf", 99));
  EXPECT_FALSE(valid_jellyfin_encoding_value("H264Crf", 28.5));
  EXPECT_TRUE(valid_jellyfin_encoding_value("HardwareDecodingCodecs", json::array({"h264", "hevc"})));
  EXPECT_FALSE(valid_jellyfin_encoding_value("HardwareDecodingCodecs", json::array({"h264; rm -rf"})));
  EXPECT_TRUE(valid_jellyfin_encoding_value("HardwareAccelerationType", "vaapi"));
  EXPECT_FALSE(valid_jellyfin_encoding_value("HardwareAccelerationType", "custom"));
  EXPECT_FALSE(valid_jellyfin_encoding_value("EncoderAppPath", "/usr/lib/jellyfin-ffmpeg/ffmpeg"));
  EXPECT_TRUE(valid_jellyfin_encoding_value("EnableThrottling", nullptr)) << "absent before guardian";
}

}  // namespace
}  // namespace guardian
