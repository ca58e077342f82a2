#include "act/desktop_notice.h"

#include <cinttypes>
#include <cstdio>

#include "act/basic_actions.h"
#include "common/event.h"

namespace guardian {

std::string done_for_user(const ActionSpec& spec) {
  const std::string unit = param_string(spec, "unit");
  const std::string& type = spec.type;
  if (type == "jellyfin.prefer-vaapi") return "Jellyfin transcodes moved to VA-API";
  if (type == "jellyfin.cheaper-software") return "Jellyfin software transcodes made cheaper";
  if (type == "jellyfin.respawn-software-transcodes")
    return "Jellyfin transcodes restarted on the cheaper settings";
  if (type == "jellyfin.pause-background-tasks") return "Jellyfin background tasks paused";
  if (type == "jellyfin.cap-bitrate") return "Jellyfin streams capped";
  if (type == "jellyfin.stop-lowest-priority") return "the lowest-priority Jellyfin stream stopped";
  if (type == "slice.set-memory-high" || type == "slice.set-memory-max")
    return (unit.empty() ? std::string("container.slice") : unit) + " held to a lower memory limit";
  if (type == "slice.balance")
    return (unit.empty() ? std::string("container.slice") : unit) + " balanced against the desktop";
  if (type == "unit.freeze") return unit + " paused";
  return {};
}

std::string format_app_bytes(uint64_t bytes) {
  char text[32];
  const double value = static_cast<double>(bytes);
  if (bytes >= 1'000'000'000)
    std::snprintf(text, sizeof text, "%.1f GB", value / 1e9);
  else if (bytes >= 1'000'000)
    std::snprintf(text, sizeof text, "%.0f MB", value / 1e6);
  else
    std::snprintf(text, sizeof text, "%.0f kB", value / 1e3);
  return text;
}

std::string compose_notice_body(const std::string& body, const std::vector<NamedApp>& apps,
                                const std::vector<std::string>& done) {
  std::string text = body;
  if (!apps.empty()) {
    text += (text.empty() ? "" : "\n") + std::string("Largest apps: ");
    for (size_t i = 0; i < apps.size(); ++i)
      text += (i == 0 ? "" : ", ") + apps[i].name + " " + format_app_bytes(apps[i].bytes);
  }
  std::string did;
  for (const auto& line : done) {
    if (line.empty() || did.find(line) != std::string::npos) continue;
    did += (did.empty() ? "" : "; ") + line;
  }
  if (!did.empty()) text += (text.empty() ? "" : "\n") + std::string("guardian has: ") + did;
  return text;
}

DesktopNotices::DesktopNotices(HostRoot host, DataDirs data_dirs, EventTeller* teller,
                               std::function<Clock::time_point()> now)
    : names_(std::move(host), std::move(data_dirs)), teller_(teller), now_(std::move(now)) {}

void DesktopNotices::plug(std::shared_ptr<NotificationServer> server) {
  std::lock_guard lock(mutex_);
  server_ = std::move(server);
}

void DesktopNotices::set_picture(DesktopPicture picture) {
  std::lock_guard lock(mutex_);
  picture_ = std::move(picture);
}

void DesktopNotices::closed(uint32_t id) {
  std::lock_guard lock(mutex_);
  if (id == id_) id_ = 0;
}

DesktopNotices::Shown DesktopNotices::show(const std::string& summary, const std::string& body,
                                           uint8_t urgency, std::chrono::microseconds interval,
                                           NotificationServer::Deadline deadline) {
  std::lock_guard show_lock(show_mutex_);
  const auto now = now_();
  if (last_sent_ && now - *last_sent_ < interval) {
    const auto ago = std::chrono::duration_cast<std::chrono::seconds>(now - *last_sent_).count();
    return {Shown::Kind::RateLimited, 0,
            "desktop notification not updated: the last one was " + std::to_string(ago) +
                " s ago (interval " +
                std::to_string(std::chrono::duration_cast<std::chrono::seconds>(interval).count()) + " s)"};
  }
  std::shared_ptr<NotificationServer> server;
  DesktopPicture picture;
  uint32_t replaces = 0;
  {
    std::lock_guard lock(mutex_);
    server = server_;
    picture = picture_;
    replaces = id_;
  }
  Result<uint32_t> sent = make_error("no session bus client (guardian runs without one)");
  if (server) {
    std::vector<NamedApp> apps;
    for (const auto& app : picture.apps) apps.push_back({names_.name_of(app.unit), app.bytes});
    DesktopNotification notification{summary, compose_notice_body(body, apps, picture.done)};
    notification.urgency = urgency;
    sent = server->notify_wait(notification, replaces, deadline);
  }
  if (!sent.ok()) {
    if (!warned_ && teller_ != nullptr) {
      Event event{EventType::Notify,
                  Priority::Warning,
                  "desktop notifications unavailable (" + sent.error().message +
                      "); notify actions write the journal only until a notification server answers",
                  {}};
      event.with("ACTION", "notify").with("RESULT", "unavailable");
      teller_->emit(event);
    }
    warned_ = true;
    return {Shown::Kind::Unavailable, 0, "journal only: " + sent.error().message};
  }
  warned_ = false;
  last_sent_ = now;
  {
    std::lock_guard lock(mutex_);
    id_ = *sent;
  }
  return {Shown::Kind::Shown, *sent,
          std::string(replaces != 0 && replaces == *sent
                          ? "desktop notification " + std::to_string(*sent) + " updated"
                          : "desktop notification " + std::to_string(*sent) + " shown")};
}

}  // namespace guardian
