#include "support/fake_helper.h"

#include <gtest/gtest.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace guardian::test {

FakeHelper::FakeHelper() {
  char dir_template[] = "/tmp/guardian-fake-helper-XXXXXX";
  const char* dir = ::mkdtemp(dir_template);
  EXPECT_NE(dir, nullptr) << std::strerror(errno);
  dir_ = dir ? dir : "/tmp";
  path_ = dir_ + "/helper.sock";
}

FakeHelper::~FakeHelper() {
  stop();
  ::rmdir(dir_.c_str());
}

void FakeHelper::listen() {
  listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strcpy(address.sun_path, path_.c_str());
  ASSERT_EQ(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
      << path_ << ": " << std::strerror(errno);
  ASSERT_EQ(::listen(listener_.get(), 4), 0);
}

void FakeHelper::stop() {
  connection_ = UniqueFd();
  listener_ = UniqueFd();
  ::unlink(path_.c_str());
}

bool FakeHelper::accept(std::chrono::milliseconds timeout) {
  pollfd entry{listener_.get(), POLLIN, 0};
  if (::poll(&entry, 1, static_cast<int>(timeout.count())) != 1) return false;
  connection_.reset(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  return static_cast<bool>(connection_);
}

void FakeHelper::send_raw(const std::string& bytes) {
  ASSERT_EQ(::send(connection_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(bytes.size()));
}

std::string FakeHelper::read_line() {
  std::string line;
  pollfd entry{connection_.get(), POLLIN, 0};
  if (::poll(&entry, 1, 5000) != 1) return line;
  char c = 0;
  while (::recv(connection_.get(), &c, 1, 0) == 1 && c != '\n') line += c;
  return line;
}

std::size_t FakeHelper::unread() const {
  int queued = 0;
  if (::ioctl(connection_.get(), SIOCOUTQ, &queued) != 0) return 0;
  return static_cast<std::size_t>(queued);
}

helper_wire::Hello FakeHelper::hello_for_user_1000() {
  helper_wire::Hello hello;
  hello.uid = 1000;
  hello.scope = "/user.slice";
  hello.owner = "/user.slice/user-1000.slice/user@1000.service";
  hello.probes = {"exec", "oom-kill", "oomd-kill"};
  hello.pressure = true;
  hello.prekill = true;
  return hello;
}

}  // namespace guardian::test
