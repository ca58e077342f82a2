// What guardian reads about systemd units: the properties it acts on, as plain values. The bus
// layer (bus/systemd_client) fills them from D-Bus; parse_unit_show() fills them from
// `systemctl show` text (fixtures, `guardian doctor` without a bus). Also the podman view of a
// unit: quadlet-generated services and libpod-*.scope units.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace guardian {

// Properties of one unit (org.freedesktop.systemd1.Unit + its type interface: Service, Scope,
// Slice). Memory limits: nullopt for "infinity" (UINT64_MAX on D-Bus) or unknown.
struct UnitProperties {
  std::string name;                         // Id, "jellyfin.service"
  std::string load_state;                   // LoadState: loaded, not-found, masked, …
  std::string active_state;                 // ActiveState: active, inactive, failed, …
  std::string sub_state;                    // SubState
  std::string freezer_state;                // FreezerState: running, frozen, freezing, thawing (v246+)
  std::string control_group;                // ControlGroup, relative to the cgroup2 mount
  std::string slice;                        // Slice
  std::string source_path;                  // SourcePath: quadlet's generator points it at NAME.container
  std::string fragment_path;                // FragmentPath
  std::optional<uint64_t> memory_current;   // MemoryCurrent (UINT64_MAX = unknown -> nullopt)
  std::optional<uint64_t> memory_high;      // MemoryHigh
  std::optional<uint64_t> memory_max;       // MemoryMax
  std::optional<uint64_t> memory_low;       // MemoryLow (0 = none)
  std::string managed_oom_memory_pressure;  // ManagedOOMMemoryPressure: auto | kill
  // ManagedOOMMemoryPressureLimit: on D-Bus a u32 scaled to UINT32_MAX (0 = oomd's default).
  std::optional<double> managed_oom_memory_pressure_limit_percent;
  std::string managed_oom_preference;    // ManagedOOMPreference: none | avoid | omit
  std::optional<uint32_t> n_restarts;    // NRestarts (services only)
  std::vector<std::string> environment;  // Environment (services: quadlet puts PODMAN_SYSTEMD_UNIT=%n)
};

// One row of Manager.ListUnits() (a(ssssssouso)).
struct UnitListEntry {
  std::string name;
  std::string description;
  std::string load_state;
  std::string active_state;
  std::string sub_state;
  std::string object_path;
};

// systemd's ManagedOOMMemoryPressureLimit D-Bus encoding: percent = value / UINT32_MAX * 100.
double oom_limit_from_u32(uint32_t scaled);
uint32_t oom_limit_to_u32(double percent);

// The unit's D-Bus object path: "/org/freedesktop/systemd1/unit/" + the name with every byte
// that is not [A-Za-z0-9] written as "_xx" (systemd's bus_label_escape).
std::string unit_object_path(std::string_view unit);
// The reverse; nullopt if the path is not a unit path or the escape is malformed.
std::optional<std::string> unit_name_from_object_path(std::string_view path);

// Parses `systemctl show UNIT` text ("Key=Value" lines; "infinity" and "[not set]" as systemd
// prints them). Unknown keys are ignored; a malformed line is an error naming the line.
Result<UnitProperties> parse_unit_show(std::string_view text);

// A memory limit as systemd prints it: bytes, or "infinity" -> nullopt.
Result<std::optional<uint64_t>> parse_unit_memory_value(std::string_view text);

// ---- podman ----

enum class ContainerKind {
  Quadlet,      // a service generated from ~/.config/containers/systemd/NAME.container
  PodmanScope,  // libpod-<64 hex>.scope: `podman run` outside of a quadlet
};

struct ContainerUnit {
  ContainerKind kind = ContainerKind::Quadlet;
  std::string unit;          // "jellyfin.service", "libpod-3f2a….scope"
  std::string name;          // the container's name ("jellyfin"), or the short id when unknown
  std::string container_id;  // 64 hex digits for scopes; empty for quadlet services
  std::string slice;         // the unit's Slice
  std::string control_group;
  std::string quadlet_file;  // SourcePath for quadlets
  std::optional<uint64_t> memory_current;
  bool in_container_slice = false;  // the slice is container.slice (or below it)
};

// Is `unit` a podman container? Quadlet: SourcePath ends in ".container" (podman's generator
// writes `SourcePath=` into the unit) or PODMAN_SYSTEMD_UNIT is in Environment. Scopes:
// "libpod-<id>.scope" (but not "libpod-conmon-…").
std::optional<ContainerUnit> classify_container(const UnitProperties& unit);

// The 64-hex container id in "libpod-<id>.scope"; nullopt otherwise.
std::optional<std::string> podman_scope_id(std::string_view unit);

// A container's name without calling podman. containers/storage keeps every container in
// ~/.local/share/containers/storage/overlay-containers/containers.json:
//   [{"id": "<64 hex>", "names": ["jellyfin"], "image": …, "layer": …, "metadata": …}, …]
// Given that array and an id, the entry's first name; given one entry object, its first name;
// given podman's OCI config (userdata/config.json), its name annotation. Errors say what is missing.
Result<std::string> parse_podman_container_name(std::string_view json, std::string_view container_id = {});

// What a .container quadlet file (or its drop-ins) says: [Container] ContainerName= and
// [Service] Slice=. systemd unit-file syntax: sections, Key=Value, '#'/';' comments, '\'
// line continuations. Later assignments win. A line outside any section or without '=' is an
// error naming the line.
struct QuadletInfo {
  std::optional<std::string> container_name;
  std::optional<std::string> service_slice;
};
Result<QuadletInfo> parse_quadlet(std::string_view text, QuadletInfo base = {});

}  // namespace guardian
