// The daemon's messages to systemd (READY=1, STATUS=, WATCHDOG=1, STOPPING=1) over one datagram
// socket connected to $NOTIFY_SOCKET once, at start, and kept: sd_notify() makes, connects and
// closes a new socket on every call, and WATCHDOG=1 goes out every tick — a new socket is a
// struct file and a socket charged to guardian's cgroup, exactly what a tick must not do when the
// user's memory runs short (issue 10). Path and abstract ("@name") addresses are kept; any other
// (vsock:, no socket) go through sd_notify() as before; a send that fails because systemd made its
// socket anew connects the kept socket again (no new socket), and only if that fails too does the
// message go through sd_notify().
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <string>
#include <string_view>

#include "common/fd.h"

namespace guardian {

class SystemdNotifier {
 public:
  // Reads $NOTIFY_SOCKET now and connects to it; without one (not started by systemd) every
  // notify() is a no-op in sd_notify() too.
  SystemdNotifier();
  // To a given address ("/run/…/notify" or "@abstract"), for tests.
  explicit SystemdNotifier(std::string_view address);

  // Sends `message` ("WATCHDOG=1", "READY=1\nSTATUS=…") on the kept socket; when that fails it
  // connects the kept socket again and resends, and only then goes through sd_notify() — except
  // when systemd's queue is full, where the message is dropped (counted) rather than waiting.
  // Never blocks (the socket is non-blocking).
  void notify(std::string_view message);

  // Whether a socket is kept (false: no address, an address kind it does not keep, connect failed).
  [[nodiscard]] bool connected() const { return fd_.valid(); }
  // How many messages went through sd_notify() because the kept socket failed (or there was none
  // while $NOTIFY_SOCKET was set).
  [[nodiscard]] unsigned fallbacks() const { return fallbacks_; }
  [[nodiscard]] unsigned dropped() const { return dropped_; }
  // How often the kept socket was connected again after systemd's socket was made anew.
  [[nodiscard]] unsigned reconnects() const { return reconnects_; }

 private:
  void connect_to(std::string_view address);

  UniqueFd fd_;
  sockaddr_un address_{};
  socklen_t address_length_ = 0;
  bool have_address_ = false;
  unsigned reconnects_ = 0;
  unsigned fallbacks_ = 0;
  unsigned dropped_ = 0;
};

}  // namespace guardian
