#include "common/helper_wire.h"

#include <gtest/gtest.h>

namespace guardian::helper_wire {
namespace {

// The head of a Jellyfin 10.9 HLS transcode as guardian-helper's exec probe copies it (argv, 255
// bytes at most): the input path holds spaces, which the wire format escapes.
ProcessExec jellyfin_exec() {
  ProcessExec m;
  m.ts_ns = 1536660098012;
  m.pid = 29122;
  m.ppid = 28688;
  m.uid = 1000;
  m.cgroup = "/user.slice/user-1000.slice/user@1000.service/container.slice/jellyfin.service";
  m.cgroup_id = 4711;
  m.comm = "ffmpeg";
  m.argv = {"/usr/lib/jellyfin-ffmpeg/ffmpeg",
            "-analyzeduration",
            "200M",
            "-probesize",
            "1G",
            "-f",
            "matroska",
            "-i",
            "file:/media/movies/Big Buck Bunny (2008)/Big Buck Bunny.mkv",
            "-map_metadata",
            "-1",
            "-map",
            "0:0",
            "-codec:v:0",
            "libx264"};
  m.argv_truncated = true;
  return m;
}

TEST(HelperWireEscape, PrintableBytesStayOthersBecomeHex) {
  EXPECT_EQ(escape_value("plain-value_1.2/x=y"), "plain-value_1.2/x=y");
  EXPECT_EQ(escape_value("a b\nc\\d"), "a\\x20b\\x0ac\\x5cd");
  EXPECT_EQ(escape_value(std::string("\0\xff", 2)), "\\x00\\xff");
  for (std::string raw : {std::string(""), std::string("a b"), std::string("\x01\x7f\x80 \\x20", 8)}) {
    auto back = unescape_value(escape_value(raw));
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, raw);
  }
}

TEST(HelperWireEscape, BadEscapesAreErrorsNamingTheByte) {
  auto truncated = unescape_value("abc\\x2");
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.error().message.find("byte 3"), std::string::npos) << truncated.error().message;
  EXPECT_FALSE(unescape_value("\\x4G").ok());
  EXPECT_FALSE(unescape_value("\\X41").ok());
  EXPECT_FALSE(unescape_value("\\x4A").ok()) << "uppercase hex is not the canonical form";
}

TEST(HelperWire, EveryServerMessageRoundTrips) {
  const ServerMessage messages[] = {
      Hello{1,
            1000,
            "/user.slice",
            "/user.slice/user-1000.slice/user@1000.service",
            {"exec", "oom-kill", "oomd-kill"},
            true,
            true},
      jellyfin_exec(),
      ProcessExit{1537037191083, 29122, 1000, "/user.slice/user-1000.slice/user@1000.service/app.slice", 120,
                  "ffmpeg", 9, 377093071},
      KernelOomKill{10, 900, 899, 1000, "/user.slice/user-1000.slice/user@1000.service/app.slice/hog.scope",
                    77, "/user.slice/user-1000.slice/user@1000.service/app.slice", 76, "stress-ng-vm", 200},
      OomdKill{11, 1234, 1234, 1000, 612,
               "/user.slice/user-1000.slice/user@1000.service/container.slice/jellyfin.service", 4711,
               "python3", 0},
      PressureFired{12, 3, "/user.slice/user-1000.slice/user@1000.service"},
      WatchEnded{3, "the cgroup went away"},
      PrekillNotice{7, 13, "/user.slice/user-1000.slice/user@1000.service/container.slice/jellyfin.service",
                    20000},
      Lost{42},
      Reply{5, true, "", 3u},
      Reply{6, false,
            "cgroup '/system.slice' is not at or under /user.slice/user-1000.slice/user@1000.service",
            std::nullopt},
  };
  for (const auto& message : messages) {
    const std::string line = encode(message);
    ASSERT_EQ(line.back(), '\n');
    ASSERT_EQ(line.find('\n'), line.size() - 1) << line;
    auto decoded = decode_server_message(std::string_view(line).substr(0, line.size() - 1));
    ASSERT_TRUE(decoded.ok()) << decoded.error().message << " in " << line;
    EXPECT_EQ(decoded->index(), message.index()) << line;
    EXPECT_EQ(encode(*decoded), line);
  }
}

// guardian's loop decodes with one ServerDecoder for the whole connection, refilling the
// messages it keeps: nothing of a line may linger into the next of its type — a shorter argv, a
// reply without a watch after one with, an ok after an error's message, an oom-kill without the
// memcg an older kernel does not give, a greeting with no probes.
TEST(HelperWire, AKeptDecoderDecodesEachLineAsAFreshOne) {
  ProcessExec short_exec = jellyfin_exec();
  short_exec.argv = {"/usr/bin/ffprobe", "-i"};
  short_exec.argv_truncated = false;
  short_exec.comm = "ffprobe";
  const std::string lines[] = {
      "hello version=1 uid=1000 scope=/user.slice owner=/user.slice/user-1000.slice/user@1000.service "
      "probes=exec,oom-kill,oomd-kill pressure=1 prekill=1",
      "hello version=1 uid=1000 scope=/user.slice owner=/u probes= pressure=0 prekill=0",
      encode(ServerMessage(jellyfin_exec())),
      encode(ServerMessage(short_exec)),
      encode(ServerMessage(jellyfin_exec())),
      "exec ts=1 pid=2 ppid=3 uid=4 cgroup=/a cgroup_id=5 comm=x",
      "error request=4 watch=9 message=no\\x20such\\x20cgroup",
      "ok request=5",
      "oom-kill ts=10 pid=900 tgid=899 uid=1000 cgroup=/user.slice/a memcg=/user.slice memcg_id=76 "
      "cgroup_id=77 "
      "comm=stress-ng-vm oom_score_adj=200",
      "oom-kill ts=10 pid=900 tgid=899 uid=1000 cgroup=/b cgroup_id=77 comm=stress-ng-vm oom_score_adj=200",
      "exec ts=1 pid=oops",  // an error between: the next line still decodes whole
      encode(ServerMessage(short_exec)),
      "watch-ended watch=3 reason=gone",
      "watch-ended watch=4",
  };
  ServerDecoder kept;
  for (std::string line : lines) {
    if (!line.empty() && line.back() == '\n') line.pop_back();
    auto fresh = decode_server_message(line);
    auto reused = kept.decode(line);
    ASSERT_EQ(fresh.ok(), reused.ok()) << line;
    if (!fresh.ok()) {
      EXPECT_EQ(fresh.error().message, reused.error().message);
      continue;
    }
    EXPECT_EQ((*reused)->index(), fresh->index()) << line;
    EXPECT_EQ(encode(**reused), encode(*fresh)) << line;
  }
}

TEST(HelperWire, ExecKeepsArgvOrderAndSpaces) {
  const std::string line = encode(ServerMessage(jellyfin_exec()));
  EXPECT_NE(line.find("arg=file:/media/movies/Big\\x20Buck\\x20Bunny\\x20(2008)/"), std::string::npos)
      << line;
  auto decoded = decode_server_message(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(decoded.ok());
  const auto& exec = std::get<ProcessExec>(*decoded);
  EXPECT_EQ(exec.argv, jellyfin_exec().argv);
  EXPECT_TRUE(exec.argv_truncated);
  EXPECT_EQ(exec.cgroup, jellyfin_exec().cgroup);
}

TEST(HelperWire, ReadersIgnoreUnknownFieldsAndReportUnknownTypes) {
  auto newer = decode_server_message("lost count=3 since_ts=99");
  ASSERT_TRUE(newer.ok()) << newer.error().message;
  EXPECT_EQ(std::get<Lost>(*newer).count, 3u);
  auto unknown = decode_server_message("reclaim-stall cgroup=/user.slice ns=100");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(std::get<Unknown>(*unknown).type, "reclaim-stall");
}

TEST(HelperWire, ErrorsNameTheMessageAndTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {"exec ts=1 pid=2 ppid=3 uid=4 cgroup=/a cgroup_id=5", "'exec': field 'comm' missing"},
      {"exec ts=1 pid=-2 ppid=3 uid=4 cgroup=/a cgroup_id=5 comm=x",
       "'exec': field 'pid' not an unsigned number"},
      {"exit ts=1 pid=2 uid=4 cgroup=/a cgroup_id=5 comm=x status=1x runtime_ns=1",
       "field 'status' not a signed"},
      {"lost count=99999999999999999999", "field 'count' not an unsigned number in range"},
      {"hello version=1 uid=0 scope=/ owner= pressure=yes", "field 'pressure' expected 0 or 1"},
      {"lost count", "bad field at byte 5"},
      {"Lost count=1", "bad message type"},
      {"", "bad message type"},
      {"lost  count=1", "bad field at byte 5"},
      {"lost count=1\\", "truncated escape"},
  };
  for (const auto& [line, expected] : cases) {
    auto decoded = decode_server_message(line);
    ASSERT_FALSE(decoded.ok()) << line;
    EXPECT_NE(decoded.error().message.find(expected), std::string::npos)
        << line << " -> " << decoded.error().message;
  }
}

TEST(HelperWire, ClientRequestsRoundTripAndAreChecked) {
  const ClientRequest requests[] = {
      WatchPressure{1, "/user.slice/user-1000.slice/user@1000.service", false, 50000, 500000},
      WatchPressure{2, "/user.slice/user-1000.slice/user@1000.service/container.slice", true, 150000,
                    2000000},
      UnwatchPressure{3, 1},
      PrekillDone{7},
  };
  for (const auto& request : requests) {
    const std::string line = encode(request);
    auto decoded = decode_client_request(std::string_view(line).substr(0, line.size() - 1));
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(encode(*decoded), line);
  }
  auto bad_kind =
      decode_client_request("watch-pressure request=1 cgroup=/x kind=most stall_us=1 window_us=2");
  ASSERT_FALSE(bad_kind.ok());
  EXPECT_NE(bad_kind.error().message.find("kind"), std::string::npos);
  EXPECT_FALSE(decode_client_request("exec ts=1").ok()) << "a server message is not a request";
  EXPECT_FALSE(decode_client_request("prekill-done").ok());
}

TEST(HelperWire, LinesOverTheLimitAreRefused) {
  std::string long_line = "lost count=1 pad=" + std::string(kMaxLineBytes, 'x');
  EXPECT_FALSE(parse_line(long_line).ok());
  // An exec with a full argv head stays far below the limit, even with every byte escaped.
  ProcessExec worst = jellyfin_exec();
  worst.argv.assign(1, std::string(255, '\x01'));
  EXPECT_LT(encode(ServerMessage(worst)).size(), kMaxLineBytes);
}

TEST(LineFramer, SplitsAcrossFeedsAndSkipsOverlongLines) {
  LineFramer framer;
  framer.feed("hello version=1 uid=0");
  EXPECT_FALSE(framer.next());
  framer.feed(" scope=/ owner=\nlost count=1\nlo");
  auto first = framer.next();
  ASSERT_TRUE(first && first->ok());
  EXPECT_EQ(first->value(), "hello version=1 uid=0 scope=/ owner=");
  auto second = framer.next();
  ASSERT_TRUE(second && second->ok());
  EXPECT_EQ(second->value(), "lost count=1");
  EXPECT_FALSE(framer.next());

  // A writer that never sends a newline costs at most kMaxLineBytes of buffer.
  framer.feed(std::string(kMaxLineBytes + 10, 'x'));
  auto overlong = framer.next();
  ASSERT_TRUE(overlong);
  EXPECT_FALSE(overlong->ok());
  EXPECT_LE(framer.buffered(), kMaxLineBytes);
  framer.feed(std::string(3 * kMaxLineBytes, 'y'));
  EXPECT_FALSE(framer.next()) << "the rest of the same overlong line is skipped silently";
  EXPECT_EQ(framer.buffered(), 0u);
  framer.feed("zzz\nlost count=2\n");
  auto after = framer.next();
  ASSERT_TRUE(after && after->ok()) << "the reader is back in step after the overlong line ends";
  EXPECT_EQ(after->value(), "lost count=2");
}

}  // namespace
}  // namespace guardian::helper_wire
