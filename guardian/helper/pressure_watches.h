// PSI triggers the helper registers for its clients (watch-pressure). With CAP_SYS_RESOURCE the
// kernel accepts windows below 2 s (psi_trigger_create() checks the capability of whoever opened
// the file; an unprivileged opener gets EINVAL unless the window is a multiple of 2 s, Linux
// >= 6.5), so a client can learn that pressure crossed its threshold within half a second instead
// of two. A client may watch only cgroups at or under its own owner cgroup (root: any), at most
// max_per_client at a time; each watch is one fd, closed when the client goes away.
//
// The helper opens the pressure file itself, as root without CAP_DAC_OVERRIDE (guardian-helper's
// unit does not grant it): it can open files root owns (user@UID.service's and the slices above
// it on systemd 252) but not those a user owns (slices the user manager created, and
// user@UID.service's own file where systemd >= 254 hands memory.pressure to the service's user);
// those are refused with a message saying so.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/helper_wire.h"
#include "common/result.h"
#include "helper/epoll.h"

namespace guardian::helper {

class PressureWatches {
 public:
  PressureWatches(std::string cgroup_root, Epoll& epoll, std::size_t max_per_client = 8)
      : root_(std::move(cgroup_root)), epoll_(&epoll), max_per_client_(max_per_client) {}

  // Checks the request against `allowed_base` (the client's owner cgroup; "/" for root), opens
  // CGROUP/memory.pressure and writes the trigger. Returns the watch id.
  Result<uint32_t> add(uint32_t client, const std::string& allowed_base,
                       const helper_wire::WatchPressure& request);
  Result<void> remove(uint32_t client, uint32_t watch);
  void remove_client(uint32_t client);

  struct Fired {
    uint32_t client = 0;
    helper_wire::ServerMessage message;  // PressureFired, or WatchEnded when the cgroup went away
  };
  // The watch's fd is ready (POLLPRI: fired; POLLERR: the cgroup was removed, the watch ends).
  std::optional<Fired> on_ready(uint32_t watch, uint32_t events);

  [[nodiscard]] std::size_t size() const { return watches_.size(); }

 private:
  struct Watch {
    uint32_t client = 0;
    std::string cgroup;
    UniqueFd fd;
  };
  std::string root_;
  Epoll* epoll_;
  std::size_t max_per_client_;
  std::map<uint32_t, Watch> watches_;
  uint32_t next_id_ = 1;
};

// Validates the trigger parameters the way psi.rst states them: 500 ms <= window <= 10 s,
// 0 < stall <= window. Returns "some|full STALL WINDOW".
Result<std::string> psi_trigger_text(const helper_wire::WatchPressure& request);

}  // namespace guardian::helper
