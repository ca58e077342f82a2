// The data that "sense" hands to "model": plain values, no file handles, no behaviour.
// One Snapshot per tick. Everything here was read from the host (through HostRoot);
// nothing here was decided.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace guardian {

using MonoTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

// One line of a PSI file: "some avg10=0.12 avg60=0.05 avg300=0.01 total=12345".
// Averages are percentages (0..100) exactly as the kernel prints them; total is in µs.
struct PsiLine {
  double avg10 = 0;
  double avg60 = 0;
  double avg300 = 0;
  uint64_t total_us = 0;
  friend bool operator==(const PsiLine&, const PsiLine&) = default;
};

// A whole memory.pressure (or /proc/pressure/memory) file.
struct Psi {
  PsiLine some;
  PsiLine full;
  friend bool operator==(const Psi&, const Psi&) = default;
};

// /proc/meminfo, the four fields guardian uses, in bytes.
struct MemInfo {
  uint64_t total_bytes = 0;
  uint64_t available_bytes = 0;
  uint64_t swap_total_bytes = 0;
  uint64_t swap_free_bytes = 0;
};

// cgroup v2 memory controller files of one cgroup. std::nullopt where the file says "max"
// (for limits) or could not be read.
struct CgroupMemory {
  std::optional<uint64_t> current_bytes;
  std::optional<uint64_t> high_bytes;  // nullopt = "max"
  std::optional<uint64_t> max_bytes;   // nullopt = "max"
  std::optional<uint64_t> low_bytes;
  std::optional<uint64_t> min_bytes;
  std::optional<uint64_t> swap_current_bytes;
  // memory.stat
  uint64_t anon_bytes = 0;
  uint64_t file_bytes = 0;
  uint64_t shmem_bytes = 0;
  uint64_t pgscan = 0;
  uint64_t pgsteal = 0;
  uint64_t workingset_refault_anon = 0;
  uint64_t workingset_refault_file = 0;
  // memory.events (hierarchical counts, as the kernel keeps them in memory.events)
  uint64_t events_low = 0;
  uint64_t events_high = 0;
  uint64_t events_max = 0;
  uint64_t events_oom = 0;
  uint64_t events_oom_kill = 0;
  uint64_t events_oom_group_kill = 0;  // later 5.x kernels on; 0 where the kernel has no such line
  bool oom_group = false;              // memory.oom.group
};

struct CgroupSample {
  // Path relative to the cgroup2 mount, always starting with '/':
  // "/user.slice/user-1000.slice/user@1000.service/app.slice".
  std::string path;
  // The last path component ("app.slice", "libpod-3f2a….scope"); systemd's unit name.
  std::string unit;
  CgroupMemory memory;
  std::optional<Psi> pressure;  // memory.pressure; nullopt when unreadable
  bool has_children = false;    // has child cgroups (oomd only kills leaves or oom.group cgroups)
  bool oomd_omit = false;       // xattr user.oomd_omit (ManagedOOMPreference=omit)
  bool oomd_avoid = false;      // xattr user.oomd_avoid (ManagedOOMPreference=avoid)
  bool readonly = false;        // outside the user's delegated subtree (e.g. system.slice)
};

// What sense could find out about the host's cgroup setup, said once at start.
struct HostLayout {
  std::string cgroup2_mount;  // "/sys/fs/cgroup" or "/sys/fs/cgroup/unified"; empty if none
  bool memory_controller = false;
  uint32_t uid = 0;
  std::string user_manager_path;  // "/user.slice/user-1000.slice/user@1000.service"; empty if absent
  [[nodiscard]] bool system_only() const { return !memory_controller || user_manager_path.empty(); }
  std::string system_only_reason;  // human text when system_only()
};

struct Snapshot {
  MonoTime mono{};
  WallTime wall{};
  MemInfo meminfo;
  std::optional<Psi> system_pressure;  // /proc/pressure/memory
  std::vector<CgroupSample> cgroups;   // parents before children (pre-order walk)
  // The smallest memory.high/memory.max of the user manager's ancestors ("user-1000.slice",
  // "user.slice"; sense/ancestor_limits.h); nullopt when none is set or there is no user manager.
  std::optional<uint64_t> user_ancestors_limit_bytes;
  // PSI triggers that fired since the previous snapshot, by cgroup path ("/" = system).
  std::vector<std::string> triggers_fired;

  [[nodiscard]] const CgroupSample* find(std::string_view path) const {
    for (const auto& c : cgroups) {
      if (c.path == path) return &c;
    }
    return nullptr;
  }
};

}  // namespace guardian
