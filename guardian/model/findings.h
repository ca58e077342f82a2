// Findings: what `guardian doctor` reports — the incident report's investigation as verdicts,
// each with the next step. Checks are pure functions of what was sensed and modelled; the CLI
// gathers the inputs and renders the findings.
#pragma once

#include <string>
#include <vector>

#include "model/oomd_config.h"
#include "model/oomd_model.h"
#include "model/workloads.h"
#include "sense/snapshot.h"

namespace guardian {

struct Finding {
  enum class Verdict { Ok, Info, Warning, Problem } verdict = Verdict::Info;
  std::string topic;      // short key: "cgroup-v2", "oomd-config", "container-slice", …
  std::string summary;    // one line
  std::string detail;     // more lines, may be empty
  std::string next_step;  // what to do; empty when nothing is needed
};

std::string_view verdict_name(Finding::Verdict verdict);

struct DoctorInput {
  const HostLayout* layout = nullptr;
  const Snapshot* snapshot = nullptr;
  const OomdDefaults* oomd_defaults = nullptr;
  const std::vector<std::string>* oomd_sources = nullptr;  // config files that were read
  const std::vector<OomdCgroupState>* oomd = nullptr;      // after two snapshots
  const WorkloadSplit* workloads = nullptr;
  bool oomd_installed = false;  // systemd-oomd binary present on the host
};

// The core findings: cgroup v2 / memory controller / user manager; systemd-oomd's configuration
// and what it watches; pressure against each limit; container.slice and its limits; containers
// outside it; the biggest memory users and the desktop/containers split; swap.
std::vector<Finding> core_findings(const DoctorInput& input);

}  // namespace guardian
