// The components that run beside the loop. One line each; a component that cannot start
// (no session bus, a port in use) reports that through an event and stays inert.
#include <unistd.h>

#include "bus/systemd_component.h"
#include "daemon/daemon.h"
#include "daemon/jellyfin_watcher.h"
#include "tell/dbus_service.h"
#include "tell/metrics_exporter.h"

namespace guardian {

std::vector<std::unique_ptr<DaemonComponent>> make_components(const DaemonOptions& options) {
  std::vector<std::unique_ptr<DaemonComponent>> components;
  components.push_back(std::make_unique<MetricsExporter>());  // /metrics ([metrics] in the policy)
  components.push_back(make_dbus_service());  // guardian's own D-Bus API (io.github.guardian.Guardian1)
  components.push_back(bus::make_systemd_component(options));  // user manager, systemd-oomd, OOM kills
  components.push_back(std::make_unique<JellyfinWatcher>(JellyfinWatcherOptions{
      options.host_root, [] {
        char self[4096] = {};  // `guardian probe vaapi` runs as a child of this same binary
        ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
        return n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string();
      }(), std::chrono::milliseconds(10'000)}));
  return components;
}

}  // namespace guardian
