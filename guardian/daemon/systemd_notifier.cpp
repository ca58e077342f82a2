#include "daemon/systemd_notifier.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace guardian {

SystemdNotifier::SystemdNotifier() {
  const char* address = std::getenv("NOTIFY_SOCKET");
  if (address != nullptr && *address != '\0') connect_to(address);
}

SystemdNotifier::SystemdNotifier(std::string_view address) {
  if (!address.empty()) connect_to(address);
}

void SystemdNotifier::connect_to(std::string_view address) {
  have_address_ = true;
  // The two address kinds systemd hands a service: a path, or an abstract name written "@name".
  if (address.front() != '/' && address.front() != '@') return;
  if (address.size() > sizeof address_.sun_path) return;  // longer than any AF_UNIX name
  address_.sun_family = AF_UNIX;
  std::memcpy(address_.sun_path, address.data(), address.size());
  if (address.front() == '@') address_.sun_path[0] = '\0';
  address_length_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return;
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address_), address_length_) != 0) return;
  fd_ = std::move(fd);
}

void SystemdNotifier::notify(std::string_view message) {
  if (fd_) {
    ssize_t sent = ::send(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      // systemd's socket was made anew (the kept one leads nowhere: ECONNREFUSED): connect the
      // same socket again, which makes nothing new, instead of a socket per message from here on.
      if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&address_), address_length_) == 0) {
        ++reconnects_;
        sent = ::send(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL);
      }
    }
    if (sent == static_cast<ssize_t>(message.size())) return;
    // systemd's queue is full: it is busy, and a new socket would wait on the same queue. The
    // next tick sends again (a watchdog ping is one of many within WatchdogSec=).
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      ++dropped_;
      return;
    }
  }
  if (!have_address_) return;
  // No kept socket (an address kind not kept, connect failed) or the send failed otherwise (the
  // socket went away): the library's way, which makes a socket for this one message.
  ++fallbacks_;
  const std::string text(message);
  sd_notify(0, text.c_str());
}

}  // namespace guardian
