#include "sense/helper_client.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

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
  auto none = client->read_available();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  const std::string hello =
      "hello version=1 uid=1000 scope=/user.slice owner=/user.slice/user-1000.slice/user@1000.service "
      "probes=exec,oom-kill,oomd-kill pressure=1 prekill=1\n";
  const std::string exec =
      "exec ts=1536660098012 pid=29122 ppid=28688 uid=1000 "
      "cgroup=/user.slice/user-1000.slice/user@1000.service/container.slice/jellyfin.service cgroup_id=4711 "
      "comm=ffmpeg arg=/usr/lib/jellyfin-ffmpeg/ffmpeg arg=-i arg=file:/media/a\\x20b.mkv\n";
  write_all(server.get(), hello + exec.substr(0, 40));
  wait_readable(*client);
  auto first = client->read_available();
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->size(), 1u);
  ASSERT_TRUE(client->hello());
  EXPECT_EQ(client->hello()->owner, "/user.slice/user-1000.slice/user@1000.service");
  EXPECT_EQ(client->hello()->probes, (std::vector<std::string>{"exec", "oom-kill", "oomd-kill"}));

  write_all(server.get(), exec.substr(40));
  wait_readable(*client);
  auto second = client->read_available();
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 1u);
  const auto& started = std::get<helper_wire::ProcessExec>((*second)[0]);
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
  auto messages = client->read_available();
  ASSERT_TRUE(messages.ok());
  ASSERT_EQ(messages->size(), 1u) << "the unknown type is skipped, the malformed exec reported";
  EXPECT_EQ(std::get<helper_wire::Lost>((*messages)[0]).count, 7u);
  auto problems = client->take_problems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("'exec'"), std::string::npos) << problems[0];
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
  auto last = client->read_available();
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->size(), 1u);
  auto gone = client->read_available();
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.error().message.find("closed"), std::string::npos);
}

}  // namespace
}  // namespace guardian
