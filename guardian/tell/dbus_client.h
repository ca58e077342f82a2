// The client side of guardian's D-Bus API (what `guardian status` uses): reads the running
// daemon's properties and Explain() through the proxy generated from the introspection XML.
#pragma once

#include <chrono>
#include <string>
#include <utility>

#include "common/result.h"
#include "tell/dbus_status.h"

namespace guardian {

struct DbusClientOptions {
  std::string bus_address;  // "" = the session bus (DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus)
  std::chrono::milliseconds timeout{5000};  // per call
};

// The status of the guardian that owns io.github.guardian.Guardian1 on the bus. Errors say
// plainly whether there is no bus, no guardian on it, or it did not answer in time.
Result<DaemonStatus> fetch_daemon_status(const DbusClientOptions& options);

// Calls Reload() on the running daemon: {ok, message} as the daemon answered.
Result<std::pair<bool, std::string>> request_daemon_reload(const DbusClientOptions& options);

}  // namespace guardian
