// guardian's own D-Bus API on the session bus: bus name and object io.github.guardian.Guardian1
// (guardian/tell/dbus/io.github.guardian.Guardian1.xml; documented in units/README.md).
//
// A DaemonComponent whose connection lives on a thread of its own (bus/bus_link.h's BusLink), not
// on the daemon loop's (issue 10). Every message sent is an skb charged to guardian's memory
// cgroup, and when the whole user is over its MemoryHigh the kernel makes the task that charged
// sleep in memory.high's penalty: sent from the loop, this API's signals and PropertiesChanged
// were the loop's last charges in the VM's run-up (tests/vm/FINDINGS-issue10.md). Now the loop
// only hands things over — it never sends, waits on the bus thread or (once warm) allocates:
//   - each tick's status through a TripleBuffer (common/triple_buffer.h), and it wakes the bus
//     thread (one BusLink task holding a pointer) only when a property PropertiesChanged announces
//     has changed, or while a Reload() waits for its outcome;
//   - events (rare) through a bounded queue of kept slots, from any thread (the action worker
//     tells too): when it is full an event is dropped and counted, never waited for.
// The bus thread answers method calls and property reads from the last status handed over, sends
// the signals, and hands back to the loop (an eventfd, fds()) what only the loop may do: a
// Reload() request, a failure to tell. Until the first status is handed over it reads nothing
// from the bus, so a `guardian status` in that gap waits instead of getting an empty answer.
//
// Properties: PropertiesChanged for Level, LevelIndex, ActiveActions, PolicyPath, Mode,
// ModeReason, WakeSource when they change. Signals, one per event, with the journal's fields
// (units/guardian.catalog):
//   LevelChanged   from LevelChanged events (PREVIOUS_LEVEL, LEVEL, REASON);
//   ActionApplied  from ActionApplied/ActionReverted/ActionFailed events (LEVEL, ACTION,
//                  RESULT — or the event type —, DETAIL — or the message);
//   OomKillSeen    from OomKill events (CGROUP, KILLER, REASON — or the message).
// Reload() asks the loop to reload (DaemonLoop::request_reload) and replies when the loop tells
// PolicyLoaded or PolicyRejected, or with ok=false once reload_timeout has passed without
// either (checked on each tick while one waits, so within one sampling interval of it).
// A lost bus is told once; the link reconnects with a back-off and takes the name again.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bus/bus_link.h"
#include "common/fd.h"
#include "common/result.h"
#include "common/triple_buffer.h"
#include "component/component.h"
#include "tell/dbus_status.h"

namespace guardian {

struct DbusServiceOptions {
  // "" = the session bus: DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus (sd-bus's rule).
  std::string bus_address;
  // How long Reload() waits for the loop to say whether the new policy came into force.
  std::chrono::milliseconds reload_timeout{5000};
  // The first wait before reconnecting to a lost bus; it doubles up to 30 s (tests shorten it).
  std::chrono::milliseconds reconnect_after{1000};
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

  // Starts the bus thread and waits (at most kConnectWait) for its first attempt to connect,
  // take the bus name and export the object. An error (no session bus, the name already taken by
  // another guardian) is returned and also queued to be told once; the thread keeps retrying.
  Result<void> connect();
  // The bus name is ours on a live connection (any thread).
  [[nodiscard]] bool connected() const { return connected_.load(std::memory_order_relaxed); }

  void start(DaemonLoop& loop) override;
  void on_tick(const TickView& tick) override;
  void emit(const Event& event) override;  // any thread
  [[nodiscard]] std::vector<int> fds() const override;
  void on_fd_ready(int fd) override;
  void stop() override;

  // The loop's: what the properties show as of the last tick.
  [[nodiscard]] const DaemonStatus& status() const { return current_; }
  // Events dropped because the queue to the bus thread was full, in all.
  [[nodiscard]] uint64_t events_dropped() const { return events_dropped_.load(std::memory_order_relaxed); }

  // The loop's side of what the bus thread handed back (a Reload() request, failures to tell).
  // on_fd_ready calls it; tests that drive the service without a DaemonLoop may too.
  void process_pending();

  static constexpr size_t kEventQueue = 64;
  // The announced properties, as bits (the loop sets them, the bus thread announces them).
  enum : uint32_t {
    kLevel = 1,
    kLevelIndex = 2,
    kActiveActions = 4,
    kPolicyPath = 8,
    kMode = 16,
    kModeReason = 32,
    kWakeSource = 64,
  };
  static constexpr std::chrono::seconds kConnectWait{5};

 private:
  class Object;  // the generated adaptor's implementation (dbus_service.cpp)
  struct PendingReload;

  // The loop's.
  void wake_bus_thread();
  // The bus thread's.
  void serve(sdbus::IConnection* connection);
  void announce_changed_properties();
  void send_queued_events();
  void send_event(const Event& event);
  void on_reload_call(PendingReload pending);
  // Answers the waiting Reload() calls this outcome covers: those the loop had taken when it
  // reloaded (generation <= covers), not calls that came after (they wait for their own).
  void finish_reloads(bool ok, const std::string& message, uint64_t covers);
  void expire_reloads();
  const DaemonStatus& view();  // the newest status handed over
  void on_connected(sdbus::IConnection& connection);
  void on_lost(const std::string& why);
  // Any thread.
  void hand_to_loop(std::string failure);
  void attempt_done(std::string error);

  DbusServiceOptions options_;

  // The loop's.
  DaemonLoop* loop_ = nullptr;
  DaemonStatus current_;  // the last tick's
  DaemonStatus next_;     // filled each tick, then swapped with current_ (storage kept)
  bool have_tick_ = false;
  bool stopped_ = false;

  // Loop -> bus thread.
  TripleBuffer<DaemonStatus> handover_;
  std::atomic<bool> wake_queued_{false};         // a serve() task is posted and has not started
  std::atomic<uint32_t> changed_properties_{0};  // announced properties changed since the last look
  std::mutex events_mutex_;                      // the event queue; held for a copy or a swap only
  std::vector<Event> event_slots_;               // kEventQueue kept slots, a ring
  std::vector<uint64_t> event_covers_;           // per slot: the Reload() calls a reload outcome answers
  size_t event_head_ = 0;
  size_t event_count_ = 0;
  std::atomic<uint64_t> events_dropped_{0};

  // The bus thread's.
  std::unique_ptr<Object> object_;
  std::vector<PendingReload> pending_reloads_;
  Event sending_;  // swapped with a queue slot, sent, kept for its storage
  uint64_t sending_covers_ = 0;
  bool ever_connected_ = false;
  std::string name_failure_;  // why the name could not be taken on this connection

  // Shared.
  std::atomic<bool> connected_{false};
  std::atomic<bool> loop_attached_{false};
  std::atomic<size_t> reloads_waiting_{0};
  std::atomic<bool> reload_wanted_{false};
  // Reload() calls numbered as they come (bus thread), and the newest number the loop had taken
  // when it last asked for a reload: an outcome told after that answers only calls up to it. An
  // outcome still queued from an earlier reload (or the start) must not answer a newer call
  // (StatusEndToEndTest saw the first reload's success answer a second reload of a broken file).
  std::atomic<uint64_t> reload_calls_{0};
  std::atomic<uint64_t> reload_calls_taken_{0};

  // Bus thread -> loop.
  UniqueFd to_loop_;
  std::mutex notices_mutex_;
  std::vector<std::string> failures_;  // to tell as ComponentFailed
  bool failure_told_ = false;          // until the next successful connect

  // connect()'s wait for the first attempt.
  std::mutex attempt_mutex_;
  std::condition_variable attempt_done_cv_;
  bool attempted_ = false;
  std::string attempt_error_;

  // Last: made after, and (by ~DbusService's shutdown) stopped before, everything it touches.
  bus::BusLink link_;
};

// The component for make_components(): a DbusService on the session bus.
std::unique_ptr<DaemonComponent> make_dbus_service();

}  // namespace guardian
