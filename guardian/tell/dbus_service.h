// guardian's own D-Bus API on the session bus: bus name and object io.github.guardian.Guardian1
// (guardian/tell/dbus/io.github.guardian.Guardian1.xml; documented in units/README.md).
//
// A DaemonComponent: it owns the bus connection, the well-known name and the exported object,
// and lives entirely on the daemon loop's thread. The loop polls the connection's fd (fds()) and
// calls on_fd_ready(), which processes what is pending and returns — nothing here ever waits on
// the bus, except the one RequestName round trip in start().
//
// Properties come from the last tick (on_tick); PropertiesChanged is emitted for the ones that
// changed (Level, LevelIndex, ActiveActions, PolicyPath, Mode, ModeReason, WakeSource). Signals,
// one per event the loop tells, with the journal's fields (units/guardian.catalog):
//   LevelChanged   from LevelChanged events (PREVIOUS_LEVEL, LEVEL, REASON);
//   ActionApplied  from ActionApplied/ActionReverted/ActionFailed events (LEVEL, ACTION,
//                  RESULT — or the event type —, DETAIL — or the message);
//   OomKillSeen    from OomKill events (CGROUP, KILLER, REASON — or the message).
// Reload() asks the loop to reload (DaemonLoop::request_reload) and replies when the loop tells
// PolicyLoaded or PolicyRejected, or with ok=false once reload_timeout has passed without
// either (checked on each tick and wake-up, so within one sampling interval of it).
//
// Events may arrive from the action worker thread (EventTeller is thread-safe, sd-bus is not):
// they are queued and an eventfd (one of fds()) wakes the loop to send them from its thread.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "common/result.h"
#include "component/component.h"
#include "tell/dbus_status.h"

namespace sdbus {
class IConnection;
}

namespace guardian {

struct DbusServiceOptions {
  // "" = the session bus: DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus (sd-bus's rule).
  std::string bus_address;
  // How long Reload() waits for the loop to say whether the new policy came into force.
  std::chrono::milliseconds reload_timeout{5000};
};

class DbusService final : public DaemonComponent {
 public:
  explicit DbusService(DbusServiceOptions options = {});
  ~DbusService() override;
  DbusService(const DbusService&) = delete;
  DbusService& operator=(const DbusService&) = delete;
  DbusService(DbusService&&) = delete;
  DbusService& operator=(DbusService&&) = delete;

  [[nodiscard]] std::string name() const override { return "dbus"; }

  // Connects, takes the bus name and exports the object. start() calls it; an error (no session
  // bus, the name already taken by another guardian) is told once and the component stays inert.
  Result<void> connect();
  [[nodiscard]] bool connected() const { return connection_ != nullptr; }

  void start(DaemonLoop& loop) override;
  void on_tick(const TickView& tick) override;
  void emit(const Event& event) override;
  [[nodiscard]] std::vector<int> fds() const override;
  void on_fd_ready(int fd) override;
  void stop() override;

  // What the properties show now.
  [[nodiscard]] const DaemonStatus& status() const { return status_; }

  // Processes what is pending on the connection and in the event queue; never waits. Used by
  // on_fd_ready and on_tick, and by tests that drive the service without a DaemonLoop.
  void process_pending();

 private:
  class Object;  // the generated adaptor's implementation (dbus_service.cpp)
  struct PendingReload;

  void publish_next_status();  // next_status_ becomes status_, PropertiesChanged for what changed
  void flush_events();
  void send_event(const Event& event);
  void finish_reloads(bool ok, const std::string& message);
  void expire_reloads();
  void handle_bus_failure(const std::string& what);
  // Called by Object on the loop thread.
  void on_reload_call(PendingReload pending);
  std::string explain() const;

  DbusServiceOptions options_;
  DaemonLoop* loop_ = nullptr;
  std::thread::id loop_thread_;
  std::unique_ptr<sdbus::IConnection> connection_;
  std::unique_ptr<Object> object_;
  int bus_fd_ = -1;
  bool processing_ = false;  // inside processPendingRequest: no re-entry
  bool failure_told_ = false;

  DaemonStatus status_;
  DaemonStatus next_status_;  // filled each tick, then swapped with status_ (storage kept)
  bool have_tick_ = false;

  std::vector<PendingReload> pending_reloads_;

  // Events from any thread, sent on the loop thread.
  UniqueFd wake_fd_;
  mutable std::mutex queue_mutex_;
  std::vector<Event> queued_events_;
  std::vector<Event> sending_events_;  // the loop thread's, swapped with queued_events_
  bool flushing_ = false;
};

// The component for make_components(): a DbusService on the session bus.
std::unique_ptr<DaemonComponent> make_dbus_service();

}  // namespace guardian
