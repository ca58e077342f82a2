// The `notify` action's desktop notification against a real dbus-daemon and a notification
// server that speaks the real interface (tests/support/notification_server.h): what goes over
// the wire, one notification updated in place, the rate limit, a missing server said once, and
// a notification the user closed replaced by a new one.
#include "bus/notifications_client.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "act/desktop_notice.h"
#include "common/event.h"
#include "support/dbus_daemon_fixture.h"
#include "support/notification_server.h"

namespace guardian {
namespace {

using namespace std::chrono_literals;
const std::string kFedora = std::string(GUARDIAN_FIXTURES_DIR) + "/fedora42-podman";

class RecordingSink final : public EventSink {
 public:
  void emit(const Event& event) override {
    std::lock_guard lock(mutex_);
    events_.push_back(event);
  }
  std::vector<Event> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  std::mutex mutex_;
  std::vector<Event> events_;
};

auto in(std::chrono::milliseconds timeout) { return std::chrono::steady_clock::now() + timeout; }

// The fixture's app.slice at the incident (tests/fixtures/fedora42-podman/README.md).
DesktopPicture fedora_picture() {
  DesktopPicture picture;
  picture.apps = {{"app-gnome-firefox-2871.scope", 8299999232},
                  {"app-gnome-org.gnome.Evolution-3412.scope", 1499996160},
                  {"app-org.gnome.Nautilus-4120.scope", 419999744}};
  picture.done = {"", "Jellyfin transcodes moved to VA-API"};
  return picture;
}

class Notifications : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(bus_.ok()) << bus_.error();
    teller_.add_sink(&sink_);
  }
  void TearDown() override { teller_.remove_sink(&sink_); }

  testing::DbusDaemonFixture bus_;
  EventTeller teller_;
  RecordingSink sink_;
  std::chrono::steady_clock::time_point now_ = std::chrono::steady_clock::now();
  std::unique_ptr<DesktopNotices> notices(std::shared_ptr<NotificationServer> server) {
    auto made =
        std::make_unique<DesktopNotices>(HostRoot(kFedora), DataDirs::from(nullptr, "/home/alice", nullptr),
                                         &teller_, [this] { return now_; });
    made->plug(std::move(server));
    made->set_picture(fedora_picture());
    return made;
  }
};

TEST_F(Notifications, NotifyCarriesTheSpecsArgumentsAndTheServerReadsMarkupSafely) {
  test::NotificationServerDouble server(bus_.address());
  ASSERT_TRUE(server.ready());
  bus::NotificationsClient client(bus::BusAddress::at(bus_.address()));
  DesktopNotification notification{"Memory is tight", "Tom & Jerry <3"};
  notification.urgency = 2;
  auto id = client.notify_wait(notification, 0, in(5s));
  ASSERT_TRUE(id.ok()) << id.error().message;
  auto again = client.notify_wait(notification, *id, in(5s));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *id);
  const auto calls = server.notify_calls();
  ASSERT_EQ(calls.size(), 2U);
  EXPECT_EQ(calls[0].app_name, "guardian");
  EXPECT_EQ(calls[0].replaces_id, 0U);
  EXPECT_EQ(calls[1].replaces_id, *id);
  EXPECT_EQ(calls[0].icon, "dialog-warning");
  EXPECT_EQ(calls[0].summary, "Memory is tight");
  EXPECT_EQ(calls[0].body, "Tom &amp; Jerry &lt;3");  // GNOME Shell has "body-markup"
  EXPECT_EQ(calls[0].hints.at("urgency"), "2");       // a byte, as the spec says
  EXPECT_EQ(calls[0].hints.at("desktop-entry"), "guardian");
  EXPECT_EQ(calls[0].expire_timeout, -1);
  // Capabilities are asked once per connection.
  EXPECT_EQ(server.calls(), (std::vector<std::string>{"GetCapabilities", "Notify", "Notify"}));
  EXPECT_EQ(server.open().size(), 1U);
}

TEST_F(Notifications, APlainTextServerGetsThePlainBody) {
  test::NotificationServerDouble server(bus_.address(), {"body", "persistence"});
  ASSERT_TRUE(server.ready());
  bus::NotificationsClient client(bus::BusAddress::at(bus_.address()));
  ASSERT_TRUE(client.notify_wait({"s", "Tom & Jerry"}, 0, in(5s)).ok());
  EXPECT_EQ(server.notify_calls().at(0).body, "Tom & Jerry");
}

TEST_F(Notifications, OneNotificationUpdatedInPlaceAtMostOncePerInterval) {
  test::NotificationServerDouble server(bus_.address());
  ASSERT_TRUE(server.ready());
  auto client = std::make_shared<bus::NotificationsClient>(bus::BusAddress::at(bus_.address()));
  auto desk = notices(client);
  auto first = desk->show("Memory is tight", "guardian is acting", 1, 30s, in(5s));
  ASSERT_EQ(first.kind, DesktopNotices::Shown::Kind::Shown) << first.detail;
  EXPECT_EQ(first.detail, "desktop notification " + std::to_string(first.id) + " shown");
  ASSERT_EQ(server.notify_calls().size(), 1U);
  EXPECT_EQ(server.notify_calls()[0].body,
            "guardian is acting\nLargest apps: Firefox 8.3 GB, Evolution 1.5 GB, Files 420 MB\n"
            "guardian has: Jellyfin transcodes moved to VA-API");

  // 10 s later: within the interval, nothing is sent.
  now_ += 10s;
  auto limited = desk->show("Memory is tight", "again", 1, 30s, in(5s));
  EXPECT_EQ(limited.kind, DesktopNotices::Shown::Kind::RateLimited);
  EXPECT_EQ(limited.detail, "desktop notification not updated: the last one was 10 s ago (interval 30 s)");
  EXPECT_EQ(server.notify_calls().size(), 1U);

  // 31 s after the first: the same notification, updated.
  now_ += 21s;
  auto updated = desk->show("Memory is very tight", "again", 2, 30s, in(5s));
  ASSERT_EQ(updated.kind, DesktopNotices::Shown::Kind::Shown);
  EXPECT_EQ(updated.id, first.id);
  EXPECT_EQ(updated.detail, "desktop notification " + std::to_string(first.id) + " updated");
  ASSERT_EQ(server.open().size(), 1U);
  EXPECT_EQ(server.open().begin()->second.summary, "Memory is very tight");
  EXPECT_EQ(server.open().begin()->second.updates, 1);

  // The user closes it; here nobody listens for NotificationClosed, so the closed id is passed
  // and the server (as GNOME Shell does) opens a new one under a new id, which is kept from then on.
  server.dismiss(first.id);
  now_ += 31s;
  auto fresh = desk->show("Memory is tight", "", 1, 30s, in(5s));
  ASSERT_EQ(fresh.kind, DesktopNotices::Shown::Kind::Shown);
  EXPECT_EQ(server.notify_calls().back().replaces_id, first.id);
  EXPECT_NE(fresh.id, first.id);
  EXPECT_EQ(fresh.detail, "desktop notification " + std::to_string(fresh.id) + " shown");
  now_ += 31s;
  EXPECT_EQ(desk->show("Memory is tight", "", 1, 30s, in(5s)).id, fresh.id);
  EXPECT_EQ(server.open().size(), 1U);
}

TEST_F(Notifications, ClosedSignalResetsTheIdThroughTheClientsHandler) {
  test::NotificationServerDouble server(bus_.address());
  ASSERT_TRUE(server.ready());
  auto client = std::make_shared<bus::NotificationsClient>(bus::BusAddress::at(bus_.address()));
  auto desk = notices(client);
  client->on_closed([raw = desk.get()](uint32_t id) { raw->closed(id); });
  auto first = desk->show("a", "", 1, 0s, in(5s));
  ASSERT_EQ(first.kind, DesktopNotices::Shown::Kind::Shown);
  server.dismiss(first.id);
  std::this_thread::sleep_for(500ms);
  auto second = desk->show("b", "", 1, 0s, in(5s));
  ASSERT_EQ(second.kind, DesktopNotices::Shown::Kind::Shown);
  EXPECT_EQ(server.notify_calls().back().replaces_id, 0U);
  EXPECT_EQ(server.open().size(), 1U);
}

TEST_F(Notifications, NoNotificationServerIsOneWarningNotAnErrorPerStep) {
  // A session bus where nobody owns org.freedesktop.Notifications (a desktop-less session).
  auto client = std::make_shared<bus::NotificationsClient>(bus::BusAddress::at(bus_.address()));
  auto desk = notices(client);
  for (int step = 0; step < 3; ++step) {
    now_ += 60s;
    auto shown = desk->show("Memory is tight", "", 1, 30s, in(5s));
    EXPECT_EQ(shown.kind, DesktopNotices::Shown::Kind::Unavailable);
    EXPECT_NE(shown.detail.find("journal only: GetCapabilities: org.freedesktop.DBus.Error.ServiceUnknown"),
              std::string::npos)
        << shown.detail;
  }
  auto events = sink_.events();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].priority, Priority::Warning);
  EXPECT_NE(events[0].message.find("desktop notifications unavailable"), std::string::npos)
      << events[0].message;

  // A server appears: it works, and a later loss is said again (once).
  {
    test::NotificationServerDouble server(bus_.address());
    ASSERT_TRUE(server.ready());
    now_ += 60s;
    EXPECT_EQ(desk->show("Memory is tight", "", 1, 30s, in(5s)).kind, DesktopNotices::Shown::Kind::Shown);
  }
  now_ += 60s;
  EXPECT_EQ(desk->show("Memory is tight", "", 1, 30s, in(5s)).kind, DesktopNotices::Shown::Kind::Unavailable);
  EXPECT_EQ(sink_.events().size(), 2U);

  // Without any client (no session bus at all) the same: journal only, no new warning.
  auto unplugged = notices(nullptr);
  EXPECT_EQ(unplugged->show("x", "", 1, 0s, in(1s)).kind, DesktopNotices::Shown::Kind::Unavailable);
}

TEST(NoticeBody, NamesTheAppsAndWhatGuardianDid) {
  EXPECT_EQ(compose_notice_body("", {}, {}), "");
  EXPECT_EQ(
      compose_notice_body(
          "Close what you do not need.", {{"Firefox", 8299999232}, {"Files", 419999744}},
          {"", "Jellyfin transcodes moved to VA-API", "container.slice held to a lower memory limit",
           "Jellyfin transcodes moved to VA-API"}),
      "Close what you do not need.\nLargest apps: Firefox 8.3 GB, Files 420 MB\n"
      "guardian has: Jellyfin transcodes moved to VA-API; container.slice held to a lower memory limit");
  EXPECT_EQ(format_app_bytes(999'999), "1000 kB");
  EXPECT_EQ(format_app_bytes(180'000'000), "180 MB");
}

TEST(DoneForUser, ALineForWhatTheUserWouldNotice) {
  ActionSpec vaapi;
  vaapi.type = "jellyfin.prefer-vaapi";
  EXPECT_EQ(done_for_user(vaapi), "Jellyfin transcodes moved to VA-API");
  ActionSpec freeze;
  freeze.type = "unit.freeze";
  freeze.params["unit"].value = std::string("immich-ml.service");
  EXPECT_EQ(done_for_user(freeze), "immich-ml.service paused");
  ActionSpec note;
  note.type = "notify";
  EXPECT_EQ(done_for_user(note), "");
}

}  // namespace
}  // namespace guardian
