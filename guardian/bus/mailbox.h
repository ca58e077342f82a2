// Mailbox: hands closures from other threads (the bus threads, the action worker) to the daemon
// loop's thread. The loop polls fd() and calls drain() when it is readable; the closures then run
// on the loop thread, where touching loop state is safe.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include "common/fd.h"

namespace guardian::bus {

class Mailbox {
 public:
  Mailbox();
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Any thread.
  void post(std::function<void()> closure);
  // The loop thread: runs every closure posted so far, in order. Returns how many ran.
  size_t drain();
  [[nodiscard]] int fd() const { return event_fd_.get(); }

 private:
  UniqueFd event_fd_;
  std::mutex mutex_;
  std::vector<std::function<void()>> pending_;
};

}  // namespace guardian::bus
