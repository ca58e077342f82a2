#include "model/action_relief.h"

#include <algorithm>

namespace guardian {
namespace {

bool is_path(std::string_view path, std::string_view manager, std::string_view relative) {
  return !manager.empty() && path.size() == manager.size() + 1 + relative.size() &&
         path.starts_with(manager) && path[manager.size()] == '/' && path.ends_with(relative);
}

bool below(std::string_view path, std::string_view manager) {
  return !manager.empty() && path.size() > manager.size() + 1 && path.starts_with(manager) &&
         path[manager.size()] == '/';
}

// `inner` lies strictly inside `outer`.
bool inside(std::string_view inner, std::string_view outer) {
  return inner.size() > outer.size() + 1 && inner.starts_with(outer) && inner[outer.size()] == '/';
}

const CgroupSample* find_target(const Snapshot& snapshot, const ReliefTarget& target,
                                std::string_view manager) {
  for (const auto& sample : snapshot.cgroups) {
    switch (target.by) {
      case ReliefTarget::By::Path:
        if (target.name.starts_with('/') ? sample.path == target.name
                                         : is_path(sample.path, manager, target.name))
          return &sample;
        break;
      case ReliefTarget::By::Unit:
        if (sample.unit == target.name && below(sample.path, manager)) return &sample;
        break;
    }
  }
  return nullptr;
}

}  // namespace

void ActionReliefModel::set_targets(std::vector<std::vector<ReliefTarget>> targets) {
  targets_ = std::move(targets);
  entries_.clear();
  entries_.reserve(targets_.size());
  held_back_.clear();
  held_back_.reserve(targets_.size());
}

void ActionReliefModel::note_levels(const std::vector<MonoTime>& level_entered_at, const Snapshot& snapshot,
                                    std::string_view user_manager_path) {
  const size_t active = std::min(level_entered_at.size(), targets_.size());
  if (entries_.size() > active)
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(active), entries_.end());
  while (entries_.size() < active) entries_.emplace_back();
  held_back_.resize(active, 0);
  for (size_t level = 0; level < active; ++level) {
    Entry& entry = entries_[level];
    if (entry.entered_at == level_entered_at[level]) continue;
    entry.entered_at = level_entered_at[level];
    entry.measured.clear();
    held_back_[level] = 0;
    for (const ReliefTarget& target : targets_[level]) {
      const CgroupSample* sample = find_target(snapshot, target, user_manager_path);
      if (!sample || !sample->memory.current_bytes) continue;  // not there: nothing to measure
      const bool again = std::any_of(entry.measured.begin(), entry.measured.end(),
                                     [&](const Measured& measured) { return measured.path == sample->path; });
      if (again) continue;  // several actions on one cgroup (the Jellyfin ones): measured once
      Measured measured;
      measured.path = sample->path;
      measured.at_entry = *sample->memory.current_bytes;
      measured.depth = static_cast<size_t>(std::count(sample->path.begin(), sample->path.end(), '/'));
      entry.measured.push_back(std::move(measured));
    }
    std::stable_sort(entry.measured.begin(), entry.measured.end(),
                     [](const Measured& a, const Measured& b) { return a.depth > b.depth; });
    // Each target's nearest enclosing target: the deepest of those it lies inside. Those come
    // after it in this order.
    for (size_t i = 0; i < entry.measured.size(); ++i) {
      for (size_t j = i + 1; j < entry.measured.size(); ++j) {
        if (!inside(entry.measured[i].path, entry.measured[j].path)) continue;
        entry.measured[i].outer = j;
        break;
      }
    }
  }
}

void ActionReliefModel::observe(const Snapshot& snapshot) {
  for (size_t level = 0; level < entries_.size(); ++level) {
    Entry& entry = entries_[level];
    for (Measured& measured : entry.measured) {
      const CgroupSample* sample = snapshot.find(measured.path);
      // Gone (or unreadable this tick): its memory went with it, and nothing of it comes back
      // with a revert.
      const bool read = sample && sample->memory.current_bytes;
      measured.own = read && *sample->memory.current_bytes < measured.at_entry
                         ? measured.at_entry - *sample->memory.current_bytes
                         : 0;
      measured.inner = 0;
    }
    uint64_t total = 0;
    for (const Measured& measured : entry.measured) {  // deepest first: the inner ones are summed
      const uint64_t fall = std::max(measured.own, measured.inner);
      if (measured.outer)
        entry.measured[*measured.outer].inner += fall;
      else
        total += fall;
    }
    held_back_[level] = total;
  }
}

}  // namespace guardian
