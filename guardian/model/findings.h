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

// One limit of container.slice as `guardian doctor` found it and what the policy would do with it
// (decide/slice_limits.h). `--json` prints these as the finding's "limits".
struct SliceLimitReport {
  std::string property;                  // "MemoryHigh"
  std::optional<uint64_t> found;         // the value now (nullopt = infinity)
  std::string set_by;                    // "user" or "guardian" (the state file holds the user's original)
  std::optional<uint64_t> user_value;    // the user's value (the saved original when guardian set it)
  std::optional<uint64_t> policy_value;  // the policy's [container_slice] value
  std::string plan;                      // "kept", "would set", "would restore", "deferred", …
  std::optional<uint64_t> target;        // the value the plan sets or restores (nullopt = none/infinity)
  std::string reason;
};

struct Finding {
  enum class Verdict { Ok, Info, Warning, Problem } verdict = Verdict::Info;
  std::string topic;                       // short key: "cgroup-v2", "oomd-config", "container-slice", …
  std::string summary;                     // one line
  std::string detail;                      // more lines, may be empty
  std::string next_step;                   // what to do; empty when nothing is needed
  std::vector<SliceLimitReport> limits{};  // container.slice's limits (doctor), else empty
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
