#include "common/event.h"

#include <array>

namespace guardian {
namespace {

struct EventInfo {
  EventType type;
  std::string_view id;    // MESSAGE_ID: fixed forever once released (units/guardian.catalog)
  std::string_view name;  // GUARDIAN_EVENT
};

constexpr std::array kEvents = {
    EventInfo{EventType::Started, "7092a2f3b5af466da1f9c0c39695c299", "started"},
    EventInfo{EventType::Stopping, "11b50071e2e048a98054c18ce40aa953", "stopping"},
    EventInfo{EventType::SystemOnlyMode, "802e8e46f9fe4d438debb51392c4d538", "system-only-mode"},
    EventInfo{EventType::PolicyLoaded, "91d82fe2181745d2856661f0843e1a01", "policy-loaded"},
    EventInfo{EventType::PolicyRejected, "fbff51dcf4cd4fb0b7553d63eeed494f", "policy-rejected"},
    EventInfo{EventType::LevelChanged, "83fbc695a04f469f962d3c89c65b3bd9", "level-changed"},
    EventInfo{EventType::ActionApplied, "e882e4e8791142a99ef941e455991a6a", "action-applied"},
    EventInfo{EventType::ActionReverted, "9780226c1c4e496f930a12d730e347f7", "action-reverted"},
    EventInfo{EventType::ActionFailed, "49db7a1d464b4b7daece2e95bcd3cd04", "action-failed"},
    EventInfo{EventType::OomKill, "35250fa522a64e678ed9bc51e000dea1", "oom-kill"},
    EventInfo{EventType::SenseProblem, "b0397a034f3f4d06b1f50ace6f4c0945", "sense-problem"},
    EventInfo{EventType::StateRestored, "6ee5b2a2346c4f0da81cfa3ed2d9b80f", "state-restored"},
    EventInfo{EventType::Notify, "13df41d4a4714c428dbade695ca72cc2", "notify"},
    EventInfo{EventType::ComponentFailed, "c5e0a3f1d2b84f4e9a7c6b1d0e2f3a49", "component-failed"},
    EventInfo{EventType::Stalled, "35c9b24280c242acb16b8180db0f06e7", "stalled"},
    EventInfo{EventType::ComponentWarning, "fb8630965cf643f9a98d21716513a1fe", "component-warning"},
    EventInfo{EventType::LevelHeld, "8a8b42af8c4e4a73bc104017a77452d4", "level-held"},
};

const EventInfo& info(EventType type) {
  for (const auto& entry : kEvents) {
    if (entry.type == type) return entry;
  }
  return kEvents[0];  // unreachable: every enumerator is listed (checked by a test)
}

}  // namespace

std::string_view message_id(EventType type) { return info(type).id; }
std::string_view event_name(EventType type) { return info(type).name; }

const std::vector<EventType>& all_event_types() {
  static const std::vector<EventType> kTypes = [] {
    std::vector<EventType> types;
    for (const auto& entry : kEvents) types.push_back(entry.type);
    return types;
  }();
  return kTypes;
}

std::optional<EventType> event_type_from_message_id(std::string_view id) {
  for (const auto& entry : kEvents) {
    if (entry.id == id) return entry.type;
  }
  return std::nullopt;
}

void EventTeller::add_sink(EventSink* sink) {
  std::lock_guard lock(mutex_);
  sinks_.push_back(sink);
}

void EventTeller::remove_sink(EventSink* sink) {
  std::lock_guard lock(mutex_);
  std::erase(sinks_, sink);
}

void EventTeller::emit(const Event& event) {
  std::lock_guard lock(mutex_);
  for (auto* sink : sinks_) sink->emit(event);
}

}  // namespace guardian
