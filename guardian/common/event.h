// Events: every decision and every thing guardian sees worth telling becomes one Event, which
// the sinks (journal or stderr, metrics, D-Bus signals) render. Each event type has a fixed
// MESSAGE_ID, explained in units/guardian.catalog.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace guardian {

enum class EventType {
  Started,         // daemon started, with mode (full / system-only) and policy
  Stopping,        // SIGTERM, unwinding
  SystemOnlyMode,  // no user manager or no memory controller: PSI + meminfo only
  PolicyLoaded,    // policy (re)loaded
  PolicyRejected,  // reload refused: the old policy stays in force
  LevelChanged,    // the ladder moved
  ActionApplied,
  ActionReverted,
  ActionFailed,
  OomKill,           // systemd-oomd or the kernel killed something
  SenseProblem,      // a file that could not be read or parsed, a vanished cgroup (once)
  StateRestored,     // a value saved by a previous guardian run was put back
  Notify,            // the `notify` action: a message for the user
  ComponentFailed,   // a component could not start (a port in use, no bus); guardian runs on without it
  Stalled,           // the loop read its tick timer more than 2 s late: guardian was blind that long
  ComponentWarning,  // a component runs with a setting that deserves a look (/metrics on 0.0.0.0)
  LevelHeld,         // a level not left because its own actions hold back the room it sees ([approach])
};

// syslog(3) priorities, the journal's PRIORITY= (the ones guardian uses). Event::priority is an
// int so a plain number still compiles; write these names.
struct Priority {
  enum Level : int { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };
};

struct Event {
  EventType type = EventType::Started;
  int priority = Priority::Info;
  std::string message;
  // Extra journal fields, names without the GUARDIAN_ prefix ("LEVEL", "CGROUP", …).
  std::vector<std::pair<std::string, std::string>> fields;

  Event& with(std::string name, std::string value) {
    fields.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// The 128-bit MESSAGE_ID of an event type, 32 lowercase hex digits.
std::string_view message_id(EventType type);
// GUARDIAN_EVENT value: "started", "level-changed", …
std::string_view event_name(EventType type);
// Every event type, in the catalog's order (for readers of the journal: `guardian events`).
const std::vector<EventType>& all_event_types();
// The event type whose MESSAGE_ID is `id`, if it is one of guardian's.
std::optional<EventType> event_type_from_message_id(std::string_view id);

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void emit(const Event& event) = 0;
};

// Fans events out to sinks. Thread-safe: actions tell from the worker thread, so a sink's
// emit() may run on either thread and must be thread-safe itself.
class EventTeller {
 public:
  void add_sink(EventSink* sink);
  void remove_sink(EventSink* sink);
  void emit(const Event& event);

 private:
  std::mutex mutex_;
  std::vector<EventSink*> sinks_;
};

}  // namespace guardian
