// Desktop notifications for the `notify` action (org.freedesktop.Notifications, Desktop
// Notifications Specification 1.2). act states what it needs (NotificationServer);
// bus::NotificationsClient provides it on the session bus, so act does not depend on D-Bus code.
//
// One notification per guardian, updated in place: every Notify after the first passes the id
// the server gave (replaces_id), so three rises of pressure leave one notification with the
// latest text, not three. At most one per `interval` (a notify within it goes to the journal
// only). A missing server (no session bus, no notification daemon) is one warning, not an
// error per level step. Everything here runs on the action worker thread, with the action's
// deadline; the loop only hands over the picture (set_picture) when it submits the action.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/policy.h"
#include "model/desktop_apps.h"
#include "sense/desktop_apps.h"

namespace guardian {

class EventTeller;

// One Notify call's arguments (the spec's, minus actions: guardian offers none).
struct DesktopNotification {
  std::string summary;
  std::string body;
  std::string icon = "dialog-warning";
  uint8_t urgency = 1;          // hint "urgency": 0 low, 1 normal, 2 critical
  int32_t expire_timeout = -1;  // ms; -1 = the server's default
};

// What act needs of a notification server. Blocking, for the action worker: returns by `deadline`.
class NotificationServer {
 public:
  using Deadline = std::chrono::steady_clock::time_point;
  virtual ~NotificationServer() = default;
  // Notify(app_name "guardian", replaces_id, …) -> the id the server gave the notification.
  virtual Result<uint32_t> notify_wait(const DesktopNotification& notification, uint32_t replaces_id,
                                       Deadline deadline) = 0;
};

// What the loop knows when it submits a notify: the largest apps and what guardian has done.
struct DesktopPicture {
  std::vector<AppMemory> apps;    // largest first (model/desktop_apps.h)
  std::vector<std::string> done;  // "Jellyfin transcodes moved to VA-API", … (done_for_user)
};

// A user-facing line for an action in force ("Jellyfin transcodes moved to VA-API"), from its
// spec; "" for actions that change nothing the user would notice (log, notify).
std::string done_for_user(const ActionSpec& spec);

// "8.3 GB", "420 MB": decimal, as desktop system monitors show memory.
std::string format_app_bytes(uint64_t bytes);

// The body: the policy's text, the largest apps by name and what guardian did. Pure.
//   "<body>\nLargest apps: Firefox 8.3 GB, Evolution 1.5 GB, Files 420 MB\nguardian has: Jellyfin …"
struct NamedApp {
  std::string name;
  uint64_t bytes = 0;
};
std::string compose_notice_body(const std::string& body, const std::vector<NamedApp>& apps,
                                const std::vector<std::string>& done);

// The daemon's one notification, shared by every notify action (ActionEnv::notices).
// Thread-safe: the loop sets the picture and the server, the worker shows.
class DesktopNotices {
 public:
  using Clock = std::chrono::steady_clock;
  DesktopNotices(
      HostRoot host, DataDirs data_dirs, EventTeller* teller,
      std::function<Clock::time_point()> now = [] { return Clock::now(); });

  void plug(std::shared_ptr<NotificationServer> server);
  void set_picture(DesktopPicture picture);
  // The server closed our notification (NotificationClosed): the next one is a new one.
  void closed(uint32_t id);

  struct Shown {
    enum class Kind { Shown, RateLimited, Unavailable } kind = Kind::Shown;
    uint32_t id = 0;     // Shown: the notification's id
    std::string detail;  // for the action result
  };
  // Sends (or updates) the notification unless one was sent less than `interval` ago.
  Shown show(const std::string& summary, const std::string& body, uint8_t urgency,
             std::chrono::microseconds interval, NotificationServer::Deadline deadline);

 private:
  // The loop's side: never held across a D-Bus call, so set_picture() never waits on one.
  std::mutex mutex_;
  std::shared_ptr<NotificationServer> server_;
  DesktopPicture picture_;
  uint32_t id_ = 0;  // the notification to replace; 0 = none yet (or closed)
  // The worker's side: one show() at a time.
  std::mutex show_mutex_;
  DesktopNames names_;
  EventTeller* teller_;
  std::function<Clock::time_point()> now_;
  std::optional<Clock::time_point> last_sent_;
  bool warned_ = false;  // the "no notification server" warning was given (reset by a success)
};

}  // namespace guardian
