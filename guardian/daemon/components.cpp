// The components that run beside the loop. One line each; a component that cannot start
// (no session bus, a port in use) reports that through an event and stays inert.
#include <unistd.h>

#include "act/desktop_notice.h"
#include "act/jellyfin_steering.h"
#include "bus/notifications_client.h"
#include "bus/systemd_component.h"
#include "daemon/daemon.h"
#include "jellyfin/jellyfin_watcher.h"
#include "tell/dbus_service.h"
#include "tell/metrics_exporter.h"

namespace guardian {

std::vector<std::unique_ptr<DaemonComponent>> make_components(const DaemonOptions& options,
                                                              ActionRunner& actions) {
  std::vector<std::unique_ptr<DaemonComponent>> components;
  auto metrics = options.metrics_exporter ? std::make_unique<MetricsExporter>()  // /metrics ([metrics])
                                          : nullptr;
  // The Jellyfin watcher's thread publishes into the exporter: the watcher comes first in the
  // vector so it is destroyed (its thread joined) before the exporter.
  MetricsExporter* exporter = metrics.get();
  JellyfinWatcherOptions jellyfin;
  // The instances and what guardian changed in them, both the daemon's (ActionEnv::jellyfin). The
  // watcher lets the steering retry kept restores after each round Jellyfin answers; a dry run
  // changes nothing, restores included.
  JellyfinSteering* steering = actions.env().jellyfin;
  jellyfin.instances = steering != nullptr ? &steering->instances() : nullptr;
  jellyfin.kept = options.dry_run ? nullptr : steering;
  jellyfin.host_root = options.host_root;
  jellyfin.probe_binary = [] {
    char self[4096] = {};  // `guardian probe vaapi` runs as a child of this same binary
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    return n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string();
  }();
  if (exporter != nullptr) {
    jellyfin.publish_totals = [exporter](const std::vector<JellyfinTranscodeTotals>& rows) {
      exporter->set_jellyfin_view(rows);
    };
    jellyfin.publish_vaapi = [exporter](std::optional<bool> available) {
      exporter->set_vaapi_available(available);
    };
  }
  components.push_back(
      std::make_unique<JellyfinWatcher>(std::move(jellyfin)));  // Jellyfin sessions + ffmpeg jobs
  if (metrics) components.push_back(std::move(metrics));
  components.push_back(make_dbus_service());  // guardian's own D-Bus API (io.github.guardian.Guardian1)
  // The desktop's notification server for the `notify` actions (connects at the first one).
  if (DesktopNotices* notices = actions.env().notices) {
    auto client = std::make_shared<bus::NotificationsClient>(bus::BusAddress::user());
    client->on_closed([notices](uint32_t id) { notices->closed(id); });
    notices->plug(std::move(client));
  }
  bus::SystemdComponentOptions systemd;
  systemd.host_root = options.host_root;
  systemd.dump_interval = options.oomd_dump_interval;
  components.push_back(
      std::make_unique<bus::SystemdComponent>(systemd, actions));  // user manager, systemd-oomd, OOM kills
  return components;
}

}  // namespace guardian
