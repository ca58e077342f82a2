// The Jellyfin instances of the policy in force, shared by the watcher (which keeps them current:
// policy reloads, the cgroup path once the host layout is known, the latest transcode view and
// VA-API probe) and the actions on the worker thread (which look their instance up at apply time,
// so a reload never leaves an action holding a stale client). Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/policy.h"
#include "jellyfin/client.h"
#include "jellyfin/transcodes.h"
#include "probe/vaapi_probe.h"

namespace guardian::jellyfin {

struct Instance {
  JellyfinInstanceSettings settings;
  std::shared_ptr<Client> client;  // null when the client could not be made (bad key file: see error)
  std::string client_error;
  std::string cgroup_host_path;  // "/sys/fs/cgroup/…/jellyfin.service"; "" until known
  std::optional<VaapiProbeResult> probe;
  std::shared_ptr<const TranscodeView> view;  // the watcher's latest
};

// The daemon owns one and hands it to the watcher and, through ActionEnv::jellyfin, to the actions.
class InstanceDirectory {
 public:
  // Replaces the set; a client whose name, URL, key source and timeouts did not change is kept
  // (with its breaker state) so a policy reload does not reset an open breaker.
  void set_instances(std::vector<Instance> instances);
  // A client made later (the key file was fixed after the policy loaded).
  void set_client(const std::string& name, std::shared_ptr<Client> client);
  void set_cgroup_host_path(const std::string& name, const std::string& path);
  void set_probe(const std::string& name, VaapiProbeResult probe);
  void set_view(const std::string& name, std::shared_ptr<const TranscodeView> view);

  // The instance called `name`; "" picks the only one (an error when there are several).
  Result<Instance> find(const std::string& name) const;
  [[nodiscard]] std::vector<Instance> all() const;
  // Whether any instance's cgroup_host_path satisfies `match`, looked at in place (no copy of the
  // instances: the loop asks this for every relayed ffmpeg start).
  template <class Match>
  bool any_cgroup(Match&& match) const {
    std::lock_guard lock(mutex_);
    for (const auto& entry : instances_) {
      if (match(std::string_view(entry.second.cgroup_host_path))) return true;
    }
    return false;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Instance> instances_;
};

// Resolves a policy cgroup ("container.slice/jellyfin.service" relative to the user manager, or
// "/system.slice/jellyfin.service" from the mount) to a host path under the cgroup2 mount.
std::string resolve_cgroup_host_path(const std::string& cgroup, const std::string& cgroup2_mount,
                                     const std::string& user_manager_path);

}  // namespace guardian::jellyfin
