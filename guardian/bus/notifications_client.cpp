#include "bus/notifications_client.h"

#include <sdbus-c++/sdbus-c++.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <map>

#include "bus/bus_link.h"

namespace guardian::bus {
namespace {

constexpr const char* kService = "org.freedesktop.Notifications";
constexpr const char* kPath = "/org/freedesktop/Notifications";
constexpr const char* kInterface = "org.freedesktop.Notifications";

std::string escape_markup(const std::string& text);

}  // namespace

NotificationsClient::NotificationsClient(BusAddress address)
    : markup_(std::make_shared<Markup>()), link_(std::make_unique<BusLink>(std::move(address))) {
  // What the server can do is asked again after a reconnect (it may be another server).
  link_->add_on_disconnect([markup = markup_](const std::string&) { markup->known = false; });
}

NotificationsClient::~NotificationsClient() { link_->shutdown(); }

void NotificationsClient::on_closed(std::function<void(uint32_t)> handler) {
  link_->add_on_connect([handler = std::move(handler)](sdbus::IConnection& connection) {
    connection.addMatch(
        std::string("type='signal',sender='") + kService + "',path='" + kPath + "',interface='" + kInterface +
            "',member='NotificationClosed'",
        [handler](sdbus::Message& message) {
          try {
            uint32_t id = 0;
            uint32_t reason = 0;
            message >> id >> reason;
            handler(id);
          } catch (const sdbus::Error&) {
            // A malformed signal: nothing to deliver.
          }
        },
        sdbus::floating_slot);
  });
}

namespace {
std::string escape_markup(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}
}  // namespace

Result<uint32_t> NotificationsClient::notify_wait(const DesktopNotification& notification,
                                                  uint32_t replaces_id, Deadline deadline) {
  std::call_once(started_, [this] { link_->start(); });
  auto promise = std::make_shared<std::promise<Result<uint32_t>>>();
  auto answered = std::make_shared<std::atomic<bool>>(false);
  auto future = promise->get_future();
  auto done = [promise, answered](Result<uint32_t> result) {
    if (!answered->exchange(true)) promise->set_value(std::move(result));
  };
  auto timeout_usec = [deadline] {
    const auto remaining =
        std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
    return remaining.count() > 0 ? static_cast<uint64_t>(remaining.count()) : uint64_t{1};
  };
  BusLink* link = link_.get();
  auto markup = markup_;
  // Notify(s app_name, u replaces_id, s app_icon, s summary, s body, as actions, a{sv} hints,
  //        i expire_timeout) -> u id. A server with "body-markup" reads the body as markup, so
  // an app named "Tom & Jerry" is escaped for it (and only for it).
  auto send = [link, notification, replaces_id, done, timeout_usec](bool body_markup) {
    auto& proxy = link->proxy(kService, kPath);
    auto call = proxy.createMethodCall(kInterface, "Notify");
    std::map<std::string, sdbus::Variant> hints;
    hints.emplace("urgency", sdbus::Variant(notification.urgency));
    hints.emplace("desktop-entry", sdbus::Variant(std::string("guardian")));
    call << std::string("guardian") << replaces_id << notification.icon << notification.summary
         << (body_markup ? escape_markup(notification.body) : notification.body) << std::vector<std::string>{}
         << hints << notification.expire_timeout;
    proxy.callMethod(
        call,
        [done](sdbus::MethodReply& reply, const sdbus::Error* error) {
          if (error != nullptr) {
            std::string text = "Notify: " + error->getName();
            if (!error->getMessage().empty()) text += ": " + error->getMessage();
            return done(make_error(text));
          }
          try {
            uint32_t id = 0;
            reply >> id;
            done(id);
          } catch (const sdbus::Error& decode_error) {
            done(make_error("Notify: " + decode_error.getName() + ": " + decode_error.getMessage()));
          }
        },
        timeout_usec());
  };
  link_->post([link, markup, send, done, timeout_usec](sdbus::IConnection* connection) {
    if (connection == nullptr) return done(make_error("Notify: the session bus is not connected"));
    try {
      if (markup->known) return send(markup->body_markup);
      // GetCapabilities() -> as, once per connection (the server may change with it).
      auto& proxy = link->proxy(kService, kPath);
      auto call = proxy.createMethodCall(kInterface, "GetCapabilities");
      proxy.callMethod(
          call,
          [markup, send, done](sdbus::MethodReply& reply, const sdbus::Error* error) {
            if (error != nullptr) {
              std::string text = "GetCapabilities: " + error->getName();
              if (!error->getMessage().empty()) text += ": " + error->getMessage();
              return done(make_error(text));
            }
            std::vector<std::string> capabilities;
            try {
              reply >> capabilities;
            } catch (const sdbus::Error&) {
              capabilities.clear();  // unreadable: treat the body as plain text
            }
            markup->known = true;
            markup->body_markup =
                std::find(capabilities.begin(), capabilities.end(), "body-markup") != capabilities.end();
            try {
              send(markup->body_markup);
            } catch (const sdbus::Error& send_error) {
              done(make_error("Notify: " + send_error.getName() + ": " + send_error.getMessage()));
            }
          },
          timeout_usec());
    } catch (const sdbus::Error& error) {
      done(make_error("Notify: " + error.getName() + ": " + error.getMessage()));
      throw;  // the call could not even be sent: BusLink drops the connection and reconnects
    }
  });
  if (future.wait_until(deadline) != std::future_status::ready)
    return make_error("Notify: no answer from the notification server before the deadline");
  return future.get();
}

}  // namespace guardian::bus
