#include "jellyfin/doctor.h"

#include <gtest/gtest.h>

#include "support/fake_jellyfin.h"

namespace guardian::jellyfin {
namespace {

const DoctorFinding* find(const std::vector<DoctorFinding>& findings, const std::string& id) {
  for (const auto& f : findings) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

// tests/fixtures/jellyfin/vaapi-probe-intel-uhd630.json: the shape `guardian probe vaapi --json`
// prints, filled with the profiles and entrypoints `vainfo` lists for an Intel UHD 630 (iHD driver
// 23.1, libva 1.17). These machines have no /dev/dri, so the success path is tested with it.
std::string intel_probe() {
  auto text = read_file(std::string(GUARDIAN_FIXTURES_DIR) + "/jellyfin/vaapi-probe-intel-uhd630.json");
  EXPECT_TRUE(text.ok());
  return text.ok() ? *text : "";
}

TEST(VaapiProbeRecord, ParsesAndDerivesCodecs) {
  auto probe = parse_probe_result(intel_probe());
  ASSERT_TRUE(probe.ok()) << probe.error().message;
  EXPECT_TRUE(probe->available());
  EXPECT_EQ(probe->hardware_decoding_codecs,
            (std::vector<std::string>{"h264", "hevc", "mpeg2video", "vc1", "vp8", "vp9"}));
  EXPECT_EQ(probe->hardware_encoding_codecs, (std::vector<std::string>{"h264", "hevc"}));
  // Round trip through the JSON the probe prints.
  auto again = parse_probe_result(probe_result_to_json(*probe).dump());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->hardware_decoding_codecs, probe->hardware_decoding_codecs);
  EXPECT_FALSE(parse_probe_result(R"({"render_node": 3})").ok());
}

TEST(Doctor, IncidentMachineVaapiConfiguredButHalfUsed) {
  auto probe = parse_probe_result(intel_probe());
  auto options =
      parse_encoding_options(testing::FakeJellyfin::fixture("encoding-10.11.json").dump(), "fixture");
  ASSERT_TRUE(probe.ok() && options.ok());
  TranscodeView view;
  view.software_count = 2;
  view.software_pss_bytes = 2500ull << 20;
  auto findings = vaapi_findings(*probe, *options, &view);
  ASSERT_TRUE(find(findings, "vaapi.render-node"));
  EXPECT_EQ(find(findings, "vaapi.render-node")->verdict, DoctorFinding::Verdict::Ok);
  ASSERT_TRUE(find(findings, "jellyfin.hw-encoding"));
  EXPECT_EQ(find(findings, "jellyfin.hw-encoding")->verdict, DoctorFinding::Verdict::Warning);
  const auto* codecs = find(findings, "jellyfin.decoding-codecs");
  ASSERT_TRUE(codecs);
  EXPECT_EQ(codecs->title,
            "the GPU decodes hevc, mpeg2video, vc1, vp8, vp9 but Jellyfin decodes them in software");
  const auto* used = find(findings, "jellyfin.vaapi-used");
  ASSERT_TRUE(used);
  EXPECT_EQ(used->verdict, DoctorFinding::Verdict::Warning);
  EXPECT_NE(used->title.find("2 software transcode(s) hold 2.44 GiB"), std::string::npos) << used->title;
}

TEST(Doctor, RealProbeOnThisMachineSaysWhyNot) {
  // This machine has no /dev/dri: the real probe's error path.
  VaapiProbeResult probe = probe_vaapi(HostRoot(), "/dev/dri/renderD128");
  EXPECT_FALSE(probe.available());
  EXPECT_FALSE(probe.node_exists);
  ASSERT_FALSE(probe.errors.empty());
  EXPECT_NE(probe.errors.front().find("/dev/dri/renderD128: No such file or directory"), std::string::npos);
  auto options =
      parse_encoding_options(testing::FakeJellyfin::fixture("encoding-10.11.json").dump(), "fixture");
  auto findings = vaapi_findings(probe, *options, nullptr);
  ASSERT_TRUE(find(findings, "vaapi.render-node"));
  EXPECT_EQ(find(findings, "vaapi.render-node")->verdict, DoctorFinding::Verdict::Problem);
  ASSERT_TRUE(find(findings, "jellyfin.hwaccel-type"));
  EXPECT_EQ(find(findings, "jellyfin.hwaccel-type")->title,
            "Jellyfin is set to VA-API but VA-API does not work on this machine");
}

TEST(Doctor, RealProbeOnANodeThatIsNotAGpu) {
  // /dev/null is a character device that opens: libva then fails for real on it.
  VaapiProbeResult probe = probe_vaapi(HostRoot(), "/dev/null");
  EXPECT_TRUE(probe.node_openable);
  EXPECT_TRUE(probe.libva_loaded);
  EXPECT_FALSE(probe.va_initialized);
  EXPECT_FALSE(probe.available());
  EXPECT_TRUE(probe.ffmpeg_loaded);
  EXPECT_FALSE(probe.errors.empty());
}

TEST(Doctor, ProbeChildRunsTheRealBinary) {
  auto probe = run_probe_child(GUARDIAN_BINARY, "/dev/dri/renderD128", "", std::chrono::seconds(10));
  ASSERT_TRUE(probe.ok()) << probe.error().message;
  EXPECT_FALSE(probe->available());
  EXPECT_TRUE(probe->libva_loaded);
  EXPECT_EQ(probe->ffmpeg_vaapi_encoders, (std::vector<std::string>{"h264_vaapi", "hevc_vaapi"}));
}

}  // namespace
}  // namespace guardian::jellyfin
