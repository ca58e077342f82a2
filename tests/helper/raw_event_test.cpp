#include "helper/raw_event.h"

#include <gtest/gtest.h>

#include <cstring>

namespace guardian::helper {
namespace {

exec_event exec_with_args(std::string_view args) {
  exec_event e{};
  e.kind = GUARDIAN_EVENT_EXEC;
  std::memcpy(e.args, args.data(), args.size());
  e.args_len = static_cast<__u32>(args.size());
  return e;
}

TEST(RawEvent, DecodesEachKindAtItsExactSize) {
  oomd_kill_event kill{};
  kill.kind = GUARDIAN_EVENT_OOMD_KILL;
  kill.tgid = 4242;
  std::memcpy(kill.sender_comm, "systemd-oomd", 13);
  auto decoded = decode_raw_event(&kill, sizeof(kill));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(std::get<oomd_kill_event>(*decoded).tgid, 4242u);

  auto short_record = decode_raw_event(&kill, sizeof(kill) - 8);
  ASSERT_FALSE(short_record.ok());
  EXPECT_NE(short_record.error().message.find("oomd-kill record of"), std::string::npos);
  __u32 bogus = 99;
  EXPECT_FALSE(decode_raw_event(&bogus, sizeof(bogus)).ok());
  EXPECT_FALSE(decode_raw_event(&bogus, 2).ok());
}

TEST(RawEvent, SplitsArgvAndSaysWhenTheHeadWasCut) {
  bool truncated = false;
  const std::string argv("ffmpeg\0-i\0file:/media/a b.mkv\0", 30);
  auto args = split_args(exec_with_args(argv), truncated);
  EXPECT_EQ(args, (std::vector<std::string>{"ffmpeg", "-i", "file:/media/a b.mkv"}));
  EXPECT_FALSE(truncated);

  // The probe copies 255 bytes at most: a command line cut inside an argument.
  std::string full(255, 'x');
  std::memcpy(full.data(), "ffmpeg\0-i\0", 10);
  args = split_args(exec_with_args(full), truncated);
  ASSERT_EQ(args.size(), 3u);
  EXPECT_EQ(args[2].size(), 245u);
  EXPECT_TRUE(truncated);

  exec_event lying = exec_with_args("ffmpeg");
  lying.args_len = 100000;  // never trusted past the array
  args = split_args(lying, truncated);
  EXPECT_EQ(args[0], "ffmpeg");
}

TEST(RawEvent, CommStopsAtTheFirstNulOrTheArrayEnd) {
  const char comm[16] = {'f', 'f', 'p', 'r', 'o', 'b', 'e', 0, 'x'};
  EXPECT_EQ(c_string(comm, sizeof(comm)), "ffprobe");
  const char full[16] = {'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'};
  EXPECT_EQ(c_string(full, sizeof(full)), std::string(16, 'a'));
}

}  // namespace
}  // namespace guardian::helper
