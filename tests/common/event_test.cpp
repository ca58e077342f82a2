#include "common/event.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "tell/journal.h"

namespace guardian {
namespace {

constexpr EventType kAll[] = {
    EventType::Started,          EventType::Stopping,        EventType::SystemOnlyMode,
    EventType::PolicyLoaded,     EventType::PolicyRejected,  EventType::LevelChanged,
    EventType::ActionApplied,    EventType::ActionReverted,  EventType::ActionFailed,
    EventType::OomKill,          EventType::SenseProblem,    EventType::StateRestored,
    EventType::Notify,           EventType::ComponentFailed, EventType::Stalled,
    EventType::ComponentWarning, EventType::LevelHeld};

TEST(Event, EveryTypeHasItsOwnMessageIdAndName) {
  std::set<std::string_view> ids;
  std::set<std::string_view> names;
  for (auto type : kAll) {
    const auto id = message_id(type);
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string_view::npos) << id;
    ids.insert(id);
    names.insert(event_name(type));
  }
  EXPECT_EQ(ids.size(), std::size(kAll));
  EXPECT_EQ(names.size(), std::size(kAll));
}

TEST(Event, CatalogExplainsEveryMessageId) {
  // units/guardian.catalog is what `journalctl -x` shows; every id must have an entry.
  std::ifstream catalog(std::string(GUARDIAN_SOURCE_DIR) + "/units/guardian.catalog");
  ASSERT_TRUE(catalog) << "units/guardian.catalog missing";
  std::stringstream text;
  text << catalog.rdbuf();
  for (auto type : kAll) {
    EXPECT_NE(text.str().find("-- " + std::string(message_id(type))), std::string::npos)
        << "no catalog entry for " << event_name(type);
  }
}

TEST(StderrSink, OneLineWithFieldsQuotedWhereNeeded) {
  Event event{EventType::LevelChanged, 4, "level normal -> elevated", {}};
  event.with("LEVEL", "elevated").with("REASON", "full avg10 of app.slice 42.10 > 40");
  EXPECT_EQ(StderrSink::format(event),
            "guardian: level normal -> elevated [event=level-changed level=elevated "
            "reason=\"full avg10 of app.slice 42.10 > 40\"]");
}

struct Recorder : EventSink {
  std::vector<Event> events;
  void emit(const Event& event) override { events.push_back(event); }
};

TEST(EventTeller, FansOutToEverySinkUntilRemoved) {
  EventTeller teller;
  Recorder a, b;
  teller.add_sink(&a);
  teller.add_sink(&b);
  teller.emit(Event{EventType::Notify, 5, "one", {}});
  teller.remove_sink(&a);
  teller.emit(Event{EventType::Notify, 5, "two", {}});
  EXPECT_EQ(a.events.size(), 1u);
  ASSERT_EQ(b.events.size(), 2u);
  EXPECT_EQ(b.events[1].message, "two");
}

}  // namespace
}  // namespace guardian
