#include "tell/dbus_service.h"

#include <sdbus-c++/sdbus-c++.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <future>
#include <limits>
#include <utility>

#include "tell/dbus/guardian1_adaptor.h"

namespace guardian {

namespace {

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

bool told_on_the_bus(EventType type) {
  switch (type) {
    case EventType::LevelChanged:
    case EventType::ActionApplied:
    case EventType::ActionReverted:
    case EventType::ActionFailed:
    case EventType::OomKill:
    case EventType::PolicyLoaded:
    case EventType::PolicyRejected: return true;
    default: return false;
  }
}

void signal_fd(int fd) {
  const uint64_t one = 1;
  // EAGAIN only when the counter is saturated: the fd is readable anyway.
  [[maybe_unused]] const auto n = ::write(fd, &one, sizeof one);
}

// The properties PropertiesChanged announces, as bits of changed_properties_.
constexpr std::pair<uint32_t, const char*> kAnnounced[] = {
    {DbusService::kLevel, "Level"},
    {DbusService::kLevelIndex, "LevelIndex"},
    {DbusService::kActiveActions, "ActiveActions"},
    {DbusService::kPolicyPath, "PolicyPath"},
    {DbusService::kMode, "Mode"},
    {DbusService::kModeReason, "ModeReason"},
    {DbusService::kWakeSource, "WakeSource"},
};

using WatchedStruct = sdbus::Struct<std::string, double, double, double, bool, double, double, std::string>;

}  // namespace

struct DbusService::PendingReload {
  sdbus::Result<bool, std::string> reply;
  std::chrono::steady_clock::time_point deadline;
  uint64_t generation = 0;  // numbered on arrival (reload_calls_)
};

// The exported object: the generated adaptor's virtuals, answered on the bus thread from the
// newest status the loop handed over.
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
  // The loop's explanation as of the last tick (the daemon's explain() is the same text).
  std::string Explain() override { return service_.view().explanation; }
  std::string Level() override { return service_.view().level; }
  uint32_t LevelIndex() override { return service_.view().level_index; }
  std::vector<WatchedStruct> WatchedCgroups() override {
    const DaemonStatus& status = service_.view();
    std::vector<WatchedStruct> out;
    out.reserve(status.watched.size());
    for (const auto& c : status.watched) {
      out.emplace_back(c.path, c.full_avg10, c.limit_percent, c.duration_s, c.over_limit, c.seconds_over,
                       c.seconds_until_kill.value_or(-1.0), c.likely_victim);
    }
    return out;
  }
  sdbus::Struct<double, double> SystemPressure() override {
    const DaemonStatus& status = service_.view();
    return {status.system_some_avg10, status.system_full_avg10};
  }
  std::vector<std::string> ActiveActions() override { return service_.view().active_actions; }
  std::string PolicyPath() override { return service_.view().policy_path; }
  bool DryRun() override { return service_.view().dry_run; }
  std::string Mode() override { return service_.view().mode; }
  std::string ModeReason() override { return service_.view().mode_reason; }
  std::string WakeSource() override { return service_.view().wake_source; }
  std::string Version() override { return service_.view().version; }
  double TickLatenessMax() override { return service_.view().tick_lateness_max_s; }
  std::string MemoryLock() override { return service_.view().memory_lock; }

  DbusService& service_;
};

DbusService::DbusService(DbusServiceOptions options)
    : options_(std::move(options)),
      to_loop_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      link_(options_.bus_address.empty() ? bus::BusAddress::user()
                                         : bus::BusAddress::at(options_.bus_address)) {
  current_.version = GUARDIAN_VERSION;
  event_slots_.resize(kEventQueue);
  event_covers_.resize(kEventQueue);
  link_.set_retry_interval(options_.reconnect_after, std::chrono::seconds(30));
  // Nothing is read from the bus until the first tick's status is handed over (on_tick).
  link_.hold_incoming(true);
  link_.add_on_connect([this](sdbus::IConnection& connection) { on_connected(connection); });
  link_.add_on_disconnect([this](const std::string& why) { on_lost(why); });
  // The object and the calls waiting for a reload belong to the connection: they go first.
  link_.add_before_close([this] {
    connected_ = false;
    object_.reset();
    pending_reloads_.clear();
    reloads_waiting_ = 0;
  });
}

DbusService::~DbusService() {
  stop();
  link_.shutdown();
}

Result<void> DbusService::connect() {
  link_.start();
  std::unique_lock lock(attempt_mutex_);
  attempt_done_cv_.wait_for(lock, kConnectWait, [this] { return attempted_; });
  if (connected_) return {};
  if (!attempted_) {
    return make_error("D-Bus API: no answer from " + link_.address().describe() + " within " +
                      std::to_string(kConnectWait.count()) + " s; still trying");
  }
  return make_error(attempt_error_);
}

void DbusService::on_connected(sdbus::IConnection& connection) {
  name_failure_.clear();
  try {
    // Export the object before taking the name, so a client that sees the name also finds it.
    object_ = std::make_unique<Object>(connection, *this);
    connection.requestName(std::string(kDbusBusName));
  } catch (const sdbus::Error& error) {
    object_.reset();
    const std::string where =
        options_.bus_address.empty() ? "the session bus" : "bus " + options_.bus_address;
    if (error.getName() == "org.freedesktop.DBus.Error.FileExists" ||
        error.getMessage().find("File exists") != std::string::npos) {
      name_failure_ = "D-Bus API: " + std::string(kDbusBusName) + " is already owned on " + where +
                      " (another guardian running?): " + error.getMessage() +
                      "; `guardian status` will not reach this daemon";
    } else {
      name_failure_ = "D-Bus API: cannot serve " + std::string(kDbusBusName) + " on " + where + ": " +
                      error.getName() + ": " + error.getMessage() +
                      "; `guardian status` will not reach this daemon";
    }
    throw;  // the link drops this connection (on_lost tells why) and tries again later
  }
  ever_connected_ = true;
  connected_ = true;
  {
    std::lock_guard lock(notices_mutex_);
    failure_told_ = false;  // a later loss is told again
  }
  attempt_done({});
}

void DbusService::on_lost(const std::string& why) {
  connected_ = false;
  // The link names its bus first ("bus at unix:path=…: …"): say it once.
  std::string reason = why;
  if (const std::string prefix = link_.address().describe() + ": "; reason.starts_with(prefix))
    reason.erase(0, prefix.size());
  std::string message;
  if (!name_failure_.empty()) {
    message = std::move(name_failure_);
    name_failure_.clear();
  } else if (ever_connected_) {
    message = "D-Bus API: lost the session bus connection (" + reason +
              "); `guardian status` will not reach this daemon until it is back (reconnecting)";
  } else {
    const std::string where =
        options_.bus_address.empty() ? "the session bus" : "bus " + options_.bus_address;
    message = "D-Bus API: cannot serve " + std::string(kDbusBusName) + " on " + where + ": " + reason +
              "; `guardian status` will not reach this daemon";
  }
  hand_to_loop(message);  // before attempt_done: start() tells what connect() saw at once
  attempt_done(std::move(message));
}

void DbusService::hand_to_loop(std::string failure) {
  {
    std::lock_guard lock(notices_mutex_);
    if (failure_told_) return;  // once, until a connect succeeds
    failure_told_ = true;
    failures_.push_back(std::move(failure));
  }
  signal_fd(to_loop_.get());
}

void DbusService::attempt_done(std::string error) {
  {
    std::lock_guard lock(attempt_mutex_);
    if (attempted_) return;
    attempted_ = true;
    attempt_error_ = std::move(error);
  }
  attempt_done_cv_.notify_all();
}

void DbusService::start(DaemonLoop& loop) {
  loop_ = &loop;
  loop_attached_ = true;
  // A failure is queued to be told (hand_to_loop) before connect() returns: told here, at once.
  [[maybe_unused]] auto connected = connect();
  process_pending();
}

void DbusService::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (link_.connected() || connected_) {
    // The last signals and the answers to waiting Reload() calls go out before the link stops.
    auto done = std::make_shared<std::promise<void>>();
    auto finished = done->get_future();
    link_.post([this, done](sdbus::IConnection*) {
      finish_reloads(false, "guardian is stopping", std::numeric_limits<uint64_t>::max());
      send_queued_events();
      done->set_value();
    });
    finished.wait_for(std::chrono::seconds(2));
  }
  link_.shutdown();
  loop_attached_ = false;
  loop_ = nullptr;
}

std::vector<int> DbusService::fds() const { return {to_loop_.get()}; }

void DbusService::on_fd_ready(int /*fd*/) { process_pending(); }

void DbusService::process_pending() {
  uint64_t count = 0;
  // Drains the counter; EAGAIN just means nothing was handed over since the last look.
  [[maybe_unused]] const auto n = ::read(to_loop_.get(), &count, sizeof count);
  if (reload_wanted_.exchange(false) && loop_ != nullptr) {
    // Every call numbered so far is covered by the reload asked for now: it reads the policy
    // after those calls came.
    reload_calls_taken_.store(reload_calls_.load(std::memory_order_acquire), std::memory_order_release);
    loop_->request_reload();
  }
  std::vector<std::string> failures;
  {
    std::lock_guard lock(notices_mutex_);
    failures.swap(failures_);
  }
  if (loop_ == nullptr) return;
  for (auto& failure : failures) {
    Event event;
    event.type = EventType::ComponentFailed;
    event.priority = Priority::Warning;
    event.message = std::move(failure);
    event.with("COMPONENT", "dbus");
    loop_->tell(event);
  }
}

void DbusService::on_tick(const TickView& tick) {
  // Filled into the kept next_ and swapped with current_, then copied into the hand-over's slot
  // (its storage kept too): a tick allocates nothing once the strings have grown (issue 10).
  status_from_tick(tick, next_);
  // Which announced properties this tick changed: the bus thread announces each of them (with
  // the newest value) even if it never saw the status in between.
  uint32_t changed = 0;
  if (have_tick_) {
    const DaemonStatus& next = next_;
    if (next.level != current_.level) changed |= kLevel;
    if (next.level_index != current_.level_index) changed |= kLevelIndex;
    if (next.active_actions != current_.active_actions) changed |= kActiveActions;
    if (next.policy_path != current_.policy_path) changed |= kPolicyPath;
    if (next.mode != current_.mode) changed |= kMode;
    if (next.mode_reason != current_.mode_reason) changed |= kModeReason;
    if (next.wake_source != current_.wake_source) changed |= kWakeSource;
  }
  std::swap(current_, next_);
  if (!have_tick_) {
    handover_.fill_all_before_first_publish(current_);
  } else {
    handover_.back() = current_;
  }
  handover_.publish();
  if (!have_tick_) {
    have_tick_ = true;
    link_.hold_incoming(false);  // calls waiting in the socket get this status
  }
  // After the publish: the bus thread that takes these bits also takes a status that has them.
  if (changed != 0) changed_properties_.fetch_or(changed, std::memory_order_acq_rel);
  // Other properties (pressure, lateness, …) are read when asked: no wake-up for them.
  if (changed != 0 || reloads_waiting_.load(std::memory_order_relaxed) > 0) wake_bus_thread();
}

void DbusService::wake_bus_thread() {
  // One task holding a pointer (stored inside std::function, and in the link's kept queue): the
  // loop allocates nothing for it. A task already waiting will see whatever is new.
  if (!wake_queued_.exchange(true, std::memory_order_acq_rel))
    link_.post([this](sdbus::IConnection* connection) { serve(connection); });
}

void DbusService::emit(const Event& event) {
  if (!told_on_the_bus(event.type)) return;
  {
    std::lock_guard lock(events_mutex_);
    if (event_count_ == event_slots_.size()) {
      events_dropped_.fetch_add(1, std::memory_order_relaxed);
    } else {
      const size_t slot = (event_head_ + event_count_) % event_slots_.size();
      event_slots_[slot] = event;
      event_covers_[slot] = reload_calls_taken_.load(std::memory_order_acquire);
      ++event_count_;
    }
  }
  wake_bus_thread();
}

void DbusService::serve(sdbus::IConnection* /*connection*/) {
  wake_queued_.store(false, std::memory_order_release);
  send_queued_events();
  announce_changed_properties();
  expire_reloads();
}

const DaemonStatus& DbusService::view() {
  handover_.take();
  return handover_.front();
}

void DbusService::announce_changed_properties() {
  const uint32_t changed = changed_properties_.exchange(0, std::memory_order_acq_rel);
  if (changed == 0) return;
  handover_.take();  // the values sd-bus reads through the getters for the signal
  std::vector<std::string> names;
  for (const auto& [bit, name] : kAnnounced) {
    if ((changed & bit) != 0) names.emplace_back(name);
  }
  if (object_) object_->properties_changed(names);
}

void DbusService::send_queued_events() {
  // One slot at a time, swapped out under the lock (no copy, no allocation there) and sent
  // outside it; the slot keeps the storage of the event sent before.
  for (;;) {
    {
      std::lock_guard lock(events_mutex_);
      if (event_count_ == 0) return;
      std::swap(event_slots_[event_head_], sending_);
      sending_covers_ = event_covers_[event_head_];
      event_head_ = (event_head_ + 1) % event_slots_.size();
      --event_count_;
    }
    send_event(sending_);
  }
}

void DbusService::send_event(const Event& event) {
  if (event.type == EventType::PolicyLoaded) {
    finish_reloads(true, event.message, sending_covers_);
    return;
  }
  if (event.type == EventType::PolicyRejected) {
    finish_reloads(false, event.message, sending_covers_);
    return;
  }
  if (!object_) return;  // no bus: a signal to nobody
  // A failed send throws sdbus::Error to the link, which drops the connection and reconnects.
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
}

void DbusService::on_reload_call(PendingReload pending) {
  if (!loop_attached_) {
    try {
      pending.reply.returnResults(false, std::string("the daemon loop is not running"));
    } catch (const sdbus::Error&) {
    }
    return;
  }
  // Kept before asking: the loop may reload (and tell the outcome) right away.
  pending.generation = reload_calls_.fetch_add(1, std::memory_order_acq_rel) + 1;
  pending_reloads_.push_back(std::move(pending));
  reloads_waiting_ = pending_reloads_.size();
  reload_wanted_ = true;
  signal_fd(to_loop_.get());
}

void DbusService::finish_reloads(bool ok, const std::string& message, uint64_t covers) {
  for (auto it = pending_reloads_.begin(); it != pending_reloads_.end();) {
    if (it->generation > covers) {
      ++it;
      continue;
    }
    try {
      it->reply.returnResults(ok, message);
    } catch (const sdbus::Error&) {
      // The caller went away; nothing to tell.
    }
    it = pending_reloads_.erase(it);
  }
  reloads_waiting_ = pending_reloads_.size();
}

void DbusService::expire_reloads() {
  if (pending_reloads_.empty()) return;
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
  reloads_waiting_ = pending_reloads_.size();
}

std::unique_ptr<DaemonComponent> make_dbus_service() { return std::make_unique<DbusService>(); }

}  // namespace guardian
