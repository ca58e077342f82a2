// BusLink: one D-Bus connection (sdbus-c++ 1.2) owned by one thread of its own.
//
// Why a thread of its own: sd-bus is not thread-safe, and sdbus-c++ 1.2's own
// enterEventLoopAsync() thread lets a bus error escape as an exception, which terminates the
// process. Here every sd-bus access happens on the link's thread: other threads post() work to
// it, the thread polls the bus fd and a wake-up eventfd, dispatches with processPendingRequest(),
// and when the bus dies it drops the connection, says why, and reconnects with a back-off.
// Nobody ever waits on D-Bus without a deadline: callers hand results back through callbacks
// (and the blocking helpers in the clients wait on a future with the caller's deadline).
//
// Internal to guardian/bus/: the header names sdbus types only by forward declaration, so code
// outside bus/ never sees sdbus-c++.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bus/bus_address.h"
#include "common/fd.h"

namespace sdbus {
class IConnection;
class IProxy;
}  // namespace sdbus

namespace guardian::bus {

class BusLink {
 public:
  explicit BusLink(BusAddress address);
  ~BusLink();
  BusLink(const BusLink&) = delete;
  BusLink& operator=(const BusLink&) = delete;

  // Runs `task` on the link's thread. `connection` is null when the bus is down (the task must
  // then fail its caller at once). Tasks run in the order posted.
  using Task = std::function<void(sdbus::IConnection* connection)>;
  void post(Task task);

  // Hooks run on the link's thread after each successful (re)connect — signal subscriptions
  // and Subscribe() calls live here so they come back after a reconnect — and after each loss.
  void add_on_connect(std::function<void(sdbus::IConnection&)> hook);
  void add_on_disconnect(std::function<void(const std::string& why)> hook);
  // Hooks run on the link's thread just before a connection is closed (lost, or at shutdown):
  // what the owner made on it (an exported object, its slots) must go before it does, as the
  // link's own proxies do.
  void add_before_close(std::function<void()> hook);

  // While held, the link's thread reads nothing from the bus: incoming calls wait in the socket
  // (a service holds until it has something to answer with), a hang-up is still seen. Any thread.
  void hold_incoming(bool held);

  // A proxy for (destination, path) on the current connection, cached until the connection is
  // lost. Only on the link's thread, only with a live connection.
  sdbus::IProxy& proxy(const std::string& destination, const std::string& object_path);

  [[nodiscard]] bool connected() const { return connected_.load(); }
  // True on the link's own thread (its callbacks run there).
  [[nodiscard]] bool on_link_thread() const { return std::this_thread::get_id() == thread_.get_id(); }
  [[nodiscard]] const BusAddress& address() const { return address_; }
  // Starts the thread and the first connection attempt (idempotent).
  void start();
  // Stops the thread and waits for it (from any other thread): no callback runs afterwards.
  void shutdown();

  // Back-off between reconnect attempts (tests shorten it).
  void set_retry_interval(std::chrono::milliseconds first, std::chrono::milliseconds max);

 private:
  void run();
  void try_connect();
  void drop_connection(const std::string& why);
  void close_connection();  // before-close hooks, proxies, then the connection
  void wake();

  BusAddress address_;
  std::thread thread_;
  UniqueFd wake_fd_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};  // run() has returned
  std::atomic<bool> connected_{false};
  std::mutex mutex_;  // tasks_ and hooks
  std::vector<Task> tasks_;
  std::vector<Task> running_;  // thread-owned: the round of tasks being run
  struct ConnectHook {
    std::function<void(sdbus::IConnection&)> run;
    uint64_t ran_for_generation = 0;  // so a hook runs exactly once per connection
  };
  std::vector<std::shared_ptr<ConnectHook>> on_connect_;
  uint64_t generation_ = 0;  // counts connections; thread-owned
  std::vector<std::function<void(const std::string&)>> on_disconnect_;
  std::vector<std::function<void()>> before_close_;
  std::atomic<bool> held_{false};
  // Thread-owned from here on.
  std::unique_ptr<sdbus::IConnection> connection_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<sdbus::IProxy>> proxies_;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::milliseconds retry_first_{1000};
  std::chrono::milliseconds retry_max_{30000};
  std::chrono::milliseconds retry_current_{1000};
  std::string last_error_;
};

}  // namespace guardian::bus
