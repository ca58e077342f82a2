#include "tell/dbus_service.h"

#include <sdbus-c++/sdbus-c++.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "tell/dbus/guardian1_adaptor.h"

namespace guardian {

namespace {

// How many messages one on_fd_ready handles before giving the loop back; the rest is picked
// up on the next wake-up (we wake ourselves, see process_pending).
constexpr int kMaxMessagesPerWakeup = 64;

std::string field(const Event& event, std::string_view name) {
  for (const auto& [key, value] : event.fields) {
    if (key == name) return value;
  }
  return {};
}

std::string default_result(EventType type) {
  switch (type) {
    case EventType::ActionReverted: return "reverted";
    case EventType::ActionFailed: return "failed";
    default: return "applied";
  }
}

using WatchedStruct = sdbus::Struct<std::string, double, double, double, bool, double, double, std::string>;

}  // namespace

struct DbusService::PendingReload {
  sdbus::Result<bool, std::string> reply;
  std::chrono::steady_clock::time_point deadline;
};

// The exported object: the generated adaptor's virtuals answered from the service's state.
class DbusService::Object final : public sdbus::AdaptorInterfaces<io::github::guardian::Guardian1_adaptor> {
 public:
  Object(sdbus::IConnection& connection, DbusService& service)
      : AdaptorInterfaces(connection, std::string(kDbusObjectPath)), service_(service) {
    registerAdaptor();
  }
  ~Object() { unregisterAdaptor(); }
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;
  Object(Object&&) = delete;
  Object& operator=(Object&&) = delete;

  void properties_changed(const std::vector<std::string>& names) {
    getObject().emitPropertiesChangedSignal(std::string(kDbusInterface), names);
  }

 private:
  void Reload(sdbus::Result<bool, std::string>&& result) override {
    service_.on_reload_call(PendingReload{
        std::move(result), std::chrono::steady_clock::now() + service_.options_.reload_timeout});
  }
  std::string Explain() override { return service_.explain(); }
  std::string Level() override { return service_.status_.level; }
  uint32_t LevelIndex() override { return service_.status_.level_index; }
  std::vector<WatchedStruct> WatchedCgroups() override {
    std::vector<WatchedStruct> out;
    out.reserve(service_.status_.watched.size());
    for (const auto& c : service_.status_.watched) {
      out.emplace_back(c.path, c.full_avg10, c.limit_percent, c.duration_s, c.over_limit, c.seconds_over,
                       c.seconds_until_kill.value_or(-1.0), c.likely_victim);
    }
    return out;
  }
  sdbus::Struct<double, double> SystemPressure() override {
    return {service_.status_.system_some_avg10, service_.status_.system_full_avg10};
  }
  std::vector<std::string> ActiveActions() override { return service_.status_.active_actions; }
  std::string PolicyPath() override { return service_.status_.policy_path; }
  bool DryRun() override { return service_.status_.dry_run; }
  std::string Mode() override { return service_.status_.mode; }
  std::string ModeReason() override { return service_.status_.mode_reason; }
  std::string WakeSource() override { return service_.status_.wake_source; }
  std::string Version() override { return service_.status_.version; }
  double TickLatenessMax() override { return service_.status_.tick_lateness_max_s; }
  std::string MemoryLock() override { return service_.status_.memory_lock; }

  DbusService& service_;
};

DbusService::DbusService(DbusServiceOptions options) : options_(std::move(options)) {
  status_.version = GUARDIAN_VERSION;
  wake_fd_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
}

DbusService::~DbusService() {
  // Unanswered Reload calls get an answer rather than a timeout on the caller's side.
  if (connection_) finish_reloads(false, "guardian is stopping");
  object_.reset();
  connection_.reset();
}

Result<void> DbusService::connect() {
  if (connection_) return {};
  loop_thread_ = std::this_thread::get_id();
  try {
    auto connection = options_.bus_address.empty()
                          ? sdbus::createSessionBusConnection()
                          : sdbus::createSessionBusConnectionWithAddress(options_.bus_address);
    // Export the object before taking the name, so a client that sees the name also finds it.
    auto object = std::make_unique<Object>(*connection, *this);
    connection->requestName(std::string(kDbusBusName));
    bus_fd_ = connection->getEventLoopPollData().fd;
    connection_ = std::move(connection);
    object_ = std::move(object);
  } catch (const sdbus::Error& error) {
    std::string where = options_.bus_address.empty() ? "the session bus" : "bus " + options_.bus_address;
    if (error.getName() == "org.freedesktop.DBus.Error.FileExists" ||
        error.getMessage().find("File exists") != std::string::npos) {
      return make_error("D-Bus API: " + std::string(kDbusBusName) + " is already owned on " + where +
                        " (another guardian running?): " + error.getMessage());
    }
    return make_error("D-Bus API: cannot serve " + std::string(kDbusBusName) + " on " + where + ": " +
                      error.getName() + ": " + error.getMessage());
  } catch (const std::exception& error) {
    return make_error(std::string("D-Bus API: ") + error.what());
  }
  failure_told_ = false;
  return {};
}

void DbusService::start(DaemonLoop& loop) {
  loop_ = &loop;
  auto result = connect();
  if (!result) {
    Event event;
    event.type = EventType::ComponentFailed;
    event.priority = Priority::Warning;
    event.message = result.error().message + "; `guardian status` will not reach this daemon";
    event.with("COMPONENT", "dbus");
    loop.tell(event);
    return;
  }
  // RequestName may have read other messages into sd-bus's queue: handle them now, not at the
  // next unrelated wake-up.
  process_pending();
}

void DbusService::stop() {
  if (connection_) finish_reloads(false, "guardian is stopping");
  process_pending();  // send what is queued (the last signals, the replies)
  object_.reset();
  connection_.reset();
  bus_fd_ = -1;
  loop_ = nullptr;
}

std::vector<int> DbusService::fds() const {
  std::vector<int> out;
  if (bus_fd_ >= 0) out.push_back(bus_fd_);
  if (wake_fd_) out.push_back(wake_fd_.get());
  return out;
}

void DbusService::on_fd_ready(int fd) {
  if (fd == wake_fd_.get()) {
    uint64_t count = 0;
    // Drains the counter; EAGAIN just means another wake-up already drained it.
    [[maybe_unused]] const auto n = ::read(wake_fd_.get(), &count, sizeof count);
  }
  process_pending();
}

void DbusService::process_pending() {
  if (processing_) return;
  // Calls wait in the socket until the first tick is published: before it, Status would answer
  // with an empty policy and level (start() runs before the policy is applied and the first
  // sample taken), and a client that saw the name would believe it.
  if (connection_ && have_tick_) {
    processing_ = true;
    try {
      int handled = 0;
      while (connection_->processPendingRequest()) {
        if (++handled >= kMaxMessagesPerWakeup) {
          // More may sit in sd-bus's read queue where the fd no longer shows it: wake again.
          const uint64_t one = 1;
          [[maybe_unused]] const auto n = ::write(wake_fd_.get(), &one, sizeof one);
          break;
        }
      }
    } catch (const sdbus::Error& error) {
      processing_ = false;
      handle_bus_failure(error.getMessage());
      return;
    }
    processing_ = false;
  }
  flush_events();
  expire_reloads();
}

void DbusService::handle_bus_failure(const std::string& what) {
  // The connection is gone (the bus daemon exited): drop it, so its dead fd cannot keep the
  // loop spinning, and say so once.
  pending_reloads_.clear();
  object_.reset();
  connection_.reset();
  bus_fd_ = -1;
  if (!failure_told_ && loop_ != nullptr) {
    failure_told_ = true;
    Event event;
    event.type = EventType::ComponentFailed;
    event.priority = Priority::Warning;
    event.message = "D-Bus API: lost the session bus connection (" + what +
                    "); `guardian status` will not "
                    "reach this daemon until it restarts";
    event.with("COMPONENT", "dbus");
    loop_->tell(event);
  }
}

void DbusService::on_tick(const TickView& tick) {
  // Filled into the kept next_ and swapped with status_: a tick that changes nothing allocates
  // nothing (issue 10); only a changed property builds the PropertiesChanged list.
  status_from_tick(tick, next_status_);
  publish_next_status();
  process_pending();
}

void DbusService::publish_next_status() {
  const DaemonStatus& next = next_status_;
  std::vector<std::string> changed;
  if (have_tick_) {
    if (next.level != status_.level) changed.emplace_back("Level");
    if (next.level_index != status_.level_index) changed.emplace_back("LevelIndex");
    if (next.active_actions != status_.active_actions) changed.emplace_back("ActiveActions");
    if (next.policy_path != status_.policy_path) changed.emplace_back("PolicyPath");
    if (next.mode != status_.mode) changed.emplace_back("Mode");
    if (next.mode_reason != status_.mode_reason) changed.emplace_back("ModeReason");
    if (next.wake_source != status_.wake_source) changed.emplace_back("WakeSource");
  }
  std::swap(status_, next_status_);
  have_tick_ = true;
  if (!object_) return;
  try {
    if (!changed.empty()) object_->properties_changed(changed);
  } catch (const sdbus::Error& error) {
    handle_bus_failure(error.getMessage());
  }
}

void DbusService::emit(const Event& event) {
  switch (event.type) {
    case EventType::LevelChanged:
    case EventType::ActionApplied:
    case EventType::ActionReverted:
    case EventType::ActionFailed:
    case EventType::OomKill:
    case EventType::PolicyLoaded:
    case EventType::PolicyRejected: break;
    default: return;  // nothing on the bus for the others
  }
  {
    std::lock_guard lock(queue_mutex_);
    queued_events_.push_back(event);
  }
  if (std::this_thread::get_id() == loop_thread_) {
    flush_events();
  } else {
    const uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd_.get(), &one, sizeof one);
  }
}

void DbusService::flush_events() {
  // Two kept vectors swapped: nothing is allocated when no event waits. An event told while
  // sending (a reply's event, on this thread) is queued and sent by the next round here.
  if (flushing_) return;
  flushing_ = true;
  for (;;) {
    {
      std::lock_guard lock(queue_mutex_);
      if (queued_events_.empty()) break;
      sending_events_.swap(queued_events_);
    }
    for (const auto& event : sending_events_) send_event(event);
    sending_events_.clear();
  }
  flushing_ = false;
}

void DbusService::send_event(const Event& event) {
  if (event.type == EventType::PolicyLoaded) {
    finish_reloads(true, event.message);
    return;
  }
  if (event.type == EventType::PolicyRejected) {
    finish_reloads(false, event.message);
    return;
  }
  if (!object_) return;
  try {
    if (event.type == EventType::LevelChanged) {
      const std::string reason = field(event, "REASON");
      object_->emitLevelChanged(field(event, "PREVIOUS_LEVEL"), field(event, "LEVEL"),
                                reason.empty() ? event.message : reason);
      return;
    }
    if (event.type == EventType::OomKill) {
      std::string reason = field(event, "REASON");
      object_->emitOomKillSeen(field(event, "CGROUP"), field(event, "KILLER"),
                               reason.empty() ? event.message : reason);
      return;
    }
    std::string result = field(event, "RESULT");
    std::string detail = field(event, "DETAIL");
    std::string level = field(event, "LEVEL");
    std::string action = field(event, "ACTION");
    // An action told by its label alone ("critical/slice.set-memory-high"): split it.
    if (const auto slash = action.find('/'); level.empty() && slash != std::string::npos) {
      level = action.substr(0, slash);
      action = action.substr(slash + 1);
    }
    object_->emitActionApplied(level, action, result.empty() ? default_result(event.type) : result,
                               detail.empty() ? event.message : detail);
  } catch (const sdbus::Error& error) {
    handle_bus_failure(error.getMessage());
  }
}

void DbusService::on_reload_call(PendingReload pending) {
  if (loop_ == nullptr) {
    try {
      pending.reply.returnResults(false, std::string("the daemon loop is not running"));
    } catch (const sdbus::Error&) {
    }
    return;
  }
  // Keep the reply before asking: the loop may reload (and tell the outcome) right away.
  pending_reloads_.push_back(std::move(pending));
  loop_->request_reload();
}

void DbusService::finish_reloads(bool ok, const std::string& message) {
  auto pending = std::move(pending_reloads_);
  pending_reloads_.clear();
  for (auto& reload : pending) {
    try {
      reload.reply.returnResults(ok, message);
    } catch (const sdbus::Error&) {
      // The caller went away; nothing to tell.
    }
  }
}

void DbusService::expire_reloads() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = pending_reloads_.begin(); it != pending_reloads_.end();) {
    if (it->deadline <= now) {
      try {
        it->reply.returnResults(false, "no reload outcome from the daemon loop within " +
                                           std::to_string(options_.reload_timeout.count()) + " ms");
      } catch (const sdbus::Error&) {
      }
      it = pending_reloads_.erase(it);
    } else {
      ++it;
    }
  }
}

std::string DbusService::explain() const {
  if (loop_ != nullptr) return loop_->explain();
  return status_.explanation;
}

std::unique_ptr<DaemonComponent> make_dbus_service() { return std::make_unique<DbusService>(); }

}  // namespace guardian
