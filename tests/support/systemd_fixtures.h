// What the systemd and oomd doubles (support/systemd_double.h) serve in the bus tests. Tests change
// the fields their case is about, e.g. a MemoryHigh someone lowered.
//
// The units are the incident machine's, as its user manager reports them over D-Bus: Fedora
// Workstation 42, rootless podman quadlets, after the fix of seed 002 Option 4
// (policies/incident-fedora-30g.toml tells the story).
#pragma once

#include "sense/systemd_units.h"

namespace guardian::test {

// container.slice with MemoryHigh=8G and MemoryMax=10G, 3.3 GB in use, and Fedora's per-slice oomd
// default (/usr/lib/systemd/user/slice.d/10-oomd-per-slice-defaults.conf: kill at 80%).
UnitProperties incident_container_slice();
// Jellyfin, a quadlet still in the user manager's app.slice: MemoryHigh=3G, MemoryMax=4G, 2.5 GiB
// in use, restarted three times in a week by oomd kills.
UnitProperties incident_jellyfin_service();
// Immich's machine-learning container, a quadlet in container.slice: the low-priority one to freeze.
UnitProperties incident_immich_ml_service();

// systemd 252's dump format (Debian 12, strings of /lib/systemd/systemd-oomd 252.39): a
// `systemctl --user daemon-reload` has dropped user@1000.service (systemd #43174), so only the
// per-slice entry of the user manager's app.slice remains.
extern const char* const kOomdDump252WithoutUserManager;
// Debian 12's systemd-oomd 252 on the tests/fixtures/debian12 host: it watches user@1000.service
// at Debian's 50% (user@.service.d/10-oomd-user-service-defaults.conf) with the admin's 30 s
// duration (oomd.conf.d/20-local.conf); the -.slice swap rule is masked, so no swap-monitored
// cgroup. Figures as oomd prints the fixture's files: 15.5G of RAM, user@1000.service at 2.5G,
// full avg10 0.11, pgscan 88120.
extern const char* const kOomdDump252Debian12;

}  // namespace guardian::test
