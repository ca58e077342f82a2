#include "model/containers.h"

#include "common/units.h"

namespace guardian {

namespace {
std::string limit_text(const std::optional<uint64_t>& bytes) {
  return bytes ? format_bytes(*bytes) : "infinity";
}
}  // namespace

std::vector<Finding> check_container_slice(const std::optional<UnitProperties>& slice,
                                           const ContainerSliceWanted& wanted) {
  std::vector<Finding> findings;
  const std::string install =
      "install it: cp units/container.slice ~/.config/systemd/user/ && mkdir -p "
      "~/.config/systemd/user/container.slice.d "
      "&& cp units/container.slice.d/50-guardian-oomd.conf ~/.config/systemd/user/container.slice.d/ && "
      "systemctl --user daemon-reload";
  if (!slice) {
    findings.push_back(
        make_finding(Finding::Verdict::Warning, "container.slice",
                     "could not ask the user manager about container.slice (no user bus?)",
                     "run guardian doctor inside the desktop session, or check `systemctl --user status "
                     "container.slice`"));
    return findings;
  }
  if (slice->load_state != "loaded") {
    findings.push_back(make_finding(
        Finding::Verdict::Problem, "container.slice",
        "container.slice does not exist (LoadState=" + slice->load_state +
            "): containers share their slice with the desktop, so desktop pressure gets containers killed",
        install));
    return findings;
  }
  bool differs = false;
  std::string what;
  if (wanted.memory_high && slice->memory_high != wanted.memory_high) {
    differs = true;
    what += "MemoryHigh is " + limit_text(slice->memory_high) + ", the policy wants " +
            limit_text(wanted.memory_high) + "; ";
  }
  if (wanted.memory_max && slice->memory_max != wanted.memory_max) {
    differs = true;
    what += "MemoryMax is " + limit_text(slice->memory_max) + ", the policy wants " +
            limit_text(wanted.memory_max) + "; ";
  }
  if (differs) {
    what.resize(what.size() - 2);
    findings.push_back(make_finding(
        Finding::Verdict::Warning, "container.slice", what,
        "guardian corrects it at run time while it runs; to make it permanent, set the same values in "
        "~/.config/systemd/user/container.slice (or its .d/ drop-ins) and `systemctl --user "
        "daemon-reload`"));
  } else {
    findings.push_back(
        make_finding(Finding::Verdict::Ok, "container.slice",
                     "container.slice is loaded with MemoryHigh=" + limit_text(slice->memory_high) +
                         ", MemoryMax=" + limit_text(slice->memory_max),
                     ""));
  }
  // MemoryHigh throttles by reclaim: a limit below what the containers use keeps them stalled, and
  // stall inside the slice is exactly what oomd measures before it kills one of them.
  if (slice->memory_high && slice->memory_current &&
      static_cast<double>(*slice->memory_current) > static_cast<double>(*slice->memory_high) * 0.95) {
    findings.push_back(
        make_finding(Finding::Verdict::Warning, "container.slice",
                     "the containers use " + format_bytes(*slice->memory_current) +
                         ", at or above MemoryHigh=" + format_bytes(*slice->memory_high) +
                         ": throttling raises memory pressure inside the slice, which can make "
                         "systemd-oomd kill a container",
                     "raise [container_slice] memory_high in the policy, or let slice.balance move it"));
  }
  if (slice->managed_oom_memory_pressure == "kill") {
    const double limit = slice->managed_oom_memory_pressure_limit_percent.value_or(0);
    findings.push_back(make_finding(
        Finding::Verdict::Info, "container.slice",
        "systemd-oomd kills inside container.slice above " +
            (limit > 0 ? std::to_string(static_cast<int>(limit + 0.5)) + "%" : std::string("its default")) +
            " memory pressure — only containers are candidates there, never the desktop",
        limit > 0 && limit < 90 ? "install units/container.slice.d/50-guardian-oomd.conf (90%): guardian's "
                                  "MemoryHigh throttling needs the headroom"
                                : ""));
  }
  return findings;
}

std::vector<Finding> check_containers(const std::vector<ContainerUnit>& containers) {
  std::vector<Finding> findings;
  size_t outside = 0;
  for (const auto& container : containers) {
    if (container.in_container_slice) continue;
    ++outside;
    const std::string usage =
        container.memory_current ? ", using " + format_bytes(*container.memory_current) : "";
    if (container.kind == ContainerKind::Quadlet) {
      findings.push_back(
          make_finding(Finding::Verdict::Warning, "containers",
                       container.name + " (" + container.unit + ") runs in " +
                           (container.slice.empty() ? std::string("an unknown slice") : container.slice) +
                           ", outside container.slice" + usage,
                       "guardian adopt " + container.name));
    } else {
      findings.push_back(make_finding(
          Finding::Verdict::Warning, "containers",
          "podman container " + container.name + " (" + container.unit + ") runs in " +
              (container.slice.empty() ? std::string("an unknown slice") : container.slice) +
              ", outside container.slice" + usage,
          "run it as a quadlet (~/.config/containers/systemd/NAME.container) and `guardian adopt NAME`, "
          "or start it with `podman run --cgroup-parent=container.slice`"));
    }
  }
  if (outside == 0) {
    findings.push_back(make_finding(Finding::Verdict::Ok, "containers",
                                    containers.empty() ? "no podman containers found in the user manager"
                                                       : "all " + std::to_string(containers.size()) +
                                                             " podman containers run in container.slice",
                                    ""));
  }
  return findings;
}

std::vector<Finding> check_oomd_watch(const WatchReconciliation& reconciliation) {
  std::vector<Finding> findings;
  for (const auto& disagreement : reconciliation.disagreements) {
    const auto verdict = disagreement.kind == WatchDisagreement::Kind::MissingFromLive
                             ? Finding::Verdict::Problem
                             : Finding::Verdict::Warning;
    findings.push_back(make_finding(verdict, "systemd-oomd", disagreement.detail, disagreement.next_step));
  }
  if (findings.empty()) {
    findings.push_back(make_finding(Finding::Verdict::Ok, "systemd-oomd",
                                    "oomd's live list matches the drop-ins (" +
                                        std::to_string(reconciliation.effective.size()) + " cgroups watched)",
                                    ""));
  }
  return findings;
}

}  // namespace guardian
