#include "support/component_pump.h"

#include <poll.h>

#include <vector>

namespace guardian::testing {

namespace {

void pump_once(DaemonComponent& component, int timeout_ms) {
  std::vector<pollfd> pfds;
  for (int fd : component.fds()) pfds.push_back(pollfd{fd, POLLIN, 0});
  if (pfds.empty()) {
    ::poll(nullptr, 0, timeout_ms);
    return;
  }
  if (::poll(pfds.data(), pfds.size(), timeout_ms) <= 0) return;
  for (const auto& pfd : pfds) {
    if (pfd.revents != 0) component.on_fd_ready(pfd.fd);
  }
}

}  // namespace

bool pump_until(DaemonComponent& component, const std::function<bool()>& done,
                std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    pump_once(component, 10);
  }
  return true;
}

void pump_for(DaemonComponent& component, std::chrono::milliseconds duration) {
  const auto deadline = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < deadline) pump_once(component, 10);
}

}  // namespace guardian::testing
