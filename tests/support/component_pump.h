// Drives a DaemonComponent the way the daemon loop does (poll its fds, on_fd_ready), for tests
// that have no DaemonLoop.
#pragma once

#include <chrono>
#include <functional>

#include "component/component.h"

namespace guardian::testing {

// Polls the component's fds and dispatches until done() is true or the timeout passes.
// Returns done().
bool pump_until(DaemonComponent& component, const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Dispatches for the whole duration (lets replies and signals go out).
void pump_for(DaemonComponent& component, std::chrono::milliseconds duration);

}  // namespace guardian::testing
