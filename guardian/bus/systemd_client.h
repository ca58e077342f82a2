// Client of the systemd manager (org.freedesktop.systemd1) — the user manager on the user bus,
// or, read-only, the system manager on the system bus. Also the systemd-oomd client
// (org.freedesktop.oom1 on the system bus).
//
// Every call is asynchronous: it is posted to the bus thread (bus/bus_link) and its callback runs
// there, so the daemon loop never blocks on D-Bus (a component hands results back to its loop
// through a Mailbox). The *_wait() helpers block the calling thread up to a deadline — for the
// action worker thread and the CLI, never for the loop.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "act/unit_manager.h"
#include "bus/bus_address.h"
#include "common/result.h"
#include "sense/systemd_units.h"

namespace guardian::bus {

class BusLink;

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
inline constexpr std::chrono::microseconds kDefaultCallTimeout{2'000'000};

// What the manager tells subscribers (after Subscribe()).
struct UnitSignal {
  enum class Kind { New, Removed, PropertiesChanged } kind = Kind::New;
  std::string unit;                     // unit name ("container.slice")
  std::string interface;                // PropertiesChanged: the interface
  std::vector<std::string> properties;  // PropertiesChanged: changed + invalidated names
};

// The blocking *_wait calls are also act's UnitManager: the systemd actions reach the user
// manager through them.
class SystemdClient final : public UnitManager {
 public:
  // Starts the bus thread; connecting happens in the background (and again after a loss).
  explicit SystemdClient(BusAddress address);
  ~SystemdClient();
  SystemdClient(const SystemdClient&) = delete;
  SystemdClient& operator=(const SystemdClient&) = delete;

  template <class T>
  using Done = std::function<void(Result<T>)>;

  void get_unit(const std::string& unit, Done<UnitProperties> done,
                std::chrono::microseconds timeout = kDefaultCallTimeout);
  void list_units(Done<std::vector<UnitListEntry>> done,
                  std::chrono::microseconds timeout = kDefaultCallTimeout);
  // Manager.SetUnitProperties(s name, b runtime, a(sv) properties).
  void set_unit_properties(const std::string& unit, bool runtime, std::vector<UnitPropertyValue> properties,
                           Done<void> done, std::chrono::microseconds timeout = kDefaultCallTimeout);
  void freeze_unit(const std::string& unit, Done<void> done,
                   std::chrono::microseconds timeout = kDefaultCallTimeout);
  void thaw_unit(const std::string& unit, Done<void> done,
                 std::chrono::microseconds timeout = kDefaultCallTimeout);

  // Blocking forms (worker thread, CLI): wait at most until `deadline`.
  Result<UnitProperties> get_unit_wait(const std::string& unit, Deadline deadline) override;
  Result<std::vector<UnitListEntry>> list_units_wait(Deadline deadline);
  Result<void> set_unit_properties_wait(const std::string& unit, bool runtime,
                                        std::vector<UnitPropertyValue> properties,
                                        Deadline deadline) override;
  Result<void> freeze_unit_wait(const std::string& unit, Deadline deadline) override;
  Result<void> thaw_unit_wait(const std::string& unit, Deadline deadline) override;

  // Calls Manager.Subscribe() (again after every reconnect) and delivers UnitNew, UnitRemoved
  // and PropertiesChanged of unit objects to `handler`, on the bus thread.
  void watch_units(std::function<void(const UnitSignal&)> handler);
  // Connection changes, on the bus thread: (true, "") after a connect, (false, why) after a loss.
  void on_connection_change(std::function<void(bool connected, const std::string& why)> handler);

  [[nodiscard]] bool connected() const;
  [[nodiscard]] bool on_bus_thread() const;
  // Stops the bus thread and waits for it: after this no callback of this client runs, even if
  // callbacks still hold references to it. Not from the bus thread.
  void shutdown();
  [[nodiscard]] std::string describe() const;
  void set_retry_interval(std::chrono::milliseconds first, std::chrono::milliseconds max);

 private:
  void call_void(const std::string& method, const std::string& unit, Done<void> done,
                 std::chrono::microseconds timeout);
  std::unique_ptr<BusLink> link_;
};

// Clients whose last reference dropped on their own bus thread and that a short-lived thread is
// deleting (make_shared_systemd_client). Their owner waits for them before the process exits.
// Shared with those threads, which may outlive a wait that timed out.
class ReleasedClients {
 public:
  void add();
  void done();
  // Waits, up to `timeout`, until every client handed to such a thread is gone.
  void wait(std::chrono::milliseconds timeout);

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  size_t pending_ = 0;
};

// A SystemdClient to share between the daemon loop, the action worker and the client's own
// callbacks. The last reference can drop on the client's own bus thread (a callback that kept
// the client alive while the daemon stopped), and its destructor joins that thread, which the
// thread cannot do itself: guardian aborted on SIGTERM with std::system_error "Resource
// deadlock avoided". Such a client is deleted from a short-lived thread once its bus thread is
// done instead, counted in `released` (when given).
std::shared_ptr<SystemdClient> make_shared_systemd_client(
    BusAddress address, std::shared_ptr<ReleasedClients> released = nullptr);

// org.freedesktop.oom1.Manager on the system bus.
struct OomdKilled {
  std::string cgroup;  // the cgroup oomd killed
  std::string reason;  // "memory-pressure" | "memory-used" (systemd >= 252)
};

class OomdClient {
 public:
  explicit OomdClient(BusAddress address);
  ~OomdClient();
  OomdClient(const OomdClient&) = delete;
  OomdClient& operator=(const OomdClient&) = delete;

  // DumpByFileDescriptor(out h fd): the dump text read from the returned memfd.
  void dump(SystemdClient::Done<std::string> done, std::chrono::microseconds timeout = kDefaultCallTimeout);
  // The daemon loop's periodic read: request_dump() asks from the bus thread, so the caller
  // builds no call (it posts one small task, kept within std::function's own storage); the reply
  // goes to `handler` on the bus thread, where the caller makes it ready for its loop. Set the
  // handler once, before the first request_dump().
  void on_dump(SystemdClient::Done<std::string> handler);
  void request_dump(std::chrono::microseconds timeout = kDefaultCallTimeout);
  Result<std::string> dump_wait(Deadline deadline);
  // Killed(s cgroup, s reason), on the bus thread.
  void watch_kills(std::function<void(const OomdKilled&)> handler);
  void on_connection_change(std::function<void(bool connected, const std::string& why)> handler);
  [[nodiscard]] bool connected() const;
  void set_retry_interval(std::chrono::milliseconds first, std::chrono::milliseconds max);

 private:
  std::unique_ptr<BusLink> link_;
  SystemdClient::Done<std::string> dump_handler_;  // on_dump's; read on the bus thread
};

}  // namespace guardian::bus
