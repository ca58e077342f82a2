#include "bus/bus_link.h"

#include <poll.h>
#include <sdbus-c++/sdbus-c++.h>
#include <sys/eventfd.h>
#include <systemd/sd-bus.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace guardian::bus {

BusLink::BusLink(BusAddress address)
    : address_(std::move(address)), wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

BusLink::~BusLink() { shutdown(); }

void BusLink::shutdown() {
  stop_ = true;
  wake();
  // Never from the link's own thread (EDEADLK): owners shared with callbacks are released
  // elsewhere (make_shared_systemd_client).
  if (thread_.joinable() && !on_link_thread()) thread_.join();
}

void BusLink::start() {
  std::lock_guard lock(mutex_);
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void BusLink::set_retry_interval(std::chrono::milliseconds first, std::chrono::milliseconds max) {
  std::lock_guard lock(mutex_);
  retry_first_ = first;
  retry_max_ = max;
  retry_current_ = first;
}

void BusLink::post(Task task) {
  if (finished_) {
    // The thread is gone (shutdown): fail the caller at once rather than never.
    try {
      task(nullptr);
    } catch (...) {
    }
    return;
  }
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  wake();
}

void BusLink::add_on_connect(std::function<void(sdbus::IConnection&)> hook) {
  auto added = std::make_shared<ConnectHook>(ConnectHook{std::move(hook), 0});
  {
    std::lock_guard lock(mutex_);
    on_connect_.push_back(added);
    // A hook added while connected runs on the link's thread as soon as it can, unless the
    // connect that is about to happen runs it first.
    tasks_.push_back([this, added](sdbus::IConnection* connection) {
      if (connection && added->ran_for_generation != generation_) {
        added->ran_for_generation = generation_;
        added->run(*connection);
      }
    });
  }
  wake();
}

void BusLink::add_on_disconnect(std::function<void(const std::string&)> hook) {
  std::lock_guard lock(mutex_);
  on_disconnect_.push_back(std::move(hook));
}

void BusLink::add_before_close(std::function<void()> hook) {
  std::lock_guard lock(mutex_);
  before_close_.push_back(std::move(hook));
}

void BusLink::hold_incoming(bool held) {
  held_ = held;
  wake();
}

void BusLink::close_connection() {
  if (connection_) {
    std::vector<std::function<void()>> hooks;
    {
      std::lock_guard lock(mutex_);
      hooks = before_close_;
    }
    for (auto& hook : hooks) hook();
  }
  // Proxies and their slots belong to the connection: they go first.
  proxies_.clear();
  connection_.reset();
}

void BusLink::wake() {
  if (!wake_fd_) return;
  const uint64_t one = 1;
  // A full counter still wakes the thread; nothing else to do on failure.
  [[maybe_unused]] auto written = ::write(wake_fd_.get(), &one, sizeof one);
}

sdbus::IProxy& BusLink::proxy(const std::string& destination, const std::string& object_path) {
  auto key = std::make_pair(destination, object_path);
  auto found = proxies_.find(key);
  if (found != proxies_.end()) return *found->second;
  auto created = sdbus::createProxy(*connection_, destination, object_path);
  created->finishRegistration();
  auto& ref = *created;
  proxies_.emplace(std::move(key), std::move(created));
  return ref;
}

namespace {
// sdbus-c++ 1.2's createSessionBusConnectionWithAddress() leaks its sd_bus when the bus cannot
// be reached (SdBus::sd_bus_open_user_with_address returns without unref on failure). Probing
// with libsystemd first keeps a retrying guardian from leaking ~2 KB per attempt.
int probe_address(const std::string& address) {
  sd_bus* bus = nullptr;
  int r = sd_bus_new(&bus);
  if (r < 0) return r;
  if ((r = sd_bus_set_address(bus, address.c_str())) >= 0 && (r = sd_bus_set_bus_client(bus, 1)) >= 0) {
    r = sd_bus_start(bus);
  }
  sd_bus_flush_close_unref(bus);
  return r;
}
}  // namespace

void BusLink::try_connect() {
  if (address_.kind == BusAddress::Kind::Address) {
    if (const int r = probe_address(address_.address); r < 0) {
      drop_connection(address_.describe() + ": " + std::strerror(-r));
      return;
    }
  }
  try {
    switch (address_.kind) {
      case BusAddress::Kind::User: connection_ = sdbus::createSessionBusConnection(); break;
      case BusAddress::Kind::System: connection_ = sdbus::createSystemBusConnection(); break;
      case BusAddress::Kind::Address:
        connection_ = sdbus::createSessionBusConnectionWithAddress(address_.address);
        break;
    }
    std::vector<std::shared_ptr<ConnectHook>> hooks;
    {
      std::lock_guard lock(mutex_);
      hooks = on_connect_;
      retry_current_ = retry_first_;
    }
    ++generation_;
    connected_ = true;
    last_error_.clear();
    for (auto& hook : hooks) {
      hook->ran_for_generation = generation_;
      hook->run(*connection_);
    }
  } catch (const sdbus::Error& error) {
    drop_connection(address_.describe() + ": " + error.getMessage());
  } catch (const std::exception& error) {
    drop_connection(address_.describe() + ": " + error.what());
  }
}

void BusLink::drop_connection(const std::string& why) {
  const bool was_connected = connected_.exchange(false);
  close_connection();
  std::vector<std::function<void(const std::string&)>> hooks;
  {
    std::lock_guard lock(mutex_);
    hooks = on_disconnect_;
    next_attempt_ = std::chrono::steady_clock::now() + retry_current_;
    retry_current_ = std::min(retry_current_ * 2, retry_max_);
  }
  // Tell once per distinct failure, not once per retry.
  if (was_connected || why != last_error_) {
    for (auto& hook : hooks) hook(why);
  }
  last_error_ = why;
}

void BusLink::run() {
  while (!stop_) {
    if (!connection_ && std::chrono::steady_clock::now() >= next_attempt_) try_connect();

    // running_ is emptied after each round and swapped back in: tasks_ keeps a buffer, so a
    // post() from the daemon loop does not allocate one each time.
    std::vector<Task>& tasks = running_;
    {
      std::lock_guard lock(mutex_);
      tasks.swap(tasks_);
    }
    for (auto& task : tasks) {
      try {
        task(connection_.get());
      } catch (const sdbus::Error& error) {
        // A call that could not even be sent: the connection is unusable.
        drop_connection(address_.describe() + ": " + error.getMessage());
      } catch (const std::exception& error) {
        drop_connection(address_.describe() + ": " + error.what());
      }
    }
    tasks.clear();

    int timeout_ms = -1;
    pollfd fds[2] = {{wake_fd_.get(), POLLIN, 0}, {-1, 0, 0}};
    nfds_t count = 1;
    if (connection_) {
      try {
        if (held_) {
          // Held: only a hang-up wakes us for the bus (no events asked for; POLLHUP and POLLERR
          // are reported anyway).
          fds[1] = {connection_->getEventLoopPollData().fd, 0, 0};
        } else {
          while (connection_->processPendingRequest()) {
          }
          auto poll_data = connection_->getEventLoopPollData();
          fds[1] = {poll_data.fd, poll_data.events, 0};
          timeout_ms = poll_data.getPollTimeout();
        }
        count = 2;
      } catch (const sdbus::Error& error) {
        drop_connection(address_.describe() + ": " + error.getMessage());
        continue;
      }
    }
    if (!connection_) {
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt_ -
                                                                        std::chrono::steady_clock::now());
      timeout_ms = static_cast<int>(std::clamp<int64_t>(wait.count(), 0, 60'000));
    }
    {
      std::lock_guard lock(mutex_);
      if (!tasks_.empty()) timeout_ms = 0;
    }
    int ready = ::poll(fds, count, timeout_ms);
    if (ready < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) {
      uint64_t value = 0;
      [[maybe_unused]] auto got = ::read(wake_fd_.get(), &value, sizeof value);
    }
    if (count == 2 && (fds[1].revents & (POLLHUP | POLLERR)) && connection_) {
      // Let processPendingRequest() see the error and name it; drop if it does not throw. While
      // held, nothing is dispatched (what waits is for a service not yet ready to answer).
      try {
        while (!held_ && connection_->processPendingRequest()) {
        }
      } catch (const sdbus::Error& error) {
        drop_connection(address_.describe() + ": " + error.getMessage());
        continue;
      }
      drop_connection(address_.describe() + ": connection closed");
    }
  }
  close_connection();
  finished_ = true;
  // Callers still waiting get a definite answer.
  std::vector<Task> tasks;
  {
    std::lock_guard lock(mutex_);
    tasks.swap(tasks_);
  }
  for (auto& task : tasks) {
    try {
      task(nullptr);
    } catch (...) {
    }
  }
}

}  // namespace guardian::bus
