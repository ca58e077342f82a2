#include "jellyfin/transcodes.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "support/fake_jellyfin.h"
#include "support/ffmpeg_jobs.h"

namespace guardian {
namespace {

using namespace std::chrono_literals;

// smaps_rollup as Linux 6.1 prints it for a running ffmpeg (values from this machine's
// /proc/PID/smaps_rollup of a libx264 720p job).
constexpr const char* kSmapsRollup =
    "55d4c5a6e000-7ffd8a3f5000 ---p 00000000 00:00 0                          [rollup]\n"
    "Rss:              187412 kB\n"
    "Pss:              171934 kB\n"
    "Pss_Dirty:        150220 kB\n"
    "Pss_Anon:         149780 kB\n"
    "Pss_File:          22154 kB\n"
    "Pss_Shmem:             0 kB\n"
    "Shared_Clean:      18460 kB\n"
    "Shared_Dirty:          0 kB\n"
    "Private_Clean:     18732 kB\n"
    "Private_Dirty:    150220 kB\n"
    "Referenced:       187412 kB\n"
    "Anonymous:        149780 kB\n"
    "LazyFree:              0 kB\n"
    "AnonHugePages:     30720 kB\n"
    "ShmemPmdMapped:        0 kB\n"
    "FilePmdMapped:         0 kB\n"
    "Shared_Hugetlb:        0 kB\n"
    "Private_Hugetlb:       0 kB\n"
    "Swap:                  0 kB\n"
    "SwapPss:               0 kB\n"
    "Locked:                0 kB\n";

TEST(SmapsRollup, Parses) {
  auto memory = parse_smaps_rollup(kSmapsRollup);
  ASSERT_TRUE(memory.ok()) << memory.error().message;
  EXPECT_EQ(memory->rss_bytes, 187412ull * 1024);
  EXPECT_EQ(memory->pss_bytes, 171934ull * 1024);
  EXPECT_EQ(memory->pss_anon_bytes, 149780ull * 1024);
  EXPECT_FALSE(parse_smaps_rollup("Rss: lots\n").ok());
  EXPECT_FALSE(parse_smaps_rollup("").ok());
}

TEST(CgroupProcs, Parses) {
  auto pids = parse_cgroup_procs("1234\n5678\n");
  ASSERT_TRUE(pids.ok());
  EXPECT_EQ(*pids, (std::vector<int>{1234, 5678}));
  EXPECT_FALSE(parse_cgroup_procs("12x\n").ok());
  EXPECT_FALSE(parse_cgroup_procs("0\n").ok());
}

TEST(ProcStat, StartTimeWithAwkwardComm) {
  // comm may contain spaces and ')'; starttime is field 22.
  auto start = parse_proc_stat_start_time(
      "4242 (ff mpeg) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 10 5 0 0 20 0 3 0 987654 123456789 4567 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n");
  ASSERT_TRUE(start.ok()) << start.error().message;
  EXPECT_EQ(*start, 987654u);
}

const std::string kCgroup =
    "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/jellyfin.service";

TEST(Transcodes, RealFfmpegProcessesAreFoundClassifiedMeasuredAndJoined) {
  testing::FfmpegJobs jobs;
  ASSERT_TRUE(jobs.ok()) << "could not generate the test clip with ffmpeg";
  pid_t software = jobs.start_software_hls();
  pid_t remux = jobs.start_remux_hls();
  pid_t sleeper = jobs.start_sleep();
  ASSERT_GT(software, 0);
  ASSERT_GT(remux, 0);
  std::string root = jobs.make_host_root(kCgroup, {sleeper}, {software, remux});
  // Wait until the libx264 job has written its first segment: by then x264 has allocated its
  // lookahead and frame threads. A fixed sleep was not enough on a loaded 2-core machine (the
  // encoder had not started when the scan measured it).
  const std::string first_segment = jobs.dir() + "/transcodes/5d1b9a1c0.ts";
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       !std::filesystem::exists(first_segment) && std::chrono::steady_clock::now() < deadline;)
    std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(std::filesystem::exists(first_segment)) << "the libx264 HLS job wrote no segment in 60 s";
  auto scan = scan_ffmpeg_processes(HostRoot(root), kCgroup);
  ASSERT_TRUE(scan.ok()) << scan.error().message;
  EXPECT_TRUE(scan->problems.empty()) << scan->problems.front();
  ASSERT_EQ(scan->processes.size(), 2u);  // the sleep is not an ffmpeg

  auto sessions = testing::FakeJellyfin::fixture("sessions-10.11.json");
  auto parsed = jellyfin::parse_sessions(sessions.dump(), "fixture");
  ASSERT_TRUE(parsed.ok());
  (*parsed)[0].now_playing_path = jobs.clip();  // alice plays the generated clip
  TranscodeView view = build_transcode_view(scan->processes, &*parsed);
  ASSERT_EQ(view.transcodes.size(), 2u);
  const Transcode* sw = nullptr;
  const Transcode* copy = nullptr;
  for (const auto& t : view.transcodes) (t.process.pid == software ? sw : copy) = &t;
  ASSERT_TRUE(sw && copy);
  EXPECT_TRUE(sw->process.command.software_playback());
  EXPECT_EQ(sw->process.command.video_encoder, "libx264");
  EXPECT_EQ(sw->process.command.input_path, jobs.clip());
  EXPECT_EQ(copy->process.command.encode, VideoEncode::Copy);
  ASSERT_TRUE(sw->process.memory);
  ASSERT_TRUE(copy->process.memory);
  // A libx264 job holds far more than a remux (frames in flight, lookahead).
  EXPECT_GT(sw->process.memory->rss_bytes, 20ull << 20);
  EXPECT_GT(sw->process.memory->pss_bytes, copy->process.memory->pss_bytes);
  EXPECT_GT(sw->process.start_time_ticks, 0u);
  ASSERT_TRUE(sw->session);
  EXPECT_EQ(sw->session->user_name, "alice");
  EXPECT_EQ(view.software_count, 1u);
  EXPECT_EQ(view.copy_count, 1u);
  EXPECT_EQ(view.software_pss_bytes, sw->process.memory->pss_bytes);
  // The kids' session says it transcodes, but no ffmpeg of ours plays its file.
  EXPECT_EQ(view.sessions_without_process, std::vector<std::string>{"7d6c5b4a39281706f5e4d3c2b1a09f8e"});
  std::printf("measured: libx264 HLS ffmpeg RSS %llu KiB PSS %llu KiB; remux RSS %llu KiB PSS %llu KiB\n",
              static_cast<unsigned long long>(sw->process.memory->rss_bytes >> 10),
              static_cast<unsigned long long>(sw->process.memory->pss_bytes >> 10),
              static_cast<unsigned long long>(copy->process.memory->rss_bytes >> 10),
              static_cast<unsigned long long>(copy->process.memory->pss_bytes >> 10));
}

TEST(Transcodes, MissingCgroupIsAnErrorNamingIt) {
  auto scan = scan_ffmpeg_processes(HostRoot("/nonexistent-root"), kCgroup);
  ASSERT_FALSE(scan.ok());
  EXPECT_NE(scan.error().message.find("jellyfin.service/cgroup.procs"), std::string::npos);
}

}  // namespace
}  // namespace guardian
