#include "sense/cgroup_files.h"

#include <gtest/gtest.h>

#include "sense/fixture_support.h"

namespace guardian {
namespace {

using guardian::testing::fixture;
using guardian::testing::slurp;

const std::string kJellyfin =
    "fedora42-podman/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/user.slice/"
    "libpod-28d81f2e7f99e2f862924d4748a4b71c4fd94e3ec26e0c6da17ce1252992af68.scope";

TEST(ParseCgroupValue, NumbersAndMax) {
  EXPECT_EQ(*parse_cgroup_value("3221225472\n"), std::optional<uint64_t>(3221225472ULL));
  EXPECT_EQ(*parse_cgroup_value("0\n"), std::optional<uint64_t>(0));
  EXPECT_EQ(*parse_cgroup_value("max\n"), std::nullopt);
  EXPECT_EQ(*parse_cgroup_value("max"), std::nullopt);
  for (const char* bad :
       {"", "\n", "maxx\n", "-1\n", "12 \n", " 12\n", "1.5\n", "18446744073709551616\n", "12\n\n"}) {
    auto value = parse_cgroup_value(bad);
    ASSERT_FALSE(value.ok()) << bad;
    EXPECT_NE(value.error().message.find("expected an unsigned integer or \"max\""), std::string::npos);
  }
}

TEST(ParseCgroupValue, FixtureLimitsOfJellyfin) {
  // The jellyfin quadlet's MemoryHigh=3G / MemoryMax=4G (incident report).
  EXPECT_EQ(*parse_cgroup_value(slurp(fixture(kJellyfin + "/memory.high"))),
            std::optional<uint64_t>(3ULL << 30));
  EXPECT_EQ(*parse_cgroup_value(slurp(fixture(kJellyfin + "/memory.max"))),
            std::optional<uint64_t>(4ULL << 30));
}

TEST(ParseMemoryStat, Kernel614Fixture) {
  CgroupMemory memory;
  auto parsed = parse_memory_stat(slurp(fixture(kJellyfin + "/memory.stat")), memory);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  // make_fixtures.py: current = 1100 MB rounded to pages = 1099997184; anon 70 %, file 24 %.
  EXPECT_EQ(memory.anon_bytes, 769994752u);
  EXPECT_EQ(memory.file_bytes, 263995392u);
  EXPECT_EQ(memory.shmem_bytes, 21999616u);
  EXPECT_EQ(memory.pgscan, 1204331u);
  EXPECT_EQ(memory.pgsteal, 1204331u * 83 / 100);
  EXPECT_EQ(memory.workingset_refault_file, 1204331u / 3);
  EXPECT_EQ(memory.workingset_refault_anon, 1204331u / 3 / 40);
}

TEST(ParseMemoryStat, Kernel61FixtureOrder) {
  // Debian 12's 6.1 prints pgscan/pgsteal after pgrefill, without the pgdemote_* lines.
  CgroupMemory memory;
  auto parsed = parse_memory_stat(
      slurp(fixture("debian12/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/memory.stat")),
      memory);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(memory.pgscan, 88120u);
  EXPECT_GT(memory.anon_bytes, 0u);
}

TEST(ParseMemoryStat, Kernel54HasOneRefaultCounter) {
  // Before 5.9 memory.stat had "workingset_refault" (file pages only) and no pgscan split.
  const char* text =
      "anon 1048576\nfile 2097152\nkernel_stack 16384\nslab 65536\nsock 0\nshmem 4096\nfile_mapped 0\n"
      "file_dirty 0\nfile_writeback 0\nanon_thp 0\ninactive_anon 0\nactive_anon 1048576\ninactive_file 0\n"
      "active_file 2097152\nunevictable 0\nslab_reclaimable 0\nslab_unreclaimable 65536\npgfault 10\n"
      "pgmajfault 0\nworkingset_refault 77\nworkingset_activate 3\nworkingset_nodereclaim 0\npgrefill 0\n"
      "pgscan 500\npgsteal 400\npgactivate 0\npgdeactivate 0\npglazyfree 0\npglazyfreed 0\n"
      "thp_fault_alloc 0\nthp_collapse_alloc 0\n";
  CgroupMemory memory;
  ASSERT_TRUE(parse_memory_stat(text, memory).ok());
  EXPECT_EQ(memory.workingset_refault_file, 77u);
  EXPECT_EQ(memory.workingset_refault_anon, 0u);
  EXPECT_EQ(memory.pgscan, 500u);
  EXPECT_EQ(memory.shmem_bytes, 4096u);
}

TEST(ParseMemoryStat, GarbageIsRejectedAndLeavesTheTargetAlone) {
  const std::pair<const char*, const char*> cases[] = {
      {"anon 1\nfile x\n", "line 2: file is \"x\""},
      {"anon 1\n", "no \"file\" line"},
      {"file 1\n", "no \"anon\" line"},
      {"anon 1\nfile 2\nNonsense\n", "line 3: expected \"key value\""},
      {"anon 1\nfile 2\n\npgscan 3\n", "line 3: expected \"key value\""},
      {"anon 1\nfile 2\n pgscan 3\n", "line 3: expected \"key value\""},
      {"anon 1\nfile 2\npgscan \n", "line 3: pgscan is \"\""},
      {"anon 1\nfile 2\npgscan -3\n", "pgscan is \"-3\""},
      {"\x7f\x45\x4c\x46", "line 1"},
  };
  for (const auto& [text, expected] : cases) {
    CgroupMemory memory;
    memory.anon_bytes = 42;
    auto parsed = parse_memory_stat(text, memory);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_NE(parsed.error().message.find(expected), std::string::npos) << parsed.error().message;
    EXPECT_EQ(memory.anon_bytes, 42u) << "a failed parse must not half-update";
  }
}

TEST(ParseMemoryEvents, FixtureAndOlderKernels) {
  CgroupMemory memory;
  ASSERT_TRUE(parse_memory_events(slurp(fixture(kJellyfin + "/memory.events")), memory).ok());
  EXPECT_EQ(memory.events_high, 18342u);
  EXPECT_EQ(memory.events_max, 0u);
  EXPECT_EQ(memory.events_oom_kill, 0u);
  // Without oom_group_kill (older 5.x kernels).
  ASSERT_TRUE(parse_memory_events("low 1\nhigh 2\nmax 3\noom 4\noom_kill 5\n", memory).ok());
  EXPECT_EQ(memory.events_low, 1u);
  EXPECT_EQ(memory.events_high, 2u);
  EXPECT_EQ(memory.events_max, 3u);
  EXPECT_EQ(memory.events_oom, 4u);
  EXPECT_EQ(memory.events_oom_kill, 5u);
  EXPECT_EQ(memory.events_oom_group_kill, 0u);
  ASSERT_TRUE(
      parse_memory_events("low 0\nhigh 0\nmax 0\noom 1\noom_kill 1\noom_group_kill 1\n", memory).ok());
  EXPECT_EQ(memory.events_oom_group_kill, 1u);
}

TEST(ParseMemoryEvents, MissingAndGarbage) {
  CgroupMemory memory;
  auto missing = parse_memory_events("low 0\nhigh 0\nmax 0\n", memory);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "missing oom, oom_kill");
  auto garbage = parse_memory_events("low 0\nhigh lots\nmax 0\noom 0\noom_kill 0\n", memory);
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message.find("line 2: high is \"lots\""), std::string::npos)
      << garbage.error().message;
}

}  // namespace
}  // namespace guardian
