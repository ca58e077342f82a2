#include "jellyfin/instances.h"

namespace guardian::jellyfin {
namespace {

bool same_client(const JellyfinInstanceSettings& a, const JellyfinInstanceSettings& b) {
  return a.name == b.name && a.url == b.url && a.api_key_file == b.api_key_file &&
         a.credential == b.credential && a.timeout == b.timeout && a.action_timeout == b.action_timeout &&
         a.failure_threshold == b.failure_threshold && a.retry_after == b.retry_after;
}

}  // namespace

void InstanceDirectory::set_instances(std::vector<Instance> instances) {
  std::lock_guard lock(mutex_);
  std::map<std::string, Instance> next;
  for (auto& instance : instances) {
    auto old = instances_.find(instance.settings.name);
    if (old != instances_.end() && old->second.client &&
        same_client(old->second.settings, instance.settings)) {
      instance.client = old->second.client;
      instance.client_error.clear();
      if (instance.cgroup_host_path.empty()) instance.cgroup_host_path = old->second.cgroup_host_path;
      if (!instance.probe) instance.probe = old->second.probe;
    }
    std::string name = instance.settings.name;
    next[name] = std::move(instance);
  }
  instances_ = std::move(next);
}

void InstanceDirectory::set_client(const std::string& name, std::shared_ptr<Client> client) {
  std::lock_guard lock(mutex_);
  if (auto it = instances_.find(name); it != instances_.end()) {
    it->second.client = std::move(client);
    it->second.client_error.clear();
  }
}

void InstanceDirectory::set_cgroup_host_path(const std::string& name, const std::string& path) {
  std::lock_guard lock(mutex_);
  if (auto it = instances_.find(name); it != instances_.end()) it->second.cgroup_host_path = path;
}

void InstanceDirectory::set_probe(const std::string& name, VaapiProbeResult probe) {
  std::lock_guard lock(mutex_);
  if (auto it = instances_.find(name); it != instances_.end()) it->second.probe = std::move(probe);
}

void InstanceDirectory::set_view(const std::string& name, std::shared_ptr<const TranscodeView> view) {
  std::lock_guard lock(mutex_);
  if (auto it = instances_.find(name); it != instances_.end()) it->second.view = std::move(view);
}

Result<Instance> InstanceDirectory::find(const std::string& name) const {
  std::lock_guard lock(mutex_);
  if (name.empty()) {
    if (instances_.size() == 1) return instances_.begin()->second;
    if (instances_.empty()) return make_error("no [[jellyfin]] instance in the policy");
    return make_error("several [[jellyfin]] instances: name one with instance = \"…\"");
  }
  auto it = instances_.find(name);
  if (it == instances_.end()) return make_error("no [[jellyfin]] instance named \"" + name + "\"");
  return it->second;
}

std::vector<Instance> InstanceDirectory::all() const {
  std::lock_guard lock(mutex_);
  std::vector<Instance> out;
  for (const auto& [name, instance] : instances_) out.push_back(instance);
  return out;
}

std::string resolve_cgroup_host_path(const std::string& cgroup, const std::string& cgroup2_mount,
                                     const std::string& user_manager_path) {
  if (cgroup.empty() || cgroup2_mount.empty()) return "";
  if (cgroup.front() == '/') return cgroup2_mount + cgroup;
  if (user_manager_path.empty()) return "";
  return cgroup2_mount + user_manager_path + "/" + cgroup;
}

}  // namespace guardian::jellyfin
