// What the systemd actions need from the user manager, and where they find it. act states it;
// bus::SystemdClient provides it over D-Bus, so act does not depend on the D-Bus code.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"
#include "sense/systemd_units.h"

namespace guardian {

// One (name, value) of SetUnitProperties' a(sv). MemoryHigh/MemoryMax/MemoryLow are "t"
// (UINT64_MAX = infinity).
struct UnitPropertyValue {
  std::string name;
  std::variant<uint64_t, uint32_t, bool, std::string> value;
};

// Blocking calls for the action worker thread: each returns by `deadline`.
class UnitManager {
 public:
  using Deadline = std::chrono::steady_clock::time_point;
  virtual ~UnitManager() = default;
  virtual Result<UnitProperties> get_unit_wait(const std::string& unit, Deadline deadline) = 0;
  // Manager.SetUnitProperties(s name, b runtime, a(sv) properties).
  virtual Result<void> set_unit_properties_wait(const std::string& unit, bool runtime,
                                                std::vector<UnitPropertyValue> properties,
                                                Deadline deadline) = 0;
  virtual Result<void> freeze_unit_wait(const std::string& unit, Deadline deadline) = 0;
  virtual Result<void> thaw_unit_wait(const std::string& unit, Deadline deadline) = 0;
};

// Where the actions reach the user manager. The daemon owns it; the systemd component plugs its
// client in at start and out at stop. Empty (no user bus), the systemd actions fail saying so.
// Thread-safe: the worker reads it while the loop thread plugs.
class UnitManagerSlot {
 public:
  void plug(std::shared_ptr<UnitManager> manager) {
    std::lock_guard lock(mutex_);
    manager_ = std::move(manager);
  }
  void unplug() { plug(nullptr); }
  [[nodiscard]] std::shared_ptr<UnitManager> get() const {
    std::lock_guard lock(mutex_);
    return manager_;
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<UnitManager> manager_;
};

}  // namespace guardian
