#include "bus/mailbox.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace guardian::bus {

Mailbox::Mailbox() : event_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

void Mailbox::post(std::function<void()> closure) {
  {
    std::lock_guard lock(mutex_);
    pending_.push_back(std::move(closure));
  }
  const uint64_t one = 1;
  // EAGAIN only when the counter is saturated: the fd is readable anyway.
  [[maybe_unused]] auto written = ::write(event_fd_.get(), &one, sizeof one);
}

size_t Mailbox::drain() {
  uint64_t count = 0;
  [[maybe_unused]] auto got = ::read(event_fd_.get(), &count, sizeof count);
  std::vector<std::function<void()>> ready;
  {
    std::lock_guard lock(mutex_);
    ready.swap(pending_);
  }
  for (auto& closure : ready) closure();
  return ready.size();
}

}  // namespace guardian::bus
