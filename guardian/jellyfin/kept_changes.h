// What guardian changed in a Jellyfin instance and has not put back (or confirmed) yet, seen from
// the watcher: after each round in which an instance answered, the watcher lets the owner retry.
// act/JellyfinSteering implements it; the watcher knows only this, so jellyfin/ needs nothing
// from act/.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/event.h"

namespace guardian::jellyfin {

class KeptChanges {
 public:
  virtual ~KeptChanges() = default;
  // `instance` just answered; `answers_again` when it had stopped answering before. Returns what
  // to tell (restores that finally succeeded).
  virtual std::vector<Event> retry_kept(const std::string& instance, bool answers_again,
                                        std::chrono::steady_clock::time_point deadline) = 0;
};

}  // namespace guardian::jellyfin
