#include "support/notification_server.h"

#include <sdbus-c++/sdbus-c++.h>

#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <tuple>

#include "bus/bus_link.h"

namespace guardian::test {
namespace {

constexpr const char* kInterface = "org.freedesktop.Notifications";

// Closing reasons (spec 1.2, NotificationClosed): 2 dismissed by the user, 3 CloseNotification.
constexpr uint32_t kDismissed = 2;
constexpr uint32_t kClosedByCall = 3;

std::string variant_text(const sdbus::Variant& value) {
  if (value.containsValueOfType<uint8_t>()) return std::to_string(value.get<uint8_t>());
  if (value.containsValueOfType<std::string>()) return value.get<std::string>();
  if (value.containsValueOfType<bool>()) return value.get<bool>() ? "true" : "false";
  if (value.containsValueOfType<int32_t>()) return std::to_string(value.get<int32_t>());
  return "<" + std::string(value.peekValueType()) + ">";
}

}  // namespace

struct NotificationServerDouble::State {
  mutable std::mutex mutex;
  std::vector<std::string> capabilities;
  std::vector<RecordedNotify> notifies;
  std::vector<std::string> calls;
  std::map<uint32_t, OpenNotification> open;
  uint32_t next_id = 1;
  bool ready = false;
  std::unique_ptr<sdbus::IObject> object;  // bus-thread only

  void closed(uint32_t id, uint32_t reason) {
    object->emitSignal("NotificationClosed").onInterface(kInterface).withArguments(id, reason);
  }

  void export_object(sdbus::IConnection& connection) {
    object = sdbus::createObject(connection, "/org/freedesktop/Notifications");
    object->registerMethod("Notify")
        .onInterface(kInterface)
        .withInputParamNames("app_name", "replaces_id", "app_icon", "summary", "body", "actions", "hints",
                             "expire_timeout")
        .withOutputParamNames("id")
        .implementedAs([this](const std::string& app_name, const uint32_t& replaces_id,
                              const std::string& icon, const std::string& summary, const std::string& body,
                              const std::vector<std::string>& actions,
                              const std::map<std::string, sdbus::Variant>& hints,
                              const int32_t& expire_timeout) {
          std::lock_guard lock(mutex);
          calls.emplace_back("Notify");
          RecordedNotify call{app_name, replaces_id, icon, summary, body, actions, {}, expire_timeout, 0};
          for (const auto& [name, value] : hints) call.hints[name] = variant_text(value);
          auto existing = open.find(replaces_id);
          if (replaces_id != 0 && existing != open.end()) {
            existing->second.summary = summary;
            existing->second.body = body;
            ++existing->second.updates;
            call.returned_id = replaces_id;
          } else {
            call.returned_id = next_id++;
            open[call.returned_id] = {summary, body, 0};
          }
          notifies.push_back(call);
          return call.returned_id;
        });
    object->registerMethod("CloseNotification")
        .onInterface(kInterface)
        .withInputParamNames("id")
        .implementedAs([this](const uint32_t& id) {
          bool was_open = false;
          {
            std::lock_guard lock(mutex);
            calls.push_back("CloseNotification " + std::to_string(id));
            was_open = open.erase(id) > 0;
          }
          if (was_open) closed(id, kClosedByCall);
        });
    object->registerMethod("GetCapabilities")
        .onInterface(kInterface)
        .withOutputParamNames("capabilities")
        .implementedAs([this]() {
          std::lock_guard lock(mutex);
          calls.emplace_back("GetCapabilities");
          return capabilities;
        });
    object->registerMethod("GetServerInformation")
        .onInterface(kInterface)
        .withOutputParamNames("name", "vendor", "version", "spec_version")
        .implementedAs([this]() {
          std::lock_guard lock(mutex);
          calls.emplace_back("GetServerInformation");
          return std::make_tuple(std::string("gnome-shell"), std::string("GNOME"), std::string("48.0"),
                                 std::string("1.2"));
        });
    object->registerSignal("NotificationClosed")
        .onInterface(kInterface)
        .withParameters<uint32_t, uint32_t>("id", "reason");
    object->registerSignal("ActionInvoked")
        .onInterface(kInterface)
        .withParameters<uint32_t, std::string>("id", "action_key");
    object->finishRegistration();
  }
};

NotificationServerDouble::NotificationServerDouble(const std::string& address,
                                                   std::vector<std::string> capabilities)
    : state_(std::make_shared<State>()), link_(std::make_unique<bus::BusLink>(bus::BusAddress::at(address))) {
  state_->capabilities = std::move(capabilities);
  auto state = state_;
  link_->add_on_connect([state](sdbus::IConnection& connection) {
    state->export_object(connection);
    connection.requestName("org.freedesktop.Notifications");
    std::lock_guard lock(state->mutex);
    state->ready = true;
  });
  link_->start();
  for (int i = 0; i < 500 && !ready(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

NotificationServerDouble::~NotificationServerDouble() {
  auto state = state_;
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  link_->post([state, done](sdbus::IConnection*) {
    state->object.reset();  // on the bus thread, before the connection goes
    done->set_value();
  });
  future.wait_for(std::chrono::seconds(5));
  link_.reset();
}

bool NotificationServerDouble::ready() const {
  std::lock_guard lock(state_->mutex);
  return state_->ready;
}

std::vector<RecordedNotify> NotificationServerDouble::notify_calls() const {
  std::lock_guard lock(state_->mutex);
  return state_->notifies;
}

std::vector<std::string> NotificationServerDouble::calls() const {
  std::lock_guard lock(state_->mutex);
  return state_->calls;
}

std::map<uint32_t, OpenNotification> NotificationServerDouble::open() const {
  std::lock_guard lock(state_->mutex);
  return state_->open;
}

void NotificationServerDouble::dismiss(uint32_t id) {
  auto state = state_;
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  link_->post([state, id, done](sdbus::IConnection*) {
    bool was_open = false;
    {
      std::lock_guard lock(state->mutex);
      was_open = state->open.erase(id) > 0;
    }
    if (was_open && state->object) state->closed(id, kDismissed);
    done->set_value();
  });
  future.wait_for(std::chrono::seconds(5));
}

}  // namespace guardian::test
