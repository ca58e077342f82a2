// Sampler: finds the cgroup v2 layout once, then produces one Snapshot per tick. It keeps the
// files it reads open and re-reads them with pread. A cgroup that vanishes or a file that is
// unreadable or garbage is reported once as a SenseProblem and skipped; the tick goes on.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/host_root.h"
#include "sense/snapshot.h"

namespace guardian {

struct SenseProblem {
  std::string where;    // the path, host view ("/sys/fs/cgroup/…/memory.stat")
  std::string message;  // what was wrong
};

struct SamplerOptions {
  std::optional<uint32_t> uid;       // default: getuid()
  bool include_system_slice = true;  // read /system.slice read-only when readable
  // How often (in ticks) to re-walk the directory tree to find new/removed cgroups when the
  // tree cannot be watched with inotify (no inotify, or the user's watch limit reached). With a
  // watch, a walk follows only a change, a request_rescan() or a cgroup that vanished.
  unsigned rescan_every_ticks = 5;
};

class Sampler {
 public:
  Sampler(HostRoot host, SamplerOptions options);
  ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // Finds the cgroup2 mount, the memory controller and the user manager's cgroup.
  [[nodiscard]] const HostLayout& layout() const;

  // Reads everything once. Never fails as a whole: what could not be read is left out and
  // reported through take_problems(). The snapshot's user_ancestors_limit_bytes comes from the
  // ancestors of the user manager as of the last walk (sense/ancestor_limits.h).
  Snapshot sample();
  // The same into a Snapshot kept by the caller: its vectors and strings are reused, so a tick
  // over an unchanged tree allocates nothing (tests/daemon/steady_tick_test.cpp).
  void sample_into(Snapshot& snapshot);
  // Whether the latest sample re-walked the tree (new cgroups may have drop-ins to read).
  [[nodiscard]] bool rescanned_last_tick() const;

  // Forces a directory re-walk on the next sample() (e.g. a unit appeared on D-Bus).
  void request_rescan();

  // Problems seen since the last call, each distinct (where, message) reported only once
  // for as long as it persists.
  std::vector<SenseProblem> take_problems();

  [[nodiscard]] const HostRoot& host() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace guardian
