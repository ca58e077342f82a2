// A desktop notification server for tests, served with sdbus-c++ on a test's private
// dbus-daemon: org.freedesktop.Notifications at /org/freedesktop/Notifications, the Desktop
// Notifications Specification 1.2 interface as GNOME Shell serves it
// (js/ui/notificationDaemon.js): Notify(susssasa{sv}i) -> u, CloseNotification(u),
// GetCapabilities() -> as, GetServerInformation() -> (ssss); signals NotificationClosed(uu) and
// ActionInvoked(us). Notify with the id of an open notification replaces it in place and
// returns that id; with 0 or an unknown id it opens a new one. Every call is recorded.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace guardian::bus {
class BusLink;
}

namespace guardian::test {

struct RecordedNotify {
  std::string app_name;
  uint32_t replaces_id = 0;
  std::string icon;
  std::string summary;
  std::string body;
  std::vector<std::string> actions;
  std::map<std::string, std::string> hints;  // name -> value as text ("urgency" -> "1")
  int32_t expire_timeout = 0;
  uint32_t returned_id = 0;
};

struct OpenNotification {
  std::string summary;
  std::string body;
  int updates = 0;  // Notify calls that replaced it in place
};

class NotificationServerDouble {
 public:
  // Connects to `address` and owns org.freedesktop.Notifications there. `capabilities` as
  // GetCapabilities answers (GNOME Shell 48's by default).
  explicit NotificationServerDouble(const std::string& address, std::vector<std::string> capabilities = {
                                                                    "actions", "body", "body-markup",
                                                                    "icon-static", "persistence", "sound"});
  ~NotificationServerDouble();
  NotificationServerDouble(const NotificationServerDouble&) = delete;
  NotificationServerDouble& operator=(const NotificationServerDouble&) = delete;

  [[nodiscard]] bool ready() const;
  [[nodiscard]] std::vector<RecordedNotify> notify_calls() const;
  [[nodiscard]] std::vector<std::string> calls() const;  // method names in call order
  [[nodiscard]] std::map<uint32_t, OpenNotification> open() const;
  // The user dismisses a notification: it closes with reason 2 and NotificationClosed is sent.
  void dismiss(uint32_t id);

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::unique_ptr<bus::BusLink> link_;
};

}  // namespace guardian::test
