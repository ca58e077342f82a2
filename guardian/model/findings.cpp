#include "model/findings.h"

#include <algorithm>
#include <cstdio>

#include "common/units.h"

namespace guardian {
namespace {

std::string pct(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", value);
  return buf;
}

std::string relative(const std::string& path, const std::string& user_manager) {
  if (!user_manager.empty() && path.starts_with(user_manager + "/")) return path.substr(user_manager.size() + 1);
  return path;
}

std::string limit_text(const std::optional<uint64_t>& bytes) { return bytes ? format_bytes(*bytes) : "max"; }

}  // namespace

std::string_view verdict_name(Finding::Verdict verdict) {
  switch (verdict) {
    case Finding::Verdict::Ok: return "ok";
    case Finding::Verdict::Info: return "info";
    case Finding::Verdict::Warning: return "warning";
    case Finding::Verdict::Problem: return "problem";
  }
  return "info";
}

std::vector<Finding> core_findings(const DoctorInput& in) {
  std::vector<Finding> findings;
  const HostLayout& layout = *in.layout;
  const Snapshot& snapshot = *in.snapshot;
  const std::string& manager = layout.user_manager_path;

  // 1. Can guardian see per-cgroup memory at all?
  if (layout.system_only()) {
    findings.push_back({Finding::Verdict::Problem, "cgroup-v2", "guardian can only see system-wide pressure",
                        layout.system_only_reason,
                        layout.memory_controller
                            ? "start a user session (or `loginctl enable-linger $USER`) so user@UID.service exists"
                            : "boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2 with the memory controller)"});
  } else {
    findings.push_back({Finding::Verdict::Ok, "cgroup-v2",
                        "cgroup v2 with the memory controller at " + layout.cgroup2_mount + "; user manager " + manager,
                        {}, {}});
  }

  // 2. systemd-oomd: configured, and what it watches.
  {
    Finding finding{Finding::Verdict::Info, "oomd-config", {}, {}, {}};
    const auto duration_s = std::chrono::duration<double>(in.oomd_defaults->memory_pressure_duration).count();
    std::string defaults = "defaults: limit " + pct(in.oomd_defaults->memory_pressure_limit_percent) + ", duration " +
                           std::to_string(static_cast<int>(duration_s)) + " s";
    if (!in.oomd_installed) {
      finding.summary = "systemd-oomd is not installed: no pressure kills to get ahead of";
      finding.next_step = "nothing to prevent; guardian still watches kernel OOM kills and pressure";
    } else if (in.oomd->empty()) {
      finding.summary = "systemd-oomd is installed but watches none of your cgroups (" + defaults + ")";
      finding.next_step = "nothing to prevent today; if you add ManagedOOMMemoryPressure=kill, guardian models it";
    } else {
      finding.verdict = Finding::Verdict::Info;
      finding.summary = "systemd-oomd watches " + std::to_string(in.oomd->size()) + " cgroup(s) (" + defaults + ")";
      for (const auto& state : *in.oomd) {
        finding.detail += relative(state.rule.path, manager) + ": kill above " + pct(state.rule.limit_percent) +
                          " full avg10 for " +
                          std::to_string(static_cast<int>(std::chrono::duration<double>(state.rule.duration).count())) +
                          " s (from " + state.rule.source + ")\n";
      }
      for (const auto& source : *in.oomd_sources) finding.detail += "read " + source + "\n";
      finding.next_step = "compare with `oomctl` (the live view): a `systemctl --user daemon-reload` can drop "
                          "user@UID.service from oomd's watch list (systemd #43174)";
    }
    findings.push_back(std::move(finding));
  }

  // 3. Pressure against each watched cgroup's limit.
  for (const auto& state : *in.oomd) {
    if (!state.present) continue;
    Finding finding{Finding::Verdict::Ok, "oomd-pressure", {}, {}, {}};
    const std::string name = relative(state.rule.path, manager);
    finding.summary = name + ": full avg10 " + pct(state.full_avg10) + " of oomd's " + pct(state.rule.limit_percent) +
                      " limit (" + pct(state.limit_fraction * 100) + " of the way)";
    if (state.over_limit) {
      finding.verdict = Finding::Verdict::Problem;
      finding.detail = "over the limit for " + std::to_string(static_cast<int>(state.seconds_over)) + " s";
      if (state.seconds_until_kill) finding.detail += "; oomd would kill in " + std::to_string(static_cast<int>(*state.seconds_until_kill)) + " s";
      if (state.likely_victim) finding.detail += "; likely victim " + relative(*state.likely_victim, manager);
      finding.next_step = "run guardian (or free memory now): oomd is about to act";
    } else if (state.limit_fraction >= 0.5) {
      finding.verdict = Finding::Verdict::Warning;
      finding.next_step = "close memory-hungry desktop applications, or let guardian's policy ease containers";
    }
    findings.push_back(std::move(finding));
  }

  if (layout.system_only()) return findings;

  // 4. container.slice: exists, and with which limits.
  const std::string slice_path = manager + "/container.slice";
  const CgroupSample* slice = snapshot.find(slice_path);
  if (!slice) {
    findings.push_back({Finding::Verdict::Warning, "container-slice",
                        "no container.slice: containers share memory pressure with the desktop",
                        "the incident's option 4: a dedicated slice keeps containers apart from the desktop",
                        "install units/container.slice into ~/.config/systemd/user/ and move containers with "
                        "`guardian adopt NAME`"});
  } else {
    const auto& m = slice->memory;
    Finding finding{Finding::Verdict::Ok, "container-slice",
                    "container.slice: MemoryHigh=" + limit_text(m.high_bytes) + " MemoryMax=" + limit_text(m.max_bytes) +
                        ", using " + format_bytes(m.current_bytes.value_or(0)),
                    {}, {}};
    if (!m.high_bytes && !m.max_bytes) {
      finding.verdict = Finding::Verdict::Warning;
      finding.next_step = "set MemoryHigh/MemoryMax on container.slice (units/container.slice has the defaults)";
    }
    findings.push_back(std::move(finding));
  }

  // 5. Containers outside container.slice.
  if (in.workloads) {
    std::vector<const ContainerCgroup*> outside;
    for (const auto& container : in.workloads->containers) {
      if (!container.path.starts_with(slice_path + "/")) outside.push_back(&container);
    }
    if (!outside.empty()) {
      Finding finding{Finding::Verdict::Warning, "containers-outside",
                      std::to_string(outside.size()) + " container(s) outside container.slice", {}, {}};
      for (const auto* container : outside) {
        finding.detail += container->name + " (" + format_bytes(container->memory_bytes) + ") in " +
                          relative(container->path, manager) + "\n";
        finding.next_step += (finding.next_step.empty() ? "" : "; ") + std::string("guardian adopt ") + container->name;
      }
      findings.push_back(std::move(finding));
    } else if (!in.workloads->containers.empty()) {
      findings.push_back({Finding::Verdict::Ok, "containers-outside", "every container runs in container.slice", {}, {}});
    }

    // 6. Who uses the memory: desktop vs containers, the biggest users.
    Finding usage{Finding::Verdict::Info, "memory-users",
                  "user manager " + format_bytes(in.workloads->user_total_bytes) + " = containers " +
                      format_bytes(in.workloads->containers_bytes) + " + desktop " +
                      format_bytes(in.workloads->desktop_bytes),
                  {}, {}};
    size_t shown = 0;
    for (const auto& container : in.workloads->containers) {
      if (shown++ == 5) break;
      usage.detail += "container " + container.name + ": " + format_bytes(container.memory_bytes) + "\n";
    }
    shown = 0;
    for (const auto& desktop : in.workloads->desktop) {
      if (shown++ == 5) break;
      usage.detail += "desktop " + relative(desktop.path, manager) + ": " + format_bytes(desktop.memory_bytes) + "\n";
    }
    if (snapshot.meminfo.total_bytes && in.workloads->desktop_bytes > snapshot.meminfo.total_bytes / 2) {
      usage.verdict = Finding::Verdict::Warning;
      usage.next_step = "the desktop holds over half of RAM: close unused applications before heavy container work";
    }
    findings.push_back(std::move(usage));
  }

  // 7. Swap: without it, anonymous memory cannot be reclaimed and pressure climbs fast.
  if (snapshot.meminfo.total_bytes) {
    if (snapshot.meminfo.swap_total_bytes == 0) {
      findings.push_back({Finding::Verdict::Info, "swap", "no swap: anonymous memory cannot be reclaimed",
                          "full pressure rises quickly once file cache is exhausted",
                          "consider zram (Fedora's default) so short peaks do not reach oomd's limit"});
    } else {
      findings.push_back({Finding::Verdict::Ok, "swap",
                          "swap " + format_bytes(snapshot.meminfo.swap_total_bytes - snapshot.meminfo.swap_free_bytes) +
                              " used of " + format_bytes(snapshot.meminfo.swap_total_bytes),
                          {}, {}});
    }
  }
  return findings;
}

}  // namespace guardian
