#include "helper/epoll.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace guardian::helper {

Result<Epoll> Epoll::create() {
  UniqueFd fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!fd) return make_error(std::string("epoll_create1: ") + std::strerror(errno));
  return Epoll(std::move(fd));
}

Result<void> Epoll::add(int fd, uint32_t events, Tag tag) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = tag.pack();
  if (::epoll_ctl(fd_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
    return make_error("epoll add fd " + std::to_string(fd) + ": " + std::strerror(errno));
  }
  return {};
}

Result<void> Epoll::modify(int fd, uint32_t events, Tag tag) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = tag.pack();
  if (::epoll_ctl(fd_.get(), EPOLL_CTL_MOD, fd, &event) != 0) {
    return make_error("epoll modify fd " + std::to_string(fd) + ": " + std::strerror(errno));
  }
  return {};
}

void Epoll::remove(int fd) { ::epoll_ctl(fd_.get(), EPOLL_CTL_DEL, fd, nullptr); }

}  // namespace guardian::helper
