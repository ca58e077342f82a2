// Client of the desktop's notification server (org.freedesktop.Notifications on the session
// bus, Desktop Notifications Specification 1.2): act's NotificationServer. Calls run on its own
// bus thread (bus/bus_link.h); notify_wait() blocks only the action worker, up to its deadline.
// The bus thread starts at the first notification, so a guardian whose policy never notifies
// opens no connection for it.
#pragma once

#include <functional>
#include <memory>
#include <mutex>

#include "act/desktop_notice.h"
#include "bus/bus_address.h"

namespace guardian::bus {

class BusLink;

class NotificationsClient final : public NotificationServer {
 public:
  explicit NotificationsClient(BusAddress address);
  ~NotificationsClient() override;
  NotificationsClient(const NotificationsClient&) = delete;
  NotificationsClient& operator=(const NotificationsClient&) = delete;

  Result<uint32_t> notify_wait(const DesktopNotification& notification, uint32_t replaces_id,
                               Deadline deadline) override;
  // NotificationClosed(id, reason) from the server, on the bus thread.
  void on_closed(std::function<void(uint32_t id)> handler);

 private:
  // Whether the server reads the body as markup (GetCapabilities "body-markup"); bus-thread only.
  struct Markup {
    bool known = false;
    bool body_markup = false;
  };
  std::shared_ptr<Markup> markup_;
  std::once_flag started_;
  std::unique_ptr<BusLink> link_;
};

}  // namespace guardian::bus
