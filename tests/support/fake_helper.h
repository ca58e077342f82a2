// A listening Unix socket where guardian-helper's would be, for tests of guardian's side: the
// test writes the helper's lines with the real encoder (common/helper_wire.h) and reads the
// client's requests. stop() and listen() again are a helper restart.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "common/fd.h"
#include "common/helper_wire.h"

namespace guardian::test {

class FakeHelper {
 public:
  FakeHelper();  // a fresh temporary directory; the socket is not there until listen()
  ~FakeHelper();
  FakeHelper(const FakeHelper&) = delete;
  FakeHelper& operator=(const FakeHelper&) = delete;

  void listen();
  void stop();  // closes the connection and the listener, removes the socket
  // Accepts the next client; false when none came within `timeout`.
  bool accept(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  void send(const helper_wire::ServerMessage& message) { send_raw(helper_wire::encode(message)); }
  void send_raw(const std::string& bytes);
  // The client's next line (without '\n'), "" when none came within 5 s.
  std::string read_line();
  // Bytes sent on the connection that the client has not read yet (SIOCOUTQ: a Unix socket
  // keeps what it sent charged to itself until the peer's recv() takes it).
  [[nodiscard]] std::size_t unread() const;
  [[nodiscard]] const std::string& path() const { return path_; }

  // A greeting as guardian-helper sends it to uid 1000 with every probe loaded.
  static helper_wire::Hello hello_for_user_1000();

 private:
  std::string dir_, path_;
  UniqueFd listener_, connection_;
};

}  // namespace guardian::test
