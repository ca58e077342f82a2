#include "bus/doctor_systemd.h"

#include "model/oomd_live.h"
#include "sense/oomd_dump.h"

namespace guardian::bus {

DoctorSystemdReport doctor_systemd(const HostRoot& host, const DoctorSystemdInput& input) {
  DoctorSystemdReport report;
  const Deadline deadline = Clock::now() + input.timeout;
  SystemdClient user(input.user_bus);
  OomdClient oomd(input.system_bus);
  auto slice = user.get_unit_wait(input.slice, deadline);
  std::optional<UnitProperties> slice_view;
  if (slice) slice_view = *slice;
  for (auto& finding : check_container_slice(slice_view, input.wanted))
    report.findings.push_back(std::move(finding));

  if (auto units = user.list_units_wait(deadline)) {
    std::string store;  // containers/storage's list, read once, for podman scopes' names
    bool store_read = false;
    for (const auto& entry : *units) {
      if (!entry.name.ends_with(".service") && !podman_scope_id(entry.name)) continue;
      auto properties = user.get_unit_wait(entry.name, deadline);
      if (!properties) continue;
      auto container = classify_container(*properties);
      if (!container) continue;
      if (container->kind == ContainerKind::PodmanScope && !input.home.empty()) {
        if (!store_read) {
          store_read = true;
          auto text = read_file(
              host.path(input.home + "/.local/share/containers/storage/overlay-containers/containers.json"));
          if (text) store = std::move(*text);
        }
        if (!store.empty()) {
          if (auto name = parse_podman_container_name(store, container->container_id))
            container->name = *name;
        }
      }
      report.containers.push_back(std::move(*container));
    }
    for (auto& finding : check_containers(report.containers)) report.findings.push_back(std::move(finding));
  } else {
    report.findings.push_back(
        make_finding(Finding::Verdict::Warning, "containers",
                     "could not list the user manager's units: " + units.error().message,
                     "run guardian doctor inside the desktop session"));
  }

  auto text = oomd.dump_wait(deadline);
  if (!text) {
    report.findings.push_back(make_finding(
        Finding::Verdict::Warning, "systemd-oomd", "no live view from systemd-oomd: " + text.error().message,
        "is systemd-oomd running? `systemctl status systemd-oomd` (Debian: apt install systemd-oomd)"));
    return report;
  }
  auto parsed = parse_oomd_dump(*text);
  if (!parsed) {
    report.findings.push_back(make_finding(Finding::Verdict::Warning, "systemd-oomd",
                                           "oomd's dump: " + parsed.error().message,
                                           "compare with `oomctl`; please report the text"));
    return report;
  }
  report.oomd = reconcile_watched(input.dropin_rules, *parsed, input.user_manager_path);
  for (auto& finding : check_oomd_watch(*report.oomd)) report.findings.push_back(std::move(finding));
  return report;
}

}  // namespace guardian::bus
