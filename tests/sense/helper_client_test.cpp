#include "sense/helper_client.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/fd.h"
#include "support/scratch_dir.h"

namespace guardian {
namespace {

// A listening Unix socket in a temporary directory, standing where guardian-helper's would be;
// the test writes the helper's side of the protocol by hand.
class FakeHelperSocket {
 public:
  FakeHelperSocket() {
    listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, path_.c_str());
    EXPECT_EQ(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(listener_.get(), 4), 0);
  }
  UniqueFd accept() { return UniqueFd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC)); }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  test::ScratchDir dir_{"helper-client"};
  std::string path_ = dir_ / "helper.sock";
  UniqueFd listener_;
};

void write_all(int fd, std::string_view bytes) {
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}

// Waits until the client's fd is readable, as the daemon's epoll would.
void wait_readable(const HelperClient& client) {
  pollfd entry{client.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&entry, 1, 5000), 1);
}

// What one read_available() call hands over, copied out (the client's own copies are refilled by
// the next line).
struct Read {
  Result<HelperClient::ReadState> state = HelperClient::ReadState::Drained;
  std::vector<helper_wire::ServerMessage> messages;
};
Read read_once(HelperClient& client) {
  Read read;
  read.state = client.read_available(
      [&](const helper_wire::ServerMessage& message) { read.messages.push_back(message); });
  return read;
}

std::string read_line(int fd) {
  std::string line;
  char c = 0;
  while (::recv(fd, &c, 1, 0) == 1 && c != '\n') line += c;
  return line;
}

TEST(HelperClient, NoSocketMeansNoHelperNamingThePath) {
  auto client = HelperClient::connect("/tmp/guardian-no-such-dir/helper.sock");
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.error().message.find("/tmp/guardian-no-such-dir/helper.sock"), std::string::npos);
}

TEST(HelperClient, ReadsMessagesSplitAnywhereAndKeepsTheHello) {
  FakeHelperSocket helper;
  auto client = HelperClient::connect(helper.path());
  ASSERT_TRUE(client.ok()) << client.error().message;
  UniqueFd server = helper.accept();
  ASSERT_TRUE(server);

  // Nothing sent yet: a non-blocking read returns nothing and no error.
  auto none = read_once(*client);
  ASSERT_TRUE(none.state.ok());
  EXPECT_TRUE(none.messages.empty());

  const std::string hello =
      "hello version=1 uid=1000 scope=/user.slice owner=/user.slice/user-1000.slice/user@1000.service "
      "probes=exec,oom-kill,oomd-kill pressure=1 prekill=1\n";
  const std::string exec =
      "exec ts=1536660098012 pid=29122 ppid=28688 uid=1000 "
      "cgroup=/user.slice/user-1000.slice/user@1000.service/container.slice/jellyfin.service cgroup_id=4711 "
      "comm=ffmpeg arg=/usr/lib/jellyfin-ffmpeg/ffmpeg arg=-i arg=file:/media/a\\x20b.mkv\n";
  write_all(server.get(), hello + exec.substr(0, 40));
  wait_readable(*client);
  auto first = read_once(*client);
  ASSERT_TRUE(first.state.ok()) << first.state.error().message;
  ASSERT_EQ(first.messages.size(), 1u);
  ASSERT_TRUE(client->hello());
  EXPECT_EQ(client->hello()->owner, "/user.slice/user-1000.slice/user@1000.service");
  EXPECT_EQ(client->hello()->probes, (std::vector<std::string>{"exec", "oom-kill", "oomd-kill"}));

  write_all(server.get(), exec.substr(40));
  wait_readable(*client);
  auto second = read_once(*client);
  ASSERT_TRUE(second.state.ok());
  ASSERT_EQ(second.messages.size(), 1u);
  const auto& started = std::get<helper_wire::ProcessExec>(second.messages[0]);
  EXPECT_EQ(started.pid, 29122u);
  EXPECT_EQ(started.argv.back(), "file:/media/a b.mkv");
}

TEST(HelperClient, MalformedAndUnknownLinesAreSkippedNotFatal) {
  FakeHelperSocket helper;
  auto client = HelperClient::connect(helper.path());
  ASSERT_TRUE(client.ok());
  UniqueFd server = helper.accept();
  write_all(server.get(),
            "exec pid=oops\n"
            "reclaim-stall cgroup=/user.slice ns=5\n"
            "lost count=7\n");
  wait_readable(*client);
  auto read = read_once(*client);
  ASSERT_TRUE(read.state.ok());
  ASSERT_EQ(read.messages.size(), 1u) << "the unknown type is skipped, the malformed exec reported";
  EXPECT_EQ(std::get<helper_wire::Lost>(read.messages[0]).count, 7u);
  auto problems = client->take_problems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("'exec'"), std::string::npos) << problems[0];
  EXPECT_TRUE(client->take_problems().empty());
}

// systemd-oomd kills a cgroup process by process, so a kill of a big one arrives as a burst of
// oomd-kill lines. Past the share one call takes, the rest stays in the socket, which stays
// readable (the loop's level-triggered epoll comes back to it), and the next calls take it: every
// line arrives once, in order, even the one the share's edge cut in two.
TEST(HelperClient, ABurstPastOneCallsShareIsReadByTheNextCallsNoneDropped) {
  FakeHelperSocket helper;
  auto client = HelperClient::connect(helper.path());
  ASSERT_TRUE(client.ok());
  UniqueFd server = helper.accept();
  client->limit_read_per_call(helper_wire::kMaxLineBytes);
  constexpr uint32_t kProcesses = 100;
  std::string burst;
  for (uint32_t pid = 1; pid <= kProcesses; ++pid) {
    helper_wire::OomdKill kill;
    kill.ts_ns = 1536660098012 + pid;
    kill.pid = kill.tgid = 30000 + pid;
    kill.uid = 1000;
    kill.sender_pid = 712;
    kill.cgroup = "/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Builder.scope";
    kill.cgroup_id = 4711;
    kill.comm = "cc1plus";
    burst += helper_wire::encode(kill);
  }
  ASSERT_GT(burst.size(), 4 * helper_wire::kMaxLineBytes);
  write_all(server.get(), burst);
  wait_readable(*client);

  auto first = read_once(*client);
  ASSERT_TRUE(first.state.ok());
  EXPECT_EQ(*first.state, HelperClient::ReadState::More);
  EXPECT_GT(first.messages.size(), 0u);
  EXPECT_LT(first.messages.size(), kProcesses);
  pollfd entry{client->fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&entry, 1, 0), 1) << "the rest is still in the socket, so it stays readable";

  std::vector<helper_wire::ServerMessage> all = first.messages;
  for (int call = 0; call < 100; ++call) {
    auto next = read_once(*client);
    ASSERT_TRUE(next.state.ok());
    all.insert(all.end(), next.messages.begin(), next.messages.end());
    if (*next.state == HelperClient::ReadState::Drained) break;
  }
  ASSERT_EQ(all.size(), kProcesses);
  for (uint32_t i = 0; i < kProcesses; ++i) EXPECT_EQ(std::get<helper_wire::OomdKill>(all[i]).pid, 30001 + i);
  EXPECT_TRUE(client->take_problems().empty());
}

TEST(HelperClient, SendsRequestsWithFreshIds) {
  FakeHelperSocket helper;
  auto client = HelperClient::connect(helper.path());
  ASSERT_TRUE(client.ok());
  UniqueFd server = helper.accept();
  const uint64_t first = client->send(
      helper_wire::WatchPressure{0, "/user.slice/user-1000.slice/user@1000.service", false, 50000, 500000});
  const uint64_t second = client->send(helper_wire::UnwatchPressure{0, 1});
  EXPECT_EQ(client->send(helper_wire::PrekillDone{9}), 0u)
      << "prekill-done carries the notice's id, not a request id";
  EXPECT_NE(first, 0u);
  EXPECT_NE(first, second);
  EXPECT_FALSE(client->wants_write());
  EXPECT_EQ(read_line(server.get()), "watch-pressure request=" + std::to_string(first) +
                                         " cgroup=/user.slice/user-1000.slice/user@1000.service kind=some "
                                         "stall_us=50000 window_us=500000");
  EXPECT_EQ(read_line(server.get()), "unwatch-pressure request=" + std::to_string(second) + " watch=1");
  EXPECT_EQ(read_line(server.get()), "prekill-done id=9");
}

TEST(HelperClient, AClosedConnectionIsReportedAfterTheLastMessages) {
  FakeHelperSocket helper;
  auto client = HelperClient::connect(helper.path());
  ASSERT_TRUE(client.ok());
  {
    UniqueFd server = helper.accept();
    write_all(server.get(), "lost count=1\n");
  }  // the helper goes away
  wait_readable(*client);
  auto last = read_once(*client);
  ASSERT_TRUE(last.state.ok());
  EXPECT_EQ(last.messages.size(), 1u);
  auto gone = read_once(*client);
  ASSERT_FALSE(gone.state.ok());
  EXPECT_NE(gone.state.error().message.find("closed"), std::string::npos);
}

}  // namespace
}  // namespace guardian
